"""Time moonlight's fit engines against scikit-learn's KL NMF on the same data, same run.

Usage::

    python benchmarks/compare.py            # provided table R=2..7 + synthetic 5000 x 200
    python benchmarks/compare.py --quick    # fewer ranks, smaller synthetic case
    python benchmarks/compare.py --big      # also 20000 x 1000, R=20, one restart,
                                            # in float64 and in float32
    python benchmarks/compare.py --sweep-time 20000x1000x20 --against /tmp/old-checkout
                                            # seconds per ccd sweep, this engine and
                                            # another checkout's, interleaved repeats

Every measurement runs in its own subprocess, so its peak memory (``ru_maxrss``, the
whole process) is its own. ``tracemalloc`` (numpy allocations inside the fit only) is
switched on for the big-table runs alone: it slows every allocation, which would
inflate the times of the small, call-bound fits (the w09 sweep ran 2x slower with it).
The numba JIT compile (or cache load) happens in a warm-up call before the clock starts
and is reported separately. Log L is the full Poisson log likelihood, computed with
``moonlight.poisson_loglik`` for every engine. scikit-learn is needed only here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / ".." / "shared" / "data" / "w09-data.tbl"


# ---------------------------------------------------------------------------------------
# worker side: one measurement per process
# ---------------------------------------------------------------------------------------


def _load(data: str):
    import numpy as np

    import moonlight

    if data == "w09":
        return moonlight.read_count_table(TABLE).to_numpy(np.float64)
    n, m, r = (int(x) for x in data.split("x"))
    lo, hi = 2 * n // (5 * r), 8 * n // (5 * r)  # e.g. (200, 800) for 5000 genes, R=10
    sim = moonlight.simulate(n_genes=n, n_samples=m, n_modules=r, module_size=(lo, hi),
                             n_moonlighting=0, moonlighting_min_share=0.0, seed=1)
    V = sim.counts.to_numpy(np.float64)
    keep_r, keep_c = V.sum(1) > 0, V.sum(0) > 0
    return V[keep_r][:, keep_c]


def _worker(spec: dict) -> dict:
    import resource
    import tracemalloc

    import numpy as np

    import moonlight

    V = _load(spec["data"])
    out = {"note": spec.get("note", ""), "data": spec["data"], "shape": f"{V.shape[0]} x {V.shape[1]}", "R": spec["rank"],
           "engine": spec["engine"], "V_bytes": int(V.nbytes)}
    if spec["engine"].startswith("moonlight"):
        t = time.perf_counter()
        warm = np.arange(1.0, 31.0).reshape(6, 5)
        moonlight.fit_nmf(warm, 2, restarts=1, method=spec["method"])  # JIT / cache load
        out["jit_s"] = time.perf_counter() - t
    trace = spec.get("trace", False)
    if trace:
        tracemalloc.start()
    cpu = time.process_time()
    t = time.perf_counter()
    if spec["engine"].startswith("moonlight"):
        fit = moonlight.fit_nmf(V, spec["rank"], restarts=spec["restarts"], seed=0,
                                method=spec["method"], tol=spec.get("tol"),
                                max_iter=spec.get("max_iter", 20000),
                                dtype=spec.get("dtype", "float64"))
        out["wall_s"] = time.perf_counter() - t
        out["cpu_s"] = time.process_time() - cpu
        out["loglik"] = fit.loglik
        out["iters"] = int(fit.n_iter.sum())
        out["kkt"] = float(fit.kkt[fit.best_restart])
        target = spec.get("reach")
        if target is not None:
            tr = fit.trace[fit.trace["loglik"] >= target]
            out["reach_s"] = float(tr["seconds"].min()) if len(tr) else None
            if len(tr):
                # the same (deterministic) run again, stopped at the first sweep at or
                # above the target: its CPU and wall time are the time to reach it
                out["reach_iter"] = int(tr["iteration"].min())
                cpu2, t2 = time.process_time(), time.perf_counter()
                moonlight.fit_nmf(V, spec["rank"], restarts=spec["restarts"], seed=0,
                                  method=spec["method"], max_iter=out["reach_iter"],
                                  tol=1e-300)
                out["reach_cpu_s"] = time.process_time() - cpu2
                out["reach_wall_s"] = time.perf_counter() - t2
    else:
        import warnings

        from sklearn.decomposition import NMF

        best = -np.inf
        iters = 0
        for k in range(spec["restarts"]):
            kw = {} if spec["restarts"] == 1 else {"init": "random", "random_state": k}
            model = NMF(spec["rank"], beta_loss="kullback-leibler", solver="mu", **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                W = model.fit_transform(V)
            ll = moonlight.poisson_loglik(V, W @ model.components_)
            best = max(best, ll)
            iters += model.n_iter_
        out["wall_s"] = time.perf_counter() - t
        out["cpu_s"] = time.process_time() - cpu
        out["loglik"] = float(best)
        out["iters"] = int(iters)
    if trace:
        out["tracemalloc_MB"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["maxrss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# ---------------------------------------------------------------------------------------
# driver side
# ---------------------------------------------------------------------------------------


def run(spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    if spec.get("root"):  # another checkout's moonlight (see _worker)
        env["MOONLIGHT_ROOT"] = spec["root"]
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(_row(res), flush=True)
    return res


HEADER = ("| data | N x M | R | method | wall s | cpu s | log L | iterations | peak MB (rss / traced) "
          "| notes |\n|---|---|---|---|---|---|---|---|---|---|")


def _row(r: dict) -> str:
    notes = []
    traced = f"{r['tracemalloc_MB']:.0f}" if "tracemalloc_MB" in r else "-"
    if "jit_s" in r:
        notes.append(f"JIT/cache load {r['jit_s']:.2f} s")
    if r.get("kkt") is not None:
        notes.append(f"KKT {r['kkt']:.1e}")
    if r.get("reach_s") is not None:
        notes.append(f"reached sklearn's log L at sweep {r['reach_iter']}: "
                     f"{r['reach_cpu_s']:.2f} s cpu / {r['reach_wall_s']:.2f} s wall "
                     "(rerun stopped there)")
    if r.get("note"):
        notes.append(r["note"])
    return (f"| {r['data']} | {r['shape']} | {r['R']} | {r['engine']} | {r['wall_s']:.2f} | "
            f"{r['cpu_s']:.2f} | {r['loglik']:.1f} | {r['iters']} | {r['maxrss_MB']:.0f} / "
            f"{traced} | {'; '.join(notes)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller, faster run")
    ap.add_argument("--big", action="store_true", help="add 20000 x 1000, R=20")
    ap.add_argument("--skip-table", action="store_true", help="skip the provided table")
    ap.add_argument("--json", help="also write every measurement to this JSON file")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of scikit-learn and of the ccd time-to-target in section 2, "
                         "interleaved; the medians are compared (single runs of the same "
                         "deterministic work varied by 25%% on this shared machine)")
    ap.add_argument("--sweep-time", metavar="NxMxR",
                    help="only time ccd sweeps on this synthetic table (one restart, a fixed "
                         "number of sweeps), against --against, interleaved --repeat times")
    ap.add_argument("--sweeps", type=int, default=5, help="sweeps per --sweep-time run")
    ap.add_argument("--against", help="another checkout whose engine --sweep-time also times")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        root = os.environ.get("MOONLIGHT_ROOT")
        if root:
            # import that checkout's package: ahead of the path and of the editable
            # install's import hook, which would otherwise win over sys.path
            sys.path.insert(0, root)
            sys.meta_path[:] = [f for f in sys.meta_path
                                if "editable" not in type(f).__module__.lower()
                                and "editable" not in getattr(f, "__name__", "").lower()]
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    if args.sweep_time:
        _sweep_time(args)
        return

    print(HEADER, flush=True)
    rows = []
    # (1) the provided table, 10 restarts per rank
    if args.skip_table:
        pass
    elif TABLE.exists():
        ranks = [4, 5] if args.quick else range(2, 8)
        for engine, method in [("moonlight ccd (default)", "ccd"), ("moonlight mu", "mu"),
                               ("sklearn mu", None)]:
            for R in ranks:
                rows.append(run({"data": "w09", "rank": R, "restarts": 10,
                                 "engine": engine, "method": method}))
        for engine in ("moonlight ccd (default)", "moonlight mu", "sklearn mu"):
            sel = [r for r in rows if r["engine"] == engine]
            print(f"  w09 sweep, {engine}: wall {sum(r['wall_s'] for r in sel):.2f} s, "
                  f"cpu {sum(r['cpu_s'] for r in sel):.2f} s", flush=True)
    else:
        print(f"(skipping the provided table: {TABLE} not found)")

    # (2) synthetic, one start each: time to reach sklearn's log L; MU given 10x the time
    data = "1000x100x10" if args.quick else "5000x200x10"
    sks, cds = [], []
    for _ in range(max(1, args.repeat)):
        sks.append(run({"data": data, "rank": 10, "restarts": 1, "engine": "sklearn mu"}))
        cds.append(run({"data": data, "rank": 10, "restarts": 1,
                        "engine": "moonlight ccd (default)", "method": "ccd",
                        "reach": sks[0]["loglik"]}))
    sk = sorted(sks, key=lambda r: r["cpu_s"])[len(sks) // 2]
    cd = sorted(cds, key=lambda r: r.get("reach_cpu_s") or float("inf"))[len(cds) // 2]
    probe = run({"data": data, "rank": 10, "restarts": 1, "engine": "moonlight mu",
                 "method": "mu", "max_iter": 200, "tol": 1e-300})
    # 10x the CPU time of the ccd fit (CPU, not wall: robust to a busy machine)
    per_iter = probe["cpu_s"] / max(probe["iters"], 1)
    budget = int(10 * cd["cpu_s"] / per_iter)
    mu = run({"data": data, "rank": 10, "restarts": 1, "engine": "moonlight mu (10x time)",
              "method": "mu", "max_iter": budget, "tol": 1e-300})
    rows += sks + cds + [mu]
    if cd.get("reach_s"):
        print(f"\nspeed-up to sklearn's log L (medians of {len(sks)} runs each): "
              f"{sk['cpu_s'] / cd['reach_cpu_s']:.1f}x cpu "
              f"({sk['cpu_s']:.2f} s vs {cd['reach_cpu_s']:.2f} s), "
              f"{sk['wall_s'] / cd['reach_wall_s']:.1f}x wall; every run: sklearn "
              + ", ".join(f"{r['cpu_s']:.2f}" for r in sks) + " s, ccd to its log L "
              + ", ".join(f"{r['reach_cpu_s']:.2f}" for r in cds) + " s; "
              f"ccd final {cd['loglik']:.3f} vs MU with 10x time {mu['loglik']:.3f}")

    # (3) big table, one restart, memory; V_bytes is the float64 table as loaded
    if args.big:
        for dtype in ("float64", "float32"):
            big = run({"data": "20000x1000x20", "rank": 20, "restarts": 1, "tol": 1e-6,
                       "engine": f"moonlight ccd ({dtype})", "method": "ccd",
                       "dtype": dtype, "trace": True})
            limit = 4 * big["V_bytes"] / 2**20 + 300
            rows.append(big)
            print(f"\nbig, {dtype}: peak rss {big['maxrss_MB']:.0f} MB, traced "
                  f"{big['tracemalloc_MB']:.0f} MB; limit 4 x bytes(V) + 300 MB = {limit:.0f} MB")

    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _sweep_time(args: argparse.Namespace) -> None:
    """Seconds per sweep of this engine and of another checkout's, on one table: the same
    deterministic fit (one restart, seed 0, ``--sweeps`` sweeps, no convergence stop) run
    alternately, so a busy machine slows both alike; medians compared."""
    import statistics

    print(HEADER, flush=True)
    R = int(args.sweep_time.split("x")[2])
    roots = [("this engine", None)] + ([("other checkout", args.against)] if args.against
                                       else [])
    runs: dict[str, list[dict]] = {name: [] for name, _ in roots}
    for _ in range(max(1, args.repeat)):
        for name, root in roots:
            runs[name].append(run({"data": args.sweep_time, "rank": R, "restarts": 1,
                                   "engine": f"moonlight ccd, {name}", "method": "ccd",
                                   "max_iter": args.sweeps, "tol": 1e-300, "root": root,
                                   "note": root or ""}))
    for name, rs in runs.items():
        per = [r["cpu_s"] / r["iters"] for r in rs]
        print(f"  {name}: cpu s per sweep (incl. start and final log L) median "
              f"{statistics.median(per):.3f}, runs " + ", ".join(f"{p:.3f}" for p in per)
              + f"; log L after {args.sweeps} sweeps {rs[0]['loglik']:.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

