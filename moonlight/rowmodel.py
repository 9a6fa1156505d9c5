"""Non-negative Poisson or negative-binomial regression of count rows on fixed basis
rows, and the maps that hold a share of a row fixed: the row model under the share test
(:mod:`moonlight.share_test`; derivation: docs/methods.md, "The share test,
derived")."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import xlogy

__all__ = ["TINY", "expand", "row_loglik", "fit_rows", "others", "set_share_map",
           "set_share_start", "share_map", "share_start", "profile"]

#: Floor on expected counts inside logarithms and Pearson residuals.
TINY = 1e-300


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
             offset: NDArray | None = None, max_iter: int = 200, tol: float = 1e-13
             ) -> tuple[NDArray, NDArray]:
    """Maximize each row's log likelihood over ``c >= 0`` with ``mu = (c T) Ht``.

    Parameters
    ----------
    V : (G, M) counts; Ht : (R, M) module activities; T : (G, K, R) non-negative maps
        from each row's K free coefficients to its R module coefficients; c : (G, K)
        start (non-negative); alpha : (G,) negative-binomial dispersion of each row
        (0: Poisson); offset : (G, M), optional, a known positive factor of every mean,
        ``mu_gj = o_gj ((c T) Ht)_gj`` (a gene's batch factors: :mod:`moonlight.batches`);
        every basis row of the gene is then ``o_g * Ht_k``.

    Returns
    -------
    c : (G, K) maximizer; loglik : (G,) its log likelihood (:func:`row_loglik`).

    Projected Newton (Bertsekas 1982): coordinates at zero with a non-positive gradient
    stay fixed, the others take a Newton step (gradient
    ``sum_j (v_j - mu_j) / (mu_j (1 + alpha mu_j)) B_kj`` with ``B = T Ht``; curvature
    ``sum_j w_j B_kj B_lj``, ``w_j = v_j / mu_j^2`` for a Poisson row, its exact and
    concave Hessian, and the Fisher weight ``1 / (mu_j (1 + alpha mu_j))`` for a negative
    binomial row), projected on ``c >= 0`` and halved until the log likelihood does not
    drop. A Poisson row whose Newton step fails takes an EM step
    (``c_k <- c_k sum_j (v_j / mu_j) B_kj / sum_j B_kj``, never decreasing). A row stops
    when its gain falls below ``tol * max(1, |log L|)``.
    """
    c = c.copy()
    n_rows, K = c.shape
    # (G, K): sum_j B_kj
    lin = T @ Ht.sum(axis=1) if offset is None else np.einsum("gkr,gr->gk", T, offset @ Ht.T)
    ll = row_loglik(V, Ht, expand(c, T), alpha, offset)
    active = np.ones(n_rows, dtype=bool)
    diag = np.arange(K)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Vi, Ti, ci, lli, ai = V[idx], T[idx], c[idx], ll[idx], alpha[idx]
        Oi = None if offset is None else offset[idx]
        mu = expand(ci, Ti) @ Ht
        mu = np.maximum(mu if Oi is None else mu * Oi, TINY)
        var = mu * (1.0 + ai[:, None] * mu)
        # Gradient and curvature in the module coordinates, then mapped through T
        # (d mu_j / d b_r = o_j Ht_rj).
        residual = (Vi - mu) / var
        grad = np.einsum("gkr,gr->gk", Ti, (residual if Oi is None else residual * Oi)
                         @ Ht.T)
        nb = ai[:, None] > 0
        weight = np.where(nb, 1.0, Vi / mu) / np.where(nb, var, mu)
        if Oi is not None:
            weight = weight * Oi**2
        curv_b = (weight[:, None, :] * Ht[None]) @ Ht.T  # (g, R, R)
        curv = np.einsum("gkr,grs,gls->gkl", Ti, curv_b, Ti)
        free = (ci > 0) | (grad > 0)
        A = np.where(free[:, :, None] & free[:, None, :], curv, 0.0)
        ridge = 1e-12 * np.abs(A[:, diag, diag]).max(axis=1, keepdims=True) + 1e-300
        A[:, diag, diag] += np.where(free, ridge, 1.0)
        d = np.linalg.solve(A, (grad * free)[..., None])[..., 0]
        # Step halving until the log likelihood does not drop (vectorized over rows).
        step = np.ones(idx.size)
        new_c = np.maximum(ci + d, 0.0)
        new_ll = row_loglik(Vi, Ht, expand(new_c, Ti), ai, Oi)
        worse = ~(new_ll >= lli)
        for _ in range(40):
            if not worse.any():
                break
            step[worse] *= 0.5
            new_c[worse] = np.maximum(ci[worse] + step[worse, None] * d[worse], 0.0)
            new_ll[worse] = row_loglik(Vi[worse], Ht, expand(new_c[worse], Ti[worse]),
                                       ai[worse], None if Oi is None else Oi[worse])
            worse = ~(new_ll >= lli)
        em_rows = np.flatnonzero(worse & (ai == 0))
        if em_rows.size:  # EM fallback: a multiplicative step never lowers a Poisson log L
            cw, lw = ci[em_rows], lin[idx][em_rows]
            em = cw * (grad[em_rows] + lw) / np.maximum(lw, TINY)
            em_ll = row_loglik(Vi[em_rows], Ht, expand(em, Ti[em_rows]), ai[em_rows],
                               None if Oi is None else Oi[em_rows])
            better = em_ll >= lli[em_rows]
            new_c[em_rows] = np.where(better[:, None], em, cw)
            new_ll[em_rows] = np.where(better, em_ll, lli[em_rows])
        stuck = worse & (ai > 0)  # no ascent step found: a (local) maximum
        new_c[stuck], new_ll[stuck] = ci[stuck], lli[stuck]
        gain = new_ll - lli
        c[idx], ll[idx] = new_c, new_ll
        active[idx] = gain > tol * np.maximum(1.0, np.abs(new_ll))
    return c, ll


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
            start: NDArray, alpha: NDArray, offset: NDArray | None = None
            ) -> tuple[NDArray, NDArray]:
    """``l*(sigma)`` per row (share of ``module`` fixed at ``sigma``) and the fitted free
    coefficients (a warm start for the next call). At ``sigma = 1`` every free
    coefficient multiplies the same basis row, the module's own."""
    T = share_map(module, sigma, Ht.shape[0])
    a, ll = fit_rows(V, Ht, T, start, alpha, offset=offset)
    return ll, a
