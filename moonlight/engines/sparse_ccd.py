"""Sparse cyclic coordinate descent (``method="ccd"`` on a scipy.sparse V).

The same coordinate steps, extrapolation and acceptance test as the dense engine
(:mod:`moonlight.engines.ccd`), with the product WH kept at the nonzero entries of V
only. An entry with ``V_ij = 0`` adds nothing to the data part of any gradient or
curvature, and the part it does add, ``sum (WH)_ij`` over all entries, is separable::

    sum_ij (WH)_ij = sum_r (sum_i W_ir) (sum_j H_rj),

so a sweep costs O(nnz R + (N + M) R) and memory is O(nnz + (N + M) R): no N x M
array is ever formed. The data sums run over the nonzeros only, so the steps are the
dense engine's steps up to the order of summation (see :mod:`moonlight._kernels`).

Layout: the sweeps are cache-blocked, as the dense engine's on large tables: each
column of H takes all its R coordinate steps in one pass over that sample's nonzeros,
then each row of W in one pass over that gene's nonzeros, each block's product
recomputed from W and H when it starts (:func:`moonlight._sparse_kernels.sparse_update_blocks`).
That needs V compressed both ways: V stays in the compressed form it came in (without a
copy when it is a canonical CSC or CSR matrix of the working dtype), and the other
form is built once per problem (12 bytes per nonzero at float64 with int32 indices).
The only product kept is the W half's, at the nonzeros in gene order, for log L. The
sweep order is H, then W, as in the dense engine. Before the blocked sweeps, the W half
made one pass over all nonzeros per coordinate (R passes per half-sweep): 0.68 s per
sweep at 2,000 x 100,000, R = 10, against 0.35-0.42 s now (benchmarks/RESULTS.md
section 4).

Block hold-out (cross-validation, :class:`Blocks`): genes are split into K groups and
samples into K groups, and fold f holds out every block (g, s) with ``(g + s) mod K ==
f``. The held-out nonzeros are left out of the training matrix by the caller; the
constant parts of the gradients (``sum_i m_ij W_ir`` over the training entries) and
the held-out part of ``sum WH`` are sums over whole blocks, so they stay separable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .. import _kernels
from .. import _sparse_kernels
from ..likelihood import LOG_BLOCK
from ..threads import numba_threads, thread_count
from ._common import EPS, Options, RestartFit
from ._descent import descend, run_restarts

__all__ = ["Blocks", "SparseProblem", "SparseSweeps", "fit_restarts", "fit_H",
           "block_sum"]


@dataclass(frozen=True)
class Blocks:
    """A Latin-square block hold-out: entry (i, j) is held out when
    ``(gene_group[i] + sample_group[j]) mod folds == fold``.

    Attributes
    ----------
    gene_group : int64 ndarray of shape (N,), values in 0..folds-1
    sample_group : int64 ndarray of shape (M,), values in 0..folds-1
    folds : int
    fold : int
    """

    gene_group: NDArray[np.int64]
    sample_group: NDArray[np.int64]
    folds: int
    fold: int

    def heldout(self, genes: NDArray[np.int64], samples: NDArray[np.int64]) -> NDArray:
        """Whether entries (genes[k], samples[k]) are held out."""
        return (self.gene_group[genes] + self.sample_group[samples]) % self.folds == self.fold


def block_sum(W: NDArray, H: NDArray, blocks: Blocks | None, heldout: bool = False) -> float:
    """``sum (WH)_ij`` over the training entries (or, with ``heldout``, the held-out
    ones), from group sums of W and H: O((N + M) R + K^2 R), no product formed."""
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    if blocks is None:
        if heldout:
            return 0.0
        return float(np.sum(W.sum(axis=0) * H.sum(axis=1)))
    K = blocks.folds
    Wg = np.zeros((K, W.shape[1]))
    np.add.at(Wg, blocks.gene_group, W)
    Hs = np.zeros((K, H.shape[0]))
    np.add.at(Hs, blocks.sample_group, H.T)
    pair = (Wg[:, None, :] * Hs[None, :, :]).sum(axis=2)  # (g, s): sum over the block
    g, s = np.indices((K, K))
    out = (g + s) % K == blocks.fold
    return float(pair[out if heldout else ~out].sum())


class SparseProblem:
    """A sparse V as the engine needs it: compressed arrays, never a dense matrix.

    Parameters
    ----------
    indptr, indices, data : ndarrays
        The CSC form of V (``transposed=False``) or of V^T (``transposed=True``, i.e.
        V's CSR form), canonical: indices sorted within each column, no duplicates.
    shape : (N, M)
        Shape of V (genes x samples).
    transposed : bool
    log_v_fact : float
        ``sum log V!`` over the entries the fit sees.
    blocks : Blocks, optional
        Held-out blocks; their nonzeros must already be absent from ``data``.
    """

    def __init__(self, indptr: NDArray, indices: NDArray, data: NDArray,
                 shape: tuple[int, int], transposed: bool, log_v_fact: float,
                 blocks: Blocks | None = None) -> None:
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape, self.transposed = shape, transposed
        self.log_v_fact, self.blocks = log_v_fact, blocks

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @classmethod
    def from_matrix(cls, V: sp.spmatrix | sp.sparray, dtype: np.dtype, log_v_fact: float,
                    blocks: Blocks | None = None) -> SparseProblem:
        """Wrap a CSC or CSR matrix without copying when it is canonical and of ``dtype``
        (other formats are converted to CSC; duplicates summed on a copy)."""
        transposed = V.format == "csr"
        if V.format not in ("csr", "csc"):
            V = V.tocsc()
        if not V.has_canonical_format:
            V = V.copy()
            V.sum_duplicates()
        data = V.data if V.data.dtype == dtype else V.data.astype(dtype)
        return cls(V.indptr, V.indices, data, V.shape, transposed, log_v_fact, blocks)

    def column_totals(self) -> NDArray[np.float64]:
        """``sum_i V_ij`` per sample, each summed in gene order (as the dense engine's)."""
        return _sparse_kernels.column_totals(self.indptr, self.indices, self.data, self.shape[1],
                                             not self.transposed)

    def row_totals(self) -> NDArray[np.float64]:
        """``sum_j V_ij`` per gene."""
        return _sparse_kernels.column_totals(self.indptr, self.indices, self.data, self.shape[0],
                                             self.transposed)

    def by_samples(self) -> tuple[NDArray, NDArray, NDArray]:
        """``(indptr, indices, data)`` of V compressed by samples (its CSC arrays): the
        problem's own arrays, or, when it came compressed by genes, a copy made once per
        call (:func:`_recompressed`)."""
        given = (self.indptr, self.indices, self.data)
        return _recompressed(given, self.shape[::-1]) if self.transposed else given


def _no_groups(n: int) -> NDArray[np.int64]:
    return np.zeros(n, dtype=np.int64)


class SparseSweeps:
    """Cache-blocked sweeps over a sparse V (:func:`moonlight._sparse_kernels.
    sparse_update_blocks`): each column of H, then each row of W, takes all its R
    coordinate steps in one pass over its own nonzeros.

    The H half runs over V compressed by samples, the W half over V compressed by genes:
    one of them is the caller's arrays, the other a copy built once here (values and
    int32 indices where they fit: 12 bytes per nonzero for float64 data, see
    :func:`moonlight.resources.sparse_fit_mem_mb`). With ``moves_W=False`` (W held
    fixed: projection) only the H half runs and no copy is made unless V came
    compressed by genes. The product is recomputed block by block, so the only product
    kept is the one the last half leaves at the nonzeros, in its own order, for log L.
    """

    def __init__(self, problem: SparseProblem, moves_W: bool = True, threads: int = 1
                 ) -> None:
        self.p, self.moves_W, self.threads = problem, moves_W, thread_count(threads)
        N, M = problem.shape
        self.tiny = float(np.finfo(problem.dtype).tiny)
        given = (problem.indptr, problem.indices, problem.data)
        # (indptr, indices, data) compressed by samples (H half) and by genes (W half)
        self.by_sample = problem.by_samples()
        if problem.transposed:
            self.by_gene = given
        else:
            self.by_gene = _recompressed(given, (N, M)) if moves_W else None
        # rows of each half split among the threads by nonzeros (any split gives the
        # same bytes: rows are independent; this one balances the work)
        self.parts = {name: _parts(arrays[0], self.threads)
                      for name, arrays in (("sample", self.by_sample), ("gene", self.by_gene))
                      if arrays is not None}
        # the kept product follows the half that runs last
        self.kept = self.by_gene if moves_W else self.by_sample
        self.WH = np.empty(self.kept[2].size, dtype=problem.dtype)
        self.buffer = np.empty(max(1, min(self.kept[2].size, LOG_BLOCK)))  # (none: 1)
        blocks = problem.blocks
        if blocks is None:
            self.gene_group, self.sample_group = _no_groups(N), _no_groups(M)
            # the one row of constants: nothing excluded
            self.excluded_for_samples = self.excluded_for_genes = np.array([-1])
        else:
            K, f = blocks.folds, blocks.fold
            self.gene_group = np.asarray(blocks.gene_group, dtype=np.int64)
            self.sample_group = np.asarray(blocks.sample_group, dtype=np.int64)
            # samples of group s miss the genes of group (f - s) mod K, and vice versa
            self.excluded_for_samples = (f - np.arange(K)) % K
            self.excluded_for_genes = (f - np.arange(K)) % K

    def reset(self, W: NDArray, H: NDArray) -> None:
        """Nothing to do: a blocked sweep computes its products block by block."""

    def terms(self, W: NDArray, H: NDArray) -> float:
        """``sum [V log WH - WH]`` over the training entries, from the product the last
        half-sweep kept (in the order of :attr:`kept`)."""
        return self._terms(self.kept[2], W, H)

    def _terms(self, data: NDArray, W: NDArray, H: NDArray) -> float:
        WH, total = self.WH, 0.0
        step = self.buffer.size
        for lo in range(0, data.size, step):
            hi = min(lo + step, data.size)
            logs = self.buffer[: hi - lo]
            _kernels.log_into(WH[lo:hi], logs)
            total += _sparse_kernels.sparse_loglik_terms(data[lo:hi], logs)
        return total - block_sum(W, H, self.p.blocks)

    def loglik(self, W: NDArray, H: NDArray) -> float:
        """Exact ``sum [V log WH - WH]`` at (W, H), the product computed into
        :attr:`WH` in sample order (no sweep reads it: each recomputes its own)."""
        indptr, indices, data = self.by_sample
        _sparse_kernels.sparse_product(indptr, indices, W, H, self.WH, self.tiny)
        return self._terms(data, W, H)

    def sweep_H(self, W: NDArray, H: NDArray) -> int:
        """The H half: column j of H over sample j's nonzeros (W fixed); updates H in
        place (and, when W is held fixed, leaves the product in :attr:`WH`). The constant
        part of H_rj's gradient is the sum of W_ir over the genes sample j trains on.
        Returns the steps that moved."""
        const = _sparse_kernels.grouped_column_sums(W, self.gene_group, self.excluded_for_samples,
                                                    self.excluded_for_samples.size)
        return self._update("sample", H.T, np.ascontiguousarray(W), const,
                            self.sample_group, None if self.moves_W else self.WH)

    def sweep_W(self, W: NDArray, H: NDArray) -> int:
        """The W half: row i of W over gene i's nonzeros (H fixed); updates W in place
        and leaves the product in :attr:`WH` (gene order). Returns the steps that moved."""
        const = _sparse_kernels.grouped_column_sums(H.T, self.sample_group, self.excluded_for_genes,
                                                    self.excluded_for_genes.size)
        return self._update("gene", W, np.ascontiguousarray(H.T), const, self.gene_group,
                            self.WH)

    def _update(self, by: str, A: NDArray, Bt: NDArray, const: NDArray, group: NDArray,
                WH: NDArray | None) -> int:
        """One blocked half-sweep over the rows of A (V compressed ``by`` "sample" or
        "gene"), on :attr:`threads` threads."""
        arrays = self.by_sample if by == "sample" else self.by_gene
        if self.threads == 1:
            return _sparse_kernels.sparse_update_blocks(*arrays, A, Bt, const, group, EPS,
                                                        self.tiny, WH, 0, arrays[0].size - 1)
        with numba_threads(self.threads):
            return _sparse_kernels.sparse_update_blocks_parallel(*arrays, A, Bt, const, group,
                                                                 EPS, self.tiny, WH,
                                                                 self.parts[by])

    def sweep(self, W: NDArray, H: NDArray) -> tuple[int, float]:
        moved = self.sweep_H(W, H)
        if self.moves_W:
            moved += self.sweep_W(W, H)
        swept = self.terms(W, H)
        if self.moves_W:
            _kernels.rescale_columns(W, H)  # leaves the product unchanged
        return moved, swept

    def kkt(self, W: NDArray, H: NDArray) -> float:
        """Largest scaled KKT violation at (W, H) (as :func:`moonlight._kernels.
        kkt_violation`), from the product at the nonzeros computed afresh sample by
        sample (W's rows in cache)."""
        bHt, bW = _sparse_kernels.sparse_ratio_products(*self.by_sample, H.T,
                                                        np.ascontiguousarray(W), self.tiny)
        W = np.asarray(W, dtype=np.float64)
        H = np.asarray(H, dtype=np.float64)
        wsum, hsum = W.sum(axis=0), H.sum(axis=1)
        viol_W = np.abs(np.minimum(W / wsum, 1.0 - bW / hsum))
        share = wsum[:, None] * H / (wsum @ H)
        viol_H = np.abs(np.minimum(share, 1.0 - bHt.T / wsum[:, None]))
        return float(max(viol_W.max(), viol_H.max()))


def _parts(indptr: NDArray, threads: int) -> NDArray[np.int64]:
    """Row bounds (threads + 1) that split the rows into runs of about equal nonzeros."""
    targets = np.linspace(0, indptr[-1], threads + 1)
    bounds = np.searchsorted(indptr, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, indptr.size - 1
    return np.maximum.accumulate(bounds)


def _recompressed(arrays: tuple[NDArray, NDArray, NDArray], shape: tuple[int, int]
                  ) -> tuple[NDArray, NDArray, NDArray]:
    """The other compressed form of a canonical compressed matrix: ``(indptr, indices,
    data)`` of CSC arrays of ``shape`` in, its CSR arrays out (indices sorted within each
    row, int32 where they fit, data in its own dtype). One copy, made by scipy."""
    indptr, indices, data = arrays
    other = sp.csc_array((data, indices, indptr), shape=shape, copy=False).tocsr()
    return other.indptr, other.indices, other.data


def fit_restarts(problem: SparseProblem, starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Iterable[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]]) -> Iterator[RestartFit]:
    """Fit each restart from its start (see :func:`moonlight.engines.fit_restarts`)."""
    sweeps = SparseSweeps(problem, threads=options.threads)
    return run_restarts(sweeps, problem.log_v_fact, problem.dtype, starts, restart_ids,
                        options, start, trace_rows, problem.blocks is None)


def fit_H(problem: SparseProblem, W: NDArray, H: NDArray, options: Options,
          trace_rows: list[tuple[int, int, float, float]]) -> tuple[float, int, bool]:
    """Fit H in place with W fixed; returns log L, sweeps run and the convergence flag."""
    sweeps = SparseSweeps(problem, moves_W=False, threads=options.threads)
    return descend(sweeps, W, H, problem.log_v_fact, options, 0, time.perf_counter(),
                   trace_rows)
