"""Multiplicative updates of the known-batch model (``fit_nmf(batches=...)``).

Model: sample j belongs to batch ``b(j)`` of K known batches, and

    V_ij ~ Poisson(beta_{i,b(j)} (W H)_ij),

with a positive factor ``beta_ik`` per gene and batch: a gene may be read more or less
efficiently in one batch (chemistry, lane, protocol) without that becoming a module.
The factors are identified up to the scale of W's rows; every step leaves them averaged
to one over the samples, ``sum_k n_k beta_ik / M = 1`` (``n_k`` the batch sizes), with
W's rows carrying the rest.

One update takes three monotone steps, each with the others fixed, so log L never
decreases (and the restart loop extrapolates between updates, keeping a step only when
log L did not drop: :func:`_fit_one`):

* H: the Lee-Seung step of the weighted KL objective,
  ``H <- H * W^T (V / WH) / W^T B`` with ``B_ij = beta_{i,b(j)}`` (the numerator is
  the plain step's: ``B V / (B WH) = V / WH``);
* W: ``W <- W * (V / WH) H^T / B H^T``;
* beta: its closed form given W and H, ``beta_ik = sum_{j in k} V_ij / sum_{j in k}
  (W H)_ij``, then the rescaling above (which leaves every mean unchanged).

With one batch, beta stays 1 and these are the plain multiplicative updates of
:mod:`moonlight.engines.mu`, each followed by the closed-form step of every gene's scale
(a row of W); the optimum is the plain model's. ``B H^T`` and ``W^T B`` cost
O((N + M) R K): ``sum_j beta_{i,b(j)} H_rj = sum_k beta_ik (H G)_rk`` with G the samples'
one-hot batch matrix. A sparse V (CSR) is never densified: the ratio ``V / WH`` is needed
at its nonzeros only, and ``sum_ij B_ij (WH)_ij = sum_ik beta_ik (W H G)_ik``.
A 0/1 mask (dense V only; cross-validation by scattered entries) restricts every sum to
the entries of weight 1.

Restarts run one after another; each returns its factors unscaled (the caller
normalizes) and its beta follows from them in closed form (:func:`batch_factors`), so
a restart's result is W and H alone, as for every other engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.special import xlogy

from .. import _sparse_kernels
from ._common import (BETA_BAR_GROW, BETA_GROW, BETA_MAX, BETA_SHRINK, BETA_START, EPS,
                      Options, RestartFit, relative_change)

__all__ = ["BatchProblem", "batch_factors", "batch_loglik", "batch_means", "fit_restarts",
           "update"]

#: Floor of the product W H inside logarithms and divisions.
_TINY = float(np.finfo(np.float64).tiny)


class BatchProblem:
    """V with its samples' batches, as the batch engine needs it.

    Parameters
    ----------
    V : ndarray (N, M) float64 or scipy.sparse CSR array
        Counts; 0 where ``mask`` is 0.
    codes : ndarray (M,) of int
        Each sample's batch, ``0 .. n_batches - 1``.
    n_batches : int
        K.
    mask : ndarray (N, M) of 0/1 weights, or None
        Dense V only: entries of weight 0 are held out of every sum.
    log_v_fact : float
        ``sum log V!`` over the entries the fit sees.
    """

    def __init__(self, V: NDArray | sp.csr_array, codes: NDArray[np.int64], n_batches: int,
                 mask: NDArray | None, log_v_fact: float) -> None:
        self.sparse = sp.issparse(V)
        if self.sparse and mask is not None:
            raise ValueError("the batch model takes a mask on a dense V only")
        self.V = sp.csr_array(V, dtype=np.float64) if self.sparse \
            else np.asarray(V, dtype=np.float64)
        self.codes = np.asarray(codes, dtype=np.int64)
        self.n_batches = int(n_batches)
        self.mask, self.log_v_fact = mask, log_v_fact
        self.shape: tuple[int, int] = self.V.shape
        self.dtype = np.dtype(np.float64)
        n_samples = self.shape[1]
        if self.codes.shape != (n_samples,):
            raise ValueError(f"{self.codes.size} batch labels for {n_samples} samples")
        #: G (M, K): the samples' one-hot batch matrix (K is small: kept dense)
        self.G = np.zeros((n_samples, self.n_batches))
        self.G[np.arange(n_samples), self.codes] = 1.0
        self.sizes = self.G.sum(axis=0)
        #: sum_{j in k} V_ij (N, K)
        self.VG = np.asarray(self.V @ self.G)
        if self.sparse:
            coo = self.V.tocoo()
            self.rows, self.cols = coo.row.astype(np.int64), coo.col.astype(np.int64)
            # CSR order equals tocoo()'s order for a canonical CSR
            self.indptr = self.V.indptr.astype(np.int64)
            self.indices = self.V.indices.astype(np.int64)
            self.data = np.ascontiguousarray(self.V.data, dtype=np.float64)

    def product_at_data(self, W: NDArray, H: NDArray) -> NDArray:
        """``(W H)_ij`` at the nonzeros of a sparse V (in CSR order), floored at tiny."""
        out = np.empty(self.data.size)
        # the kernel walks the compressed rows (genes) and reads A at the column index
        _sparse_kernels.sparse_product(self.indptr, self.indices, np.ascontiguousarray(H.T),
                                       np.ascontiguousarray(W.T), out, _TINY)
        return out

    def numerator(self, W: NDArray, H: NDArray, of: str) -> NDArray:
        """The data part of the multiplicative step of W (``of="W"``: ``(V / WH) H^T``,
        N x R) or of H (``W^T (V / WH)``, R x M) at (W, H); a sparse V's ratio is taken
        at its nonzeros only (one compiled pass gives both)."""
        if self.sparse:
            gW, gHt = _sparse_kernels.sparse_ratio_products(
                self.indptr, self.indices, self.data, np.ascontiguousarray(W),
                np.ascontiguousarray(H.T), _TINY)
            return gW if of == "W" else gHt.T
        ratio = self.V / np.maximum(W @ H, _TINY)
        return ratio @ H.T if of == "W" else W.T @ ratio


def batch_means(problem: BatchProblem, W: NDArray, H: NDArray, beta: NDArray) -> NDArray:
    """The dense means ``beta_{i,b(j)} (W H)_ij`` (N, M)."""
    return beta[:, problem.codes] * (W @ H)


def _batch_sums_of_product(problem: BatchProblem, W: NDArray, H: NDArray) -> NDArray:
    """``sum_{j in k} m_ij (W H)_ij`` (N, K)."""
    if problem.mask is None:
        return W @ (H @ problem.G)
    return (problem.mask * (W @ H)) @ problem.G


def batch_factors(problem: BatchProblem, W: NDArray, H: NDArray
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """beta given W and H in closed form, and W with the rows rescaled so that beta
    averages to one over the samples (the means are unchanged)."""
    beta = problem.VG / np.maximum(_batch_sums_of_product(problem, W, H), _TINY)
    np.maximum(beta, EPS, out=beta)
    scale = beta @ problem.sizes / problem.sizes.sum()
    return beta / scale[:, None], W * scale[:, None]


def batch_loglik(problem: BatchProblem, W: NDArray, H: NDArray, beta: NDArray) -> float:
    """``sum m [V log mu - mu] - sum log V!`` with ``mu_ij = beta_{i,b(j)} (W H)_ij``."""
    if problem.sparse:
        mu = beta[problem.rows, problem.codes[problem.cols]] * problem.product_at_data(W, H)
        linear = float((beta * _batch_sums_of_product(problem, W, H)).sum())
        return float(xlogy(problem.data, mu).sum()) - linear - problem.log_v_fact
    mu = batch_means(problem, W, H, beta)
    terms = xlogy(problem.V, mu) - mu
    if problem.mask is not None:
        terms = terms * problem.mask
    return float(terms.sum()) - problem.log_v_fact


def update(problem: BatchProblem, W: NDArray, H: NDArray, beta: NDArray
           ) -> tuple[NDArray, NDArray, NDArray]:
    """One iteration (module docstring): H, then W, then beta; returns the new factors
    (W's columns summing to one, H carrying the scale)."""
    if problem.mask is None:
        beta_H = (W.T @ beta)[:, problem.codes]  # (R, M): sum_i W_ir beta_{i,b(j)}
        H = H * problem.numerator(W, H, "H") / beta_H
    else:
        B = problem.mask * beta[:, problem.codes]
        H = H * problem.numerator(W, H, "H") / np.maximum(W.T @ B, EPS)
    np.maximum(H, EPS, out=H)
    if problem.mask is None:
        denominator = beta @ (H @ problem.G).T
    else:
        denominator = np.maximum(B @ H.T, EPS)
    W = W * problem.numerator(W, H, "W") / denominator
    np.maximum(W, EPS, out=W)
    beta, W = batch_factors(problem, W, H)
    scale = W.sum(axis=0)
    return W / scale, H * scale[:, None], beta


def _fit_one(problem: BatchProblem, W: NDArray, H: NDArray, options: Options, restart: int,
             start: float, trace_rows: list[tuple[int, int, float, float]]
             ) -> RestartFit:
    """One restart, extrapolated as the "emu" engine is (Ang & Gillis 2019): each
    iteration takes the steps of :func:`update` from ``Y = max(eps, X_k + b (X_k -
    X_{k-1}))`` (W and H; beta follows in closed form), and keeps the result only if log L
    did not drop below that of ``X_k`` (then b grows), else starts again from ``X_k``
    with a smaller b; a step from ``X_k`` itself that fails (roundoff) ends the restart.
    So log L never decreases; on the planted tables of ``tests/test_batches.py`` it
    takes a fifth to a tenth of the plain updates' iterations."""
    beta, W = batch_factors(problem, np.array(W, dtype=np.float64),
                            np.array(H, dtype=np.float64))
    scale = W.sum(axis=0)
    W, H = W / scale, H * scale[:, None]
    loglik = checked = batch_loglik(problem, W, H, beta)
    trace_rows.append((restart, 0, time.perf_counter() - start, loglik))
    W_prev, H_prev, W_y, H_y = W, H, W, H
    step, step_bar, extrapolated = BETA_START, 1.0, False
    iteration, converged = 0, False
    while iteration < options.max_iter and not converged:
        W_new, H_new, beta_new = update(problem, W_y, H_y, beta)
        new = batch_loglik(problem, W_new, H_new, beta_new)
        iteration += 1
        accepted = new >= loglik
        if accepted:
            W_prev, H_prev, W, H, beta, loglik = W, H, W_new, H_new, beta_new, new
            step = min(step_bar, step * BETA_GROW)
            step_bar = min(BETA_MAX, step_bar * BETA_BAR_GROW)
            W_y = np.maximum(W + step * (W - W_prev), EPS)
            H_y = np.maximum(H + step * (H - H_prev), EPS)
            extrapolated = True
        elif not extrapolated:  # a plain step failed: only roundoff is left
            converged = True
        else:
            step_bar, step = step, step / BETA_SHRINK
            W_y, H_y, extrapolated = W, H, False
        # a rejected step changed nothing: it says nothing about convergence
        if (accepted and iteration % options.check_every == 0) \
                or iteration == options.max_iter:
            trace_rows.append((restart, iteration, time.perf_counter() - start, loglik))
            converged = converged or bool(relative_change(loglik, checked) < options.tol)
            checked = loglik
    return RestartFit(restart, W, H, loglik, iteration, converged, float("nan"))


def fit_restarts(problem: BatchProblem, starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Sequence[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]]) -> Iterator[RestartFit]:
    """Fit each restart from its start, one after another (see
    :func:`moonlight.engines.fit_restarts`); the KKT residual is not measured (NaN)."""
    for k in restart_ids:
        W0, H0 = starts(int(k))
        yield _fit_one(problem, W0, H0, options, int(k), start, trace_rows)
