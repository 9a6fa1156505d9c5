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
           critical: float, offset: NDArray | None = None,
           capped: NDArray[np.bool_] | None = None) -> tuple[NDArray, NDArray]:
    """How far each share ``sigma`` lies outside its row's profile interval, and the
    profile fits' coefficients (warm starts for the next share). The distance is the
    signed root ``sqrt(D) - sqrt(critical)`` of the scaled profile deviance D: positive
    outside, and nearly linear in sigma where D is nearly quadratic (close to the
    fitted share), so the root search needs few fits. ``capped``: as for
    :func:`moonlight.rowmodel.fit_rows`."""
    ll, warm = profile(V, Ht, module, sigma, warm, alpha, offset, capped)
    deviance = np.maximum(2.0 * (ll_hat - ll) / scale, 0.0)
    return np.sqrt(deviance) - np.sqrt(critical), warm


def interval_ends(V: NDArray, Ht: NDArray, module: NDArray[np.int64], inside: NDArray,
                  far: NDArray, alpha: NDArray, ll_hat: NDArray, scale: NDArray,
                  critical: float, start: NDArray, offset: NDArray | None = None,
                  capped: NDArray[np.bool_] | None = None) -> NDArray:
    """End of a profile confidence interval between ``inside`` (the fitted share, where
    the excess is ``-sqrt(critical)``) and ``far`` (0 or 1), for many rows at once:
    ``far`` itself when it is inside, otherwise the one crossing (the profile is
    unimodal) by regula falsi with Anderson and Bjorck's scaling on the signed root
    (:func:`excess`). It keeps a bracket like bisection, so it cannot fail, and stops at
    a bracket of ``2^-BISECTIONS`` or at a share whose signed root is within
    ``2^-BISECTIONS`` of the crossing's, whichever comes first: near the fitted share
    the signed root changes by about one per standard error of the share, so either pins
    the end to about 1e-9. The second stop spares the steps that regula falsi needs to
    move the far end of the bracket; the profile fits dominate call_modules on
    single-cell data. ``offset``: each row's known factors of its means; ``capped``:
    set for a row any of whose profile fits stopped at its iteration cap (both as for
    :func:`moonlight.rowmodel.fit_rows`)."""
    f_hi, warm = excess(V, Ht, module, far, start, alpha, ll_hat, scale, critical, offset,
                        capped)
    lo, hi = inside.copy(), far.copy()  # lo inside the interval, hi outside
    f_lo = np.full(lo.shape, -np.sqrt(critical))
    side = np.zeros(lo.shape, dtype=np.int8)  # which end moved last: -1 lo, +1 hi
    active = np.flatnonzero(f_hi > 0)
    out = f_hi > 0
    root = np.full(lo.shape, np.nan)  # a share whose signed root is within the tolerance
    for _ in range(3 * BISECTIONS):
        if active.size == 0:
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        x = b - fb * (b - a) / (fb - fa)
        bad = ~((x - np.minimum(a, b)) * (np.maximum(a, b) - x) > 0)
        x = np.where(bad, 0.5 * (a + b), x)
        at_cap = np.zeros(active.size, dtype=np.bool_)
        fx, warm[active] = excess(V[active], Ht, module[active], x, warm[active],
                                  alpha[active], ll_hat[active], scale[active], critical,
                                  None if offset is None else offset[active], at_cap)
        if capped is not None:
            capped[active] |= at_cap
        outside = fx > 0
        moved = np.where(outside, 1, -1).astype(np.int8)
        # The same end twice: shrink the other's value (Anderson-Bjorck: by
        # 1 - f(x) / f(the end x replaced), or by half where that is not in (0, 1)).
        again = side[active] == moved
        m = 1.0 - fx / np.where(outside, fb, fa)
        m = np.where((m > 0) & (m < 1), m, 0.5)
        hi[active] = np.where(outside, x, b)
        f_hi[active] = np.where(outside, fx, np.where(again, m * fb, fb))
        lo[active] = np.where(outside, a, x)
        f_lo[active] = np.where(outside, np.where(again, m * fa, fa), fx)
        side[active] = moved
        at_root = np.abs(fx) <= 2.0 ** -BISECTIONS
        root[active[at_root]] = x[at_root]
        done = (np.abs(hi[active] - lo[active]) <= 2.0 ** -BISECTIONS) | at_root
        active = active[~done]
    return np.where(out, np.where(np.isnan(root), 0.5 * (lo + hi), root), far)
