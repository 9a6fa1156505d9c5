"""Profile-likelihood confidence intervals of a row's share in a module, many rows at
once (used by :mod:`moonlight.share_test`; derivation: docs/methods.md, "The share test,
derived")."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .rowmodel import profile

__all__ = ["BISECTIONS", "excess", "interval_ends"]

#: The ends of a confidence interval are found to a bracket of 2^-BISECTIONS (~1e-9).
BISECTIONS = 30


def excess(V: NDArray, Ht: NDArray, module: NDArray[np.int64], sigma: NDArray,
           warm: NDArray, alpha: NDArray, ll_hat: NDArray, scale: NDArray,
           critical: float, offset: NDArray | None = None) -> tuple[NDArray, NDArray]:
    """How far each share ``sigma`` lies outside its row's profile interval (the scaled
    profile deviance minus the critical value: positive outside), and the profile fits'
    coefficients (warm starts for the next share)."""
    ll, warm = profile(V, Ht, module, sigma, warm, alpha, offset)
    return 2.0 * (ll_hat - ll) / scale - critical, warm


def interval_ends(V: NDArray, Ht: NDArray, module: NDArray[np.int64], inside: NDArray,
                  far: NDArray, alpha: NDArray, ll_hat: NDArray, scale: NDArray,
                  critical: float, start: NDArray, offset: NDArray | None = None
                  ) -> NDArray:
    """End of a profile confidence interval between ``inside`` (the fitted share, where
    the excess is ``-critical``) and ``far`` (0 or 1), for many rows at once: ``far``
    itself when it is inside, otherwise the one crossing (the profile is unimodal) by
    the Illinois variant of regula falsi. It keeps a bracket like bisection, so it
    cannot fail, and takes about a third of bisection's profile fits to a bracket of
    ``2^-BISECTIONS`` (the fits dominate call_modules on single-cell data). ``offset``:
    each row's known factors of its means (:func:`moonlight.rowmodel.fit_rows`)."""
    f_hi, warm = excess(V, Ht, module, far, start, alpha, ll_hat, scale, critical, offset)
    lo, hi = inside.copy(), far.copy()  # lo inside the interval, hi outside
    f_lo = np.full(lo.shape, -critical)
    side = np.zeros(lo.shape, dtype=np.int8)  # which end moved last: -1 lo, +1 hi
    active = np.flatnonzero(f_hi > 0)
    out = f_hi > 0
    for _ in range(3 * BISECTIONS):
        if active.size == 0:
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        x = b - fb * (b - a) / (fb - fa)
        bad = ~((x - np.minimum(a, b)) * (np.maximum(a, b) - x) > 0)
        x = np.where(bad, 0.5 * (a + b), x)
        fx, warm[active] = excess(V[active], Ht, module[active], x, warm[active],
                                  alpha[active], ll_hat[active], scale[active], critical,
                                  None if offset is None else offset[active])
        outside = fx > 0
        moved = np.where(outside, 1, -1).astype(np.int8)
        again = side[active] == moved  # the same end twice: halve the other's excess
        hi[active] = np.where(outside, x, b)
        f_hi[active] = np.where(outside, fx, np.where(again, 0.5 * fb, fb))
        lo[active] = np.where(outside, a, x)
        f_lo[active] = np.where(outside, np.where(again, 0.5 * fa, fa), fx)
        side[active] = moved
        done = (np.abs(hi[active] - lo[active]) <= 2.0 ** -BISECTIONS) | (fx == 0)
        active = active[~done]
    return np.where(out, 0.5 * (lo + hi), far)
