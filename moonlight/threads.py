"""Thread counts for the compiled loops: checking a ``threads`` setting and running
numba's parallel kernels on a given number of threads.

Kept apart from the engines and kernels so that a module which only may run them (the
row fits of the gene classes, the dispersions) can be imported without loading numba:
numba is imported when threads are first set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["thread_count", "numba_threads"]


def thread_count(threads: object) -> int:
    """``threads`` as an int, or ValueError naming it unless it is a positive integer."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return int(threads)


@contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run the enclosed parallel kernels on ``threads`` of numba's threads (at most
    ``NUMBA_NUM_THREADS``), restoring the previous count after."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
