"""Compiled row fits of :func:`moonlight.rowmodel.fit_rows` (numba, deterministic).

Every row is fitted on its own: a projected Newton step in its K free coefficients c,
``mu_j = o_j sum_r b_r Ht_rj`` with ``b = c T``, each iteration one pass over the row's
samples that accumulates the gradient and curvature in module coordinates (R and R x R
sums), then maps them through T. A negative-binomial row costs O(iterations x M x R^2), a
Poisson row the same with its nonzeros in place of M, and either holds O(R^2 + K^2)
working memory, where the vectorized NumPy form held (rows x R x M) temporaries; on
single-cell data (M in the tens of thousands) these fits are most of ``call_modules``.

Sums run in sample order, and the same row gives the same bytes whatever the other
rows are, so results depend neither on how rows are blocked nor on how many threads
share them (:func:`fit_rows_parallel`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import FASTMATH

#: Halvings of a Newton step before a row falls back (EM for Poisson, stop for NB).
HALVINGS = 40
#: A coefficient at most this fraction of the row's largest, on its way to zero, is set
#: to zero (:func:`_fit_row`); so small a change cannot move a fit to another optimum.
DROP = 1e-6
#: Factor and number of the longer steps tried after a full Newton step that lifts a
#: coefficient (:func:`_expand_step`).
EXPAND = 4.0
EXPANSIONS = 12


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _mean(Hs, b, offset, has_offset, j):
    """``mu_j = o_j sum_r b_r Ht_rj``, not floored."""
    mu = 0.0
    for r in range(Hs.shape[1]):
        mu += b[r] * Hs[j, r]
    return mu * offset[j] if has_offset else mu


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _nb_loglik(v, Hs, b, alpha, offset, has_offset, tiny):
    """A negative-binomial row's log likelihood without the terms free of mu
    (rowmodel.row_loglik): every sample's."""
    ll = 0.0
    for j in range(Hs.shape[0]):
        mu = _mean(Hs, b, offset, has_offset, j)
        if v[j] > 0.0:
            ll += v[j] * math.log(max(mu, tiny))
        ll -= (v[j] + 1.0 / alpha) * math.log1p(alpha * mu)
    return ll


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _poisson_loglik(v, Hs, b, offset, has_offset, nz, hto, tiny):
    """A Poisson row's log likelihood (rowmodel.row_loglik) from its nonzero counts:
    ``sum_j mu_j`` is ``b . hto`` with ``hto = Ht o`` (the row's offset-weighted module
    totals)."""
    ll = 0.0
    for j in nz:
        ll += v[j] * math.log(max(_mean(Hs, b, offset, has_offset, j), tiny))
    for r in range(Hs.shape[1]):
        ll -= b[r] * hto[r]
    return ll


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _row_loglik(v, Hs, b, alpha, offset, has_offset, nz, hto, tiny):
    if alpha > 0.0:
        return _nb_loglik(v, Hs, b, alpha, offset, has_offset, tiny)
    return _poisson_loglik(v, Hs, b, offset, has_offset, nz, hto, tiny)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _cell_terms(v, Hs, b, alpha, offset, has_offset, j, tiny):
    """Sample j's residual and weight: its gradient term is ``residual Ht_rj`` and its
    curvature term ``weight Ht_rj Ht_sj`` (of a Poisson row, only the ``v_j / mu_j``
    part of its residual)."""
    o = offset[j] if has_offset else 1.0
    mu = max(_mean(Hs, b, offset, has_offset, j), tiny)
    if alpha > 0.0:
        var = mu * (1.0 + alpha * mu)
        residual = (v[j] - mu) / var * o
        weight = 1.0 / var
    else:  # the -o_j of (v_j - mu_j) / mu_j o_j is in hto (every sample's)
        residual = v[j] / mu * o
        weight = (v[j] / mu) / mu
    return residual, weight * (o * o)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _accumulate(v, Hs, b, alpha, offset, has_offset, j, tiny, gb, cb):
    """Add sample j's terms to the gradient (gb) and the lower triangle of the
    curvature (cb) in module coordinates."""
    residual, weight = _cell_terms(v, Hs, b, alpha, offset, has_offset, j, tiny)
    h = Hs[j]
    for r in range(Hs.shape[1]):
        gb[r] += residual * h[r]
        wh = weight * h[r]
        row = cb[r]
        for s in range(r + 1):
            row[s] += wh * h[s]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _accumulate4(v, Hs, b, alpha, offset, has_offset, j0, j1, j2, j3, tiny, gb, cb):
    """:func:`_accumulate` of samples j0, j1, j2 and j3, in that order, to the byte: each
    sum still adds one sample's term at a time, but loads and stores its accumulator
    once per four samples (about 2.3x faster at R = 10 than four calls)."""
    r0, w0 = _cell_terms(v, Hs, b, alpha, offset, has_offset, j0, tiny)
    r1, w1 = _cell_terms(v, Hs, b, alpha, offset, has_offset, j1, tiny)
    r2, w2 = _cell_terms(v, Hs, b, alpha, offset, has_offset, j2, tiny)
    r3, w3 = _cell_terms(v, Hs, b, alpha, offset, has_offset, j3, tiny)
    h0, h1, h2, h3 = Hs[j0], Hs[j1], Hs[j2], Hs[j3]
    for r in range(Hs.shape[1]):
        gb[r] = gb[r] + r0 * h0[r] + r1 * h1[r] + r2 * h2[r] + r3 * h3[r]
        a0, a1, a2, a3 = w0 * h0[r], w1 * h1[r], w2 * h2[r], w3 * h3[r]
        row = cb[r]
        for s in range(r + 1):
            row[s] = row[s] + a0 * h0[s] + a1 * h1[s] + a2 * h2[s] + a3 * h3[s]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _accumulate_all(v, Hs, b, alpha, offset, has_offset, cells, tiny, gb, cb):
    """:func:`_accumulate` of every sample in ``cells``, in order, four at a time."""
    n = cells.shape[0]
    i = 0
    while i + 4 <= n:
        _accumulate4(v, Hs, b, alpha, offset, has_offset, cells[i], cells[i + 1],
                     cells[i + 2], cells[i + 3], tiny, gb, cb)
        i += 4
    while i < n:
        _accumulate(v, Hs, b, alpha, offset, has_offset, cells[i], tiny, gb, cb)
        i += 1


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _expand(c, T, b):
    """``b = c T``, into ``b``."""
    K, R = T.shape
    for r in range(R):
        b[r] = 0.0
    for k in range(K):
        for r in range(R):
            b[r] += c[k] * T[k, r]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _solve(A, y, x):
    """``x = A^-1 y`` by Gaussian elimination with partial pivoting (LAPACK's getrf and
    getrs, unblocked), overwriting A and y; K is small (at most 2 (R - 2) per row)."""
    n = A.shape[0]
    for k in range(n):
        p = k
        for i in range(k + 1, n):
            if abs(A[i, k]) > abs(A[p, k]):
                p = i
        if p != k:
            for j in range(n):
                A[k, j], A[p, j] = A[p, j], A[k, j]
            y[k], y[p] = y[p], y[k]
        pivot = A[k, k]
        for i in range(k + 1, n):
            A[i, k] /= pivot
        for i in range(k + 1, n):
            f = A[i, k]
            for j in range(k + 1, n):
                A[i, j] -= f * A[k, j]
    for i in range(n):  # L z = y (unit lower)
        t = y[i]
        for j in range(i):
            t -= A[i, j] * y[j]
        y[i] = t
    for i in range(n - 1, -1, -1):  # U x = z
        t = y[i]
        for j in range(i + 1, n):
            t -= A[i, j] * x[j]
        x[i] = t / A[i, i]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _curvature(cb, T, k, l):
    """``T_k cb T_l``: the curvature between free coefficients k and l."""
    a = 0.0
    for r in range(T.shape[1]):
        if T[k, r] != 0.0:
            t = 0.0
            for s in range(T.shape[1]):
                t += cb[r, s] * T[l, s]
            a += T[k, r] * t
    return a


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _newton_direction(cb, T, grad, free, drop, A, rhs, d):
    """The Newton step ``d`` of the coefficients that are free and not dropped (zero
    for the others), with a ridge of 1e-12 times the largest curvature."""
    K = T.shape[0]
    top = 0.0
    for k in range(K):
        for l in range(K):
            moving = free[k] and free[l] and not drop[k] and not drop[l]
            A[k, l] = _curvature(cb, T, k, l) if moving else 0.0
        top = max(top, abs(A[k, k]))
    ridge = 1e-12 * top + 1e-300
    for k in range(K):
        moving = free[k] and not drop[k]
        A[k, k] += ridge if moving else 1.0
        rhs[k] = grad[k] if moving else 0.0
    _solve(A, rhs, d)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _trial(c, d, drop, step, new_c):
    """The coefficients a fraction ``step`` along ``d``, projected on ``c >= 0``, with
    the dropped ones at zero."""
    for k in range(c.shape[0]):
        new_c[k] = 0.0 if drop[k] else max(c[k] + step * d[k], 0.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _growing(c, d):
    """Whether the Newton step at least doubles a coefficient (or lifts one off zero):
    the mark of a coefficient climbing from a tiny value, where the curvature of
    ``v log mu`` limits each Newton step to about a doubling."""
    for k in range(c.shape[0]):
        if d[k] > 0.0 and d[k] >= c[k]:
            return True
    return False


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _expand_step(v, Hs, T, c, d, drop, alpha, offset, has_offset, nz, hto, tiny, new_c,
                 trial_b, ll_one):
    """After a full Newton step that lifts a coefficient: steps of EXPAND, EXPAND^2, ...
    times ``d`` while the log likelihood keeps rising; ``new_c`` and ``trial_b`` end at
    the best (the full step's when no longer step is better), whose log likelihood is
    returned. A coefficient that doubles per iteration from 1e-11 takes 27 iterations to
    reach 1e-3, and a handful this way."""
    best = ll_one
    best_step = 1.0
    step = 1.0
    for _ in range(EXPANSIONS):
        step *= EXPAND
        _trial(c, d, drop, step, new_c)
        _expand(new_c, T, trial_b)
        trial = _row_loglik(v, Hs, trial_b, alpha, offset, has_offset, nz, hto, tiny)
        if not trial > best:
            break
        best = trial
        best_step = step
    _trial(c, d, drop, best_step, new_c)
    _expand(new_c, T, trial_b)
    return best


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _fit_row(v, Hs, T, c, alpha, offset, has_offset, lin, nz, hto, max_iter, tol, tiny):
    """Fit one row in place (``c``); returns its log likelihood and whether the fit
    stopped at ``max_iter`` rather than at its optimum or tolerance. A Poisson row
    (``alpha == 0``) is evaluated on its nonzero counts ``nz`` only: a zero count adds
    ``-mu_j`` to log L, ``-o_j Ht_rj`` to the gradient (summed in ``hto``) and nothing
    to the curvature, so its cost is linear in the row's nonzeros."""
    M, R = Hs.shape
    K = T.shape[0]
    b = np.empty(R)
    gb = np.empty(R)
    cb = np.empty((R, R))
    grad = np.empty(K)
    A = np.empty((K, K))
    rhs = np.empty(K)
    d = np.empty(K)
    free = np.empty(K, dtype=np.bool_)
    drop = np.empty(K, dtype=np.bool_)
    soft = np.empty(K, dtype=np.bool_)
    new_c = np.empty(K)
    trial_b = np.empty(R)
    soft_c = np.empty(K)
    soft_b = np.empty(R)
    soft_d = np.empty(K)
    # the samples whose terms enter the gradient and curvature: every one of a
    # negative-binomial row, the nonzero counts of a Poisson row
    cells = np.arange(M) if alpha > 0.0 else nz
    _expand(c, T, b)
    ll = _row_loglik(v, Hs, b, alpha, offset, has_offset, nz, hto, tiny)
    stopped = False  # at a (local) maximum or the tolerance, not at the cap
    for _ in range(max_iter):
        gb[:] = 0.0
        cb[:, :] = 0.0
        _accumulate_all(v, Hs, b, alpha, offset, has_offset, cells, tiny, gb, cb)
        if alpha == 0.0:
            for r in range(R):
                gb[r] -= hto[r]
        for r in range(R):
            for s in range(r):
                cb[s, r] = cb[r, s]
        largest = 0.0
        for k in range(K):
            largest = max(largest, c[k])
        dropping = False
        softening = False
        for k in range(K):
            g = 0.0
            for r in range(R):
                g += T[k, r] * gb[r]
            grad[k] = g
            free[k] = c[k] > 0.0 or g > 0.0
            # A tiny coefficient (at most DROP times the largest) that the gradient
            # pushes down and that its own Newton step would take below zero is set to
            # zero (Bertsekas's epsilon-active set). Left free, it shortens every step
            # of the others for dozens of iterations on its way to zero.
            drop[k] = (0.0 < c[k] <= DROP * largest and g < 0.0
                       and c[k] * _curvature(cb, T, k, k) + g <= 0.0)
            dropping = dropping or drop[k]
            # Tiny and pushed down, but its own Newton step stays above zero: where the
            # row's mean is near zero its curvature is huge, and it can still hold the
            # others' steps to nothing through the coupling. Tried dropped beside the
            # step that keeps it (below), the better full step taken.
            soft[k] = 0.0 < c[k] <= DROP * largest and g < 0.0 and not drop[k]
            softening = softening or soft[k]
        ll_soft = -np.inf
        if softening:
            for k in range(K):
                drop[k] = drop[k] or soft[k]
            _newton_direction(cb, T, grad, free, drop, A, rhs, soft_d)
            _trial(c, soft_d, drop, 1.0, soft_c)
            _expand(soft_c, T, soft_b)
            ll_soft = _row_loglik(v, Hs, soft_b, alpha, offset, has_offset, nz, hto, tiny)
            for k in range(K):
                drop[k] = drop[k] and not soft[k]
        for attempt in range(2):
            if attempt == 1:  # no ascent with the drops: the plain projected step
                if not dropping:
                    break
                for k in range(K):
                    drop[k] = False
            _newton_direction(cb, T, grad, free, drop, A, rhs, d)
            step = 1.0
            _trial(c, d, drop, step, new_c)
            _expand(new_c, T, trial_b)
            new_ll = _row_loglik(v, Hs, trial_b, alpha, offset, has_offset, nz, hto, tiny)
            if attempt == 0 and ll_soft >= ll and ll_soft > new_ll:
                for k in range(K):  # the step with the soft drops is the better one
                    drop[k] = drop[k] or soft[k]
                    d[k] = soft_d[k]
                    new_c[k] = soft_c[k]
                for r in range(R):
                    trial_b[r] = soft_b[r]
                new_ll = ll_soft
                break
            halvings = 0
            while not new_ll >= ll and halvings < HALVINGS:
                step *= 0.5
                _trial(c, d, drop, step, new_c)
                _expand(new_c, T, trial_b)
                new_ll = _row_loglik(v, Hs, trial_b, alpha, offset, has_offset, nz, hto,
                                     tiny)
                halvings += 1
            if new_ll >= ll:
                break
        if new_ll >= ll and step == 1.0 and _growing(c, d):
            new_ll = _expand_step(v, Hs, T, c, d, drop, alpha, offset, has_offset, nz, hto,
                                  tiny, new_c, trial_b, new_ll)
        if not new_ll >= ll:
            if alpha > 0.0:  # no ascent step found: a (local) maximum
                stopped = True
                break
            # EM fallback: a multiplicative step never lowers a Poisson log L
            for k in range(K):
                new_c[k] = c[k] * (grad[k] + lin[k]) / max(lin[k], tiny)
            _expand(new_c, T, trial_b)
            new_ll = _row_loglik(v, Hs, trial_b, alpha, offset, has_offset, nz, hto, tiny)
            if not new_ll >= ll:
                stopped = True
                break
        gain = new_ll - ll
        for k in range(K):
            c[k] = new_c[k]
        for r in range(R):
            b[r] = trial_b[r]
        ll = new_ll
        if not gain > tol * max(1.0, abs(new_ll)):
            stopped = True
            break
    return ll, not stopped


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _fit_one(V, Hs, T, c, alpha, offset, has_offset, hto, max_iter, tol, tiny, g):
    """Row g of :func:`fit_rows`: its nonzeros and EM denominators, then its fit (log
    likelihood, and whether it stopped at ``max_iter``)."""
    M = V.shape[1]
    K = T.shape[1]
    nz = np.empty(M, dtype=np.int64)
    count = 0
    for j in range(M):
        if V[g, j] > 0.0:
            nz[count] = j
            count += 1
    lin = np.empty(K)
    for k in range(K):  # sum_j B_kj, the EM fallback's denominator
        t = 0.0
        for r in range(hto.shape[1]):
            t += T[g, k, r] * hto[g, r]
        lin[k] = t
    return _fit_row(V[g], Hs, T[g], c[g], alpha[g], offset[g], has_offset, lin,
                    nz[:count], hto[g], max_iter, tol, tiny)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def fit_rows(V, Hs, T, c, alpha, offset, has_offset, hto, max_iter, tol, tiny, capped):
    """Fit every row (in place in ``c``, shape (G, K)); returns the rows' log
    likelihoods, and sets ``capped[g]`` for a row that stopped at ``max_iter``. ``Hs``
    is (M, R), the module activities sample by sample; ``offset`` is (G, M) when
    ``has_offset``, else any (G, 1) array; ``hto`` (G, R) holds each row's
    ``sum_j o_j Ht_rj``."""
    ll = np.empty(V.shape[0])
    for g in range(V.shape[0]):
        ll[g], capped[g] = _fit_one(V, Hs, T, c, alpha, offset, has_offset, hto, max_iter,
                                    tol, tiny, g)
    return ll


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def fit_rows_parallel(V, Hs, T, c, alpha, offset, has_offset, hto, max_iter, tol, tiny,
                      capped, order, threads):
    """:func:`fit_rows` on ``threads`` threads: thread t fits rows ``order[t]``,
    ``order[t + threads]``, ... (``order``: the rows by decreasing expected cost, so the
    threads' shares even out). Every row is fitted by the same serial code, so the bytes
    do not depend on the thread count."""
    ll = np.empty(V.shape[0])
    for t in prange(threads):
        for i in range(t, V.shape[0], threads):
            g = order[i]
            ll[g], capped[g] = _fit_one(V, Hs, T, c, alpha, offset, has_offset, hto,
                                        max_iter, tol, tiny, g)
    return ll


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def information(V, Hs, B, alpha, offset, has_offset, tiny, info):
    """Every row's observed information of its module coefficients ``B[g]`` into
    ``info[g]`` (R x R): ``sum_j w_j o_j^2 Ht_rj Ht_sj`` with ``w_j = v_j / mu_j^2 -
    alpha (alpha v_j + 1) / (1 + alpha mu_j)^2``, minus the second derivative in mu of
    the row's negative-binomial (Poisson at ``alpha == 0``) log likelihood. One pass
    over each row's samples, in sample order: the same bytes in any blocks of rows."""
    G, M = V.shape
    R = Hs.shape[1]
    for g in range(G):
        v, b, a = V[g], B[g], alpha[g]
        o_row = offset[g] if has_offset else offset[0]
        for r in range(R):
            for s in range(R):
                info[g, r, s] = 0.0
        for j in range(M):
            mu = max(_mean(Hs, b, o_row, has_offset, j), tiny)
            w = v[j] / mu / mu
            if a > 0.0:
                w -= a * (a * v[j] + 1.0) / ((1.0 + a * mu) * (1.0 + a * mu))
            if has_offset:
                w *= o_row[j] * o_row[j]
            if w == 0.0:
                continue
            for r in range(R):
                wh = w * Hs[j, r]
                for s in range(r + 1):
                    info[g, r, s] += wh * Hs[j, s]
        for r in range(R):
            for s in range(r):
                info[g, s, r] = info[g, r, s]
