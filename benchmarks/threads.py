"""fit.threads measured: seconds per ccd sweep with 1 and 2 threads, dense and sparse.

The workflow's default ``fit.threads`` is chosen from this run. Each case fits one
restart for a fixed number of sweeps (``tol`` so small that it never stops early) with
threads = 1, 2, 1, 2, ... (alternating, so that a change of the machine's load hits both
alike), three times each, after a warm-up that compiles the kernels; the best time per
thread count is kept, and the factors of 1 and 2 threads must be the same bytes.

Cases (the kinds of table the workflow fits):

* ``dense 5000x200``: a bulk table, 5,000 genes x 200 samples, R = 10;
* ``dense 20000x1000``: a whole transcriptome, R = 10;
* ``sparse 2000x100000``: single cells, 2,000 genes x 100,000 cells, about 170 counts
  per cell (log-normal), 94 % zeros, R = 10.

Run: ``python benchmarks/threads.py [--sweeps 50]``; writes
``benchmarks/results/threads.json`` (with :func:`machine.machine_record`) and prints a
table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_record  # noqa: E402

from moonlight import fit_nmf  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "threads.json"
RANK = 10


def dense_case(n_genes: int, n_samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.dirichlet(np.full(n_genes, 0.1), size=RANK).T
    H = rng.dirichlet(np.ones(RANK), size=n_samples).T * rng.uniform(5e4, 2e5, n_samples)
    V = rng.poisson(W @ H).astype(np.float64)
    return V[V.sum(axis=1) > 0]                    # the workflow drops all-zero genes


def sparse_case(n_genes: int, n_cells: int, seed: int = 0) -> sparse.csc_array:
    """Genes x cells, drawn in chunks of cells (never dense as a whole)."""
    rng = np.random.default_rng(seed)
    W = rng.dirichlet(np.full(n_genes, 0.05), size=RANK).T
    chunks = []
    for start in range(0, n_cells, 10_000):
        m = min(10_000, n_cells - start)
        H = rng.dirichlet(np.full(RANK, 0.3), size=m).T * rng.lognormal(5.0, 0.5, m)
        chunks.append(sparse.csc_array(rng.poisson(W @ H).astype(np.float64)))
    V = sparse.hstack(chunks, format="csr")
    V = V[np.flatnonzero(np.diff(V.indptr))]       # the workflow drops all-zero genes
    return sparse.csc_array(V)


def time_fit(V, threads: int, sweeps: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    fit = fit_nmf(V, RANK, restarts=1, seed=0, tol=1e-300, max_iter=sweeps,
                  check_every=sweeps, threads=threads)
    return time.perf_counter() - start, fit.W


def measure(name: str, V, sweeps: int, repeats: int = 3) -> dict:
    load = [round(v, 2) for v in os.getloadavg()]
    time_fit(V, 1, 2)
    time_fit(V, 2, 2)                          # compile both paths before the clock
    times: dict[int, list[float]] = {1: [], 2: []}
    factors = {}
    for _ in range(repeats):
        for threads in (1, 2):
            seconds, W = time_fit(V, threads, sweeps)
            times[threads].append(seconds)
            factors[threads] = W
    same = bool(np.array_equal(factors[1], factors[2]))
    best = {t: min(v) for t, v in times.items()}
    row = {"case": name, "sweeps": sweeps, "seconds_1": best[1], "seconds_2": best[2],
           "speedup": best[1] / best[2], "same_bytes": same,
           "all_seconds": {str(t): v for t, v in times.items()},
           "nnz": int(V.nnz) if sparse.issparse(V) else int(np.count_nonzero(V)),
           "shape": list(V.shape), "load_average_before": load}
    print(f"{name}: {best[1] / sweeps * 1e3:.1f} ms per sweep with 1 thread, "
          f"{best[2] / sweeps * 1e3:.1f} ms with 2 (x{row['speedup']:.2f}); "
          f"same bytes: {same}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="small cases only (a check)")
    parser.add_argument("--cases", nargs="+", help="run these cases only (their names), "
                        "keeping the other rows of threads.json")
    args = parser.parse_args()
    before = machine_record()
    cases = {"dense 5000x200": lambda: dense_case(5000, 200)}
    if not args.quick:
        cases |= {"dense 20000x1000": lambda: dense_case(20_000, 1000),
                  "sparse 2000x100000": lambda: sparse_case(2000, 100_000)}
    chosen = args.cases or list(cases)
    unknown = set(chosen) - set(cases)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; cases: {list(cases)}")
    rows = [measure(name, cases[name](), args.sweeps) for name in chosen]
    if args.cases and OUT.is_file():  # rows of an earlier run keep their own load averages
        kept = [r for r in json.loads(OUT.read_text())["rows"] if r["case"] not in chosen]
        rows = sorted(kept + rows, key=lambda r: list(cases).index(r["case"]))
    record = {"machine_before": before, "rows": rows,
              "load_average_after": [round(v, 2) for v in os.getloadavg()]}
    if not args.quick:
        OUT.write_text(json.dumps(record, indent=1))
        print(f"written: {OUT}")


if __name__ == "__main__":
    main()
