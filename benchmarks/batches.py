"""Known batches: does the batch model (``batch:``; :mod:`moonlight.batches`) give back the
planted rank, modules and calls where the plain model turns batches into modules, and
does it cost nothing where there is no batch effect?

Every table runs through :func:`moonlight.pipeline.analyse`, the shipped path, twice:
without and with ``batches=`` (the simulation's plates). Tables: 200 genes x 96 samples,
4 modules (30-70 genes), 8 planted moonlighting genes (second share at least 0.1), read
depth 10,000-20,000, samples on 3 plates (sample j on plate j mod 3), each gene's
log-scale plate effect drawn with SD 0, 0.5, 1.0 or 1.5 (:func:`moonlight.simulate`;
0 = no batch effect). Ranks 2..7 (the workflow's default); 5 restarts and the
calibration benchmark's folds to run in minutes.

Per run: the selected R (truth 4); the smallest matched cosine of the fitted modules
against the planted ones as the batch model identifies them
(:attr:`moonlight.simulate.Simulation.batch_model_W`; for the plain model the same
reference, since its W carries each gene's mean factor as well); calls, false calls
(genes not planted) and recall; the number of diffuse modules at the selected R
(:func:`moonlight.technical.mark_background`: background, left out of the calls);
seconds.

    nice .venv/bin/python benchmarks/batches.py --seeds 900-905 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402
from moonlight import simulate, write_tsv  # noqa: E402
from moonlight.pipeline import analyse  # noqa: E402
from moonlight.recovery import match_modules  # noqa: E402

PLATE_SDS = (0.0, 0.5, 1.0, 1.5)
N_GENES, N_SAMPLES, N_MODULES, PLATES = 200, 96, 4, 3
SETTINGS = dict(
    restarts=5,
    selection=dict(folds=4, restarts=1),
)


def cells(seeds: list[int]) -> list[dict]:
    return [dict(plate_sd=sd, batches=use, seed=seed)
            for sd, use, seed in itertools.product(PLATE_SDS, (False, True), seeds)]


def run_cell(cell: dict) -> dict:
    start = time.perf_counter()
    sim = simulate(n_genes=N_GENES, n_samples=N_SAMPLES, n_modules=N_MODULES,
                   module_size=(30, 70), n_moonlighting=8, depth=(10_000, 20_000),
                   plates=PLATES, plate_sd=cell["plate_sd"], seed=cell["seed"])
    counts = sim.counts.loc[sim.counts.sum(axis=1) > 0]  # as the workflow's data step
    result = analyse(counts, **SETTINGS, batches=sim.plate if cell["batches"] else None)
    matched = match_modules(sim.batch_model_W.loc[counts.index], result.W)
    called = set(result.moonlighting["gene"])
    planted = set(sim.moonlighting).intersection(counts.index)
    marks = result.calls.associations.drop_duplicates("module")
    return {**cell, "selected_rank": result.rank, "diffuse": int(marks["diffuse"].sum()),
            "rank_correct": result.rank == N_MODULES,
            "min_cosine": float(matched["cosine"].min()) if len(matched) else np.nan,
            "calls": len(called), "false_calls": len(called - planted),
            "recalled": len(called & planted), "planted": len(planted),
            "seconds": time.perf_counter() - start}


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    g = results.groupby(["plate_sd", "batches"])
    return pd.DataFrame({
        "runs": g.size(),
        "rank_correct": g["rank_correct"].sum(),
        "mean_rank": g["selected_rank"].mean(),
        "median_min_cosine": g["min_cosine"].median(),
        "runs_cosine_ge_0.95": g["min_cosine"].apply(lambda c: int((c >= 0.95).sum())),
        "calls": g["calls"].sum(),
        "false_calls": g["false_calls"].sum(),
        "recall": g["recalled"].sum() / g["planted"].sum(),
        "runs_diffuse": g["diffuse"].apply(lambda d: int((d > 0).sum())),
        "median_seconds": g["seconds"].median(),
    }).reset_index()


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="900-905", help="e.g. 900-905 (fresh seeds)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    todo = cells(_seeds(args.seeds))
    start = time.perf_counter()
    # the slow runs (batch model, strong effects) first, so the pool ends together
    todo.sort(key=lambda c: (not c["batches"], -c["plate_sd"]))
    with Pool(args.workers) as pool:
        rows = list(pool.imap_unordered(run_cell, todo))
    results = pd.DataFrame(rows).sort_values(["plate_sd", "batches", "seed"])
    args.out.mkdir(parents=True, exist_ok=True)
    write_tsv(results, args.out / "batches.tsv", index=False)
    summary = summarize(results)
    write_tsv(summary, args.out / "batches_summary.tsv", index=False)
    write_machine_record(args.out / "batches.machine.json")
    print(summary.to_markdown(index=False, floatfmt=".3g"))
    print(f"\n{len(todo)} runs, {time.perf_counter() - start:.0f} s wall")


if __name__ == "__main__":
    main()
