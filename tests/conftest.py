"""Shared paths and fixtures; helpers of the workflow tests (run Snakemake on the small
config, compare results)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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


def _differing(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    """The files of ``actual`` whose bytes are not ``expected``'s (or that it lacks)."""
    return [name for name, data in actual.items() if expected.get(name) != data]


def assert_made_as_in(expected: dict[str, bytes], workdir: Path) -> None:
    """Every result file that ``workdir`` has is byte-identical to ``expected``'s (a run
    to a target makes a subset)."""
    wrong = _differing(expected, result_bytes(workdir))
    assert not wrong, f"files that differ from the reference run's: {wrong}"


#: A target of the small config that runs every rule sent to a cluster (simulate, fit,
#: crossval) and the jobs that gather them: where an interruption strikes.
RANK_CHOICE = "results/sim5/rank_selection.tsv"


def assert_same_results(expected: dict[str, bytes], workdir: Path) -> None:
    """``workdir``'s results are byte-identical to ``expected``, file for file."""
    actual = result_bytes(workdir)
    assert sorted(actual) == sorted(expected), "different sets of result files"
    differing = _differing(expected, actual)
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
            # __pycache__ comes along: numba's compiled kernels are cached there, keyed by
            # the source file's size and mtime (which copytree keeps); without them every
            # copy compiles them again, in each of its first jobs.
            shutil.copytree(source, target / name,
                            ignore=shutil.ignore_patterns("_workflow"))
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
    _answer_for_a_silent_slurm(config)


def _answer_for_a_silent_slurm(config: pytest.Config) -> None:
    """Where SLURM's client is installed but no controller answers, make ``scontrol``
    fail at once for this session's processes.

    Snakemake's SLURM plugin runs ``scontrol show config`` whenever Snakemake starts
    (to word a help text), with a 10-second timeout: a silent controller adds some 9 s
    to every Snakemake command of the workflow tests, minutes over the suite.
    tests/test_slurm.py skips in that case all the same (``sinfo`` does not answer)."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        return
    try:
        subprocess.run([scontrol, "show", "config"], capture_output=True, timeout=3,
                       check=True)
        return
    except (subprocess.SubprocessError, OSError):
        pass
    shim = Path(tempfile.mkdtemp(prefix="moonlight-no-slurm-"))
    (shim / "scontrol").write_text("#!/bin/sh\necho 'no SLURM controller answers' >&2\nexit 1\n")
    (shim / "scontrol").chmod(0o755)
    os.environ["PATH"] = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"
    config.add_cleanup(lambda: shutil.rmtree(shim, ignore_errors=True))


#: Test files whose shared runs take a minute or more, slowest first. With pytest-xdist
#: (``-n``, pyproject.toml) every file's tests run in one worker, so that they share
#: their fixtures' runs, and these files are handed out first, so that no long run
#: starts last.
SLOW_FILES = ("test_real_tables_workflow.py", "test_workflow.py",
              "test_single_cell_workflow.py", "test_tutorials.py", "test_cli.py",
              "test_batches.py")
#: The files whose tests use the session's one uninterrupted small run
#: (``finished_small_run``): one unit of work for xdist, so that the run is made once,
#: and the first one handed out.
SMALL_RUN_FILES = ("test_determinism.py", "test_interruption.py", "test_rerun_triggers.py",
                   "test_slurm.py")
_SMALL_RUN = "finished_small_run"


def _unit(path: str) -> str:
    """The unit of work of a test file (path or node id): the small run's files share one."""
    name = Path(path.split("::", 1)[0]).name
    return _SMALL_RUN if name in SMALL_RUN_FILES else name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow units first (xdist hands units out in collection order)."""
    order = {name: rank for rank, name in enumerate((_SMALL_RUN, *SLOW_FILES))}
    items.sort(key=lambda item: order.get(_unit(item.nodeid), len(order)))  # stable


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: none without it (-p no:xdist)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """xdist's file scheduling (``--dist loadfile``), the small run's files one unit, the
    units in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False
    return Scheduling(config, log)
