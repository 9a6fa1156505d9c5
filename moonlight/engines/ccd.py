"""Dense cyclic coordinate descent (``method="ccd"`` on a dense V): the default engine.

Cyclic coordinate descent (Hsieh & Dhillon 2011; Hien & Gillis 2021), compiled with
numba (:mod:`moonlight._kernels`): one step per entry and sweep, a Newton step when the
entry grows and the minimizer of a curvature upper bound when it shrinks, so each 1-D
step provably does not increase the 1-D objective and needs no trial evaluation. The
product WH is kept in memory (one N x M array) and updated in place; the sweeps are
extrapolated between (:func:`moonlight.engines._descent.descend`). Entries are floored
at ``EPS`` (never frozen at 0), so an entry that touched the floor can grow again.

A 0/1 ``mask`` (V zero where it is 0) restricts the fit to the entries of weight 1: it
is what cross-validation by scattered entries uses. Restarts run one after another, so
memory is that of one restart: V, one N x M product (plus transposed copies of V and WH
when they fit :data:`TRANSPOSE_MEMORY_BUDGET`) and O(N R + R M + N + M) scratch. The W
half on the transposed copies runs over blocks of :data:`GENE_BLOCK` genes, each in
cache for all its R passes (:class:`TransposedBlocks`; the same bytes as one block).

Tables of :data:`BLOCKED_MIN_BYTES` or more, which no longer fit the last-level cache,
are swept cache-blocked instead (:func:`moonlight._kernels.update_blocks`): every
coordinate of one column of H, then of one row of W, while that column (a row of a
copy of V^T) or row of V is in cache, each step the same provable-descent step. Memory
is then V, V^T and WH (and, for a masked fit, the mask and its transpose). The blocked
half-sweeps may share out their rows among threads (``Options.threads``): rows are
independent, so every thread count gives the same bytes; the row kernels stay serial.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from .. import _kernels
from ..likelihood import LOG_BLOCK, ProductLoglik
from ..threads import numba_threads, thread_count
from ._common import EPS, Options, RestartFit
from ._descent import descend, run_restarts

__all__ = ["DenseProblem", "DenseSweeps", "fit_restarts", "fit_H", "TRANSPOSE_MEMORY_BUDGET",
           "BLOCKED_MIN_BYTES", "GENE_BLOCK", "TransposedBlocks"]

#: Bytes the CCD engine may spend on transposed copies of V and WH (and of a mask): with
#: them the W sweep vectorizes like the H sweep. Larger tables sweep W row by row, which
#: needs no copy (20,000 x 1,000 at R=20 must fit in 4x the bytes of V + 300 MB).
TRANSPOSE_MEMORY_BUDGET = 256 * 2**20

#: Tables of at least this many bytes are swept cache-blocked
#: (:func:`moonlight._kernels.update_blocks`): each column of H and each row of W takes
#: all its R steps while its data stay in cache, one pass over V per half-sweep instead
#: of R. Below it the row-at-a-time kernels win: V and WH already sit in the last-level
#: cache (32 MiB here), and their inner loops run longer (measured crossover in
#: benchmarks/RESULTS.md). The choice changes the summation order (so the last bits of
#: a fit), never the bytes of a given table's fit from run to run.
BLOCKED_MIN_BYTES = 16 * 2**20


class DenseProblem:
    """A dense V as the engine needs it.

    Parameters
    ----------
    V : ndarray of shape (N, M)
        C-contiguous counts in the working dtype (float64 or float32); 0 where ``mask``
        is 0.
    mask : ndarray of shape (N, M) of 0/1 weights, or None
        Entries of weight 0 are held out (drop out of every sum).
    log_v_fact : float
        ``sum log V!`` over the entries the fit sees.
    """

    def __init__(self, V: NDArray, mask: NDArray | None, log_v_fact: float) -> None:
        self.V, self.mask, self.log_v_fact = V, mask, log_v_fact
        self.shape: tuple[int, int] = V.shape
        self.dtype: np.dtype = V.dtype


def _transposed_layout(V: NDArray, masked: bool) -> bool:
    """Whether the W sweep may use transposed copies of V, WH (and the mask)."""
    return (3 if masked else 2) * V.nbytes <= TRANSPOSE_MEMORY_BUDGET


#: Genes per block of the transposed layout (:class:`TransposedBlocks`). On 5,000 x 200,
#: 20,000 x 60, 3,000 x 500 and 1,500 x 1,000, widths of 128 to 512 were within the
#: run-to-run noise of each other and swept 1.2-1.4 times as fast as one block; 256 was
#: the fastest on three of them and within 8 % on 5,000 x 200
#: (``benchmarks/gene_blocks.py``, benchmarks/RESULTS.md section 8).
GENE_BLOCK = 256


class TransposedBlocks:
    """V^T and the product (and the mask) for the W half of a sweep, cut into blocks of
    genes: each block is an (M, width) C-contiguous array.

    The W half is the H kernel on the transposed problem ``V^T ~ H^T W^T``
    (:func:`moonlight._kernels.update_H_cols`): R passes over V^T and the product, one
    per coordinate. Rows of W are independent given H, so the genes may be swept block
    by block, each block taking its R passes while it stays in the L2 cache; every gene
    takes the same steps in the same order, so a fit's bytes do not depend on the
    blocks. Log L is summed as :class:`moonlight.likelihood.ProductLoglik` sums it on
    the whole V^T (per gene over the samples of a row block, then over the genes in
    order), so it is the same number to the bit as well.
    """

    def __init__(self, V: NDArray, mask: NDArray | None, width: int) -> None:
        N, M = V.shape
        self.bounds = [(lo, min(lo + width, N)) for lo in range(0, N, width)]
        self.V = [np.ascontiguousarray(V[lo:hi].T) for lo, hi in self.bounds]
        self.mask = (None if mask is None
                     else [np.ascontiguousarray(mask[lo:hi].T) for lo, hi in self.bounds])
        self.WH = [np.empty_like(block) for block in self.V]
        # rows (samples) per log block: ProductLoglik's on the (M, N) V^T
        self.rows = max(1, min(M, LOG_BLOCK // N))
        self.logs = np.empty(self.rows * min(width, N))
        self.columns = np.empty(N)
        # one block (N <= width): the whole V^T, no per-block calls (small tables' sweeps
        # take tens of microseconds)
        self.whole = (ProductLoglik(self.V[0], None if mask is None else self.mask[0])
                      if len(self.bounds) == 1 else None)

    def half_sweep(self, WH: NDArray, W: NDArray, H: NDArray, tiny: float
                   ) -> tuple[int, float]:
        """The W half of a sweep (H fixed) from the product ``WH`` (N, M): W and the
        blocks' product are updated in place; returns the steps that moved and ``sum m
        [V log WH - WH]`` at the new point."""
        if self.whole is not None:
            Vt, WHt = self.V[0], self.WH[0]
            WHt[...] = WH.T
            # W^T and H^T are views: the kernel writes W through W.T
            moved = _kernels.update_H_cols(Vt, WHt, H.T, W.T, EPS, tiny, self.whole.mask)
            return moved, self.whole.terms(WHt)
        self.load(WH)
        return self.update(W, H, tiny), self.terms()

    def load(self, WH: NDArray) -> None:
        """Copy the product (N, M) into the blocks, transposed."""
        for (lo, hi), block in zip(self.bounds, self.WH):
            block[...] = WH[lo:hi].T

    def update(self, W: NDArray, H: NDArray, tiny: float) -> int:
        """The W half of a sweep (H fixed), block by block; returns the steps that moved."""
        moved = 0
        for k, (lo, hi) in enumerate(self.bounds):
            # W^T's columns lo:hi, a view: the kernel writes W through it
            moved += _kernels.update_H_cols(self.V[k], self.WH[k], H.T, W[lo:hi].T, EPS,
                                            tiny, None if self.mask is None else self.mask[k])
        return moved

    def terms(self) -> float:
        """``sum m [V log WH - WH]`` of the kept product."""
        M = self.V[0].shape[0]
        total = 0.0
        for first in range(0, M, self.rows):
            last = min(first + self.rows, M)
            self.columns[:] = 0.0
            for k, (lo, hi) in enumerate(self.bounds):
                WH = self.WH[k][first:last]
                logs = self.logs[: WH.size].reshape(WH.shape)
                _kernels.log_into(WH, logs)
                mask = None if self.mask is None else self.mask[k][first:last]
                _kernels.loglik_columns(self.V[k][first:last], WH, logs, mask,
                                        self.columns[lo:hi])
            total += _kernels.ordered_sum(self.columns)
        return total


class DenseSweeps:
    """Sweeps over a dense V with the product WH (N x M) kept in memory.

    With ``moves_W=False`` only H is swept (W held fixed: projection of new samples).
    """

    def __init__(self, problem: DenseProblem, moves_W: bool = True, threads: int = 1
                 ) -> None:
        V, mask = problem.V, problem.mask
        self.V, self.mask, self.moves_W = V, mask, moves_W
        self.threads = thread_count(threads)
        self.tiny = float(np.finfo(V.dtype).tiny)
        # One N x M buffer: the product at the point being swept (Y), updated in place.
        self.WH = np.empty_like(V)
        self.product_loglik = ProductLoglik(V, mask)
        # blocked: the H half runs over the rows of a copy of V^T (a column of V each),
        # the W half over the rows of V; memory V, V^T and WH (3 V), no transposed product
        # (masked: also the mask and its transpose, 5 V). The kept product equals W H on
        # the training entries; at held-out ones (never read: weight 0) it may not, as in
        # every kernel that updates the product in place: a coordinate whose training
        # partners are all tiny may take a huge step and come back, and the held-out
        # entries, whose partners are not tiny, keep the cancellation error (once taken
        # for a bug of the blocked kernel; tests/test_nmf.py shows the case).
        self.blocked = moves_W and V.nbytes >= BLOCKED_MIN_BYTES
        if self.blocked:
            self.Vt = np.ascontiguousarray(V.T)
            self.mask_t = None if mask is None else np.ascontiguousarray(mask.T)
        self.transposed = (moves_W and not self.blocked
                           and _transposed_layout(V, mask is not None))
        if self.transposed:
            # V^T ~ H^T W^T: the H kernel on the transposed problem sweeps W with its
            # inner loop running over genes, which vectorizes (the row kernel's does not)
            self.gene_blocks = TransposedBlocks(V, mask, GENE_BLOCK)

    def loglik(self, W: NDArray, H: NDArray) -> float:
        return self.product_loglik(W, H, self.WH)

    def reset(self, W: NDArray, H: NDArray) -> None:
        if not self.blocked:  # a blocked sweep computes its product block by block
            _kernels.product(W, H, self.WH, self.tiny)

    def sweep(self, W: NDArray, H: NDArray) -> tuple[int, float]:
        V, WH, mask, tiny = self.V, self.WH, self.mask, self.tiny
        if self.blocked:
            # H half: V^T ~ H^T W^T, one column of H (a row of V^T) at a time; then the
            # W half, one row at a time, leaving the product in WH for log L
            moved = self._update_blocks(self.Vt, H.T, np.ascontiguousarray(W.T),
                                        self.mask_t, None)
            moved += self._update_blocks(V, W, H, mask, WH)
            swept = self.product_loglik.terms(WH)
            _kernels.rescale_columns(W, H)  # leaves the product unchanged
            return moved, swept
        moved = _kernels.update_H_cols(V, WH, W, H, EPS, tiny, mask)
        if not self.moves_W:
            return moved, self.product_loglik.terms(WH)
        if self.transposed:
            moved_W, swept = self.gene_blocks.half_sweep(WH, W, H, tiny)
            moved += moved_W
        else:
            moved += _kernels.update_W_rows(V, WH, W, H, EPS, tiny, mask)
            swept = self.product_loglik.terms(WH)
        _kernels.rescale_columns(W, H)  # leaves the product unchanged
        return moved, swept

    def _update_blocks(self, V: NDArray, A: NDArray, B: NDArray, mask: NDArray | None,
                       WH: NDArray | None) -> int:
        """One blocked half-sweep over the rows of A, on :attr:`threads` threads (rows
        split evenly; any split gives the same bytes)."""
        if self.threads == 1:
            return _kernels.update_blocks(V, A, B, EPS, self.tiny, mask, WH)
        bounds = np.linspace(0, V.shape[0], self.threads + 1).astype(np.int64)
        with numba_threads(self.threads):
            return _kernels.update_blocks_parallel(V, A, B, EPS, self.tiny, mask, WH, bounds)

    def kkt(self, W: NDArray, H: NDArray) -> float:
        """KKT violation at (W, H), whose exact product the sweeps hold (after loglik)."""
        return float(_kernels.kkt_violation(self.V, W, H, self.WH))


def fit_restarts(problem: DenseProblem, starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Iterable[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]]) -> Iterator[RestartFit]:
    """Fit each restart from its start (see :func:`moonlight.engines.fit_restarts`)."""
    return run_restarts(DenseSweeps(problem, threads=options.threads), problem.log_v_fact,
                        problem.dtype, starts, restart_ids, options, start, trace_rows,
                        problem.mask is None)


def fit_H(problem: DenseProblem, W: NDArray, H: NDArray, options: Options,
          trace_rows: list[tuple[int, int, float, float]]) -> tuple[float, int, bool]:
    """Fit H in place with W fixed (the H half of every sweep, extrapolated like a fit).

    Returns the log likelihood, sweeps run and the convergence flag.
    """
    return descend(DenseSweeps(problem, moves_W=False, threads=options.threads), W, H,
                   problem.log_v_fact, options, 0, time.perf_counter(), trace_rows)
