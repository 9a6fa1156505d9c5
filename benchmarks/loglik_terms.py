"""CPU seconds of one sweep's log likelihood (``ProductLoglik.terms``: a logarithm per
entry of the product, then the ordered sums), this checkout against another, on dense
products of the sizes the engine comparisons use.

Each measurement runs in its own process (the other checkout imported ahead of the
editable install, as ``compare.py --sweep-time --against`` does), the two checkouts
interleaved ``--repeat`` times; each process reports the best of seven calls after one
untimed call. Results and the machine record go to ``--json`` and beside it.

    python benchmarks/loglik_terms.py --against <other checkout> --repeat 5 \\
        --json benchmarks/results/loglik_terms_znver3.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import use_checkout  # noqa: E402  (benchmarks/compare.py)
from machine import write_machine_record  # noqa: E402  (benchmarks/machine.py)

SIZES = ((5000, 200), (20000, 1000))


def measure() -> dict[str, float]:
    """Best of seven CPU times of ``terms`` per size (in this process's checkout)."""
    import numpy as np

    from moonlight.likelihood import ProductLoglik

    rng = np.random.default_rng(0)
    best = {}
    for n, m in SIZES:
        WH = rng.uniform(0.1, 50.0, (n, m))
        loglik = ProductLoglik(rng.poisson(WH).astype(np.float64), None)
        value = loglik.terms(WH)  # compile or load the kernels before the clock
        times = []
        for _ in range(7):
            start = time.process_time()
            assert loglik.terms(WH) == value
            times.append(time.process_time() - start)
        best[f"{n}x{m}"] = min(times)
    return best


def _run(root: str | None) -> dict[str, float]:
    """:func:`measure` in a process of its own, on the checkout at ``root`` (none: this
    one)."""
    env = {key: value for key, value in os.environ.items() if key != "MOONLIGHT_ROOT"}
    if root:
        env["MOONLIGHT_ROOT"] = root
    result = subprocess.run([sys.executable, __file__, "--measure"], capture_output=True,
                            text=True, check=True, env=env)
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="the other checkout's root")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # one measurement, in the process _run started
        use_checkout(os.environ.get("MOONLIGHT_ROOT"))
        print(json.dumps(measure()))
        return
    if args.against is None or args.json is None:
        parser.error("--against and --json are required")
    runs: dict[str, list] = {"this checkout": [], "other checkout": []}
    for _ in range(args.repeat):
        runs["this checkout"].append(_run(None))
        runs["other checkout"].append(_run(str(Path(args.against).resolve())))
    for name, values in runs.items():
        for size in values[0]:
            times = sorted(v[size] for v in values)
            print(f"{name}, {size}: median {times[len(times) // 2] * 1e3:.1f} ms, "
                  f"runs {', '.join(f'{t * 1e3:.1f}' for t in times)}")
    args.json.write_text(json.dumps({"against": str(args.against), "runs": runs}, indent=1))
    write_machine_record(args.json.with_suffix(".machine.json"))


if __name__ == "__main__":
    main()
