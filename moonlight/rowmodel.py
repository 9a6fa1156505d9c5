"""Non-negative Poisson or negative-binomial regression of count rows on fixed basis
rows, and the maps that hold a share of a row fixed: the row model under the share test
(:mod:`moonlight.share_test`; derivation: docs/methods.md, "The share test,
derived")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import xlogy

from .config import default
from .threads import numba_threads, thread_count

__all__ = ["TINY", "expand", "row_loglik", "fit_rows", "fitting_threads", "row_threads",
           "information", "others", "set_share_map", "set_share_start", "share_map",
           "share_start", "profile"]

#: Floor on expected counts inside logarithms and Pearson residuals.
TINY = 1e-300

_THREADS: ContextVar[int] = ContextVar("row_fit_threads", default=1)
_MAX_ITER: ContextVar[int] = ContextVar("row_fit_max_iter",
                                        default=default("modules.row_max_iter"))


@contextmanager
def fitting_threads(threads: int, max_iter: int = default("modules.row_max_iter")
                    ) -> Iterator[None]:
    """Inside the block, :func:`fit_rows` shares its rows out among ``threads`` of
    numba's threads and stops a row after ``max_iter`` iterations (``modules.threads``,
    ``modules.row_max_iter``). Every row is fitted by the same serial code, so the
    results are the same bytes for any thread count."""
    threads, max_iter = thread_count(threads), int(max_iter)
    threads_token = _THREADS.set(threads)
    try:
        max_iter_token = _MAX_ITER.set(max_iter)
        try:
            yield
        finally:
            _MAX_ITER.reset(max_iter_token)
    finally:
        _THREADS.reset(threads_token)


def row_threads(n_rows: int) -> int:
    """The threads :func:`fitting_threads` grants for ``n_rows`` rows (1 outside it)."""
    return max(1, min(_THREADS.get(), n_rows))


def expand(c: NDArray, T: NDArray) -> NDArray:
    """Coefficients on the R modules, ``b_g = c_g T_g`` (G, R), from c (G, K), T (G, K, R)."""
    return np.einsum("gk,gkr->gr", c, T)


def row_loglik(V: NDArray, Ht: NDArray, b: NDArray, alpha: NDArray,
               offset: NDArray | None = None) -> NDArray:
    """Log likelihood of each row, terms free of mu omitted, ``mu = b Ht`` (times the
    row's ``offset``, when given): Poisson ``sum_j v_j log mu_j - mu_j`` where
    ``alpha == 0``, else negative binomial
    ``sum_j v_j log mu_j - (v_j + 1/alpha) log(1 + alpha mu_j)``."""
    mu = b @ Ht if offset is None else (b @ Ht) * offset
    ll = xlogy(V, np.maximum(mu, TINY)).sum(axis=1)
    nb = alpha > 0
    a = np.where(nb, alpha, 1.0)[:, None]
    return ll - np.where(nb, ((V + 1.0 / a) * np.log1p(a * mu)).sum(axis=1), mu.sum(axis=1))


def fit_rows(V: NDArray, Ht: NDArray, T: NDArray, c: NDArray, alpha: NDArray, *,
             offset: NDArray | None = None, max_iter: int | None = None, tol: float = 1e-13,
             capped: NDArray[np.bool_] | None = None) -> tuple[NDArray, NDArray]:
    """Maximize each row's log likelihood over ``c >= 0`` with ``mu = (c T) Ht``.

    Parameters
    ----------
    V : (G, M) counts; Ht : (R, M) module activities; T : (G, K, R) non-negative maps
        from each row's K free coefficients to its R module coefficients; c : (G, K)
        start (non-negative); alpha : (G,) negative-binomial dispersion of each row
        (0: Poisson); offset : (G, M), optional, a known positive factor of every mean,
        ``mu_gj = o_gj ((c T) Ht)_gj`` (a gene's batch factors: :mod:`moonlight.batches`);
        every basis row of the gene is then ``o_g * Ht_k``.
    max_iter : int, optional
        Iterations a row may take; by default the block's :func:`fitting_threads`
        value (``modules.row_max_iter``).
    capped : (G,) bool, optional
        Set True (never reset) for every row whose fit stopped at ``max_iter`` rather
        than at its optimum or the tolerance: its log likelihood may be short of the
        maximum.

    Returns
    -------
    c : (G, K) maximizer; loglik : (G,) its log likelihood (:func:`row_loglik`).

    Projected Newton (Bertsekas 1982): coordinates at zero with a non-positive gradient
    stay fixed; a tiny one (at most ``_row_kernels.DROP`` of the row's largest) that the
    gradient pushes down past zero within its own Newton step is set to zero (the
    epsilon-active set; without it, such a coordinate shortens the others' steps for
    dozens of iterations); a tiny one pushed down whose own step stays above zero (its
    curvature is huge where the row's mean is near zero) is tried dropped beside the
    step that keeps it, and the better full step is taken; the others take a Newton step
    (gradient ``sum_j (v_j - mu_j) / (mu_j (1 + alpha mu_j)) B_kj`` with ``B = T Ht``;
    curvature ``sum_j w_j B_kj B_lj``, ``w_j = v_j / mu_j^2`` for a Poisson row, its
    exact and concave Hessian, and the Fisher weight ``1 / (mu_j (1 + alpha mu_j))`` for
    a negative binomial row), projected on ``c >= 0`` and halved until the log
    likelihood does not drop; a full step that at least doubles a coefficient is
    followed by steps 4, 16, ... times as long while the log likelihood rises (from a
    tiny value, the curvature of ``v log mu`` holds each Newton step to about a
    doubling). A Poisson row whose Newton step fails takes an EM step (``c_k <- c_k
    sum_j (v_j / mu_j) B_kj / sum_j B_kj``, never decreasing). A row stops when its gain
    falls below ``tol * max(1, |log L|)``. Rows are fitted one at a time by compiled
    loops (:mod:`moonlight._row_kernels`), on several threads inside
    :func:`fitting_threads`.
    """
    c = np.array(c, dtype=np.float64, order="C")  # a copy, fitted in place
    n_rows = c.shape[0]
    V = np.ascontiguousarray(V, dtype=np.float64)
    Ht = np.ascontiguousarray(Ht, dtype=np.float64)
    alpha = np.ascontiguousarray(alpha, dtype=np.float64)
    # (G, R): every row's sum_j o_j Ht_rj
    hto = np.broadcast_to(Ht.sum(axis=1), (n_rows, Ht.shape[0])) if offset is None \
        else offset @ Ht.T
    at_cap = np.zeros(n_rows, dtype=np.bool_)  # rows that stopped at max_iter
    arguments = (
        V, np.ascontiguousarray(Ht.T), np.ascontiguousarray(T, dtype=np.float64), c, alpha,
        np.zeros((n_rows, 1)) if offset is None
        else np.ascontiguousarray(offset, dtype=np.float64),
        offset is not None, np.ascontiguousarray(hto),
        _MAX_ITER.get() if max_iter is None else int(max_iter), float(tol), TINY,
        at_cap)
    from . import _row_kernels  # here, not above: importing this module loads no numba

    threads = row_threads(n_rows)
    if threads <= 1:
        ll = _row_kernels.fit_rows(*arguments)
    else:
        # a negative-binomial row passes over every sample, a Poisson row its nonzeros
        cost = np.where(alpha > 0, V.shape[1], np.count_nonzero(V, axis=1))
        order = np.argsort(-cost, kind="stable").astype(np.int64)
        with numba_threads(threads):
            ll = _row_kernels.fit_rows_parallel(*arguments, order, threads)
    if capped is not None:
        capped |= at_cap
    return c, ll


def information(V: NDArray, Ht: NDArray, b: NDArray, alpha: NDArray,
                offset: NDArray | None = None) -> NDArray:
    """(G, R, R): each row's observed information of its module coefficients ``b``
    (G x R), the negative Hessian of its log likelihood (:func:`row_loglik`) at b;
    compiled, one pass over each row, the same bytes in any blocks of rows."""
    n_rows, n_modules = b.shape
    info = np.empty((n_rows, n_modules, n_modules))
    from . import _row_kernels  # here, not above: importing this module loads no numba

    _row_kernels.information(
        np.ascontiguousarray(V, dtype=np.float64), np.ascontiguousarray(Ht.T),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(alpha, dtype=np.float64),
        np.zeros((1, 1)) if offset is None
        else np.ascontiguousarray(offset, dtype=np.float64),
        offset is not None, TINY, info)
    return info


def others(module: NDArray[np.int64], n_modules: int) -> NDArray[np.int64]:
    """(G, R - 1): every module except ``module[g]``, in order."""
    grid = np.broadcast_to(np.arange(n_modules), (len(module), n_modules))
    return grid[grid != module[:, None]].reshape(len(module), n_modules - 1)


def set_share_map(inside: NDArray[np.int64], outside: NDArray[np.int64], sigma: NDArray,
                   n_modules: int) -> NDArray:
    """(G, A B, R) maps T with ``b = c T`` that hold the total share of the A modules
    ``inside`` at ``sigma``: one free coefficient per pair (a, l) of an inside and an
    ``outside`` module, whose basis row is ``sigma e_a + (1 - sigma) e_l``.

    Any ``c >= 0`` gives ``sum_a b_a = sigma sum c`` and ``sum_l b_l = (1 - sigma) sum c``,
    so the inside share is exactly sigma; every row with that share is reached (take
    ``c_al = T p_a q_l`` with p, q the row's relative weights within each set). With one
    inside module (:func:`share_map`) there are R - 1 pairs.
    """
    rows, n_in = inside.shape
    n_out = outside.shape[1]
    T = np.zeros((rows, n_in * n_out, n_modules))
    g, k = np.arange(rows)[:, None], np.arange(n_in * n_out)[None, :]
    T[g, k, np.repeat(inside, n_out, axis=1)] = sigma[:, None]
    T[g, k, np.tile(outside, (1, n_in))] += (1.0 - sigma)[:, None]
    return T


def set_share_start(b: NDArray, inside: NDArray[np.int64], outside: NDArray[np.int64]
                     ) -> NDArray:
    """Start of the set-share profile fit from module coefficients b: ``c_al = T p_a q_l``
    (each set keeps its relative weights, uniform where a set is all zero)."""
    def relative(idx: NDArray[np.int64]) -> NDArray:
        part = np.take_along_axis(b, idx, axis=1)
        norm_ = part.sum(axis=1, keepdims=True)
        return np.where(norm_ > 0, part / np.where(norm_ > 0, norm_, 1.0),
                        1.0 / idx.shape[1])
    total = b.sum(axis=1)
    pairs = relative(inside)[:, :, None] * relative(outside)[:, None, :]
    return total[:, None] * pairs.reshape(len(b), -1)


def share_map(module: NDArray[np.int64], sigma: NDArray, n_modules: int) -> NDArray:
    """(G, R - 1, R) maps T with ``b = a T``: ``b_module = sigma sum(a)``,
    ``b_l = (1 - sigma) a_l`` for the other modules (docs/methods.md): the set-share map
    of the one module."""
    return set_share_map(module[:, None], others(module, n_modules), sigma, n_modules)


def share_start(b: NDArray, module: NDArray[np.int64]) -> NDArray:
    """Start of the profile fit from module coefficients b: the other modules keep their
    relative weights and the row its total (the set-share start of the one module)."""
    return set_share_start(b, module[:, None], others(module, b.shape[1]))


def profile(V: NDArray, Ht: NDArray, module: NDArray[np.int64], sigma: NDArray,
            start: NDArray, alpha: NDArray, offset: NDArray | None = None,
            capped: NDArray[np.bool_] | None = None) -> tuple[NDArray, NDArray]:
    """``l*(sigma)`` per row (share of ``module`` fixed at ``sigma``) and the fitted free
    coefficients (a warm start for the next call). At ``sigma = 1`` every free
    coefficient multiplies the same basis row, the module's own. ``capped``: as for
    :func:`fit_rows`."""
    T = share_map(module, sigma, Ht.shape[0])
    a, ll = fit_rows(V, Ht, T, start, alpha, offset=offset, capped=capped)
    return ll, a
