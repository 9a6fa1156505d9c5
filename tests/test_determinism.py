"""The same config gives byte-identical results with --cores 1 and --cores 2, and with
the restarts of each fit split over several jobs (one run checks both: a difference
names the files, and either change alone is a suspect). The run stops at the rank
choice: the split and the cores act on the fit and cross-validation jobs, and every
later job reads only their files (row fits shared among threads are tested to give the
same bytes in tests/test_rowmodel.py and tests/test_moonlighting_confidence.py)."""

import pytest

from conftest import CONFIG_FILES, RANK_CHOICE, assert_made_as_in, run_snakemake

pytestmark = pytest.mark.workflow


def test_one_core_and_split_restarts_give_the_bytes_of_two_cores_and_one_job(
        tmp_path, reference_results):
    split = tmp_path / "split.yaml"
    split.write_text("fit: {restarts_per_job: 2}\n")  # 3 restarts: jobs of 2 and 1
    work = tmp_path / "work"
    work.mkdir()
    result = run_snakemake(work, RANK_CHOICE, "--configfile", *CONFIG_FILES, str(split),
                           cores=1)
    assert result.stdout.count("Fitting rank 3 to sim5") + result.stderr.count(
        "Fitting rank 3 to sim5") == 2
    made = {path.relative_to(work).as_posix() for path in (work / "results").rglob("*.tsv")}
    assert {"results/sim5/rank_selection.tsv", "results/sim5/fits/R3/W.tsv",
            "results/sim5/fits/R3/W_restarts.tsv"} <= made
    assert_made_as_in(reference_results, work)
