"""The same config gives byte-identical results with --cores 1 and --cores 2, and with
the restarts of each fit split over several jobs."""

import pytest

from conftest import CONFIG_FILES, assert_same_results, run_snakemake

pytestmark = pytest.mark.workflow


def test_one_core_gives_the_bytes_of_two(tmp_path, reference_results):
    run_snakemake(tmp_path, cores=1)
    assert_same_results(reference_results, tmp_path)


def test_restarts_split_over_jobs_give_the_bytes_of_one_job(tmp_path, reference_results):
    split = tmp_path / "split.yaml"
    split.write_text("fit: {restarts_per_job: 2}\n")  # 3 restarts: jobs of 2 and 1
    work = tmp_path / "work"
    work.mkdir()
    result = run_snakemake(work, "--configfile", *CONFIG_FILES, str(split))
    assert result.stdout.count("Fitting rank 3 to sim5") + result.stderr.count(
        "Fitting rank 3 to sim5") == 2
    assert_same_results(reference_results, work)
