"""Seconds per ccd sweep by the width of the gene blocks of the W half.

Below 16 MiB the dense engine sweeps W as the H kernel on a transposed copy of V and
WH, cut into blocks of genes (:class:`moonlight.engines.ccd.TransposedBlocks`), each of
which takes its R passes while it stays in cache. This times the same sweeps with every
width of :data:`WIDTHS` and with one block (the layout before the blocks), on simulated
tables of the shapes named below, and checks that every width gives the bytes of one
block. :data:`moonlight.engines.ccd.GENE_BLOCK` is chosen from it.

Each case: ``moonlight.simulate`` (the planted modules of ``benchmarks/compare.py``),
one random start, sweeps with no extrapolation (``DenseSweeps.sweep`` and the product
recomputed, as after an accepted sweep), widths alternating, ``--repeat`` rounds, the
best CPU time per width kept.

Run: ``python benchmarks/gene_blocks.py [--repeat 5] [--out FILE]``; writes
``benchmarks/results/gene_blocks.json`` and its machine record beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import write_machine_record  # noqa: E402

import moonlight  # noqa: E402
from moonlight.engines import ccd  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "gene_blocks.json"
CASES = ["5000x200x10", "20000x60x8", "3000x500x10", "1500x1000x10", "1000x100x5"]
WIDTHS = [64, 128, 256, 512, 1024, 2048]
SWEEPS = 20


def table(case: str) -> tuple[np.ndarray, int]:
    n, m, r = (int(x) for x in case.split("x"))
    lo, hi = 2 * n // (5 * r), 8 * n // (5 * r)
    sim = moonlight.simulate(n_genes=n, n_samples=m, n_modules=r, module_size=(lo, hi),
                             n_moonlighting=0, moonlighting_min_share=0.0, seed=1)
    V = sim.counts.to_numpy(np.float64)
    return np.ascontiguousarray(V[V.sum(1) > 0][:, V.sum(0) > 0]), r


def sweeps(V: np.ndarray, r: int, width: int) -> tuple[float, bytes]:
    """CPU seconds per sweep with blocks of ``width`` genes, and the factors' bytes."""
    ccd.GENE_BLOCK = width
    rng = np.random.default_rng(0)
    W = rng.random((V.shape[0], r))
    W /= W.sum(axis=0)
    H = rng.random((r, V.shape[1])) * V.sum() / (r * V.shape[1])
    engine = ccd.DenseSweeps(ccd.DenseProblem(V, None, 0.0))
    engine.reset(W, H)
    engine.sweep(W, H)  # compiles the kernels for these types
    engine.reset(W, H)
    start = time.process_time()
    for _ in range(SWEEPS):
        engine.sweep(W, H)
        engine.reset(W, H)
    return (time.process_time() - start) / SWEEPS, W.tobytes() + H.tobytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    chosen = ccd.GENE_BLOCK
    rows = []
    for case in CASES:
        V, r = table(case)
        widths = [w for w in WIDTHS if w < V.shape[0]] + [V.shape[0]]  # last: one block
        best: dict[int, float] = {}
        answers = set()
        for _ in range(args.repeat):
            for width in widths:
                seconds, answer = sweeps(V, r, width)
                best[width] = min(best.get(width, np.inf), seconds)
                answers.add(answer)
        assert len(answers) == 1, f"{case}: the widths gave different factors"
        one = best[V.shape[0]]
        row = {"case": case, "shape": list(V.shape), "rank": r,
               "chosen_width": chosen, "one_block_ms": 1e3 * one,
               "ms_per_sweep": {str(w): 1e3 * s for w, s in best.items()}}
        rows.append(row)
        print(f"{case}: one block {1e3 * one:.2f} ms; " + ", ".join(
            f"{w}: {1e3 * best[w]:.2f}" for w in widths[:-1])
            + f" (chosen {row['chosen_width']})", flush=True)
    Path(args.out).write_text(json.dumps({"sweeps": SWEEPS, "repeat": args.repeat,
                                          "cases": rows}, indent=1))
    write_machine_record(Path(args.out).with_suffix(".machine.json"))


if __name__ == "__main__":
    main()
