"""The same config gives byte-identical results with --cores 1 and --cores 2."""

import pytest

from conftest import assert_same_results, run_snakemake

pytestmark = pytest.mark.workflow


def test_one_core_gives_the_bytes_of_two(tmp_path, reference_results):
    run_snakemake(tmp_path, cores=1)
    assert_same_results(reference_results, tmp_path)
