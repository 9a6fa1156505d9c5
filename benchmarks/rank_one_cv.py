"""Rank-1 cross-validation: this checkout against a reference, in the same run.

Every run of the workflow cross-validates rank 1 (the no-structure baseline of the rank
rule). Its log likelihood is concave in the logs of W and H, so every start of a fold's
fit ends at the same optimum: this checkout fits it from one start and uses that fit as
the fold's rank-1 background, where the reference fitted ``selection.restarts`` starts
and the background once more. This script times ``moonlight.crossval.cross_validate``
at rank 1, and at rank 2 as a control (the same work in both), with every setting at the
workflow's default, each checkout in its own process, one after the other, twice (the
first pass loads or compiles the kernels), and records the second pass: CPU seconds and
``cv_loglik`` per table.

Tables: the exercise's (``../shared/data/w09-data.tbl``, when present), a dense
3,000 x 200 negative-binomial simulation (R = 6) and a sparse 1,000 x 2,000 one
(design ``samples``).

Run: ``python benchmarks/rank_one_cv.py --reference <worktree of the reference commit>``;
writes ``benchmarks/results/rank_one_cv.json`` (or ``--out``) with the machine record.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXERCISE = ROOT.parent / "shared" / "data" / "w09-data.tbl"


def _tables() -> dict:
    """name -> counts (a DataFrame, or a scipy sparse array for the sparse table)."""
    import numpy as np
    from scipy import sparse

    from moonlight import read_count_table, simulate

    tables = {}
    if EXERCISE.is_file():
        tables["exercise 100x60"] = read_count_table(EXERCISE)
    tables["dense 3000x200"] = simulate(
        n_genes=3000, n_samples=200, n_modules=6, module_size=(400, 600),
        noise="negative_binomial", dispersion=0.1, seed=11).counts
    sim = simulate(n_genes=1000, n_samples=2000, n_modules=5, module_size=(150, 250),
                   depth=(900.0, 1100.0), noise="negative_binomial", dispersion=0.1,
                   seed=12)
    tables["sparse 1000x2000"] = sparse.csc_array(sim.counts.to_numpy(dtype=np.float64))
    return tables


def _time(checkout: Path) -> dict:
    """In a process of its own: cross_validate at ranks 1 and 2 on every table."""
    sys.path.insert(0, str(checkout))
    import time

    import moonlight
    from moonlight.crossval import cross_validate, cv_summary

    assert Path(moonlight.__file__).resolve().is_relative_to(checkout.resolve())
    out = {}
    for name, counts in _tables().items():
        for rank in (1, 2):
            cpu = time.process_time()
            folds = cross_validate(counts, rank)
            seconds = time.process_time() - cpu
            summary = cv_summary(folds).iloc[0]
            out[f"{name} R{rank}"] = {"cpu_seconds": round(seconds, 2),
                                      "cv_loglik": float(summary["cv_loglik"]),
                                      "cv_se": float(summary["cv_se"])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="a checkout of the reference commit")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "rank_one_cv.json")
    parser.add_argument("--time", type=Path, help=argparse.SUPPRESS)  # the timing process
    args = parser.parse_args()
    if args.time:
        print(json.dumps(_time(args.time)))
        return
    if args.reference is None:
        parser.error("--reference is required")
    runs = {}
    for label, checkout in (("reference", args.reference), ("this", ROOT)):
        for _ in range(2):  # the first pass compiles or loads the kernels
            done = subprocess.run([sys.executable, __file__, "--time", str(checkout)],
                                  check=True, capture_output=True, text=True)
        runs[label] = json.loads(done.stdout)
    sys.path.insert(0, str(HERE))
    from machine import machine_record

    commit = subprocess.run(["git", "-C", str(args.reference), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {"reference_commit": commit,
              "runs": {key: {label: runs[label][key] for label in runs}
                       for key in runs["this"]},
              "machine": machine_record()}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["runs"], indent=1))


if __name__ == "__main__":
    main()
