"""Profile-likelihood confidence intervals of a row's share in a module, many rows at
once (used by :mod:`moonlight.share_test`; derivation: docs/methods.md, "The share test,
derived")."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .rowmodel import information, profile

__all__ = ["BISECTIONS", "excess", "interval_ends", "share_standard_errors", "wald_guess"]

#: The ends of a confidence interval are found to a bracket of 2^-BISECTIONS (~1e-9).
BISECTIONS = 30

#: The first trial share of a search lies this many Wald half-widths from the fitted
#: share: just beyond the crossing where the profile is nearly quadratic, so that the
#: first fit brackets the end and the second lands next to it.
OVERSHOOT = 1.1

#: While no trial share is outside the interval, the next one is this many times as far
#: past the last as the secant through the last two predicts the crossing.
EXPAND = 1.5


def share_standard_errors(V: NDArray, Ht: NDArray, b: NDArray, alpha: NDArray,
                          modules: list[NDArray[np.int64]],
                          offset: NDArray | None = None) -> list[NDArray]:
    """Each row's Wald standard error of its share in ``modules[i][g]``, from the
    observed information of its fitted coefficients ``b`` (G x R) given ``Ht`` and its
    counts ``V`` (:func:`moonlight.rowmodel.information`): the curvature of the log
    likelihood at the fit, so of the profile deviance too.

    Coefficients at zero are on their bound and held fixed. The share
    ``s_k = b_k / sum b`` has gradient ``g = (e_k - s_k 1) / sum b`` in the free ones and
    variance ``g' I^-1 g``; NaN where that is not positive (:func:`wald_guess` then
    falls back on the far end)."""
    n_rows, n_modules = b.shape
    free = b > 0
    both = free[:, :, None] & free[:, None, :]
    info = np.where(both, information(V, Ht, b, alpha, offset), 0.0) \
        + np.where(free, 0.0, 1.0)[:, :, None] * np.eye(n_modules)
    covariance = np.linalg.pinv(info, hermitian=True)
    total = b.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = (b / total[:, None])
    rows = np.arange(n_rows)
    out = []
    for module in modules:
        g = np.repeat(-own[rows, module][:, None], n_modules, axis=1)
        g[rows, module] += 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.where(free, g, 0.0) / total[:, None]
            variance = (g[:, None, :] @ (covariance @ g[:, :, None]))[:, 0, 0]
        out.append(np.where(variance > 0, np.sqrt(np.where(variance > 0, variance, 0.0)),
                            np.nan))
    return out


def wald_guess(inside: NDArray, far: NDArray, se: NDArray, scale: NDArray,
               critical: float) -> NDArray:
    """The first trial share of each search of :func:`interval_ends`: the end of the
    Wald interval (half-width ``sqrt(critical scale) se``, the scaled profile deviance
    being ``(sigma - inside)^2 / (scale se^2)`` near the fitted share) widened by
    :data:`OVERSHOOT`, towards ``far``; ``far`` itself where that end is past it or
    cannot be formed."""
    step = OVERSHOOT * np.sqrt(critical * scale) * se
    guess = inside + np.sign(far - inside) * step
    usable = np.isfinite(guess) & (step > 0) & ((far - guess) * (far - inside) > 0)
    return np.where(usable, guess, far)


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
                  capped: NDArray[np.bool_] | None = None,
                  guess: NDArray | None = None) -> NDArray:
    """End of a profile confidence interval between ``inside`` (the fitted share, where
    the excess is ``-sqrt(critical)``) and ``far`` (0 or 1), for many rows at once:
    ``far`` itself when it is inside, otherwise the one crossing (the profile is
    unimodal) of the signed root (:func:`excess`).

    The first trial share is ``guess`` (:func:`wald_guess`; ``far`` without one). Until
    a trial share is outside the interval, the next lies :data:`EXPAND` times as far
    past the last as the secant through the last two predicts the crossing (twice as
    far from the fitted share where the secant does not rise), and never past ``far``;
    ``far`` found inside is the end. Once a trial share is outside, regula falsi with
    Anderson and Bjorck's scaling keeps a bracket like bisection, so it cannot fail, and
    stops at a bracket of ``2^-BISECTIONS`` or at a share whose signed root is within
    ``2^-BISECTIONS`` of the crossing's, whichever comes first: near the fitted share
    the signed root changes by about one per standard error of the share, so either pins
    the end to about 1e-9. A Wald guess spares the fit at the far end, the costliest and
    slowest to converge, wherever the interval ends short of it, and brackets the end
    closely; the profile fits dominate call_modules on single-cell data.

    Each profile fit starts from the last one of its search (``start``, the fitted row
    mapped to the share, for the first). Where a negative-binomial row's share is found
    outside from such a warm start, it is fitted again from ``start`` and the better fit
    kept: a warm start can stop in a worse basin, which would put an end at the fitted
    share itself. ``offset``:
    each row's known factors of its means; ``capped``: set for a row any of whose
    profile fits stopped at its iteration cap (both as for
    :func:`moonlight.rowmodel.fit_rows`)."""
    tol = 2.0 ** -BISECTIONS
    lo, f_lo = inside.copy(), np.full(inside.shape, -np.sqrt(critical))  # inside
    hi, f_hi = far.copy(), np.full(inside.shape, np.nan)  # outside, once bracketed
    before, f_before = inside.copy(), f_lo.copy()  # the inside point before lo
    trial = far.copy() if guess is None else guess.astype(np.float64)
    bracketed = np.zeros(inside.shape, dtype=np.bool_)
    side = np.zeros(inside.shape, dtype=np.int8)  # which end moved last: -1 lo, +1 hi
    end = np.full(inside.shape, np.nan)
    warm = start.copy()
    warmed = np.zeros(inside.shape, dtype=np.bool_)  # warm is no longer start
    active = np.arange(len(inside))
    for _ in range(4 * BISECTIONS):
        if active.size == 0:
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        br = bracketed[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            x = b - fb * (b - a) / (fb - fa)
        bad = ~((x - np.minimum(a, b)) * (np.maximum(a, b) - x) > 0)
        x = np.where(br, np.where(bad, 0.5 * (a + b), x), trial[active])
        at_cap = np.zeros(active.size, dtype=np.bool_)
        fx, fitted = excess(V[active], Ht, module[active], x, warm[active],
                            alpha[active], ll_hat[active], scale[active], critical,
                            None if offset is None else offset[active], at_cap)
        # A warm start may lead a fit into a worse basin than the row's own start (the
        # negative-binomial likelihood is not concave in the mean where counts are
        # zero; a Poisson row's is, on a convex set, so it has one basin). A worse fit
        # can only make a share look outside, so that verdict is checked by a fit from
        # the row's own start, and the better fit kept.
        check = np.flatnonzero((fx > 0) & warmed[active] & (alpha[active] > 0))
        if check.size:
            rows = active[check]
            again_cap = np.zeros(check.size, dtype=np.bool_)
            f_own, own = excess(V[rows], Ht, module[rows], x[check], start[rows],
                                alpha[rows], ll_hat[rows], scale[rows], critical,
                                None if offset is None else offset[rows], again_cap)
            better = f_own < fx[check]
            fx[check[better]] = f_own[better]
            fitted[check[better]] = own[better]
            at_cap[check] = np.where(better, again_cap, at_cap[check])
        warm[active] = fitted
        warmed[active] = True
        if capped is not None:
            capped[active] |= at_cap
        outside = fx > 0
        # A bracket's update (regula falsi): the same end twice shrinks the other's
        # value (Anderson-Bjorck: by 1 - f(x) / f(the end x replaced), or by half where
        # that is not in (0, 1)).
        moved = np.where(outside, 1, -1).astype(np.int8)
        again = br & (side[active] == moved)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = 1.0 - fx / np.where(outside, fb, fa)
        m = np.where((m > 0) & (m < 1), m, 0.5)
        hi[active] = np.where(outside, x, b)
        f_hi[active] = np.where(outside, fx, np.where(again, m * fb, fb))
        before[active] = np.where(outside, before[active], a)
        f_before[active] = np.where(outside, f_before[active], fa)
        lo[active] = np.where(outside, a, x)
        f_lo[active] = np.where(outside, np.where(again, m * fa, fa), fx)
        side[active] = np.where(br, moved, 0)
        bracketed[active] = br | outside
        # Not yet bracketed: far found inside is the end; otherwise the next trial share.
        reached = ~br & ~outside & (x == far[active])
        end[active[reached]] = far[active[reached]]
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = (fx - f_before[active]) / (x - before[active])
            ahead = x - fx / slope
            rising = np.isfinite(ahead) & ((ahead - x) * (far[active] - x) > 0)
        nxt = x + np.where(rising, EXPAND * (ahead - x), x - inside[active])
        past = (nxt - far[active]) * (far[active] - inside[active]) >= 0
        trial[active] = np.where(past, far[active], nxt)
        at_root = np.abs(fx) <= tol
        end[active[at_root]] = x[at_root]
        done = (bracketed[active] & (np.abs(hi[active] - lo[active]) <= tol)) | at_root \
            | reached
        active = active[~done]
    return np.where(np.isnan(end), 0.5 * (lo + hi), end)
