"""Does selecting the top genes by Poisson deviance keep the planted programs and their
moonlighting genes? (moonlight.prefilter, issue 11.)

A simulated single-cell matrix per seed: 10 programs of 150 genes each (log-normal
weights), 50 of those genes also in a second program (moonlighting: the gene's weight
split evenly between its two programs, so that it is no more expressed than a
single-program gene with the same draw), and 4,500 background genes that follow cell
depth (each a fixed share of every cell's counts); cells are mixtures of the programs,
H_j ~ Dirichlet(0.2), with log-normal library sizes (mean about 2,000 counts per cell),
background genes taking 60% of every cell's counts; negative-binomial counts (variance
mu + 0.1 mu^2, so background genes are overdispersed too). Reported per seed and
``top_genes``: the fraction of program genes, moonlighting genes and background genes
kept, and the median deviance rank of single-program and moonlighting genes.

Run: ``python benchmarks/prefilter_moonlighting.py`` (about a minute on one core); writes
``benchmarks/results/prefilter_moonlighting.tsv``. Seeds 101-103 were not used for
anything else.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from moonlight.prefilter import poisson_deviance, select_genes_and_cells  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)

SEEDS = (101, 102, 103)
N_PROGRAMS, PROGRAM_SIZE, N_MOONLIGHTING, N_BACKGROUND = 10, 150, 50, 4500
N_CELLS = 5000
BACKGROUND_SHARE = 0.6
DISPERSION = 0.1
TOP = (1000, 2000, 3000)


def simulate(seed: int) -> tuple[sparse.csr_array, np.ndarray]:
    """Counts (genes x cells, CSR) and each gene's kind: 0 background, 1 single
    program, 2 moonlighting."""
    rng = np.random.default_rng(seed)
    n_program_genes = N_PROGRAMS * PROGRAM_SIZE
    n_genes = n_program_genes + N_BACKGROUND
    W = np.zeros((n_genes, N_PROGRAMS + 1))
    for r in range(N_PROGRAMS):
        genes = np.arange(r * PROGRAM_SIZE, (r + 1) * PROGRAM_SIZE)
        W[genes, r] = rng.lognormal(0.0, 1.0, size=PROGRAM_SIZE)
    kind = np.zeros(n_genes, dtype=int)
    kind[:n_program_genes] = 1
    moonlighting = rng.choice(n_program_genes, size=N_MOONLIGHTING, replace=False)
    for gene in moonlighting:
        home = gene // PROGRAM_SIZE
        other = rng.choice([r for r in range(N_PROGRAMS) if r != home])
        W[gene, home] /= 2.0                 # its weight split evenly between the two:
        W[gene, other] = W[gene, home]       # as expressed as a single-program gene
    kind[moonlighting] = 2
    W[n_program_genes:, N_PROGRAMS] = rng.lognormal(0.0, 1.0, size=N_BACKGROUND)
    W /= W.sum(axis=0)
    H = np.zeros((N_PROGRAMS + 1, N_CELLS))
    H[:N_PROGRAMS] = rng.dirichlet(np.full(N_PROGRAMS, 0.2), size=N_CELLS).T * (
        1 - BACKGROUND_SHARE)
    H[N_PROGRAMS] = BACKGROUND_SHARE
    depth = rng.lognormal(np.log(2000.0) - 0.5 * 0.5**2, 0.5, size=N_CELLS)
    blocks = []
    for start in range(0, N_CELLS, 500):
        cells = slice(start, start + 500)
        mu = (W @ H[:, cells]) * depth[cells]
        gamma = rng.gamma(1.0 / DISPERSION, DISPERSION, size=mu.shape)
        blocks.append(sparse.csc_array(rng.poisson(mu * gamma).astype(np.float64)))
    return sparse.csr_array(sparse.hstack(blocks)), kind


def main() -> None:
    rows = []
    for seed in SEEDS:
        began = time.perf_counter()
        X, kind = simulate(seed)
        genes = [f"g{i}" for i in range(X.shape[0])]
        cells = [f"c{j}" for j in range(X.shape[1])]
        D = poisson_deviance(X)
        rank = pd.Series(-D).rank(method="first").to_numpy()
        for top in TOP:
            kept = select_genes_and_cells(X, genes, cells, top_genes=top)
            chosen = np.zeros(len(genes), dtype=bool)
            chosen[[int(g[1:]) for g in kept.genes]] = True
            rows.append({
                "seed": seed, "top_genes": top,
                "zero_fraction": round(1 - X.nnz / (X.shape[0] * X.shape[1]), 4),
                "mean_counts_per_cell": round(float(X.sum()) / X.shape[1], 1),
                "program_genes_kept": round(float(chosen[kind == 1].mean()), 4),
                "moonlighting_kept": round(float(chosen[kind == 2].mean()), 4),
                "background_kept": round(float(chosen[kind == 0].mean()), 4),
                "median_rank_program": float(np.median(rank[kind == 1])),
                "median_rank_moonlighting": float(np.median(rank[kind == 2])),
            })
        print(f"seed {seed}: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    table = pd.DataFrame(rows)
    out = Path(__file__).resolve().parent / "results" / "prefilter_moonlighting.tsv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, sep="\t", index=False)
    write_machine_record(out.with_suffix(".machine.json"))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
