"""Calibration of moonlighting calls: power and false discovery rate against planted shares.

Every run simulates a table in which planted genes carry a known second share
(:func:`moonlight.simulate` with ``moonlighting_shares``), analyses it with
:func:`moonlight.pipeline.analyse`, the shipped path (fits, cross-validation with the
rank-1 baseline, the rank rule with its cap, the calls with the ceiling, the support and
the rank guard, every setting at the workflow's default except fewer restarts and folds,
:data:`SETTINGS`), and counts, per true second share, how many genes were called. A call
is false when the gene's true second share is below the threshold (0.1); single-module
genes have share 0. See CALIBRATION.md.

Three regimes:

* ``bulk``: 200 genes x 100 samples, 4 modules, 1e3 .. 1e5 reads per sample;
* ``wide``: the same with 300 samples, at 1e4 and 1e5 reads (does power under
  negative-binomial noise come from depth or from samples?);
* ``sparse``: 1,000 genes x 200 samples, 3 or 5 modules, 150 .. 700 reads per sample,
  i.e. a mean count per entry of 0.15 .. 0.7 and 65 .. 90 % zeros (the per-gene depth
  of a 20,000-gene single-cell table at 3,000 .. 14,000 reads per cell);

each with Poisson and negative-binomial noise (dispersion 0.1 and 0.5), 14 planted
genes per table (two at each of the shares 0.05, 0.08, 0.12, 0.15, 0.2, 0.3, 0.5).

    nice .venv/bin/python benchmarks/calibration.py --seeds 600-609 --out benchmarks/results

(Seeds 0-4 tuned the first call rule and 100-109 validated it; the committed results
are seeds 600-609, run once through ``analyse()``.) ``--defaults`` runs every table at
the workflow's defaults instead (no budget: the config schema's restarts, tolerances
and folds), to check that the budget does not change the calls. Every run's rank
table and held-out folds go to ``calibration_{ranks,folds}.tsv``
(benchmarks/rank_records.py).
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
from moonlight import simulate, write_tsv  # noqa: E402
from moonlight.config import defaults  # noqa: E402
from moonlight.pipeline import analyse  # noqa: E402
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)
from rank_records import append_records, records  # noqa: E402

#: Planted second shares; every other gene is in one module (share 0).
SHARES = (0.05, 0.08, 0.12, 0.15, 0.2, 0.3, 0.5)
#: Planted genes per share and table.
PER_SHARE = 2
#: Share buckets of the tables: single-module genes, then the planted shares.
BUCKETS = (0.0,) + SHARES
#: The membership threshold of the calls (the workflow's default).
THRESHOLD = defaults("modules")["threshold"]
NOISES = {"poisson": 0.0, "nb0.1": 0.1, "nb0.5": 0.5}
REGIMES = {
    "bulk": dict(n_genes=200, n_samples=100, ranks=(4,),
                 depths=(1_000, 3_000, 10_000, 30_000, 100_000)),
    "wide": dict(n_genes=200, n_samples=300, ranks=(4,), depths=(10_000, 100_000)),
    "sparse": dict(n_genes=1000, n_samples=200, ranks=(3, 5), depths=(150, 300, 700)),
}

#: The analysis of every run: :func:`moonlight.pipeline.analyse` at the workflow's
#: defaults, with fewer restarts, folds and sweeps (the selection grid's budget).
SETTINGS = dict(
    restarts=3,
    fit=dict(tol=1e-7, max_iter=2000),
    selection=dict(folds=4, restarts=1, tol=1e-7, max_iter=2000),
)
#: The false discovery rate the calls are made at (the workflow's default).
FDR = defaults("modules")["fdr"]


def cells(seeds: list[int], regimes: list[str]) -> list[dict]:
    out = []
    for regime in regimes:
        spec = REGIMES[regime]
        for noise, R, depth, seed in itertools.product(NOISES, spec["ranks"], spec["depths"],
                                                       seeds):
            out.append(dict(regime=regime, noise=noise, true_rank=R, depth=depth,
                            seed=seed, n_genes=spec["n_genes"],
                            n_samples=spec["n_samples"]))
    return out


def module_size(n_genes: int, rank: int) -> tuple[int, int]:
    """Feasible module sizes for (N, R): half to one and a half times N / R."""
    mean = n_genes / rank
    return max(2, int(np.floor(0.5 * mean))), int(np.ceil(1.5 * mean))


def _bucket(shares: pd.Series) -> pd.Series:
    """True second share rounded to the planted value it was drawn as (0 = one module)."""
    grid = np.asarray(BUCKETS)
    nearest = grid[np.abs(shares.to_numpy()[:, None] - grid[None, :]).argmin(axis=1)]
    return pd.Series(nearest, index=shares.index)


def run_cell(cell: dict, defaults: bool = False
             ) -> tuple[list[dict], tuple[pd.DataFrame, pd.DataFrame]]:
    """One simulated table: one row per share bucket with planted and called genes
    (``defaults``: every setting at the workflow's default, not :data:`SETTINGS`), and
    the run's rank records (benchmarks/rank_records.py)."""
    start, cpu = time.perf_counter(), time.process_time()
    R, N, noise = cell["true_rank"], cell["n_genes"], cell["noise"]
    depth = cell["depth"]
    sim = simulate(
        n_genes=N, n_samples=cell["n_samples"], n_modules=R, module_size=module_size(N, R),
        n_moonlighting=PER_SHARE * len(SHARES), moonlighting_min_share=0.0,
        moonlighting_shares=[s for s in SHARES for _ in range(PER_SHARE)],
        depth=(0.9 * depth, 1.1 * depth),
        noise="poisson" if NOISES[noise] == 0 else "negative_binomial",
        dispersion=NOISES[noise], seed=cell["seed"] * 1009 + R * 31 + int(depth) % 997,
    )
    counts = sim.counts
    counts = counts.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0]
    ranks = range(max(1, R - 2), R + 3)
    res = analyse(counts, ranks, **({} if defaults else SETTINGS))
    bucket = _bucket(sim.second_share.loc[counts.index])
    cand = res.candidates.set_index("gene")
    rules = {
        "rule": cand.index[cand["called"].astype(bool)],
        "q_only": cand.index[cand["q"] <= FDR],
    }
    V = counts.to_numpy()
    common = {**cell, "selected_rank": res.rank, "zeros": float((V == 0).mean()),
              "mean_count": float(V.mean()), "n_candidates": len(cand),
              "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}
    rows = []
    for b in BUCKETS:
        genes = bucket.index[bucket == b]
        row = {**common, "share": b, "planted": len(genes),
               "candidates": int(cand.index.isin(genes).sum())}
        for name, called in rules.items():
            row[f"called_{name}"] = int(pd.Index(called).isin(genes).sum())
        rows.append(row)
    return rows, records({k: cell[k] for k in KEYS}, res)


KEYS = ["regime", "noise", "true_rank", "depth", "seed"]


def _rates(part: pd.DataFrame, rule: str) -> dict:
    false = part.loc[part["share"] < THRESHOLD, f"called_{rule}"].sum()
    calls = part[f"called_{rule}"].sum()
    out = {"calls": int(calls), "false": int(false),
           "fdr": false / calls if calls else 0.0}
    for name, lo, hi in [("recall >=0.2", 0.2, 1.0), ("recall 0.12-0.15", 0.12, 0.15)]:
        sel = part[(part["share"] >= lo - 1e-9) & (part["share"] <= hi + 1e-9)]
        out[name] = sel[f"called_{rule}"].sum() / max(sel["planted"].sum(), 1)
    return out


def fdr_table(results: pd.DataFrame, rule: str = "rule") -> pd.DataFrame:
    """Per (regime, noise, depth): runs, rank accuracy, calls, false calls, FDR, recall."""
    rows = []
    for (regime, noise, depth), part in results.groupby(["regime", "noise", "depth"],
                                                         sort=True):
        runs = part.drop_duplicates(KEYS)
        rows.append({"regime": regime, "noise": noise, "depth": depth, "runs": len(runs),
                     "rank correct": (runs["selected_rank"] == runs["true_rank"]).mean(),
                     "zeros": runs["zeros"].mean(), "mean count": runs["mean_count"].mean(),
                     **_rates(part, rule)})
    for (regime, noise), part in results.groupby(["regime", "noise"], sort=True):
        runs = part.drop_duplicates(KEYS)
        rows.append({"regime": regime, "noise": noise, "depth": "all", "runs": len(runs),
                     "rank correct": (runs["selected_rank"] == runs["true_rank"]).mean(),
                     "zeros": runs["zeros"].mean(), "mean count": runs["mean_count"].mean(),
                     **_rates(part, rule)})
    runs = results.drop_duplicates(KEYS)
    rows.append({"regime": "all", "noise": "all", "depth": "all", "runs": len(runs),
                 "rank correct": (runs["selected_rank"] == runs["true_rank"]).mean(),
                 "zeros": runs["zeros"].mean(), "mean count": runs["mean_count"].mean(),
                 **_rates(results, rule)})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for _, row in table.iterrows():
        cells_ = []
        for c in cols:
            v = row[c]
            if c in {"rank correct", "fdr", "zeros", "recall >=0.2", "recall 0.12-0.15"}:
                cells_.append(f"{v:.3f}")
            elif c == "mean count":
                cells_.append(f"{v:.2f}")
            elif isinstance(v, float) and v.is_integer():
                cells_.append(f"{int(v):,}")
            elif isinstance(v, (int, np.integer)):
                cells_.append(f"{v:,}")
            else:
                cells_.append(str(v))
        lines.append("| " + " | ".join(cells_) + " |")
    return "\n".join(lines)


def power_figure(results: pd.DataFrame, path: Path, rule: str = "rule") -> None:
    """Call rate against the true second share, one line per depth, threshold marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regimes = [r for r in REGIMES if r in set(results["regime"])]
    noises = [n for n in NOISES if n in set(results["noise"])]
    fig, axes = plt.subplots(len(regimes), len(noises), figsize=(4.2 * len(noises),
                             3.4 * len(regimes)), sharey=True, squeeze=False)
    for i, regime in enumerate(regimes):
        for j, noise in enumerate(noises):
            ax = axes[i][j]
            part = results[(results["regime"] == regime) & (results["noise"] == noise)]
            depths = sorted(part["depth"].unique())
            colours = plt.cm.viridis(np.linspace(0, 0.9, len(depths)))
            for depth, colour in zip(depths, colours):
                d = part[part["depth"] == depth].groupby("share")[
                    ["planted", f"called_{rule}"]].sum()
                rate = d[f"called_{rule}"] / d["planted"].clip(lower=1)
                ax.plot(d.index, rate, "o-", color=colour, label=f"{depth:,.0f} reads/sample")
            ax.axvline(THRESHOLD, color="C3", linestyle="--", label="threshold")
            ax.axhline(FDR, color="grey", linestyle=":", linewidth=0.8)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{regime}, {noise}", fontsize=10)
            if i == len(regimes) - 1:
                ax.set_xlabel("true second share")
            if j == 0:
                ax.set_ylabel("fraction of genes called")
            ax.legend(fontsize=7, loc="upper left" if regime == "sparse" else "lower right")
    fig.suptitle("Moonlighting calls (moonlight.pipeline.analyse, defaults) by true second share",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def summarize(results: pd.DataFrame, out: Path, workers: int) -> None:
    results = results.sort_values(KEYS + ["share"]).reset_index(drop=True)
    write_tsv(results, out / "calibration.tsv", index=False)
    table = fdr_table(results)
    write_tsv(table, out / "calibration_fdr.tsv", index=False)
    power_figure(results, out / "calibration.png")
    runs = results.drop_duplicates(KEYS)
    print(f"{len(runs)} runs; {runs['cpu_seconds'].sum():.0f} CPU s in the runs "
          f"({runs['cpu_seconds'].sum() / workers / 60:.1f} min on {workers} workers)")
    for rule in ["rule", "q_only"]:
        print(f"\n## {rule}\n")
        print(markdown(fdr_table(results, rule)))
    print("\n## call rate by share (rule)\n")
    rate = results.groupby(["regime", "noise", "depth", "share"])[
        ["planted", "called_rule"]].sum()
    rate = (rate["called_rule"] / rate["planted"]).unstack("share")
    print(rate.round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", default="600-609",
                        help="seed range lo-hi; 0-4 tuned the first rule, 100-109 validated it")
    parser.add_argument("--regimes", default="bulk,wide,sparse")
    parser.add_argument("--defaults", action="store_true",
                        help="every setting at the workflow's default (no budget)")
    parser.add_argument("--summarize", action="store_true",
                        help="only summarize the runs finished so far")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "calibration.partial.tsv"
    if args.summarize:
        source = partial if partial.is_file() else out / "calibration.tsv"
        summarize(pd.read_csv(source, sep="\t"), out, args.workers)
        return
    write_machine_record(out / "calibration.machine.json")
    done = pd.read_csv(partial, sep="\t") if partial.is_file() else pd.DataFrame()
    finished = set(map(tuple, done[KEYS].astype(str).to_numpy())) if len(done) else set()
    todo = [c for c in cells(_seeds(args.seeds), args.regimes.split(","))
            if tuple(str(c[k]) for k in KEYS) not in finished]
    todo.sort(key=lambda c: (c["seed"], -c["n_genes"] * c["n_samples"] * c["true_rank"]))
    start = time.perf_counter()
    with Pool(args.workers) as pool:
        run = partial_call(run_cell, defaults=args.defaults)
        for i, (rows, ranks) in enumerate(pool.imap_unordered(run, todo), 1):
            pd.DataFrame(rows).to_csv(partial, sep="\t", index=False, mode="a",
                                      header=not partial.is_file())
            append_records(out, "calibration", ranks)
            if i % 10 == 0:
                print(f"{i}/{len(todo)} runs, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s wall")
    summarize(pd.read_csv(partial, sep="\t"), out, args.workers)


if __name__ == "__main__":
    main()
