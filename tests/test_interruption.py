"""A run killed half-way and rerun ends with the bytes of an uninterrupted run.

Two ways to die: Ctrl-C (SIGINT to Snakemake's whole process group, jobs included) and
SIGKILL of one running fit job's Python process. After either, every result file that
exists has exactly the bytes of the uninterrupted run (nothing half-written under a final
name), and a rerun (the profile sets rerun-incomplete; passed here too) completes it.
Both runs stop at the rank choice (``conftest.RANK_CHOICE``): the fits, the
cross-validation and the jobs that gather them, where an interruption can strike; what
follows them reads only finished files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RANK_CHOICE, assert_made_as_in, run_snakemake, snakemake_command

pytestmark = pytest.mark.workflow


def _fit_job_pids(workdir: Path) -> list[int]:
    """Python processes running this workdir's fit script (Snakemake copies it to
    ``<workdir>/.snakemake/scripts/tmp*.fit.py``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if ("python" in Path(argv[0]).name
                and any(a.startswith(str(workdir)) and a.endswith(".fit.py") for a in argv)):
            pids.append(int(entry.name))
    return pids


def _default_sigint() -> None:
    # A test suite started in the background by a non-interactive shell (`cmd &`)
    # inherits SIGINT ignored, and Python leaves an ignored SIGINT ignored: Snakemake
    # would then run through the Ctrl-C below. Snakemake gets the terminal's default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(snakemake_command(workdir, RANK_CHOICE, cores=2),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_sigint)


def _wait_for_fit(workdir: Path, process: subprocess.Popen[str], timeout: float = 60
                  ) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _fit_job_pids(workdir)
        if pids:
            return pids
        if process.poll() is not None:
            pytest.fail(f"snakemake ended before any fit ran:\n{process.stderr.read()}")
        time.sleep(0.02)
    process.kill()
    pytest.fail("no fit job started within the time limit")


def _assert_nothing_half_written(workdir: Path, reference: dict[str, bytes]) -> None:
    assert not (workdir / RANK_CHOICE).exists(), "the interrupted run should not have finished"
    assert_made_as_in(reference, workdir)


def _rerun_completes(workdir: Path, reference: dict[str, bytes]) -> None:
    run_snakemake(workdir, RANK_CHOICE, "--rerun-incomplete", cores=2)
    assert (workdir / RANK_CHOICE).is_file()
    assert_made_as_in(reference, workdir)


def test_ctrl_c_then_rerun(tmp_path, reference_results):
    process = _start(tmp_path)
    _wait_for_fit(tmp_path, process)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0, stderr[-3000:]
    _assert_nothing_half_written(tmp_path, reference_results)
    _rerun_completes(tmp_path, reference_results)


def test_killed_fit_job_then_rerun(tmp_path, reference_results):
    process = _start(tmp_path)
    victim = _wait_for_fit(tmp_path, process)[0]
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0, "snakemake should report the killed job"
    assert "Error in rule fit" in stderr, stderr[-3000:]
    _assert_nothing_half_written(tmp_path, reference_results)
    _rerun_completes(tmp_path, reference_results)
