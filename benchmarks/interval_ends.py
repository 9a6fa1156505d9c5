"""The candidates' confidence intervals of a finished real-data run: this checkout
against a reference, interval end by interval end.

For every data set of a workflow run (``--run``, the working directory of
``benchmarks/real_data.py``'s workflow run), the candidates of
``moonlighting_candidates.tsv`` are tested again on the run's ``counts.npz``, ``W.tsv`` and
``H.tsv`` with ``moonlight.share_test.share_test_rows`` (what call_modules runs on them,
at the config defaults; the runs have no known batches), once with this checkout and once
with the reference (``--reference``, a ``git worktree`` of an older commit), each in a
process of its own, side by side. Counted per data set: profile fits in the interval
searches, CPU seconds of the tests (the two processes share the machine, so these are
rough), interval ends that moved, by how much and in which direction, ends that sit at
the fitted share itself though it is not 0 or 1, and whether every p value is the same.

Run: ``python benchmarks/interval_ends.py --run /path/to/run --reference /tmp/ref``;
writes ``benchmarks/results/interval_ends.tsv`` (or ``--out``) with its machine record
beside it, and prints the ends that moved by more than 1e-3.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENDS = ["top_share_low", "top_share_high", "second_share_low", "second_share_high"]


def _test(checkout: Path, run: Path, out: Path, names: list[str]) -> None:
    """In a process of its own: every data set's candidates tested with ``checkout``."""
    sys.path.insert(0, str(checkout))
    import time

    import moonlight
    import moonlight.intervals as intervals
    from moonlight.counts import load_counts
    from moonlight.io import read_tsv
    from moonlight.share_test import share_test_rows

    assert Path(moonlight.__file__).resolve().is_relative_to(checkout.resolve())
    fits = [0]
    excess = intervals.excess

    def counted(V, *args, **kwargs):
        fits[0] += len(V)
        return excess(V, *args, **kwargs)

    intervals.excess = counted  # interval_ends looks it up at each call
    results = {}
    for name in names:
        folder = run / "results" / name
        counts = load_counts(folder / "counts.npz")
        W, H = read_tsv(folder / "W.tsv", matrix=True), read_tsv(folder / "H.tsv", matrix=True)
        genes = read_tsv(folder / "moonlighting_candidates.tsv", index_col=None)["gene"]
        fits[0] = 0
        cpu = time.process_time()
        tested = share_test_rows(counts, list(genes), W, H, threshold=0.1, ceiling=0.1)
        results[name] = (tested, fits[0], time.process_time() - cpu)
        print(name, len(genes), "fits", fits[0], flush=True)
    with open(out, "wb") as stream:
        pickle.dump(results, stream)


def _at_estimate(tested) -> int:
    """Ends at their own fitted share (to 1e-8) though it is not 0 or 1."""
    return int(sum((((tested[end] - tested[end.rsplit("_", 1)[0]]).abs() < 1e-8)
                    & ~tested[end].isin([0.0, 1.0])).sum() for end in ENDS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--reference", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "interval_ends.tsv")
    parser.add_argument("--test", nargs=2, metavar=("CHECKOUT", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help="data sets (default: every one of the run)")
    args = parser.parse_args()
    if args.test:
        _test(Path(args.test[0]), args.run, Path(args.test[1]), args.names)
        return
    import numpy as np
    import pandas as pd

    sys.path[:0] = [str(ROOT), str(HERE)]
    from machine import write_machine_record

    names = args.names or sorted(p.parent.name for p in
                                 (args.run / "results").glob("*/moonlighting_candidates.tsv"))
    with tempfile.TemporaryDirectory() as work:
        outs = {label: Path(work) / f"{label}.pkl" for label in ("reference", "this")}
        checkouts = {"reference": args.reference, "this": ROOT}
        env = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
        processes = [subprocess.Popen([sys.executable, __file__, "--run", str(args.run),
                                       "--reference", str(args.reference), "--test",
                                       str(checkouts[label]), str(out), *names],
                                      env=env)
                     for label, out in outs.items()]
        if any(process.wait() for process in processes):
            sys.exit("a test process failed")
        before, after = (pickle.loads(outs[label].read_bytes()) for label in outs)
    rows = []
    for name in names:
        (old, fits_old, cpu_old), (new, fits_new, cpu_new) = before[name], after[name]
        moved = (new[ENDS] - old[ENDS]).astype(float)
        width = {kind: (new[f"{kind}_share_high"] - new[f"{kind}_share_low"])
                 - (old[f"{kind}_share_high"] - old[f"{kind}_share_low"])
                 for kind in ("top", "second")}
        rows.append({
            "dataset": name, "candidates": len(old),
            "fits_reference": fits_old, "fits": fits_new,
            "cpu_s_reference": round(cpu_old, 1), "cpu_s": round(cpu_new, 1),
            "ends_moved_1e-6": int((moved.abs() > 1e-6).to_numpy().sum()),
            "ends_moved_1e-3": int((moved.abs() > 1e-3).to_numpy().sum()),
            "max_move": float(moved.abs().to_numpy().max()),
            "intervals_narrower_1e-6": int(sum((w < -1e-6).sum() for w in width.values())),
            "at_estimate_reference": _at_estimate(old), "at_estimate": _at_estimate(new),
            "p_same": bool(np.array_equal(old["p"].to_numpy(), new["p"].to_numpy())),
        })
        for gene, row in moved[(moved.abs() > 1e-3).any(axis=1)].iterrows():
            print(name, gene, {end: f"{old.at[gene, end]:.4f} -> {new.at[gene, end]:.4f}"
                               for end in ENDS if abs(row[end]) > 1e-3})
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)
    write_machine_record(args.out.with_suffix(".machine.json"))
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
