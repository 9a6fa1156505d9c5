"""moonlight's own tables: atomic writes, full precision, names read back as written."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from moonlight.io import atomic_path, read_tsv, write_tsv


def test_write_tsv_round_trips_at_full_precision(tmp_path):
    frame = pd.DataFrame({"x": [1 / 3, np.pi * 1e-12]}, index=pd.Index(["a", "b"], name="gene"))
    write_tsv(frame, tmp_path / "out" / "t.tsv")
    back = pd.read_csv(tmp_path / "out" / "t.tsv", sep="\t", index_col=0)
    assert back["x"].tolist() == frame["x"].tolist()


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.tsv"
    target.write_text("previous result\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half of a new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "previous result\n"
    assert os.listdir(tmp_path) == ["result.tsv"]


def test_written_file_has_umask_permissions(tmp_path):
    # Colleagues sharing a results folder on a cluster must be able to read it.
    previous = os.umask(0o022)
    try:
        write_tsv(pd.DataFrame({"a": [1.0]}), tmp_path / "t.tsv")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "t.tsv").stat().st_mode) == 0o644


NAMES = ["NA", "nan", "TRUE", "007", "1e5", "1.0", "12345", "a gene", 'say "hi"', "tab\there"]


def test_names_survive_a_round_trip_as_strings(tmp_path):
    frame = pd.DataFrame(
        {"module": NAMES, "weight": np.linspace(0, 1, len(NAMES)), "note": [None] * len(NAMES)},
        index=pd.Index(NAMES, name="gene"),
    )
    write_tsv(frame, tmp_path / "t.tsv")
    back = read_tsv(tmp_path / "t.tsv")
    assert back.index.tolist() == NAMES and back["module"].tolist() == NAMES
    assert back["weight"].tolist() == frame["weight"].tolist()
    assert back["note"].isna().all()  # a numeric column still has missing values
    long = read_tsv(tmp_path / "t.tsv", index_col=None)
    assert long["gene"].tolist() == NAMES


def test_a_table_of_many_columns_is_read_a_row_at_a_time_to_the_same_frame(tmp_path,
                                                                           monkeypatch):
    """Past WIDE_COLUMNS (an H of many cells) read_tsv parses a row at a time; the frame
    is the column-by-column read's: floats to the bit, missing values, names (quoted
    ones too) and a name column kept as written."""
    import moonlight.io

    rng = np.random.default_rng(0)
    cells = [f"c{i}" for i in range(40)] + ["NA", "007", "tab\there", 'quote"d']
    scale = 10.0 ** rng.integers(-300, 3, (3, len(cells)))
    H = pd.DataFrame(rng.gamma(0.3, 1.0, (3, len(cells))) * scale,
                     index=pd.Index(["M1", "NA", "M 3"], name="module"), columns=cells)
    H.iloc[1, 5] = np.nan
    H.iloc[2, 7] = 0.0
    H.insert(3, "gene", ["NA", "1e5", "TRUE"])  # a name column among the numbers
    write_tsv(H, tmp_path / "H.tsv")
    columns_read = read_tsv(tmp_path / "H.tsv")
    monkeypatch.setattr(moonlight.io, "WIDE_COLUMNS", 10)
    rows_read = read_tsv(tmp_path / "H.tsv")
    pd.testing.assert_frame_equal(rows_read, columns_read, check_exact=True)
    assert rows_read.drop(columns="gene").to_numpy().tobytes() \
        == columns_read.drop(columns="gene").to_numpy().tobytes()
    assert rows_read["gene"].tolist() == ["NA", "1e5", "TRUE"]
    assert np.isnan(rows_read.loc["NA", "c5"]) and rows_read.loc["M 3", "c7"] == 0.0
    assert rows_read.index.tolist() == ["M1", "NA", "M 3"]
    assert rows_read.columns.tolist()[-2:] == ["tab\there", 'quote"d']
    header = "\t".join(["module"] + [f"c{i}" for i in range(11)])
    full, short = "M1" + "\t1.0" * 11, "M2" + "\t1.0" * 10
    (tmp_path / "short.tsv").write_text(f"{header}\n{full}\n{short}\n")
    with pytest.raises(ValueError, match=r"short.tsv, line 3: 11 fields, the header has 12"):
        read_tsv(tmp_path / "short.tsv")


def test_a_matrix_reads_every_column_as_numbers_whatever_its_label(tmp_path):
    """Samples named like moonlight's own name columns (``group``, ``value``, ``sample``)
    are columns of numbers in H: read as a matrix, they stay numbers; read by label they
    would be strings, and H's column sums would join them."""
    H = pd.DataFrame([[1.5, 2.0, 3.0, 0.25], [0.5, 0.0, 1.0, 4.0]],
                     index=pd.Index(["M1", "M2"], name="module"),
                     columns=["group", "value", "sample", "007"])
    write_tsv(H, tmp_path / "H.tsv")
    assert read_tsv(tmp_path / "H.tsv")["group"].tolist() == ["1.5", "0.5"]
    read = read_tsv(tmp_path / "H.tsv", matrix=True)
    pd.testing.assert_frame_equal(read, H, check_exact=True)
    assert read.sum().tolist() == [2.0, 2.0, 4.0, 4.25]
