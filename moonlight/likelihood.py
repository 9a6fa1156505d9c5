"""Poisson log likelihood of a count matrix under a factorization ``V ~ Poisson(W H)``.

The full value is used everywhere, log V! included, so numbers are comparable
across data sets and with other tools::

    log L = sum_ij [ V_ij log (WH)_ij - (WH)_ij - log V_ij! ]

with the convention ``0 log 0 = 0`` (an entry with ``V_ij = 0`` contributes ``-(WH)_ij``).

Every evaluation of it lives here: the plain functions for any caller
(:func:`poisson_loglik`, :func:`sample_logliks`, :func:`log_factorial_sum`), and the
evaluators the fit engines call every sweep (:class:`ProductLoglik` on a dense product
kept in memory, :func:`stacked_loglik` for stacked restarts, :class:`SparseLoglik` on
the product at the nonzero entries of a sparse matrix).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.special import gammaln, xlogy


__all__ = [
    "log_factorial_sum",
    "log_factorial_sum_chunked",
    "ProductLoglik",
    "stacked_loglik",
    "poisson_loglik",
    "sample_logliks",
    "sparse_sample_logliks",
    "sparse_data_terms",
    "n_free_parameters",
    "rank_one",
]


#: Integer tables whose largest count is below this sum ``log V!`` by counting how often
#: each value occurs (one ``gammaln`` per distinct value, not per entry: ~4x faster).
_TABULATE_BELOW = 2**20


def log_factorial_sum(V: ArrayLike) -> float:
    """Return ``sum_ij log V_ij!`` (via ``gammaln(V + 1)``), the data-only term of log L.

    Parameters
    ----------
    V : array of shape (N, M)
        Non-negative counts (non-integers are allowed; ``log Gamma(V + 1)`` is used).
    """
    V = np.asarray(V, dtype=np.float64)
    if V.size and 0 <= V.min() and V.max() < _TABULATE_BELOW:
        counts = V.astype(np.int64)
        if np.array_equal(counts, V):
            occurrences = np.bincount(counts.ravel())
            values = np.flatnonzero(occurrences)
            return float(np.sum(occurrences[values] * gammaln(values + 1.0)))
    return float(gammaln(V + 1.0).sum())


def log_factorial_sum_chunked(V: NDArray[np.float64], block: int = 2**20) -> float:
    """``sum_ij log V_ij!`` over blocks of rows, so no full-size temporary is made."""
    rows = max(1, block // V.shape[1])
    return float(sum(log_factorial_sum(V[i:i + rows]) for i in range(0, V.shape[0], rows)))


def poisson_loglik(
    V: ArrayLike, WH: ArrayLike, *, log_v_factorial: float | None = None
) -> float:
    """Full Poisson log likelihood ``sum[V log WH - WH - log V!]``.

    Parameters
    ----------
    V : array of shape (N, M)
        Observed counts.
    WH : array of shape (N, M)
        Expected counts (the product of the factors); must be positive wherever V > 0.
    log_v_factorial : float, optional
        Precomputed :func:`log_factorial_sum` of V, to avoid recomputing it in loops.

    Returns
    -------
    float
        The log likelihood; ``-inf`` if some ``WH_ij = 0`` where ``V_ij > 0``.
    """
    V = np.asarray(V, dtype=np.float64)
    WH = np.asarray(WH, dtype=np.float64)
    if V.shape != WH.shape:
        raise ValueError(f"V has shape {V.shape} but WH has shape {WH.shape}")
    if log_v_factorial is None:
        log_v_factorial = log_factorial_sum(V)
    with np.errstate(divide="ignore"):
        return float(xlogy(V, WH).sum() - WH.sum() - log_v_factorial)


def sample_logliks(V: ArrayLike, WH: ArrayLike) -> NDArray[np.float64]:
    """Full Poisson log likelihood of every sample (column): ``sum_i [V_ij log (WH)_ij -
    (WH)_ij - log V_ij!]``, shape (M,); the columns sum to :func:`poisson_loglik`.

    Parameters
    ----------
    V : array of shape (N, M)
        Observed counts.
    WH : array of shape (N, M)
        Expected counts; ``-inf`` for a sample with ``WH_ij = 0`` where ``V_ij > 0``.
    """
    V = np.asarray(V, dtype=np.float64)
    WH = np.asarray(WH, dtype=np.float64)
    if V.shape != WH.shape or V.ndim != 2:
        raise ValueError(f"V has shape {V.shape} but WH has shape {WH.shape}")
    with np.errstate(divide="ignore"):
        return (xlogy(V, WH) - WH - gammaln(V + 1.0)).sum(axis=0)


def _sparse_entry_terms(indptr: NDArray, indices: NDArray, data: NDArray,
                        transposed: bool, W: NDArray, H: NDArray
                        ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """``V log WH - log V!`` at every stored entry, and the entry's sample."""
    W = np.ascontiguousarray(W, dtype=np.float64)
    H = np.ascontiguousarray(H, dtype=np.float64)
    WH = np.empty(data.size)
    A, B = (H.T, W.T) if transposed else (W, H)
    from . import _sparse_kernels  # here, not above: importing this module loads no numba

    _sparse_kernels.sparse_product(indptr, indices, A, B, WH, 0.0)
    compressed = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    sample = indices if transposed else compressed
    with np.errstate(divide="ignore"):
        return xlogy(data, WH) - gammaln(data + 1.0), sample


def sparse_data_terms(indptr: NDArray, indices: NDArray, data: NDArray, transposed: bool,
                      W: NDArray, H: NDArray) -> float:
    """``sum [V log WH - log V!]`` over the stored entries of a sparse V (the part of log L
    that is not ``-sum WH``), from the product at those entries only.

    Parameters are those of :func:`sparse_sample_logliks`.
    """
    return float(_sparse_entry_terms(indptr, indices, data, transposed, W, H)[0].sum())


def sparse_sample_logliks(indptr: NDArray, indices: NDArray, data: NDArray,
                          transposed: bool, W: NDArray, H: NDArray) -> NDArray[np.float64]:
    """:func:`sample_logliks` of a sparse V given by its compressed arrays, from the
    product at the nonzeros and the separable ``sum_i (WH)_ij = sum_r (sum_i W_ir) H_rj``.

    Parameters
    ----------
    indptr, indices, data : ndarrays
        V's CSC arrays (``transposed=False``) or its CSR arrays (``transposed=True``),
        canonical (no duplicates).
    W : ndarray (N, R), H : ndarray (R, M)
    """
    terms, sample = _sparse_entry_terms(indptr, indices, data, transposed, W, H)
    H = np.asarray(H, dtype=np.float64)
    return (np.bincount(sample, weights=terms, minlength=H.shape[1])
            - np.asarray(W, dtype=np.float64).sum(axis=0) @ H)


def rank_one(V: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """The rank-1 Poisson fit of a dense or scipy.sparse V (N x M), in closed form.

    ``W_i = r_i / T`` (gene totals over the grand total; the column sums to one) and
    ``H_j = c_j`` (sample totals) maximize the likelihood: with H fixed the score
    equation of ``W_i`` gives ``W_i = r_i / sum_j H_j``, and with W fixed that of ``H_j``
    gives ``H_j = c_j / sum_i W_i``. Its log likelihood is
    ``sum r log r + sum c log c - T log T - T - sum log V!``. Returns (w (N,), h (M,),
    log L); an all-zero gene or sample gets 0.
    """
    values = V.data if sparse.issparse(V) else np.asarray(V, dtype=np.float64)
    rows = np.asarray(V.sum(axis=1), dtype=np.float64).ravel()
    cols = np.asarray(V.sum(axis=0), dtype=np.float64).ravel()
    total = float(rows.sum())
    loglik = float(xlogy(rows, rows).sum() + xlogy(cols, cols).sum() - xlogy(total, total)
                   - total - log_factorial_sum(values))
    return rows / max(total, 1e-300), cols, loglik


def n_free_parameters(n_genes: int, n_samples: int, rank: int, n_batches: int = 1) -> int:
    """Number of free parameters of a rank-R Poisson NMF: ``R (N + M - 1)``, plus
    ``N (K - 1)`` for the batch model's factors over K known batches.

    W has N R entries and H has R M, but each of the R columns of W is constrained
    to sum to one (its scale moves into H), which removes R degrees of freedom. Each
    gene's K batch factors are averaged to one over the samples
    (:mod:`moonlight.engines.batch_mu`), so ``K - 1`` of them are free.
    """
    return rank * (n_genes + n_samples - 1) + n_genes * (n_batches - 1)


#: Entries of WH whose logarithms are taken at once when log L is evaluated (8 MB).
LOG_BLOCK = 2**20


class ProductLoglik:
    """``sum_ij m_ij [V log WH - WH]`` of a dense product ``WH`` (:meth:`terms`), or of
    ``W @ H`` recomputed into ``WH`` in place (call); ``log V!`` is left to the caller.

    Logarithms are taken by a vectorized compiled loop (:func:`moonlight._kernels.log_into`)
    over blocks of rows into one reusable float64 buffer of at most :data:`LOG_BLOCK`
    entries, so no N x M temporary is made; the terms are summed by a compiled loop in a
    fixed order (deterministic bytes).

    Parameters
    ----------
    V : ndarray of shape (N, M)
        Counts (0 wherever ``mask`` is 0).
    mask : ndarray of shape (N, M) of 0/1 weights, or None (every entry counts)
    """

    def __init__(self, V: NDArray, mask: NDArray | None) -> None:
        self.V, self.mask = V, mask
        self.rows = max(1, min(V.shape[0], LOG_BLOCK // V.shape[1]))
        self.buffer = np.empty((self.rows, V.shape[1]))
        self.tiny = float(np.finfo(V.dtype).tiny)
        from . import _kernels  # here, not above: importing this module loads no numba

        self._product, self._loglik_terms = _kernels.product, _kernels.loglik_terms
        self._log_into = _kernels.log_into

    def __call__(self, W: NDArray, H: NDArray, WH: NDArray) -> float:
        self._product(W, H, WH, self.tiny)
        return self.terms(WH)

    def terms(self, WH: NDArray) -> float:
        total = 0.0
        for lo in range(0, self.V.shape[0], self.rows):
            hi = min(lo + self.rows, self.V.shape[0])
            logs = self.buffer[: hi - lo]
            self._log_into(WH[lo:hi], logs)
            mask = None if self.mask is None else self.mask[lo:hi]
            total += self._loglik_terms(self.V[lo:hi], WH[lo:hi], logs, mask)
        return total


def stacked_loglik(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float
                   ) -> NDArray[np.float64]:
    """Log likelihood of each of K stacked restarts W (K, N, R), H (K, R, M): shape (K,)."""
    WH = W @ H
    return (xlogy(V, WH).sum(axis=(1, 2), dtype=np.float64)
            - WH.sum(axis=(1, 2), dtype=np.float64) - log_v_fact)
