"""Issue 19's first target: a whole-transcriptome table through the default workflow.

A simulated table of 20,000 genes x 500 samples (8 planted modules, 20 moonlighting genes
with second shares of at least 0.2, negative-binomial counts of dispersion 0.1, depths of
5-10 million reads) is written as a gzipped TSV, as a user would have it, and run with
``moonlight run <table> --ranks 2-10 --cores 2`` (the workflow at every default: the
5,000 genes of largest deviance, 10 restarts, 5-fold cross-validation), with a wall-time
limit. The target: the true R and the planted calls within 15 minutes on 2 cores.

Run: ``python benchmarks/large_table.py [--limit-minutes 15] [--work DIR]``; writes
``benchmarks/results/large_table.json`` (with the machine record) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_record  # noqa: E402

from moonlight import Simulation, read_tsv, simulate  # noqa: E402
from moonlight.selection import selected_rank  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "large_table.json"


def write_transcriptome(path: Path, n_samples: int = 500) -> Simulation:
    """The benchmark's table (20,000 genes, 8 modules, 20 moonlighting genes, NB
    dispersion 0.1, 5-10 million reads per sample; seed 19), written to ``path`` as a
    gzipped TSV; returns the simulation (its truth)."""
    sim = simulate(n_genes=20_000, n_samples=n_samples, n_modules=8,
                   module_size=(2000, 3000), n_moonlighting=20, depth=(5e6, 1e7),
                   noise="negative_binomial", dispersion=0.1, seed=19)
    sim.counts.rename_axis("gene").to_csv(path, sep="\t")
    return sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-minutes", type=float, default=15.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/moonlight-large-table"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    table = args.work / "transcriptome.tsv.gz"
    sim = write_transcriptome(table)
    machine = machine_record()
    command = [str(Path(sys.executable).parent / "moonlight"), "run", str(table), "--ranks",
               "2-10", "--cores", "2", "--out", str(args.work / "run"), "--no-report"]
    start = time.perf_counter()
    # its own process group: at the limit, Snakemake and its jobs stop with it
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        code = process.wait(timeout=args.limit_minutes * 60)
        finished = code == 0
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        code, finished = None, False
    wall = time.perf_counter() - start
    results = args.work / "run" / "results" / "transcriptome"
    # a rank's fit is done once its restarts are written (part*.pkl, W.tsv once gathered)
    done_fits = sorted({p.parent.name for p in results.glob("fits/R*/part*.pkl")}
                       | {p.parent.name for p in results.glob("fits/R*/W.tsv")})
    done_cv = sorted(p.stem for p in results.glob("crossval/R*.tsv"))
    record = {"table": "20,000 genes x 500 samples, R = 8, NB dispersion 0.1, 20 planted "
                       "moonlighting genes, seed 19",
              "command": " ".join(command[1:]), "limit_minutes": args.limit_minutes,
              "finished": finished, "exit_code": code, "wall_seconds": round(wall, 1),
              "ranks_fitted": done_fits, "ranks_cross_validated": done_cv,
              "machine": machine}
    if finished:
        selection = read_tsv(results / "rank_selection.tsv", index_col=None)
        called = set(read_tsv(results / "moonlighting.tsv", index_col=None)["gene"])
        fitted = set(read_tsv(results / "W.tsv").index)  # the genes gene selection kept
        planted = set(sim.moonlighting)
        record |= {"selected_R": selected_rank(selection),
                   "true_R": 8, "genes_fitted": len(fitted), "calls": len(called),
                   "planted": len(planted), "planted_fitted": len(planted & fitted),
                   "true_calls": len(called & planted)}
    OUT.write_text(json.dumps(record, indent=1))
    print(json.dumps({k: v for k, v in record.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
