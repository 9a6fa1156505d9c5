"""Issue 19's stop and start of the fits: what another ``fit.tol`` or ``fit.init`` saves,
and whether any answer moves.

Each table runs through the workflow (Snakemake on the shipped Snakefile) with every
default, then, in the same work folder, once for each variant of the ``fit:`` block
(``--settings tol=1e-8 init=svd``: one key each) with ``--forcerun fit``: the fits and
every job after them run again, while the cross-validations (whose tolerance and starts
are ``selection.tol`` and ``selection.init``) are kept, since their settings did not
change. After each run its answers are copied aside and compared with the default's: the
selected R, every rank's best log L and its near-best set (restarts within
``selection.margin``, which stability and the calls' support read), the gene-to-module
assignment of the selected R (modules matched by their W columns), the moonlighting calls
and their support, the gene classes, and the fits' sweeps and CPU seconds.

Tables (``--tables``; each in ``WORK/<name>``):

- ``w09``: the exercise table, ``../shared/data/w09-data.tbl`` (100 x 60), ranks 2-7;
- ``dense1000x100``, ``dense5000x200``: simulated, negative-binomial noise (0.1), a tenth of
  the genes broad, planted moonlighting genes; ranks 2-8 and 2-10;
- ``transcriptome20000x500``: the table of ``large_table.py`` (the default keeps its 5,000
  genes of largest deviance), ranks 2-10; ``transcriptome20000x1000``: the same design
  with 1,000 samples (the same seed);
- ``cells20000``: 2,000 genes x 20,000 simulated cells (``single_cell_workflow.py``'s
  simulation, true R 10), an ``.h5ad``, with ``fit.init: svd`` as docs/single-cell.md
  advises; ranks 8-12;
- ``--existing DIR``: a finished work folder (its ``config.yaml`` and ``results/``, e.g. a
  ``real_data.py run`` folder) is copied to ``WORK/<DIR's name>`` and taken as the default
  run; every data set of it is compared.

Run: ``python benchmarks/fit_settings.py --work DIR [--tables ...] [--existing DIR]
[--settings tol=1e-9 tol=1e-8 tol=1e-6 init=svd] [--cores 2] [--compare-only]``; writes
one row per (data set, setting) to ``benchmarks/results/fit_settings.tsv`` (replacing
the rows of the same data sets) and the machine record to ``fit_settings_machine.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from large_table import write_transcriptome  # noqa: E402  (benchmarks/large_table.py)
from machine import machine_record  # noqa: E402  (benchmarks/machine.py)
from workflow_run import run_workflow  # noqa: E402  (benchmarks/workflow_run.py)

from moonlight import simulate  # noqa: E402
from moonlight.cli import run_config  # noqa: E402
from moonlight.config import defaults  # noqa: E402
from moonlight.io import read_tsv  # noqa: E402
from moonlight.selection import selected_rank  # noqa: E402
from moonlight.stability import match_columns, near_best  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
EXERCISE = ROOT.parent / "shared" / "data" / "w09-data.tbl"
#: Per data set, the answers a run is compared on (results/<data set>/...).
ANSWERS = ["rank_selection.tsv", "modules.tsv", "moonlighting.tsv", "gene_classes.tsv"]
TABLES = ["w09", "dense1000x100", "dense5000x200", "transcriptome20000x500",
          "transcriptome20000x1000", "cells20000"]


def _dense(path: Path, **settings) -> Path:
    sim = simulate(noise="negative_binomial", dispersion=0.1, **settings)
    sim.counts.rename_axis("gene").to_csv(path, sep="\t")
    return path


def make_table(name: str, folder: Path) -> tuple[str, list[int], dict]:
    """The data file of table ``name`` (written into ``folder``), its ranks and the
    fit settings the run takes beside the defaults."""
    folder.mkdir(parents=True, exist_ok=True)
    if name == "w09":
        return str(EXERCISE), list(range(2, 8)), {}
    if name == "dense1000x100":
        return str(_dense(folder / "dense1000x100.tsv.gz", n_genes=1000, n_samples=100,
                          n_modules=5, module_size=(100, 250), n_moonlighting=10,
                          n_broad=100, depth=(2e5, 1e6), seed=1911)), list(range(2, 9)), {}
    if name == "dense5000x200":
        return str(_dense(folder / "dense5000x200.tsv.gz", n_genes=5000, n_samples=200,
                          n_modules=7, module_size=(400, 800), n_moonlighting=20,
                          n_broad=500, depth=(1e6, 5e6), seed=1912)), list(range(2, 11)), {}
    if name == "transcriptome20000x500":
        path = folder / "transcriptome.tsv.gz"
        write_transcriptome(path)
        return str(path), list(range(2, 11)), {}
    if name == "transcriptome20000x1000":  # the same design, twice the samples
        path = folder / "transcriptome1000.tsv.gz"
        write_transcriptome(path, n_samples=1000)
        return str(path), list(range(2, 11)), {}
    if name == "cells20000":
        from single_cell_workflow import simulate as simulate_cells
        path = folder / "cells.h5ad"
        simulate_cells(2000, 20_000, 10, 1913, path)
        return str(path), list(range(8, 13)), {"init": "svd"}
    raise ValueError(f"unknown table {name!r}; known: {TABLES}")


def snakemake(work: Path, config: Path, cores: int, extra: list[str]) -> float:
    """Run the workflow in ``work`` on ``config``; wall seconds (exits on failure)."""
    seconds, code, errors = run_workflow(work, config, cores=cores, args=["--quiet", *extra])
    if code:
        sys.exit(f"{work}: snakemake failed\n{errors}")
    return seconds


def snapshot(work: Path, datasets: list[str], label: str) -> Path:
    """Copy the answers and fit records of every data set to ``work/variants/<label>``."""
    out = work / "variants" / label
    shutil.rmtree(out, ignore_errors=True)
    results = work / "results"
    for ds in datasets:
        (out / ds).mkdir(parents=True)
        for name in ANSWERS:
            shutil.copy(results / ds / name, out / ds / name)
        for fit in sorted((results / ds / "fits").glob("R*")):
            (out / ds / "fits" / fit.name).mkdir(parents=True)
            for name in ("restarts.tsv", "W.tsv"):
                shutil.copy(fit / name, out / ds / "fits" / fit.name / name)
    shutil.copytree(results / "benchmarks" / "fit", out / "fit_benchmarks")
    return out


def _restarts(snap: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, sep="\t")
                      for p in sorted(snap.glob("fits/R*/restarts.tsv"))], ignore_index=True)


def _near_best(restarts: pd.DataFrame, margin: float) -> dict[int, frozenset[int]]:
    """Per rank, the restarts within ``margin`` of its best (however few)."""
    return {int(rank): frozenset(g["restart"].to_numpy()[near_best(g["loglik"], margin,
                                                                   at_least=1)])
            for rank, g in restarts.groupby("rank")}


def _assignment(snap: Path, rank: int, reference: pd.DataFrame | None = None
                ) -> tuple[pd.Series, pd.DataFrame]:
    """Each gene's module of rank ``rank`` (largest row-normalized W), its labels mapped to
    ``reference``'s columns by the best matching of W's columns (cosine)."""
    W = read_tsv(snap / "fits" / f"R{rank}" / "W.tsv")
    if reference is not None:
        perm, _ = match_columns(reference.loc[W.index], W)
        W = W.rename(columns=dict(zip(W.columns[perm], reference.columns)))
    return W.idxmax(axis=1), W


def _fit_cpu_seconds(snap: Path, dataset: str) -> float:
    """CPU seconds of the data set's fit jobs (Snakemake's benchmark files)."""
    return float(sum(pd.read_csv(p, sep="\t")["cpu_time"].iloc[0]
                     for p in (snap / "fit_benchmarks").glob(f"{dataset}_R*_part*.tsv")))


def compare(ref: Path, snap: Path, dataset: str, margin: float) -> dict:
    """One row: the run in ``snap`` against the default's in ``ref``, for ``dataset``."""
    a, b = ref / dataset, snap / dataset
    table_a = read_tsv(a / "rank_selection.tsv", index_col=None)
    table_b = read_tsv(b / "rank_selection.tsv", index_col=None)
    rank_a, rank_b = selected_rank(table_a), selected_rank(table_b)
    restarts_a, restarts_b = _restarts(a), _restarts(b)
    merged = restarts_a.merge(restarts_b, on=["rank", "restart"], suffixes=("_ref", ""))
    best = merged.groupby("rank")[["loglik_ref", "loglik"]].max()
    near_a, near_b = _near_best(restarts_a, margin), _near_best(restarts_b, margin)
    row = {
        "dataset": dataset, "rank_default": rank_a, "rank": rank_b,
        "cv_kept": bool(np.array_equal(table_a["cv_loglik"], table_b["cv_loglik"])),
        "sweeps_default": int(restarts_a["n_iter"].sum()),
        "sweeps": int(restarts_b["n_iter"].sum()),
        "capped": int((~restarts_b["converged"].astype(bool)).sum()),
        "best_loglik_loss_max": float((best["loglik_ref"] - best["loglik"]).max()),
        "restart_loglik_loss_max": float((merged["loglik_ref"] - merged["loglik"]).max()),
        "ranks_near_best_changed": sum(near_a[r] != near_b[r] for r in near_a),
        "ranks_stable_changed": int((table_a["stable"] != table_b["stable"]).sum()),
        "ranks_best_restart_changed": int(
            (merged.loc[merged.groupby("rank")["loglik_ref"].idxmax(), "restart"].to_numpy()
             != merged.loc[merged.groupby("rank")["loglik"].idxmax(), "restart"].to_numpy()
             ).sum()),
    }
    row["sweeps_ratio"] = row["sweeps"] / row["sweeps_default"]
    cpu_a, cpu_b = _fit_cpu_seconds(ref, dataset), _fit_cpu_seconds(snap, dataset)
    row.update(fit_cpu_default=round(cpu_a, 2), fit_cpu=round(cpu_b, 2),
               fit_cpu_ratio=round(cpu_b / cpu_a, 3))
    genes_a, W_a = _assignment(a, rank_a)
    if rank_a == rank_b:
        genes_b, _ = _assignment(b, rank_b, W_a)
        row["genes_moved"] = int((genes_a != genes_b.loc[genes_a.index]).sum())
    else:
        row["genes_moved"] = None
    row.update(near_best_selected_default=len(near_a[rank_a]),
               near_best_selected=len(near_b[rank_b]))
    moon_a = read_tsv(a / "moonlighting.tsv", index_col=None).set_index("gene")
    moon_b = read_tsv(b / "moonlighting.tsv", index_col=None).set_index("gene")
    calls_a, calls_b = set(moon_a.index), set(moon_b.index)
    both = sorted(calls_a & calls_b)
    row.update(calls_default=len(calls_a), calls=len(calls_b),
               calls_gained=len(calls_b - calls_a), calls_lost=len(calls_a - calls_b),
               support_change_max=float((moon_a.loc[both, "support"]
                                         - moon_b.loc[both, "support"]).abs().max())
               if both else 0.0)
    class_a = read_tsv(a / "gene_classes.tsv", index_col=None).set_index("gene")["class"]
    class_b = read_tsv(b / "gene_classes.tsv", index_col=None).set_index("gene")["class"]
    row["classes_changed"] = int((class_a != class_b.loc[class_a.index]).sum())
    return row


def _margin(config: dict) -> float:
    return (config.get("selection") or {}).get("margin", defaults("selection")["margin"])


def parse_setting(setting: str) -> tuple[str, object]:
    """``"tol=1e-8"`` -> ``("tol", 1e-08)``: a key of the ``fit:`` block and its value."""
    key, _, text = setting.partition("=")
    if key not in defaults("fit") or not text:
        raise SystemExit(f"--settings {setting!r}: not <key of fit:>=<value>")
    try:
        return key, float(text) if key != "init" else text
    except ValueError:
        return key, yaml.safe_load(text)


def study(work: Path, datasets: list[str], config: dict, settings: list[str], cores: int,
          fresh: bool) -> list[dict]:
    """Run (or take) the default, then each variant of the fit settings; compare."""
    margin = _margin(config)
    path = work / "config.yaml"
    if fresh:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        print(f"{work.name}: default run", flush=True)
        seconds = snakemake(work, path, cores, [])
        print(f"  {seconds:.0f} s", flush=True)
    # a folder taken as it is keeps the default snapshot of an earlier call (its results
    # are those of the last variant run then)
    if fresh or not (work / "variants" / "default").is_dir():
        snapshot(work, datasets, "default")
    for setting in settings:
        key, value = parse_setting(setting)
        variant = {**config, "fit": {**(config.get("fit") or {}), key: value}}
        variant_path = work / f"config_{setting}.yaml"
        variant_path.write_text(yaml.safe_dump(variant, sort_keys=False))
        print(f"{work.name}: fit.{setting}", flush=True)
        seconds = snakemake(work, variant_path, cores, ["--forcerun", "fit"])
        print(f"  {seconds:.0f} s", flush=True)
        snap = snapshot(work, datasets, setting)
        (snap / "run.json").write_text(json.dumps({"wall_seconds": round(seconds, 1)}))
    return compared(work, datasets, settings, margin)


def compared(work: Path, datasets: list[str], settings: list[str], margin: float
             ) -> list[dict]:
    """The rows of every variant's snapshot in ``work/variants`` against the default's."""
    rows = []
    for setting in settings:
        snap = work / "variants" / setting
        wall = json.loads((snap / "run.json").read_text())["wall_seconds"]
        for ds in datasets:
            rows.append({"table": work.name, "setting": setting, "wall_seconds": wall,
                         **compare(work / "variants" / "default", snap, ds, margin)})
            print("  ", {k: rows[-1][k] for k in ("dataset", "rank_default", "rank",
                                                   "sweeps_ratio", "fit_cpu_ratio",
                                                   "genes_moved", "calls_gained",
                                                   "calls_lost", "classes_changed")},
                  flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--tables", nargs="*", default=[], choices=TABLES)
    parser.add_argument("--existing", type=Path, nargs="*", default=[])
    parser.add_argument("--settings", nargs="+",
                        default=["tol=1e-9", "tol=1e-8", "tol=1e-6"],
                        help="variants of the fit: block, key=value, one key each")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--compare-only", action="store_true",
                        help="compare the snapshots already in WORK/<table>/variants; run nothing")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if not args.compare_only:  # what the runs were measured on
        (OUT / "fit_settings_machine.json").write_text(json.dumps(machine_record(), indent=1))
    rows = []
    for name in args.tables:
        work = args.work / name
        if args.compare_only:
            config = yaml.safe_load((work / "config.yaml").read_text())
            rows += compared(work, list(config["data"]), args.settings, _margin(config))
            write(rows)
            continue
        data, ranks, fit = make_table(name, work)
        config = run_config([data], ranks=ranks)
        if fit:
            config["fit"] = fit
        rows += study(work, list(config["data"]), config, args.settings, args.cores, fresh=True)
        write(rows)
    for existing in args.existing:
        work = args.work / existing.name
        if not work.exists():
            shutil.copytree(existing, work, symlinks=True)
        config = yaml.safe_load((work / "config.yaml").read_text())
        rows += (compared(work, list(config["data"]), args.settings, _margin(config))
                 if args.compare_only else
                 study(work, list(config["data"]), config, args.settings, args.cores, fresh=False))
        write(rows)


def write(rows: list[dict]) -> None:
    """``fit_settings.tsv``: rows of earlier calls kept unless these replace them (the
    same data set and setting)."""
    path = OUT / "fit_settings.tsv"
    new = pd.DataFrame(rows)
    if path.is_file():
        # round_trip: kept rows keep their last digits
        old = pd.read_csv(path, sep="\t", dtype={"dataset": str, "table": str},
                          float_precision="round_trip")
        replaced = old.set_index(["dataset", "setting"]).index.isin(
            new.set_index(["dataset", "setting"]).index)
        new = pd.concat([old[~replaced], new], ignore_index=True)
    # the same rows give the same bytes, whichever calls wrote them
    new = new.sort_values(["table", "dataset", "setting"], kind="stable")
    new.to_csv(path, sep="\t", index=False)


if __name__ == "__main__":
    main()
