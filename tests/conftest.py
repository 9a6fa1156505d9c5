"""Shared paths and fixtures; helpers of the workflow tests (run Snakemake on the small
config, compare results)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPO = ROOT
#: The exercise's table: kept outside the repository, beside the checkout.
W09_TABLE = REPO.parent / "shared" / "data" / "w09-data.tbl"
SNAKEFILE = ROOT / "Snakefile"
SMALL_CONFIG = Path(__file__).resolve().parent / "small_config.yaml"
#: What the workflow tests run on: the repository's config.yaml with the small config laid
#: over it (Snakemake merges several --configfile's in order, nested keys included).
CONFIG_FILES = [str(ROOT / "config.yaml"), str(SMALL_CONFIG)]

#: Result files that record when and how long, not what: excluded from byte comparisons.
_TIMING_FILES = {"results/provenance.tsv", "results/provenance.html", "results/benchmarks.tsv"}


def snakemake_command(workdir: Path, *extra: str, cores: int | None = 2,
                      snakefile: Path = SNAKEFILE) -> list[str]:
    """``snakemake`` on the small config in ``workdir``, this checkout's Snakefile (or a
    copy's)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir),
               "--configfile", *CONFIG_FILES, "--nocolor"]
    if cores is not None:
        command += ["--cores", str(cores)]
    return command + list(extra)


def run_snakemake(workdir: Path, *extra: str, cores: int | None = 2, check: bool = True,
                  timeout: float = 300, snakefile: Path = SNAKEFILE
                  ) -> subprocess.CompletedProcess[str]:
    """Run Snakemake to the end; on failure (with ``check``) fail the test with its log."""
    result = subprocess.run(snakemake_command(workdir, *extra, cores=cores,
                                              snakefile=snakefile),
                            capture_output=True, text=True, timeout=timeout,
                            env=os.environ | {"PYTHONHASHSEED": "0"})
    if check and result.returncode != 0:
        pytest.fail(f"snakemake exited {result.returncode}:\n{result.stderr[-6000:]}")
    return result


def result_bytes(workdir: Path) -> dict[str, bytes]:
    """Every result table and figure under ``workdir/results``, path -> bytes.

    Leaves out logs, benchmark files and the provenance record, which hold times.
    """
    results = workdir / "results"
    files = {}
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(workdir).as_posix()
        if (not path.is_file() or path.suffix not in {".tsv", ".png"}
                or relative.startswith(("results/logs/", "results/benchmarks/"))
                or relative in _TIMING_FILES):
            continue
        files[relative] = path.read_bytes()
    return files


def assert_same_results(expected: dict[str, bytes], workdir: Path) -> None:
    """``workdir``'s results are byte-identical to ``expected``, file for file."""
    actual = result_bytes(workdir)
    assert sorted(actual) == sorted(expected), "different sets of result files"
    differing = [name for name in expected if actual[name] != expected[name]]
    assert not differing, f"results differ from the reference run: {differing}"


@pytest.fixture(scope="session")
def w09_table() -> Path:
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    return W09_TABLE


#: What a copy of the workflow needs (a "fresh clone" without git: new timestamps).
WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "scripts", "report", "envs", "benchmarks",
                  "profiles", "moonlight"]


def clone_workflow(target: Path) -> Path:
    """Copy the workflow's files into ``target``; its Snakefile."""
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "_workflow"))
        else:
            shutil.copy(source, target / name)
    return target / "Snakefile"


@pytest.fixture(scope="session")
def finished_small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One uninterrupted local run of the small config (--cores 2) from a copy of the
    workflow (tests/test_rerun_triggers.py runs dry runs on it): (Snakefile, workdir).
    Tests may not change its results."""
    clone, workdir = tmp_path_factory.mktemp("clone"), tmp_path_factory.mktemp("reference")
    snakefile = clone_workflow(clone)
    run_snakemake(workdir, cores=2, timeout=600, snakefile=snakefile)
    return snakefile, workdir


@pytest.fixture(scope="session")
def reference_results(finished_small_run: tuple[Path, Path]) -> dict[str, bytes]:
    """Results of the uninterrupted local run of the small config (--cores 2)."""
    files = result_bytes(finished_small_run[1])
    assert "results/summary.tsv" in files and "results/sim5/fits/R3/W.tsv" in files
    return files


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slurm: submits the workflow's jobs to a SLURM cluster (skipped without one)"
    )
