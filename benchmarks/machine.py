"""What a benchmark ran on, so that figures from two machines can be compared.

:func:`machine_record` returns the CPU model and its count, the compile target and CPU
features numba's LLVM builds for, numpy's and numba's versions, the load average, and a
small calibration: seconds for fixed loops of the operations a Poisson NMF sweep is made
of (a division and a logarithm per entry, and a memory-bound sum), in numpy and in a
compiled loop, and the logarithms as the sweeps take them. A benchmark divides its own
times by these to compare machines.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np

__all__ = ["machine_record", "write_machine_record"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _best_of(function, repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def calibration() -> dict[str, float]:
    """Seconds (best of five) for 10^7 divisions, 10^7 logarithms (numpy, one thread) and
    the same in one compiled loop (numba), 10^7 logarithms as the sweeps take them
    (:func:`moonlight._kernels.log_into`, vectorized where numpy's log is not), and one
    pass of a sum over 400 MB."""
    import numba

    from moonlight._kernels import log_into

    x = np.random.default_rng(0).uniform(1.0, 2.0, size=10_000_000)
    y = np.empty_like(x)
    big = np.ones(50_000_000)

    @numba.njit(cache=False)
    def divide_log(values: np.ndarray) -> float:
        total = 0.0
        for v in values:
            total += np.log(v) + 1.0 / v
        return total

    divide_log(x[:10])  # compile before the clock
    log_into(x[:10], y[:10])  # load its compiled code before the clock
    return {
        "numpy_divide_1e7_s": _best_of(lambda: np.divide(1.0, x, out=y)),
        "numpy_log_1e7_s": _best_of(lambda: np.log(x, out=y)),
        "numba_divide_log_1e7_s": _best_of(lambda: divide_log(x)),
        "log_into_1e7_s": _best_of(lambda: log_into(x, y)),
        "sum_400MB_s": _best_of(lambda: big.sum(), repeat=3),
    }


def machine_record() -> dict[str, object]:
    """The machine, its compile target and a calibration (module docstring)."""
    import llvmlite.binding as llvm
    import numba

    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "llvm_cpu_name": llvm.get_host_cpu_name(),
        "llvm_cpu_features": llvm.get_host_cpu_features().flatten(),
        "numba_cpu_name": numba.config.CPU_NAME or "host",
        "numba_threading_layer": numba.config.THREADING_LAYER,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "calibration": calibration(),
    }


def write_machine_record(path: str | os.PathLike[str]) -> None:
    """:func:`machine_record` as JSON at ``path`` (beside a benchmark's results, named
    ``<results>.machine.json``)."""
    import json
    from pathlib import Path

    Path(path).write_text(json.dumps(machine_record(), indent=1))


if __name__ == "__main__":
    import json

    print(json.dumps(machine_record(), indent=1))
