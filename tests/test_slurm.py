"""The workflow through --profile profiles/slurm on a real SLURM cluster.

tests/slurm/start_cluster.sh starts a one-node cluster on this machine (.ci/run calls it).
Skipped, with the reason, where there is no SLURM, no idle node or no SLURM plugin.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess

import pytest

from conftest import RANK_CHOICE, ROOT, assert_made_as_in, run_snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


def _partition() -> str:
    """The default partition of an idle node, or skip the test saying why not."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.skip("no SLURM here: sinfo/sbatch not found "
                    "(as root, tests/slurm/start_cluster.sh starts a one-node cluster)")
    try:
        lines = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True,
                               timeout=30, check=True).stdout.split("\n")
    except (subprocess.SubprocessError, OSError) as error:
        pytest.skip(f"SLURM does not answer: sinfo failed: {error}")
    idle = [line.split() for line in lines if re.search(r"\b(idle|mix)", line)]
    if not idle:
        pytest.skip(f"SLURM has no idle node: sinfo says {' | '.join(lines).strip()!r}")
    defaults = [p for p, _ in idle if p.endswith("*")]
    return (defaults or [idle[0][0]])[0].rstrip("*")


def test_fits_go_through_sbatch_and_match_a_local_run(tmp_path, request):
    partition = _partition()  # before the local reference run: a skip costs nothing
    reference_results = request.getfixturevalue("reference_results")
    run_snakemake(
        tmp_path,
        RANK_CHOICE,
        "--profile", str(ROOT / "profiles" / "slurm"),
        # Test cluster only: no accounting database, so no sacct and no accounts.
        "--slurm-status-command", "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks", "2",
        "--default-resources", "mem_mb=1000", "runtime=10", f"slurm_partition={partition}",
        cores=None,
        timeout=900,
    )
    logs = tmp_path / ".snakemake" / "slurm_logs"
    job_ids = {}
    for rule, job in [("simulate", "5"), ("fit", "sim5_2_0"), ("fit", "sim5_3_0"),
                      ("fit", "sim5_4_0")]:
        found = sorted((logs / f"rule_{rule}" / job).glob("*.log"))
        assert found, f"no SLURM log of {rule} {job}: it did not go through sbatch"
        assert found[0].stem.isdigit(), found[0]
        job_ids[(rule, job)] = found[0].stem
    assert len(set(job_ids.values())) == len(job_ids), job_ids
    for job_id in job_ids.values():
        shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True,
                               text=True, timeout=30)
        if shown.returncode == 0:  # SLURM forgets finished jobs after MinJobAge
            assert "JobState=COMPLETED" in shown.stdout, shown.stdout
    # Aggregation rules are localrules: no SLURM job for them.
    assert (tmp_path / RANK_CHOICE).is_file()
    for rule in ("gather_restarts", "stability", "select_rank"):
        assert not (logs / f"rule_{rule}").exists(), rule
    assert_made_as_in(reference_results, tmp_path)
