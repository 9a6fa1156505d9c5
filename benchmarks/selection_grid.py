"""Benchmark grid of rank selection and moonlighting calls on simulated data.

For every cell (noise, true R, N, M, depth, seed) a data set is simulated, analysed with
:func:`moonlight.pipeline.analyse`, the shipped path (fits and cross-validation at ranks
``max(1, R-2) .. R+3``, the rank rule with its cap, the calls with the ceiling, the
support and the rank guard; every setting at the workflow's default but the budget of
:data:`SETTINGS`), and compared with the planted truth. Writes one row per run to ``selection_grid.tsv`` and a
heat map of the fraction of correct ranks to ``selection_grid.png``. See SELECTION.md.

    .venv/bin/python benchmarks/selection_grid.py --out benchmarks/results [--quick]

``--sparse`` runs the sparse cells instead (1,000 x 200, 75 .. 700 reads per sample).
``--cap-when rising`` runs the grid with that ``selection.cap_when`` (REAL_DATA.md).
``--defaults`` runs every cell at the workflow's defaults (no budget: the config
schema's restarts, tolerances and folds), to check that the grid's budget does not
change its answers; ``--seeds K`` runs K seeds per cell; ``--true-ranks 2`` only the
cells of those true ranks. Every run's rank table and
held-out folds go to ``selection_grid_{ranks,folds}.tsv`` (benchmarks/rank_records.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from functools import partial as partial_call
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from moonlight import recovery_summary, simulate, write_tsv  # noqa: E402
from moonlight.pipeline import analyse  # noqa: E402
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)
from rank_records import append_records, records  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import module_size  # noqa: E402

RANKS = [2, 3, 4, 5, 6, 8]
GENES = [100, 1000]
SAMPLES = [60, 200]
DEPTHS = {"exercise": (90_000, 110_000), "tenfold_lower": (9_000, 11_000)}
#: Sparse cells (``--sparse``): 1,000 genes x 200 samples at 75 .. 700 reads per sample,
#: named by the mean count per entry (0.075 .. 0.7: 93 .. 65 % zeros), where single-cell
#: and shallow bulk tables live.
SPARSE_DEPTHS = {"mean_0.075": (67.5, 82.5), "mean_0.15": (135.0, 165.0),
                 "mean_0.3": (270.0, 330.0), "mean_0.7": (630.0, 770.0)}
SPARSE_SHAPE = (1000, 200)
SEEDS = range(5)
NB_DISPERSION = 0.1
#: Planted moonlighting genes per data set (more would make the simulator's redraw of W,
#: until every planted gene has a share >= 0.2 in both modules, take too many tries).
N_MOONLIGHTING = {100: 3, 1000: 6}

#: Sweep cap of every fit and masked fit (the workflow's selection.max_iter). An earlier
#: grid on multiplicative updates capped large tables at 400 iterations; under-converged
#: true-rank fits then lost more held-out likelihood than R + 1 gained (SELECTION.md).
MAX_ITER = 2000
#: Convergence tolerance of fits and masked fits. Chosen when the workflow's
#: selection.tol was 1e-8, which doubled the grid's time for the same choices (measured
#: on true R = 5 and 8, 1000 x 200, two seeds: identical ranks and calls); the workflow's
#: masked fits now stop at 1e-6 (SELECTION.md), its fits at the engine's 1e-10.
TOL = 1e-7


#: Settings of :func:`moonlight.pipeline.analyse` in every run: fewer restarts and folds
#: than the workflow's defaults so the grid runs in minutes on two cores; everything
#: else (the rank rule, the calls) at the workflow's defaults.
SETTINGS = dict(
    restarts=2,
    fit=dict(tol=TOL, max_iter=MAX_ITER),
    selection=dict(folds=4, restarts=1, tol=TOL, max_iter=MAX_ITER),
)


def cells(quick: bool = False, first_seed: int = 0, sparse: bool = False,
          n_seeds: int | None = None) -> list[dict]:
    out = []
    n_seeds = n_seeds or (2 if quick else len(SEEDS))
    seeds = [first_seed + s for s in range(n_seeds)]
    if sparse:
        N, M = SPARSE_SHAPE
        for R, depth, seed in itertools.product(RANKS, SPARSE_DEPTHS, seeds):
            out.append(dict(noise="poisson", dispersion=0.0, true_rank=R, n_genes=N,
                            n_samples=M, depth=depth, seed=seed))
        return out
    for R, N, M, depth, seed in itertools.product(RANKS, GENES, SAMPLES, DEPTHS, seeds):
        out.append(dict(noise="poisson", dispersion=0.0, true_rank=R, n_genes=N,
                        n_samples=M, depth=depth, seed=seed))
    for R, N, M, seed in itertools.product(RANKS, GENES, SAMPLES, seeds):
        out.append(dict(noise="negative_binomial", dispersion=NB_DISPERSION, true_rank=R,
                        n_genes=N, n_samples=M, depth="exercise", seed=seed))
    return out


def run_cell(cell: dict, cap_when: str | None = None, defaults: bool = False
             ) -> tuple[dict, tuple[pd.DataFrame, pd.DataFrame]]:
    """One simulated table, analysed: its row of the grid and its rank records
    (benchmarks/rank_records.py)."""
    start, cpu = time.perf_counter(), time.process_time()
    R, N = cell["true_rank"], cell["n_genes"]
    sim = simulate(
        n_genes=N, n_samples=cell["n_samples"], n_modules=R, module_size=module_size(N, R),
        n_moonlighting=N_MOONLIGHTING[N],
        depth={**DEPTHS, **SPARSE_DEPTHS}[cell["depth"]], noise=cell["noise"],
        dispersion=cell["dispersion"], seed=1000 + cell["seed"],
    )
    counts = sim.counts
    keep_rows, keep_cols = counts.sum(axis=1) > 0, counts.sum(axis=0) > 0
    counts = counts.loc[keep_rows, keep_cols]
    ranks = range(max(1, R - 2), R + 4)
    truth = sim.membership.loc[counts.index]
    settings = {} if defaults else SETTINGS
    if cap_when is not None:
        settings = {**settings, "selection": {**settings.get("selection", {}),
                                              "cap_when": cap_when}}
    res = analyse(counts, ranks, **settings)
    selected = res.rank
    W, table, cand, called = res.W, res.table, res.candidates, res.moonlighting
    memberships = res.memberships
    summary, _ = recovery_summary(truth, sim.W.loc[counts.index], W, memberships, called)
    row = summary.iloc[0].to_dict()
    t = table.set_index("rank")
    bic_rank = int(t["bic"].idxmin())
    planted = set(sim.moonlighting)
    return ({
        **cell,
        "selected_rank": selected,
        "rank_correct": selected == R,
        "zeros": float((counts.to_numpy() == 0).mean()),
        "bic_rank": bic_rank,
        "n_planted": len(planted),
        "n_candidates": len(cand),
        "n_called": int(row["moonlighting_called"]),
        "true_positives": int(row["moonlighting_true_positives"]),
        "candidate_true_positives": len(planted & set(cand["gene"])),
        "precision": row["precision"],
        "recall": row["recall"],
        "genes_assigned_correctly": row["genes_assigned_correctly"],
        # planted in every module (with two modules, the genes in both): classed broad?
        "broad_planted": int(row["broad_planted"]),
        "broad_classed_broad": int(row["broad_classed_broad"]),
        "stability_at_true": float(t["matched_cosine"].get(R, np.nan)),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }, records({k: cell[k] for k in KEYS}, res))


def heatmap(results: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = results.assign(
        setting=results["noise"].str.replace("negative_binomial", "NB") + " " + results["depth"]
    )
    table = results.pivot_table(index=["setting", "n_genes", "n_samples"],
                                columns="true_rank", values="rank_correct", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(table) + 1.8))
    image = ax.imshow(table.to_numpy(float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(table.to_numpy(float)):
        ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(table.shape[1]), table.columns)
    ax.set_yticks(range(len(table)), [f"{s}, N={n}, M={m}" for s, n, m in table.index],
                  fontsize=8)
    ax.set_xlabel("true R")
    ax.set_title("Fraction of runs selecting the true R")
    fig.colorbar(image, ax=ax, label="accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


KEYS = ["noise", "depth", "true_rank", "n_genes", "n_samples", "seed"]


def summarize(results: pd.DataFrame, workers: int) -> str:
    lines = [f"{len(results)} runs; {results['cpu_seconds'].sum():.0f} CPU s in the runs "
             f"({results['cpu_seconds'].sum() / workers / 60:.1f} min on {workers} "
             "uncontended workers)"]
    for noise, part in results.groupby("noise"):
        tp, called, planted = (part["true_positives"].sum(), part["n_called"].sum(),
                               part["n_planted"].sum())
        lines.append(
            f"{noise}: rank correct {part['rank_correct'].mean():.3f}; "
            f"over by >1: {(part['selected_rank'] > part['true_rank'] + 1).sum()}; "
            f"BIC correct {(part['bic_rank'] == part['true_rank']).mean():.3f}; "
            f"moonlighting precision {tp / max(called, 1):.3f} recall {tp / planted:.3f}")
    return "\n".join(lines)


def markdown(results: pd.DataFrame) -> str:
    """Tables for SELECTION.md: rank accuracy per setting and true R; moonlighting."""
    results = results.assign(
        setting=results["noise"].str.replace("negative_binomial", "NB 0.1") + ", "
        + results["depth"] + ", N=" + results["n_genes"].astype(str) + ", M="
        + results["n_samples"].astype(str)
    )
    acc = results.pivot_table(index="setting", columns="true_rank", values="rank_correct",
                              aggfunc="mean", sort=False)
    acc["all"] = results.groupby("setting", sort=False)["rank_correct"].mean()
    acc["runs"] = results.groupby("setting", sort=False).size()
    over = results["selected_rank"] - results["true_rank"]
    acc["R+1"] = over.eq(1).groupby(results["setting"], sort=False).sum()
    acc["> R+1"] = over.gt(1).groupby(results["setting"], sort=False).sum()
    acc["< R"] = over.lt(0).groupby(results["setting"], sort=False).sum()
    acc["BIC correct"] = (results["bic_rank"] == results["true_rank"]).groupby(
        results["setting"], sort=False).mean()
    lines = ["| setting | " + " | ".join(f"R={c}" if isinstance(c, (int, np.integer)) else c
                                         for c in acc.columns) + " |",
             "|---" * (len(acc.columns) + 1) + "|"]
    counts = {"runs", "R+1", "> R+1", "< R"}
    for setting, row in acc.iterrows():
        cells = [str(int(v)) if c in counts else ("" if pd.isna(v) else f"{v:.0%}")
                 for c, v in row.items()]
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    lines += ["", "| noise | runs | rank correct | over by >1 | BIC correct | precision | "
              "recall |", "|---" * 7 + "|"]
    for noise, part in results.groupby("noise"):
        planted = part["n_planted"].sum()
        cells = [noise, str(len(part)), f"{part['rank_correct'].mean():.3f}",
                 str(int((part["selected_rank"] > part["true_rank"] + 1).sum())),
                 f"{(part['bic_rank'] == part['true_rank']).mean():.3f}"]
        tp, called = part["true_positives"].sum(), part["n_called"].sum()
        cells += [f"{tp / max(called, 1):.3f}", f"{tp / planted:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two seeds per cell")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds start here: a fresh range validates thresholds chosen "
                             "on an earlier grid")
    parser.add_argument("--sparse", action="store_true",
                        help="the sparse cells (mean count per entry 0.075 .. 0.7) only")
    parser.add_argument("--cap-when", choices=["always", "rising"],
                        help="selection.cap_when of every run (default: the config's)")
    parser.add_argument("--defaults", action="store_true",
                        help="every setting at the workflow's default (no budget)")
    parser.add_argument("--seeds", type=int, help="seeds per cell (default 5; --quick 2)")
    parser.add_argument("--true-ranks", type=int, nargs="+", metavar="R",
                        help="only the cells of these true ranks (default: all of RANKS)")
    parser.add_argument("--summarize", action="store_true",
                        help="only summarize (table, heat map) the runs finished so far")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # Rows are appended as runs finish, so an interrupted grid resumes where it stopped.
    partial = out / "selection_grid.partial.tsv"
    if args.summarize:
        results = pd.read_csv(partial, sep="\t").sort_values(KEYS).reset_index(drop=True)
        write_tsv(results, out / "selection_grid.tsv", index=False)
        heatmap(results, out / "selection_grid.png")
        print(summarize(results, args.workers))
        print(markdown(results))
        return
    write_machine_record(out / "selection_grid.machine.json")
    done = pd.read_csv(partial, sep="\t") if partial.is_file() else pd.DataFrame()
    finished = set(map(tuple, done[KEYS].astype(str).to_numpy())) if len(done) else set()
    todo = [c for c in cells(args.quick, args.first_seed, args.sparse, args.seeds)
            if tuple(str(c[k]) for k in KEYS) not in finished
            and (not args.true_ranks or c["true_rank"] in args.true_ranks)]
    # Seed by seed (a stopped grid has whole seeds), largest cells first within a seed.
    todo.sort(key=lambda c: (c["seed"], -(c["n_genes"] * c["n_samples"] * c["true_rank"])))
    start = time.perf_counter()
    with Pool(args.workers) as pool:
        for i, (row, ranks) in enumerate(pool.imap_unordered(
                partial_call(run_cell, cap_when=args.cap_when, defaults=args.defaults),
                todo), 1):
            frame = pd.DataFrame([row])
            frame.to_csv(partial, sep="\t", index=False, mode="a",
                         header=not partial.is_file())
            append_records(out, "selection_grid", ranks)
            if i % 10 == 0:
                print(f"{i}/{len(todo)} runs, {time.perf_counter() - start:.0f} s", flush=True)
    results = pd.read_csv(partial, sep="\t").sort_values(KEYS).reset_index(drop=True)
    write_tsv(results, out / "selection_grid.tsv", index=False)
    heatmap(results, out / "selection_grid.png")
    print(f"total {time.perf_counter() - start:.0f} s wall")
    print(summarize(results, args.workers))
    print(markdown(results))


if __name__ == "__main__":
    main()
