"""Cross-validation of one rank: this checkout against a reference, in the same run.

Times ``moonlight.crossval.cross_validate`` with every setting at the workflow's default
on each table and rank asked for, each checkout in its own process, one after the other,
twice (the first pass loads or compiles the kernels), and records the second pass: CPU
seconds, ``cv_loglik`` and whether the folds' table is the same to the byte in both.

Tables (``--tables``): ``exercise`` (``../shared/data/w09-data.tbl``, when present,
100 x 60), ``dense3000x200`` (a negative-binomial simulation, R = 6), ``sparse1000x2000``
(stored sparse: design ``samples``) and ``dense5000x500`` (R = 8, 20 MB: above
``moonlight.engines.ccd.BLOCKED_MIN_BYTES``, so its masked fits run cache-blocked).

Uses: rank 1 from one start (``--ranks 1 2``, the default: rank 2 is the control, the
same work in both; ``results/rank_one_cv.json``), masked sweeps that vectorize
(``--ranks 8 --tables exercise dense3000x200 dense5000x500``;
``results/masked_sweeps.json``).

Run: ``python benchmarks/crossval_time.py --reference <worktree of the reference commit>
[--ranks R ...] [--tables NAME ...] --out results/<name>.json``; writes the record with
the machine's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXERCISE = ROOT.parent / "shared" / "data" / "w09-data.tbl"
TABLES = ("exercise", "dense3000x200", "sparse1000x2000", "dense5000x500")


def _table(name: str):
    """The counts of one table (a DataFrame, or a scipy sparse array), or None."""
    import numpy as np
    from scipy import sparse

    from moonlight import read_count_table, simulate

    if name == "exercise":
        return read_count_table(EXERCISE) if EXERCISE.is_file() else None
    if name == "dense3000x200":
        return simulate(n_genes=3000, n_samples=200, n_modules=6, module_size=(400, 600),
                        noise="negative_binomial", dispersion=0.1, seed=11).counts
    if name == "dense5000x500":
        return simulate(n_genes=5000, n_samples=500, n_modules=8, module_size=(500, 700),
                        depth=(1e6, 2e6), noise="negative_binomial", dispersion=0.1,
                        seed=13).counts
    sim = simulate(n_genes=1000, n_samples=2000, n_modules=5, module_size=(150, 250),
                   depth=(900.0, 1100.0), noise="negative_binomial", dispersion=0.1,
                   seed=12)
    return sparse.csc_array(sim.counts.to_numpy(dtype=np.float64))


def _time(checkout: Path, tables: list[str], ranks: list[int]) -> dict:
    """In a process of its own: cross_validate at every rank on every table."""
    sys.path.insert(0, str(checkout))
    import time

    import moonlight
    from moonlight.crossval import cross_validate, cv_summary

    assert Path(moonlight.__file__).resolve().is_relative_to(checkout.resolve())
    out = {}
    for name in tables:
        counts = _table(name)
        if counts is None:
            continue
        for rank in ranks:
            cpu = time.process_time()
            folds = cross_validate(counts, rank)
            seconds = time.process_time() - cpu
            summary = cv_summary(folds).iloc[0]
            digest = hashlib.sha256(folds.to_csv(index=False).encode()).hexdigest()
            out[f"{name} R{rank}"] = {"cpu_seconds": round(seconds, 2),
                                      "cv_loglik": float(summary["cv_loglik"]),
                                      "cv_se": float(summary["cv_se"]),
                                      "folds_sha256": digest[:16]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="a checkout of the reference commit")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tables", nargs="+", choices=TABLES,
                        default=["exercise", "dense3000x200", "sparse1000x2000"])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "rank_one_cv.json")
    parser.add_argument("--time", type=Path, help=argparse.SUPPRESS)  # the timing process
    args = parser.parse_args()
    if args.time:
        print(json.dumps(_time(args.time, args.tables, args.ranks)))
        return
    if args.reference is None:
        parser.error("--reference is required")
    runs = {}
    for label, checkout in (("reference", args.reference), ("this", ROOT)):
        for _ in range(2):  # the first pass compiles or loads the kernels
            done = subprocess.run(
                [sys.executable, __file__, "--time", str(checkout), "--tables", *args.tables,
                 "--ranks", *map(str, args.ranks)],
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
