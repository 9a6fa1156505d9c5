"""Compiled row loops of :mod:`moonlight.dispersion` (numba, deterministic).

Pearson's statistic of a row, ``X^2(alpha) = sum_j (v_j - mu_j)^2 / (mu_j (1 + alpha
mu_j))`` with ``mu_j = o_j sum_r b_r Ht_rj`` (the row fits' mean,
:func:`moonlight._row_kernels._mean`), and the dispersion that brings it to the row's
degrees of freedom. Each row is one pass over its samples per evaluation, its means
computed in the pass and everything summed in sample order, so a row gives the same
bytes whatever rows share its block and however many threads share the rows; the NumPy
form built (rows x samples) temporaries for each of 61 bisection steps, which at a
hundred thousand cells was a fifth of ``call_modules``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import FASTMATH
from ._row_kernels import _mean

#: Iteration cap of the safeguarded Newton search for one row's dispersion.
MAX_STEPS = 200


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _chi2(v, Hs, b, offset, has_offset, alpha, tiny):
    """(X^2(alpha), dX^2/dalpha) of one row, means floored at ``tiny``."""
    x2 = 0.0
    slope = 0.0
    for j in range(v.size):
        m = max(_mean(Hs, b, offset, has_offset, j), tiny)
        r2 = (v[j] - m) * (v[j] - m)
        d = 1.0 + alpha * m
        x2 += r2 / (m * d)
        slope -= r2 / (d * d)
    return x2, slope


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def pearson_rows(V, Hs, B, offset, has_offset, alpha, tiny):
    """Pearson's X^2 of every row of V (G, M) with coefficients B (G, R) on the module
    activities ``Hs`` (M, R), ``offset`` (G, M) when ``has_offset`` (else any (G, 1)
    array), and dispersions alpha (G,)."""
    out = np.empty(V.shape[0])
    for g in prange(V.shape[0]):
        out[g] = _chi2(V[g], Hs, B[g], offset[g], has_offset, alpha[g], tiny)[0]
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _root(v, Hs, b, offset, has_offset, df, lo, hi, tiny, x0, s0):
    """The alpha in [lo, hi] with ``X^2(alpha) = df`` (lo or hi when X^2 stays on one
    side), given ``(x0, s0) = (X^2(0), X^2'(0))``. X^2 falls monotonically in alpha;
    Newton steps on ``t = log alpha`` from the linear estimate ``(x0 - df) / -s0``
    (below the root: X^2 is convex), kept inside a bracket that each evaluation
    narrows, with the bracket's midpoint in t wherever a step would leave it; stops
    when a step moves t by at most 1e-14."""
    if _chi2(v, Hs, b, offset, has_offset, lo, tiny)[0] - df <= 0.0:
        return lo
    if _chi2(v, Hs, b, offset, has_offset, hi, tiny)[0] - df >= 0.0:
        return hi
    t_lo, t_hi = math.log(lo), math.log(hi)
    t = math.log(min(max((x0 - df) / -s0, lo), hi)) if s0 < 0.0 else t_lo
    for _ in range(MAX_STEPS):
        alpha = math.exp(t)
        x2, slope = _chi2(v, Hs, b, offset, has_offset, alpha, tiny)
        f = x2 - df
        if f == 0.0:
            return alpha
        if f > 0.0:
            t_lo = t
        else:
            t_hi = t
        step = -f / (alpha * slope) if slope < 0.0 else math.inf
        t_new = t + step
        if not t_lo < t_new < t_hi:
            t_new = 0.5 * (t_lo + t_hi)
        if abs(t_new - t) <= 1e-14:
            return math.exp(t_new)
        t = t_new
    return math.exp(0.5 * (t_lo + t_hi))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def dispersion_rows(V, Hs, B, offset, has_offset, df, lo, hi, tiny):
    """Every row's moment dispersion (arguments as :func:`pearson_rows`): 0 where its
    Poisson X^2 is at most its ``df``, else the root of ``X^2(alpha) = df`` in [lo, hi]
    (:func:`_root`)."""
    out = np.zeros(V.shape[0])
    for g in prange(V.shape[0]):
        x0, s0 = _chi2(V[g], Hs, B[g], offset[g], has_offset, 0.0, tiny)
        if x0 > df[g]:
            out[g] = _root(V[g], Hs, B[g], offset[g], has_offset, df[g], lo, hi, tiny,
                           x0, s0)
    return out
