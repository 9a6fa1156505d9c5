"""One call of the shipped workflow from a benchmark script, and its wall time.

The benchmarks that measure the workflow (``real_data.py``, ``single_cell_workflow.py``,
``fit_settings.py``) run it as a user does, ``snakemake -s Snakefile`` on a working
directory and a config file, through :func:`run_workflow`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_workflow(workdir: Path, config: Path, *, cores: int, args: Sequence[str] = (),
                 log: Path | None = None) -> tuple[float, int, str]:
    """``snakemake`` on ``workdir`` with ``config``, ``cores`` and further ``args``
    (targets, ``--resources``, ``--forcerun``); Snakemake's output to ``log`` when given,
    else kept. Returns the wall seconds, the exit code and the last 5,000 characters of
    Snakemake's error output (empty with a ``log``)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"),
               "--directory", str(workdir), "--configfile", str(config),
               "--cores", str(cores), *args]
    start = time.perf_counter()
    if log is not None:
        with open(log, "w") as out:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
        return time.perf_counter() - start, code, ""
    run = subprocess.run(command, capture_output=True, text=True)
    return time.perf_counter() - start, run.returncode, run.stderr[-5000:]
