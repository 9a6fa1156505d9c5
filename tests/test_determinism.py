"""The same config gives byte-identical results with --cores 1 and --cores 2, and with
the restarts of each fit split over several jobs (one run checks both: a difference
names the files, and either change alone is a suspect)."""

import pytest

from conftest import CONFIG_FILES, assert_same_results, run_snakemake

pytestmark = pytest.mark.workflow


def test_one_core_and_split_restarts_give_the_bytes_of_two_cores_and_one_job(
        tmp_path, reference_results):
    split = tmp_path / "split.yaml"
    split.write_text("fit: {restarts_per_job: 2}\n")  # 3 restarts: jobs of 2 and 1
    work = tmp_path / "work"
    work.mkdir()
    result = run_snakemake(work, "--configfile", *CONFIG_FILES, str(split), cores=1)
    assert result.stdout.count("Fitting rank 3 to sim5") + result.stderr.count(
        "Fitting rank 3 to sim5") == 2
    assert_same_results(reference_results, work)
