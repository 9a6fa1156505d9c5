"""Count tables: the real one reads, every kind of bad input names its file and line."""

import os
import stat
import warnings

import numpy as np
import pandas as pd
import pytest

from moonlight.io import CountTableError, atomic_path, drop_empty, read_count_table, write_tsv


def write(tmp_path, text, name="table.tbl"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_the_exercise_table(w09_table):
    counts = read_count_table(w09_table)
    assert counts.shape == (100, 60)
    assert counts.index[:3].tolist() == ["anise", "apricot", "artichoke"]
    assert counts.loc["anise"].iloc[:3].tolist() == [1375, 1491, 410]
    assert counts.dtypes.eq(np.float64).all()
    assert list(counts.columns[:2]) == ["S1", "S2"]


@pytest.mark.parametrize(
    "text",
    [
        "gene\ta\tb\ng1\t1\t2\ng2\t3\t4\n",  # tab, header labelling the gene column
        "a,b\ng1,1,2\ng2,3,4\n",  # comma, header without a gene label
        "  g1   1  2\n\ng2 3    4  \n",  # whitespace runs, blank line
    ],
)
def test_separators_and_headers(tmp_path, text):
    counts = read_count_table(write(tmp_path, text))
    assert counts.index.tolist() == ["g1", "g2"]
    assert counts.to_numpy().tolist() == [[1, 2], [3, 4]]
    if "a" in text:
        assert counts.columns.tolist() == ["a", "b"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("g1 1 2\ng2 3\n", "line 2: 1 count(s) where line 1 has 2"),
        ("g1 1 2\ng2 3 4 5\n", "line 2: 3 count(s)"),
        ("g1 1 2\ng2 3 x\n", "line 2, column 3: non-numeric value 'x'"),
        ("g1 1 2\ng2 3 -4\n", "line 2, column 3: negative count '-4'"),
        ("g1 1 nan\ng2 3 4\n", "line 1, column 3: NaN or infinite value 'nan'"),
        ("g1 1 2\ng2 inf 4\n", "line 2, column 2: NaN or infinite value 'inf'"),
        ("g1 1 2\ng2 3 4\n\ng1 5 6\n", "lines 1, 4: gene 'g1' appears more than once"),
        ("\n \n", "the table is empty"),
        ("gene a b\n", "header but no data rows"),
        ("g1\ng2\n", "a gene name but no counts"),
        ("gene a b c\ng1 1 2\n", "the header has 4 field(s) but line 2 has 3"),
    ],
)
def test_bad_tables_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CountTableError) as error:
        read_count_table(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(CountTableError, match="no such file"):
        read_count_table(tmp_path / "absent.tbl")


def test_non_integer_counts_warn(tmp_path):
    with pytest.warns(UserWarning, match="not integers"):
        counts = read_count_table(write(tmp_path, "g1 1.5 2\ng2 3 4\n"))
    assert counts.iat[0, 0] == 1.5


def test_drop_empty_names_what_it_drops():
    counts = pd.DataFrame(
        [[1, 0, 2], [0, 0, 0], [3, 0, 1]], index=["a", "dead", "c"], columns=["s1", "s2", "s3"]
    )
    with pytest.warns(UserWarning) as record:
        kept = drop_empty(counts, source="t.tbl")
    messages = " ".join(str(w.message) for w in record)
    assert "dead" in messages and "s2" in messages and "t.tbl" in messages
    assert kept.index.tolist() == ["a", "c"] and kept.columns.tolist() == ["s1", "s3"]


def test_drop_empty_is_silent_on_clean_tables():
    counts = pd.DataFrame([[1, 2], [3, 4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert drop_empty(counts).equals(counts)


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
