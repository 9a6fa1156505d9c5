"""cNMF's own pipeline beside moonlight's workflow, on the same cell matrix, in one run.

cNMF (Kotliar et al. 2019, the ``cnmf`` package from PyPI) is what single-cell users run
to find gene programs: many NMF replicates per K (scikit-learn, Frobenius loss on
variance-scaled TPM by default), then a consensus per K, and a K that the user chooses
from a plot of stability and error. This script times that pipeline, every setting at
cNMF's default, beside ``moonlight run`` at every default, on one simulated ``.h5ad``
(``single_cell_workflow.simulate``: 10 planted programs, 2,000 genes, negative-binomial
counts, about 94 % zeros), one after the other on the same cores:

* cNMF: ``prepare`` (K from true K - 4 to true K + 4, ``--n-iter`` replicates, its own
  selection of variable genes),
  ``factorize`` (one worker per core, side by side), ``combine``, ``k_selection_plot``
  and ``consensus`` at the true K; the seconds of each step, and the K of largest
  stability (which a reader of the plot would likely take; cNMF itself chooses none);
* moonlight: ``moonlight run cells.h5ad --ranks <the same K> --cores N``, the wall time
  to its selected R and calls.

cNMF runs from its own environment (``--cnmf``: the ``cnmf`` executable of a venv with
``pip install cnmf``), so that its dependencies (scanpy, scikit-learn) are not
moonlight's.

Run: ``python benchmarks/cnmf_peer.py --cnmf <venv>/bin/cnmf [--cells 5000]
[--n-iter 100] [--work DIR]``; writes ``benchmarks/results/cnmf_peer_<cells>.json``
with the machine record.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from machine import machine_record  # noqa: E402
from single_cell_workflow import simulate  # noqa: E402

from moonlight.io import read_tsv  # noqa: E402
from moonlight.selection import selected_rank  # noqa: E402


def _timed(commands: list[list[str]]) -> float:
    """Wall seconds of commands run side by side (each must succeed)."""
    start = time.perf_counter()
    running = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True) for c in commands]
    for process, command in zip(running, commands):
        _, err = process.communicate()
        if process.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return round(time.perf_counter() - start, 1)


def _k_selection(folder: Path, name: str) -> dict:
    """cNMF's stability and prediction error per K (its k_selection_stats table)."""
    stats = np.load(folder / name / f"{name}.k_selection_stats.df.npz", allow_pickle=True)
    columns = [str(c) for c in stats["columns"]]
    rows = [dict(zip(columns, row)) for row in stats["data"]]
    return {int(r["k"]): {"stability": round(float(r["silhouette"]), 4),
                          "prediction_error": float(r["prediction_error"])} for r in rows}


def run_cnmf(cnmf: str, h5ad: Path, ks: list[int], n_iter: int, workers: int,
             true_k: int, folder: Path) -> dict:
    common = ["--output-dir", str(folder), "--name", "cells"]
    seconds = {"prepare": _timed([[cnmf, "prepare", *common, "-c", str(h5ad), "-k",
                                   *map(str, ks), "-n", str(n_iter), "--total-workers",
                                   str(workers), "--seed", "1"]])}
    seconds["factorize"] = _timed([[cnmf, "factorize", *common, "--worker-index", str(w),
                                    "--total-workers", str(workers)]
                                   for w in range(workers)])
    seconds["combine"] = _timed([[cnmf, "combine", *common]])
    seconds["k_selection_plot"] = _timed([[cnmf, "k_selection_plot", *common]])
    seconds["consensus"] = _timed([[cnmf, "consensus", *common, "--components",
                                    str(true_k)]])
    stats = _k_selection(folder, "cells")
    version = subprocess.run([str(Path(cnmf).parent / "pip"), "show", "cnmf"],
                             capture_output=True, text=True).stdout
    return {"version": next((line.split(": ")[1] for line in version.splitlines()
                             if line.startswith("Version")), "unknown"),
            "settings": {"K": ks, "n_iter": n_iter, "workers": workers,
                         "beta_loss": "frobenius (default)", "consensus_K": true_k},
            "seconds": seconds, "seconds_total": round(sum(seconds.values()), 1),
            "k_of_largest_stability": max(stats, key=lambda k: stats[k]["stability"]),
            "k_selection": stats}


def run_moonlight(h5ad: Path, ks: list[int], cores: int, folder: Path) -> dict:
    moonlight = str(Path(sys.executable).parent / "moonlight")
    command = [moonlight, "run", str(h5ad), "--ranks", f"{ks[0]}-{ks[-1]}", "--cores",
               str(cores), "--out", str(folder), "--no-report"]
    seconds = _timed([command])
    results = folder / "results" / "cells"
    selection = read_tsv(results / "rank_selection.tsv", index_col=None)
    called = read_tsv(results / "moonlighting.tsv", index_col=None)["gene"]
    return {"command": " ".join(command[1:]), "seconds": seconds,
            "selected_R": selected_rank(selection),
            "calls": sorted(called)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnmf", required=True, help="the cnmf executable of its venv")
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n-iter", type=int, default=100, help="cNMF's replicates per K")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/moonlight-cnmf-peer"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    h5ad = args.work / "cells.h5ad"
    truth = simulate(args.genes, args.cells, args.rank, args.seed, h5ad)
    ks = list(range(args.rank - 4, args.rank + 5))
    machine = machine_record()
    cnmf = run_cnmf(args.cnmf, h5ad, ks, args.n_iter, args.cores, args.rank,
                    args.work / "cnmf")
    ours = run_moonlight(h5ad, ks, args.cores, args.work / "moonlight")
    planted = set(truth["moonlighting"])
    ours |= {"true_calls": len(planted & set(ours["calls"])), "planted": len(planted)}
    ours["calls"] = len(ours["calls"])
    record = {"matrix": {"cells": args.cells, "genes": args.genes, "true_K": args.rank,
                         "seed": args.seed, "zeros": round(truth["zeros"], 4),
                         "nnz": truth["nnz"]},
              "cnmf": cnmf, "moonlight": ours, "machine": machine}
    out = HERE / "results" / f"cnmf_peer_{args.cells}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
