"""call_modules on single-cell data: this checkout against a reference, in the same run.

``moonlight.pipeline.call_modules`` (the workflow's rule of that name, and ``analyse()``)
tests every moonlighting candidate and classes every gene with row fits
(``moonlight.rowmodel.fit_rows``) whose cost grows with the number of cells. This script
times it on the same simulated cell matrix and the same fits with two checkouts of
moonlight: the reference (``--reference``, for example a ``git worktree`` of an older
commit) and this one, one after the other, each in its own process with one thread (and this one also with
``--threads``), and checks that both call the same genes and class every gene alike.

Steps:

1. simulate cells x genes counts with planted programs (``sparse_scale.simulate_cells``:
   2,000 genes, R = 10, negative-binomial counts, about 94 % zeros);
2. fit R and R + 1 with this checkout (3 restarts, SVD starts, 60 sweeps: a fit to call
   modules on, not a converged one; both checkouts get the same one);
3. for each checkout: compile (or load) its kernels on a tiny table, then time
   ``call_modules`` at R with the fit at R + 1 for the rank guard, config defaults.

Or, with ``--run results/<dataset>`` (a workflow run's folder), steps 1 and 2 read that
run's counts, its selected rank's fit and restarts, and the fits beside it instead.
``--baseline-threads`` sets the threads of the first two timings (both checkouts; 1 by
default).

Run: ``python benchmarks/call_modules_time.py --cells 20000 --reference /tmp/ref
--threads 2`` (the table and fits are kept in ``--work`` and reused);
writes ``benchmarks/results/call_modules_time_<cells>.json`` (or ``--out``; with the
machine record, and each process's peak resident memory) and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RANK = 10


def _prepare(cells: int, work: Path) -> Path:
    """Counts and fits, pickled for both checkouts."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    import numpy as np
    import pandas as pd
    from scipy import sparse
    from sparse_scale import simulate_cells

    from moonlight.counts import Counts
    from moonlight.pipeline import fit_rank

    matrix = work / f"cells{cells}.npz"
    truth = simulate_cells(2000, cells, RANK, 1, matrix)
    X = sparse.load_npz(matrix)  # cells x genes
    counts = Counts(sparse.csr_array(X.T.tocsr()), [f"g{i}" for i in range(X.shape[1])],
                    [f"c{j}" for j in range(X.shape[0])])
    fits, restarts = {}, None
    for rank in (RANK, RANK + 1):
        fit = fit_rank(counts, rank, restarts=3, max_iter=60, init="svd")
        modules = [f"M{k + 1}" for k in range(rank)]
        fits[rank] = (pd.DataFrame(fit.W, index=counts.genes, columns=modules),
                      pd.DataFrame(fit.H, index=modules, columns=counts.samples))
        if rank == RANK:
            restarts = ([pd.DataFrame(W, index=counts.genes, columns=modules)
                         for W in fit.W_restarts], np.asarray(fit.logliks))
    inputs = work / f"inputs{cells}.pkl"
    with open(inputs, "wb") as stream:
        pickle.dump({"counts": counts, "fits": fits, "restarts": restarts,
                     "truth": truth}, stream)
    return inputs


def _from_run(run: Path, work: Path) -> Path:
    """The inputs of a workflow run's call_modules, read as its rule reads them: the
    counts, the selected rank's fit and restarts, and the fits the rank guard reads
    (:func:`moonlight.rank_guard.neighbour_ranks`)."""
    sys.path[:0] = [str(ROOT)]
    from moonlight import read_tsv
    from moonlight.counts import load_counts
    from moonlight.rank_guard import neighbour_ranks
    from moonlight.selection import selected_rank
    from moonlight.stability import read_restarts_W

    rank = selected_rank(read_tsv(run / "rank_selection.tsv", index_col=None))
    fitted = {int(p.name[1:]) for p in (run / "fits").glob("R*")}
    fits = {r: (read_tsv(run / "fits" / f"R{r}" / "W.tsv", matrix=True),
                read_tsv(run / "fits" / f"R{r}" / "H.tsv", matrix=True))
            for r in sorted({rank, *neighbour_ranks(rank, fitted)})}
    Ws, logliks = read_restarts_W(read_tsv(run / "fits" / f"R{rank}" / "W_restarts.tsv",
                                           index_col=None))
    inputs = work / f"inputs_{run.name}.pkl"
    with open(inputs, "wb") as stream:
        pickle.dump({"counts": load_counts(run / "counts.npz"), "fits": fits,
                     "restarts": (Ws, logliks), "rank": rank,
                     "truth": {"run": str(run.resolve())}}, stream)
    return inputs


def _resident_mb() -> float:
    """This process's resident memory now (MB, Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_mb() -> float:
    """This process's peak resident memory so far (MB; Linux reports kB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _time(checkout: Path, inputs: Path, out: Path, threads: int) -> None:
    """In a process of its own: call_modules with ``checkout``'s moonlight, timed, with
    ``modules.threads`` = ``threads``."""
    sys.path.insert(0, str(checkout))
    import time

    import numpy as np
    import pandas as pd

    import moonlight
    from moonlight.config import defaults
    from moonlight.confidence import share_test

    assert Path(moonlight.__file__).resolve().is_relative_to(checkout.resolve())
    with open(inputs, "rb") as stream:
        data = pickle.load(stream)
    counts, fits = data["counts"], data["fits"]
    Ws, logliks = data["restarts"]
    W, H = fits[data.get("rank", RANK)]
    # compile or load the kernels before the clock starts
    share_test(pd.DataFrame(np.ones((2, H.shape[1])), index=W.index[:2], columns=H.columns),
               W, H, threshold=0.1, ceiling=0.1)
    from moonlight.pipeline import call_modules

    settings = {**defaults()["modules"], "threads": threads}  # one unless asked
    resident_mb = _resident_mb()  # the inputs loaded, the kernels compiled
    start, cpu = time.perf_counter(), time.process_time()
    calls = call_modules(counts, W, H, Ws, logliks, margin=defaults()["selection"]["margin"],
                         fits=fits, **settings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    with open(out, "wb") as stream:
        pickle.dump({"seconds": seconds, "cpu_seconds": cpu_seconds,
                     "resident_before_mb": resident_mb, "peak_mb": _peak_mb(),
                     "candidates": calls.candidates, "classes": calls.classes,
                     "moonlighting": calls.moonlighting}, stream)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20000)
    parser.add_argument("--reference", type=Path,
                        help="a checkout of the reference commit (required)")
    parser.add_argument("--threads", type=int, nargs="*", default=[],
                        help="also time this checkout with these modules.threads")
    parser.add_argument("--baseline-threads", type=int, default=1,
                        help="modules.threads of the reference's and this one's timing")
    parser.add_argument("--run", type=Path,
                        help="a workflow run's results/<dataset> folder, instead of "
                             "simulating")
    parser.add_argument("--work", type=Path, default=Path("/tmp/moonlight-call-modules"))
    parser.add_argument("--out", type=Path,
                        help="the record (default results/call_modules_time_<cells>.json)")
    parser.add_argument("--time", nargs=4, metavar=("CHECKOUT", "INPUTS", "OUT", "THREADS"),
                        help=argparse.SUPPRESS)  # the timing process
    args = parser.parse_args()
    if args.time:
        _time(*(Path(a) for a in args.time[:3]), int(args.time[3]))
        return
    if args.reference is None:
        parser.error("--reference is required")
    sys.path.insert(0, str(HERE))
    from machine import machine_record

    args.work.mkdir(parents=True, exist_ok=True)
    inputs = args.work / f"inputs{args.cells}.pkl"
    if args.run is not None:
        inputs = _from_run(args.run, args.work)
    elif not inputs.exists():  # the same seed gives the same table and fits
        inputs = _prepare(args.cells, args.work)
    runs = {}
    base = args.baseline_threads
    for label, checkout, threads in (("reference", args.reference, base),
                                     ("this", ROOT, base),
                                     *((f"this, {n} threads", ROOT, n)
                                       for n in args.threads if n not in (1, base))):
        env = os.environ | {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                   "MKL_NUM_THREADS")}
        env["NUMBA_NUM_THREADS"] = str(threads)
        out = args.work / f"{label.replace(', ', '_').replace(' ', '')}{args.cells}.pkl"
        subprocess.run([sys.executable, __file__, "--time", str(checkout), str(inputs),
                        str(out), str(threads)], check=True, env=env)
        with open(out, "rb") as stream:
            runs[label] = pickle.load(stream)
    ref, this = runs["reference"], runs["this"]
    same_bytes_threads = {label: all(run[key].equals(this[key]) for key in
                                     ("candidates", "classes", "moonlighting"))
                          for label, run in runs.items() if label.startswith("this, ")}
    numeric = ref["candidates"].select_dtypes("number").columns
    difference = (ref["candidates"][numeric] - this["candidates"][numeric]).abs().max()
    commit = subprocess.run(["git", "-C", str(args.reference), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    with open(inputs, "rb") as stream:
        prepared = pickle.load(stream)
    record = {
        "table": prepared["truth"],
        "rank": prepared.get("rank", RANK),
        "baseline_threads": base,
        "reference_commit": commit,
        "seconds": {label: round(run["seconds"], 1) for label, run in runs.items()},
        "cpu_seconds": {label: round(run["cpu_seconds"], 1) for label, run in runs.items()},
        # peak resident memory of each timing process, and its resident memory before
        # call_modules started (inputs loaded, kernels compiled)
        "peak_mb": {label: round(run["peak_mb"]) for label, run in runs.items()},
        "resident_before_mb": {label: round(run["resident_before_mb"])
                               for label, run in runs.items()},
        "candidates": len(this["candidates"]),
        "same_calls": ref["moonlighting"]["gene"].tolist()
        == this["moonlighting"]["gene"].tolist(),
        "same_classes": ref["classes"]["class"].tolist() == this["classes"]["class"].tolist(),
        "largest_difference_per_column": {k: float(v) for k, v in difference.items()
                                          if v > 0},
        "threads_same_results": same_bytes_threads,
        "machine": machine_record(),
    }
    out = args.out or HERE / "results" / (f"call_modules_time_{args.run.name}.json"
                                          if args.run else
                                          f"call_modules_time_{args.cells}.json")
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
