"""The moonlighting calls' false discovery rate on simulations that look like real data.

The calibration benchmark (CALIBRATION.md) plants genes with known second shares in
tables where every other gene sits in one module. Real counts differ in three ways that
matter to the calls: most genes are expressed in every module (*broad* genes), the noise
is overdispersed, and samples carry technical axes (here a plate effect, depth-dependent
detection, or a technical program every sample draws a share from). This benchmark
adds them and runs every table through :func:`moonlight.pipeline.analyse`, the shipped
path with the workflow's defaults (restarts and folds as in the calibration benchmark, to
run in minutes), and counts per cell:

* calls, and false calls: a call is false when the gene's true second share is below the
  threshold (a one-module gene, or a planted share of 0.05 or 0.08) or when the gene is
  broad (in every module);
* the false discovery rate (false / calls), with a one-sided 95 % upper bound
  (``fdr_upper``: the larger of a bootstrap over the seeds and the binomial bound), and
  recall by planted share;
* whether the rank was right (or right but for modules flagged technical), and how the
  broad genes were classed;
* per run, the modules flagged technical (``flagged``), of them the background ones
  (``background``), and the diffuse ones, flagged or not (``diffuse``: background too).

Cells: noise (Poisson; negative binomial with dispersion 0.1 and 0.5) x broad genes (none;
50 next to the 200 module genes, a fifth of the table) x technical axis (none; a plate
effect, 4 plates, each gene's log-scale effect with SD 0.3; depth-dependent detection,
a count lost with probability 2^(-mean / 2); ``axis``, a technical program that takes a
share Uniform(0, 0.3) of every sample's counts, ``simulate(axis_share=0.3)``, its share
measured with noise SD 0.02 and given to ``analyse`` as a technical covariate, as a
user marks a mitochondrial fraction; ``axis_unmarked``, the same program with no
covariate given, as most users leave it, run only when ``--technical`` names it) x
depth (1e4 and 1e5 reads per sample), 200 module genes x 100 samples, 4 modules, 14
planted genes (two at each share of :data:`SHARES`);
ranks 3..6. The planted shares are the modules' own; the program's share of a gene is
neither its second share nor its rest.

    nice .venv/bin/python benchmarks/classes_calibration.py --seeds 500-509 \
        --out benchmarks/results

``--defaults`` runs every table at the workflow's defaults instead (no budget: the
config schema's restarts, tolerances and folds); ``--technical`` runs only the cells of
the axes it names; ``--background-top-max`` overrides ``modules.background_top_max``
(0: technical modules count in every gene's shares). Every run's rank table and held-out
folds go to ``classes_calibration_{ranks,folds}.tsv`` (benchmarks/rank_records.py).
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import beta  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from moonlight import simulate, write_tsv  # noqa: E402
from moonlight.pipeline import analyse  # noqa: E402
from moonlight.technical import technical_modules  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)
from rank_records import append_records, records  # noqa: E402

#: Planted second shares (two genes each); below the threshold (0.1) a call is false.
SHARES = (0.05, 0.08, 0.12, 0.15, 0.2, 0.3, 0.5)
THRESHOLD = 0.1
NOISES = {"poisson": 0.0, "nb0.1": 0.1, "nb0.5": 0.5}
BROAD = (0, 50)
#: Technical axes: keyword arguments of :func:`moonlight.simulate`.
TECHNICAL = {"none": {}, "plate": dict(plates=4, plate_sd=0.3),
             "dropout": dict(dropout_mid=2.0), "axis": dict(axis_share=0.3),
             "axis_unmarked": dict(axis_share=0.3)}
#: The cells run unless ``--technical`` names others (``axis_unmarked`` only when named).
DEFAULT_TECHNICAL = ("none", "plate", "dropout", "axis")
#: SD of the noise on the measured share of the ``axis`` cells' technical program.
AXIS_NOISE = 0.02
DEPTHS = (10_000, 100_000)
N_GENES, N_SAMPLES, N_MODULES = 200, 100, 4
#: Fewer restarts and folds than the workflow, as in the calibration benchmark.
SETTINGS = dict(
    restarts=3,
    fit=dict(tol=1e-7, max_iter=2000),
    selection=dict(folds=4, restarts=1, tol=1e-7, max_iter=2000),
)


def cells(seeds: list[int], technical: list[str] | None = None) -> list[dict]:
    return [dict(noise=noise, broad=broad, technical=axis, depth=depth, seed=seed)
            for noise, broad, axis, depth, seed in itertools.product(
                NOISES, BROAD, technical or DEFAULT_TECHNICAL, DEPTHS, seeds)]


def run_cell(cell: dict, defaults: bool = False, background_top_max: float | None = None
             ) -> tuple[list[dict], tuple[pd.DataFrame, pd.DataFrame]]:
    """One table, analysed (``defaults``: every setting at the workflow's default, not
    :data:`SETTINGS`; ``background_top_max``: that module setting, else its default);
    one row per planted-share bucket (0 = one-module genes, -1 = broad genes), and the
    run's rank records (benchmarks/rank_records.py)."""
    start = time.perf_counter()
    planted = np.repeat(SHARES, 2)
    sim = simulate(n_genes=N_GENES, n_samples=N_SAMPLES, n_modules=N_MODULES,
                   module_size=(30, 70), n_moonlighting=len(planted),
                   moonlighting_min_share=0.0, moonlighting_shares=planted,
                   depth=(cell["depth"], cell["depth"]),
                   noise="poisson" if cell["noise"] == "poisson" else "negative_binomial",
                   dispersion=NOISES[cell["noise"]], n_broad=cell["broad"],
                   seed=cell["seed"], **TECHNICAL[cell["technical"]])
    counts = sim.counts.loc[sim.counts.sum(axis=1) > 0]
    covariates = None
    if cell["technical"] == "axis":  # measured with noise, marked technical
        noise = np.random.default_rng([cell["seed"], 5]).normal(0, AXIS_NOISE, N_SAMPLES)
        covariates = (sim.axis + noise).rename("axis").to_frame()
    modules = {} if background_top_max is None else \
        {"background_top_max": background_top_max}
    result = analyse(counts, range(N_MODULES - 1, N_MODULES + 3), covariates=covariates,
                     **({} if defaults else SETTINGS), **modules)
    flagged = technical_modules(result.calls.associations)
    marks = result.calls.associations.drop_duplicates("module")
    called = set(result.moonlighting["gene"])
    classes = result.calls.classes.set_index("gene")["class"]
    second = sim.second_share.reindex(counts.index)
    bucket = second.round(2).where(~counts.index.isin(sim.broad), -1.0)
    rows = []
    for value, genes in bucket.groupby(bucket).groups.items():
        genes = list(genes)
        rows.append({**cell, "selected_rank": result.rank,
                     "rank_correct": result.rank == N_MODULES,
                     "flagged": len(flagged),
                     "background": int(flagged["background"].astype(bool).sum()),
                     "diffuse": int(marks["diffuse"].sum()),
                     "bucket": float(value),
                     "genes": len(genes), "called": len(called.intersection(genes)),
                     "classed_broad": int((classes.reindex(genes) == "broad").sum()),
                     "seconds": time.perf_counter() - start})
    return rows, records(cell, result)


#: Resamples of the seeds behind ``fdr_upper`` (seeded: the same results, the same bound).
BOOTSTRAP = 2000


def fdr_upper(per_seed: pd.DataFrame, level: float = 0.95) -> float:
    """One-sided upper bound on a cell's false discovery rate (``per_seed``: columns
    ``false`` and ``called``, a row per seed): the larger of two bounds at ``level``.

    * Resampling the seeds (:data:`BOOTSTRAP` draws, resamples without a call left out):
      seeds are the independent units, since the calls of one table share its fit; but
      no resample can show more false calls than the seeds did, so a cell without one
      gets 0.
    * The exact binomial (Clopper-Pearson) bound of false of called, the calls taken
      as independent: too narrow where the calls of a table go wrong together, and the
      bound that speaks for a cell without a false call (about 3 / calls).
    """
    counts = per_seed[["false", "called"]].to_numpy(np.float64)
    false, called = counts.sum(axis=0)
    if called == 0:
        return float("nan")
    binomial = 1.0 if false == called else float(beta.ppf(level, false + 1, called - false))
    draws = np.random.default_rng(0).integers(0, len(counts), (BOOTSTRAP, len(counts)))
    f, c = counts[draws, 0].sum(axis=1), counts[draws, 1].sum(axis=1)
    rates = np.divide(f, c, out=np.full_like(f, np.nan), where=c > 0)
    return max(binomial, float(np.nanquantile(rates, level)))


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per cell (over seeds): calls, false calls, FDR and its upper bound over the seeds
    (:func:`fdr_upper`), recall of shares >= 0.2 and of 0.12-0.15, rank accuracy, broad
    genes classed broad and called."""
    keys = ["noise", "broad", "technical", "depth"]
    r = results.assign(
        false=np.where(results["bucket"] < THRESHOLD, results["called"], 0),
        true=np.where(results["bucket"] >= THRESHOLD, results["called"], 0),
        strong=np.where(results["bucket"] >= 0.2, results["called"], 0),
        strong_n=np.where(results["bucket"] >= 0.2, results["genes"], 0),
        mid=np.where(results["bucket"].between(0.12, 0.15), results["called"], 0),
        mid_n=np.where(results["bucket"].between(0.12, 0.15), results["genes"], 0),
        broad_n=np.where(results["bucket"] < 0, results["genes"], 0),
        broad_called=np.where(results["bucket"] < 0, results["called"], 0),
        broad_broad=np.where(results["bucket"] < 0, results["classed_broad"], 0))
    first = r.drop_duplicates(keys + ["seed"])
    runs = first.groupby(keys)["rank_correct"].agg(["sum", "count"])
    flagged_only = (first["selected_rank"] - N_MODULES == first["flagged"]) & \
        (first["flagged"] > 0)
    extra = flagged_only.groupby([first[k] for k in keys]).sum()
    g = r.groupby(keys)[["called", "false", "true", "strong", "strong_n", "mid", "mid_n",
                         "broad_n", "broad_called", "broad_broad"]].sum()
    per_seed = r.groupby(keys + ["seed"])[["false", "called"]].sum()
    upper = per_seed.groupby(level=keys).apply(fdr_upper)
    out = pd.DataFrame({
        "runs": runs["count"], "rank_correct": runs["sum"],
        "rank_plus_flagged": extra, "calls": g["called"],
        "false_calls": g["false"],
        "fdr": g["false"] / g["called"].where(g["called"] > 0),
        "fdr_upper": upper,
        "recall_ge_0.2": g["strong"] / g["strong_n"],
        "recall_0.12_0.15": g["mid"] / g["mid_n"],
        "broad_genes": g["broad_n"], "broad_called": g["broad_called"],
        "broad_classed_broad": g["broad_broad"],
    })
    return out.reset_index()


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="500-509", help="e.g. 500-509 (fresh seeds)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--defaults", action="store_true",
                        help="every setting at the workflow's default (no budget)")
    parser.add_argument("--technical", nargs="+", choices=list(TECHNICAL),
                        help="only the cells of these technical axes (default: all)")
    parser.add_argument("--background-top-max", type=float,
                        help="modules.background_top_max (default: the config's)")
    args = parser.parse_args()
    todo = cells(_seeds(args.seeds), args.technical)
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in ("ranks", "folds"):
        (args.out / f"classes_calibration_{kind}.tsv").unlink(missing_ok=True)
    rows = []
    with Pool(args.workers) as pool:
        run = partial_call(run_cell, defaults=args.defaults,
                           background_top_max=args.background_top_max)
        for part, ranks in pool.imap_unordered(run, todo):
            rows += part
            append_records(args.out, "classes_calibration", ranks)
    results = pd.DataFrame(rows).sort_values(["noise", "broad", "technical", "depth", "seed",
                                              "bucket"])
    write_tsv(results, args.out / "classes_calibration.tsv", index=False)
    summary = summarize(results)
    write_tsv(summary, args.out / "classes_calibration_summary.tsv", index=False)
    write_machine_record(args.out / "classes_calibration.machine.json")
    print(summary.to_markdown(index=False, floatfmt=".3g"))
    calls, false = summary["calls"].sum(), summary["false_calls"].sum()
    print(f"\n{len(todo)} runs, {time.perf_counter() - start:.0f} s wall; overall FDR "
          f"{false}/{calls} = {false / max(calls, 1):.3f}; largest cell FDR "
          f"{summary['fdr'].max():.3f}")


if __name__ == "__main__":
    main()
