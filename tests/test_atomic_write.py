"""Results are written atomically, with ordinary permissions."""

import os
import stat

import pandas as pd
import pytest

from moonlight.io import atomic_path, write_tsv


def test_written_file_has_umask_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_tsv(pd.DataFrame({"a": [1.0]}), tmp_path / "t.tsv")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "t.tsv").stat().st_mode) == 0o644


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "t.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]
