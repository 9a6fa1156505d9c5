"""The README's first command, measured: the default config, and the exercise's table.

Runs the shipped workflow on ``config.yaml`` as it is (three simulated data sets), with
the exercise's table added as data set ``w09`` (the README's quick start), in a fresh
working directory, and writes what docs/benchmarks.md reports of it:

* ``<out>/default_run.tsv``: the workflow's own ``results/summary.tsv`` (per data set:
  the selected R, module sizes, moonlighting genes, and for simulated sets how well the
  truth came back), plus the run's wall time;
* ``<out>/default_run_w09_calls.tsv``: the exercise's calls from
  ``moonlighting_candidates.tsv`` (support, q, second share and its interval);
* ``<out>/default_run.machine.json``: the machine (``benchmarks/machine.py``).

    python benchmarks/default_run.py --table ../shared/data/w09-data.tbl \\
        --workdir /tmp/default_run --out benchmarks/results
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)
from workflow_run import ROOT, run_workflow  # noqa: E402  (benchmarks/workflow_run.py)

sys.path.insert(0, str(ROOT))
from moonlight import read_tsv  # noqa: E402

CALL_COLUMNS = ["gene", "modules", "support", "q", "second_share", "second_share_low",
                "second_share_high", "rest_share"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, required=True,
                        help="the exercise's table (w09-data.tbl)")
    parser.add_argument("--workdir", type=Path, required=True,
                        help="an empty or new directory for the run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    if args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"--workdir {args.workdir} is not empty")
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_machine_record(args.out / "default_run.machine.json")
    seconds, code, errors = run_workflow(
        args.workdir, ROOT / "config.yaml", cores=args.cores,
        args=["--quiet", "--config", f"data={{w09: {args.table.resolve()}}}"])
    if code:
        sys.exit(f"the workflow failed (exit {code}):\n{errors}")
    results = args.workdir / "results"
    summary = read_tsv(results / "summary.tsv", index_col=None)
    summary["wall_seconds_of_run"] = round(seconds, 1)
    summary.to_csv(args.out / "default_run.tsv", sep="\t", index=False)
    candidates = read_tsv(results / "w09" / "moonlighting_candidates.tsv", index_col=None)
    calls = candidates.loc[candidates["called"].astype(str) == "True", CALL_COLUMNS]
    calls.to_csv(args.out / "default_run_w09_calls.tsv", sep="\t", index=False)
    print(summary.to_string(index=False))
    print(calls.to_string(index=False))
    print(f"{seconds:.0f} s of wall time on {args.cores} cores")


if __name__ == "__main__":
    main()
