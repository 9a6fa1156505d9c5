"""Single-cell scale: one restart of the sparse engine against scikit-learn's KL NMF.

Issue 11's first target: a simulated single-cell matrix, 2,000 genes x 100,000 cells,
R = 10 planted programs with moonlighting genes, negative-binomial counts with log-normal
library sizes (mean about 2,000 UMIs per cell, about 95% zeros). One restart of
``moonlight.fit_nmf`` (sparse ccd, its defaults) and
``sklearn.decomposition.NMF(10, beta_loss="kullback-leibler", solver="mu")`` (its
defaults) on the same CSR matrix (cells x genes, as AnnData stores it; moonlight fits
its transpose, genes x cells, a CSC view of the same arrays: no copy).

Usage::

    python benchmarks/sparse_scale.py --cells 10000             # check run
    python benchmarks/sparse_scale.py --cells 100000            # the target
    python benchmarks/sparse_scale.py --cells 10000 --init random svd   # both starts

Steps, each in its own process (so each peak memory, ``ru_maxrss`` of the whole
process, is its own), one thread each (``*_NUM_THREADS=1``):

1. ``simulate``: draw the matrix in chunks of cells (never dense as a whole), save it as
   ``.npz``.
2. ``sklearn``: fit, time it, score its factors by the full Poisson log likelihood.
3. ``moonlight``: fit one restart (default tol) for every start named by ``--init``
   (``fit_nmf(init=...)``; default "random"), keep the trace of log L per sweep; the
   first sweep at or above scikit-learn's final log L is the target sweep.
4. ``moonlight-reach``: the same deterministic fit stopped at the target sweep
   (``max_iter``): its wall and CPU time (the start included) are the time to reach
   scikit-learn's log L.

The numba compile (or cache load) runs on a tiny matrix before the clock starts.
Results: one JSON per run in ``benchmarks/results/`` and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# ---------------------------------------------------------------------------------------
# the data
# ---------------------------------------------------------------------------------------


def planted_programs(n_genes: int, rank: int, rng):
    """W (genes x programs, columns summing to one) and the genes planted in two programs:
    every gene in one program (equal shares), 2% also in a second; member weights
    log-normal (sigma 2.5), non-members 1e-3."""
    import numpy as np

    primary = np.arange(n_genes) % rank
    rng.shuffle(primary)
    member = np.zeros((n_genes, rank), dtype=bool)
    member[np.arange(n_genes), primary] = True
    moon = rng.choice(n_genes, size=max(1, n_genes // 50), replace=False)
    second = (primary[moon] + 1 + rng.integers(0, rank - 1, moon.size)) % rank
    member[moon, second] = True
    W = np.where(member, rng.lognormal(0.0, 2.5, (n_genes, rank)), 1e-3)
    return W / W.sum(axis=0), moon


def simulate_cells(n_genes: int, n_cells: int, rank: int, seed: int, path: Path) -> dict:
    """Cells x genes CSR counts with planted programs; returns a summary.

    Programs: every gene belongs to one program (equal shares), 2% of genes also to a
    second (moonlighting); member weights are log-normal (sigma 2.5: a few genes carry
    most of a program, as in real expression), non-members get weight 1e-3 (before the
    columns of W are scaled to sum to one). Cells: program usage Dirichlet(0.05) (mostly
    one dominant program), library size log-normal (sigma 0.5, mean 2,000), counts
    negative binomial with dispersion 2 (var = mu + 2 mu^2). These choices give about
    94% zeros.
    """
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    W, moon = planted_programs(n_genes, rank, rng)
    sigma = 0.5
    chunks = []
    block = 5000
    for lo in range(0, n_cells, block):
        m = min(block, n_cells - lo)
        usage = rng.dirichlet(np.full(rank, 0.05), size=m)  # (m, R)
        library = rng.lognormal(np.log(2000.0) - sigma**2 / 2, sigma, m)
        mu = (usage * library[:, None]) @ W.T  # (m, genes)
        dispersion = 2.0
        lam = rng.gamma(1.0 / dispersion, mu * dispersion)
        chunks.append(sp.csr_array(rng.poisson(lam).astype(np.float64)))
    X = sp.vstack(chunks, format="csr")
    keep_genes = np.asarray(X.sum(axis=0)).ravel() > 0
    keep_cells = np.asarray(X.sum(axis=1)).ravel() > 0
    X = sp.csr_array(X[keep_cells][:, keep_genes])
    X.sum_duplicates()
    sp.save_npz(path, X)
    return {"cells": int(X.shape[0]), "genes": int(X.shape[1]), "nnz": int(X.nnz),
            "zeros": 1.0 - X.nnz / (X.shape[0] * X.shape[1]),
            "mean_umis": float(X.sum() / X.shape[0]),
            "csr_MB": (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20,
            "moonlighting": int(moon.size)}


# ---------------------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------------------


def _rss_MB() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _loglik(X, W_cells, H_genes) -> float:
    """Full Poisson log L of X (cells x genes CSR) under ``W_cells @ H_genes``."""
    from moonlight.likelihood import sparse_sample_logliks

    # X in CSR is genes x cells (V) in CSC: V ~ (H_genes^T)(W_cells^T)
    return float(sparse_sample_logliks(X.indptr, X.indices, X.data, False,
                                       H_genes.T, W_cells.T).sum())


def _worker(spec: dict) -> dict:
    import numpy as np
    import scipy.sparse as sp

    import moonlight

    out: dict = {"step": spec["step"]}
    if spec["step"] == "simulate":
        out.update(simulate_cells(spec["genes"], spec["cells"], spec["rank"], spec["seed"],
                                  Path(spec["path"])))
        out["maxrss_MB"] = _rss_MB()
        return out
    X = sp.load_npz(spec["path"]).tocsr()
    out["rss_after_load_MB"] = _rss_MB()
    rank = spec["rank"]
    if spec["step"] == "sklearn":
        import warnings

        from sklearn.decomposition import NMF

        cpu, t = time.process_time(), time.perf_counter()
        model = NMF(rank, beta_loss="kullback-leibler", solver="mu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            W = model.fit_transform(X)
        out["wall_s"] = time.perf_counter() - t
        out["cpu_s"] = time.process_time() - cpu
        out["maxrss_MB"] = _rss_MB()
        out["iters"] = int(model.n_iter_)
        out["loglik"] = _loglik(X, W, model.components_)
        return out
    V = X.T  # genes x cells: the CSC form of the same arrays (no copy)
    warm = sp.csc_array(np.arange(1.0, 31.0).reshape(6, 5))
    t = time.perf_counter()
    moonlight.fit_nmf(warm, 2, restarts=1)  # JIT / cache load
    out["jit_s"] = time.perf_counter() - t
    kw = {"restarts": 1, "seed": 0, "init": spec["init"]}
    if spec["step"] == "moonlight-reach":
        kw.update(max_iter=spec["max_iter"], tol=1e-300)
    cpu, t = time.process_time(), time.perf_counter()
    fit = moonlight.fit_nmf(V, rank, **kw)
    out["wall_s"] = time.perf_counter() - t
    out["cpu_s"] = time.process_time() - cpu
    out["maxrss_MB"] = _rss_MB()
    out["iters"] = int(fit.n_iter[0])
    out["loglik"] = fit.loglik
    out["kkt"] = float(fit.kkt[0])
    out["converged"] = bool(fit.converged[0])
    out["trace"] = fit.trace[["iteration", "seconds", "loglik"]].to_numpy().tolist()
    return out


# ---------------------------------------------------------------------------------------
# driver side
# ---------------------------------------------------------------------------------------


def run(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    shown = {k: v for k, v in res.items() if k != "trace"}
    print(json.dumps(shown), file=sys.stderr, flush=True)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker")
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--init", nargs="+", choices=["random", "svd"], default=["random"],
                        help="starts of moonlight's restart (fit_nmf(init=...)), one run each")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"{args.genes}x{args.cells}_R{args.rank}"
    path = RESULTS / f"sparse_scale_{tag}.npz"
    base = {"genes": args.genes, "cells": args.cells, "rank": args.rank,
            "seed": args.seed, "path": str(path)}
    started = time.time()
    data = run({**base, "step": "simulate"})
    sk = run({**base, "step": "sklearn"})
    summary = {"data": data, "sklearn": sk, "moonlight": {}, "reach": {}}
    for init in args.init:
        ml = run({**base, "step": "moonlight", "init": init})
        reached = [row for row in ml["trace"] if row[2] >= sk["loglik"]]
        reach = None
        if reached:
            reach = run({**base, "step": "moonlight-reach", "init": init,
                         "max_iter": int(reached[0][0])})
        summary["moonlight"][init], summary["reach"][init] = ml, reach
    path.unlink()  # the matrix is regenerated from its seed; keep the repository small
    summary["elapsed_s"] = time.time() - started
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine_record  # noqa: PLC0415  (benchmarks/machine.py)
    summary["machine"] = machine_record()
    suffix = "" if args.init == ["random"] else "_" + "_".join(args.init)
    (RESULTS / f"sparse_scale_{tag}{suffix}.json").write_text(json.dumps(summary, indent=1))
    print(table(summary))


def table(s: dict) -> str:
    d, sk = s["data"], s["sklearn"]
    budget = 3 * d["csr_MB"] + 300
    lines = [
        f"Data: {d['genes']} genes x {d['cells']} cells, nnz {d['nnz']:,} "
        f"({100 * d['zeros']:.1f}% zeros), mean {d['mean_umis']:.0f} UMIs per cell, "
        f"CSR {d['csr_MB']:.0f} MiB; memory target 3 x CSR + 300 = {budget:.0f} MiB.",
        "",
        "| run | wall s | cpu s | iterations | log L | peak RSS MiB (after load) | notes |",
        "|---|---|---|---|---|---|---|",
        f"| scikit-learn NMF(KL, mu), defaults | {sk['wall_s']:.1f} | {sk['cpu_s']:.1f} | "
        f"{sk['iters']} | {sk['loglik']:.6e} | {sk['maxrss_MB']:.0f} "
        f"({sk['rss_after_load_MB']:.0f}) | |",
    ]
    for init, ml in s["moonlight"].items():
        reach = s["reach"][init]
        lines.append(
            f"| moonlight sparse ccd, init {init}, 1 restart, to convergence | "
            f"{ml['wall_s']:.1f} | {ml['cpu_s']:.1f} | {ml['iters']} | {ml['loglik']:.6e} | "
            f"{ml['maxrss_MB']:.0f} ({ml['rss_after_load_MB']:.0f}) | converged "
            f"{ml['converged']}, KKT {ml['kkt']:.1e}, JIT/cache {ml['jit_s']:.1f} s |")
        if reach is not None:
            lines.append(
                f"| moonlight, init {init}, stopped at scikit-learn's log L | "
                f"{reach['wall_s']:.1f} | {reach['cpu_s']:.1f} | {reach['iters']} | "
                f"{reach['loglik']:.6e} | {reach['maxrss_MB']:.0f} "
                f"({reach['rss_after_load_MB']:.0f}) | {sk['cpu_s'] / reach['cpu_s']:.1f}x "
                f"sooner (CPU), {sk['wall_s'] / reach['wall_s']:.1f}x (wall) |")
        else:
            lines.append(f"| moonlight, init {init}, never reached scikit-learn's log L "
                         "| | | | | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
