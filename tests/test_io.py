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
