"""Compiled inner loops of the Poisson NMF engine (numba, serial, deterministic).

Notation: ``V ~ Poisson(W H)`` with V (N, M), W (N, R), H (R, M) and the running
product ``WH`` (N, M) kept in memory and updated in place. The objective minimized is
the generalized KL divergence up to constants, ``f = sum_ij [(WH)_ij - V_ij log (WH)_ij]``
(so ``log L = -f - sum log V!``).

Cyclic coordinate descent (Hsieh & Dhillon 2011): one coordinate x (an entry of W or
H) at a time, all others fixed. With ``b_k`` the partner entries (a row of H for
``W_ir``, a column of W for ``H_rj``) the 1-D objective is

    phi(x + d) = sum_k [ b_k d - V_k log(WH_k + b_k d) ] + const,

which is convex. Its derivative and curvature at the current point are

    phi'  = sum_k b_k - sum_k b_k V_k / WH_k
    phi'' = sum_k b_k^2 V_k / WH_k^2,

and a projected Newton step is ``x <- max(eps, x - phi'/phi'')``. Safeguard: a step d
is accepted when the derivative at the trial point still points the same way
(``phi'(x + d) d <= 0``; by convexity phi then decreased along the whole segment).
The third derivative of phi is negative, so an upward Newton step never overshoots; a
downward one may, and then phi' is convex along the step, so the root of its chord
between 0 and d, ``d g0 / (g0 - g1)``, lies between x and the 1-D minimum: that point
is taken, with no logarithm to evaluate. Any other failure (roundoff) falls back to
the exact change ``sum_k [b_k d - V_k log(1 + b_k d / WH_k)]`` and step halving. So no
coordinate step lowers the likelihood.

All loops are serial with a fixed summation order, so results do not depend on the
number of threads.
"""

from __future__ import annotations

import math

import numpy as np

# numba is a hard dependency: a silent pure-Python fallback turned a broken numba import
# (e.g. a stray timeit.py on sys.path) into fits thousands of times slower, with no error.
from numba import njit


#: Halvings tried before a coordinate step is abandoned (d = 0 keeps phi unchanged).
MAX_HALVINGS = 30
#: Inner Newton iterations on one coordinate stop once |d| <= INNER_RTOL * x.
INNER_RTOL = 1e-6
#: ``error_model="numpy"`` on every kernel: Python's ZeroDivisionError check on each
#: division otherwise stops LLVM from vectorizing the division loops (no division here
#: can see a zero: products are floored at ``tiny``).
#: Floating-point flags: only FMA contraction. No "reassoc": every sum is accumulated
#: strictly in loop order (the per-column sums of the H kernel still vectorize across
#: columns without reordering any one sum), so results are bit-identical run to run.
#: "reassoc" would vectorize the row sums of the W kernel too (~15% faster sweeps at
#: 5000 x 200) at the price of that guarantee.
FASTMATH = {"contract"}

# ``tiny`` arguments: smallest value a product entry may take (guards log and division
# against roundoff); the smallest normal number of the working dtype.


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def product_loglik(V, W, H, WH, tiny):
    """Recompute ``WH = W @ H`` in place and return ``sum_ij [V log WH - WH]``.

    Parameters
    ----------
    V : ndarray (N, M)
    W : ndarray (N, R)
    H : ndarray (R, M)
    WH : ndarray (N, M), overwritten

    Returns
    -------
    float
        The log likelihood without the ``- sum log V!`` term.
    """
    N, M = V.shape
    R = W.shape[1]
    row = np.empty(M, dtype=np.float64)
    total = 0.0
    for i in range(N):
        # (WH)_i. = sum_r W_ir H_r.   (accumulated in float64, fixed order over r)
        for j in range(M):
            row[j] = 0.0
        for r in range(R):
            w = np.float64(W[i, r])
            for j in range(M):
                row[j] += w * H[r, j]
        # sum_j [V_ij log (WH)_ij - (WH)_ij]
        acc = 0.0
        for j in range(M):
            x = max(row[j], tiny)
            WH[i, j] = x
            x = np.float64(WH[i, j])  # the value actually stored (float32 tables)
            v = V[i, j]
            if v != 0:
                acc += v * math.log(x)
            acc -= x
        total += acc
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def update_W_rows(V, WH, W, H, eps, tiny, max_inner):
    """One cyclic Newton sweep over every entry of W, row by row; updates W and WH.

    Row i of W only touches row i of V and WH (contiguous), so the sweep is
    cache-friendly. The row of WH is held in a float64 buffer ``cur`` while its R
    entries are updated; a trial pass also accumulates the gradient sums of the next
    coordinate, so an accepted step costs one pass over the row. Returns the number of
    coordinate steps taken.
    """
    N, M = V.shape
    R = W.shape[1]
    # sum_j H_rj: the constant part of the gradient of W_ir
    hsum = np.zeros(R, dtype=np.float64)
    for r in range(R):
        acc = 0.0
        for j in range(M):
            acc += H[r, j]
        hsum[r] = acc
    cur = np.empty(M, dtype=np.float64)
    cand = np.empty(M, dtype=np.float64)
    steps = 0
    for i in range(N):
        # s1 = sum_j H_0j V_ij / WH_ij ; s2 = sum_j H_0j^2 V_ij / WH_ij^2
        s1 = 0.0
        s2 = 0.0
        for j in range(M):
            cur[j] = WH[i, j]
            inv = 1.0 / cur[j]
            q = H[0, j] * V[i, j] * inv
            s1 += q
            s2 += q * H[0, j] * inv
        for r in range(R):
            nxt = r + 1 if r + 1 < R else r
            x = np.float64(W[i, r])
            g = hsum[r] - s1  # phi'(x)
            fresh = True  # no step taken yet on this coordinate
            n1 = 0.0
            n2 = 0.0
            for _ in range(max_inner):
                # projected Newton step: x_new = max(eps, x - phi'/phi'')
                if s2 > 0.0:
                    x_new = max(x - g / s2, eps)
                else:
                    x_new = eps if g > 0.0 else x
                d = x_new - x
                if d == 0.0 or g * d >= 0.0:
                    break
                accepted = False
                t1 = 0.0
                t2 = 0.0
                u1 = 0.0
                u2 = 0.0
                secant = False
                for _h in range(MAX_HALVINGS):
                    # trial product cur_j + H_rj d: derivative/curvature there, for this
                    # coordinate (t) and the next one (u)
                    t1 = 0.0
                    t2 = 0.0
                    u1 = 0.0
                    u2 = 0.0
                    for j in range(M):
                        y = max(cur[j] + H[r, j] * d, tiny)
                        cand[j] = y
                        inv = 1.0 / y
                        p = V[i, j] * inv
                        q = H[r, j] * p
                        t1 += q
                        t2 += q * H[r, j] * inv
                        q = H[nxt, j] * p
                        u1 += q
                        u2 += q * H[nxt, j] * inv
                    g_new = hsum[r] - t1
                    if g_new * d <= 0.0 or secant:
                        # still descending at x + d, or the secant point: phi decreased
                        accepted = True
                    elif d < 0.0 and x + d > eps:
                        # overshoot downwards: phi' is convex along d, so the root of the
                        # chord of phi' between 0 and d lies before phi's minimum
                        d = d * g / (g - g_new)
                        secant = True
                        continue
                    else:
                        # exact 1-D change: sum_j [H_rj d - V_ij log(cand_j / cur_j)]
                        dphi = hsum[r] * d
                        for j in range(M):
                            v = V[i, j]
                            if v != 0:
                                dphi -= v * math.log(cand[j] / cur[j])
                        accepted = dphi <= 0.0
                    if accepted:
                        break
                    d *= 0.5
                if not accepted:
                    break
                # commit: x <- x + d, cur <- cand
                x = x + d
                cur, cand = cand, cur
                s1 = t1
                s2 = t2
                n1 = u1  # next coordinate's sums at the new cur
                n2 = u2
                g = hsum[r] - s1
                fresh = False
                steps += 1
                if abs(d) <= INNER_RTOL * x:
                    break
            W[i, r] = x
            if r + 1 < R:
                if fresh:
                    # no step taken: sums of the next coordinate from cur
                    s1 = 0.0
                    s2 = 0.0
                    for j in range(M):
                        inv = 1.0 / cur[j]
                        q = H[nxt, j] * V[i, j] * inv
                        s1 += q
                        s2 += q * H[nxt, j] * inv
                else:
                    s1 = n1
                    s2 = n2
        for j in range(M):
            WH[i, j] = cur[j]
    return steps


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def update_H_cols(V, WH, W, H, eps, tiny, max_inner):
    """One cyclic Newton sweep over every entry of H; updates H and WH.

    Entries ``H_r1 .. H_rM`` of one row are independent given the rest, so they are
    updated together, streaming through V and WH row by row (both stay row-major: no
    transposed copy of V is needed). Returns the number of coordinate steps taken.
    """
    N, M = V.shape
    R = W.shape[1]
    s1 = np.empty(M, dtype=np.float64)
    s2 = np.empty(M, dtype=np.float64)
    t1 = np.empty(M, dtype=np.float64)
    t2 = np.empty(M, dtype=np.float64)
    d = np.empty(M, dtype=np.float64)
    dphi = np.empty(M, dtype=np.float64)
    pending = np.zeros(M, dtype=np.bool_)
    needlog = np.zeros(M, dtype=np.bool_)
    moving = np.zeros(M, dtype=np.bool_)
    secant = np.zeros(M, dtype=np.bool_)
    resolved = np.zeros(M, dtype=np.bool_)
    n1 = np.empty(M, dtype=np.float64)
    n2 = np.empty(M, dtype=np.float64)
    have_next = False
    steps = 0
    for r in range(R):
        # sum_i W_ir: the constant part of the gradient of H_rj
        wsum = 0.0
        for i in range(N):
            wsum += W[i, r]
        if have_next:
            # sums of this row were accumulated by the previous row's commit pass
            s1[:] = n1
            s2[:] = n2
        else:
            # s1_j = sum_i W_ir V_ij / WH_ij ; s2_j = sum_i W_ir^2 V_ij / WH_ij^2
            s1[:] = 0.0
            s2[:] = 0.0
            for i in range(N):
                w = np.float64(W[i, r])
                for j in range(M):
                    inv = 1.0 / WH[i, j]
                    q = w * V[i, j] * inv
                    s1[j] += q
                    s2[j] += q * w * inv
        have_next = False
        nxt = r + 1 if r + 1 < R else r
        for _ in range(max_inner):
            # projected Newton step per column: d_j = max(eps, H_rj - phi'_j/phi''_j) - H_rj
            n_moving = 0
            for j in range(M):
                x = np.float64(H[r, j])
                g = wsum - s1[j]
                if s2[j] > 0.0:
                    x_new = max(x - g / s2[j], eps)
                else:
                    x_new = eps if g > 0.0 else x
                d[j] = x_new - x
                moving[j] = d[j] != 0.0 and g * d[j] < 0.0
                if not moving[j]:
                    d[j] = 0.0
                pending[j] = moving[j]
                if moving[j]:
                    n_moving += 1
            if n_moving == 0:
                break
            n_pending = n_moving
            secant[:] = False
            resolved[:] = False
            for _h in range(MAX_HALVINGS):
                # derivative and curvature at the trial points H_rj + d_j
                # (computed for every column, branch-free: a column already decided keeps
                # its d_j, so its sums come out the same again)
                t1[:] = 0.0
                t2[:] = 0.0
                for i in range(N):
                    w = np.float64(W[i, r])
                    for j in range(M):
                        inv = 1.0 / max(WH[i, j] + w * d[j], tiny)
                        q = w * V[i, j] * inv
                        t1[j] += q
                        t2[j] += q * w * inv
                n_log = 0
                for j in range(M):
                    needlog[j] = False
                    if pending[j]:
                        g_new = wsum - t1[j]
                        if g_new * d[j] > 0.0 and not secant[j]:  # overshot the minimum
                            if d[j] < 0.0 and np.float64(H[r, j]) + d[j] > eps:
                                # chord root of phi' (convex along d): before the minimum
                                g = wsum - s1[j]
                                d[j] = d[j] * g / (g - g_new)
                                secant[j] = True
                            else:
                                needlog[j] = True
                                dphi[j] = wsum * d[j]
                                n_log += 1
                if n_log > 0:
                    # exact 1-D change: sum_i [W_ir d_j - V_ij log(trial_ij / WH_ij)]
                    for i in range(N):
                        w = np.float64(W[i, r])
                        for j in range(M):
                            if needlog[j]:
                                v = V[i, j]
                                if v != 0:
                                    y = max(WH[i, j] + w * d[j], tiny)
                                    dphi[j] -= v * math.log(y / WH[i, j])
                for j in range(M):
                    if pending[j]:
                        if secant[j] and not resolved[j]:
                            resolved[j] = True  # evaluate the secant point next round
                        elif (not needlog[j]) or dphi[j] <= 0.0:
                            pending[j] = False
                            n_pending -= 1
                        else:
                            d[j] *= 0.5
                if n_pending == 0:
                    break
            for j in range(M):
                if pending[j]:  # no acceptable step found: leave this coordinate
                    pending[j] = False
                    moving[j] = False
                    d[j] = 0.0
            # commit: WH_ij <- WH_ij + W_ir d_j, H_rj <- H_rj + d_j; the same pass
            # accumulates the sums of the next row (r + 1) at the new WH
            n1[:] = 0.0
            n2[:] = 0.0
            for i in range(N):
                w = np.float64(W[i, r])
                wn = np.float64(W[i, nxt])
                for j in range(M):
                    # d_j = 0 where not moving: the entry is unchanged
                    y = max(WH[i, j] + w * d[j], tiny)
                    WH[i, j] = y
                    inv = 1.0 / np.float64(WH[i, j])
                    q = wn * V[i, j] * inv
                    n1[j] += q
                    n2[j] += q * wn * inv
            have_next = r + 1 < R
            done = True
            for j in range(M):
                if moving[j]:
                    x = np.float64(H[r, j]) + d[j]
                    H[r, j] = x
                    s1[j] = t1[j]
                    s2[j] = t2[j]
                    steps += 1
                    if abs(d[j]) > INNER_RTOL * x:
                        done = False
            if done:
                break
    return steps


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def kkt_violation(V, W, H, WH):
    """Largest scaled KKT violation ``max |min(x~, g~)|`` over all entries of W and H.

    With ``a`` the constant part and ``b`` the data part of a gradient (``grad = a - b``),
    the scaled gradient is ``g~ = 1 - b / a`` (0 at an interior stationary point, >= 0
    at an active bound). The scaled entry ``x~`` is W_ir / sum_i W_ir for W and the
    share ``W_.r H_rj / sum_r' (sum_i W_ir') H_r'j`` of sample j's expectation for H.
    Both are invariant to the ``W D, D^-1 H`` rescaling. ``WH`` must equal ``W @ H``.
    """
    N, M = V.shape
    R = W.shape[1]
    wsum = np.zeros(R)
    hsum = np.zeros(R)
    for r in range(R):
        for i in range(N):
            wsum[r] += W[i, r]
        for j in range(M):
            hsum[r] += H[r, j]
    bH = np.zeros((R, M))
    worst = 0.0
    ratio = np.empty(M)
    for i in range(N):
        for j in range(M):
            ratio[j] = V[i, j] / WH[i, j]
        for r in range(R):
            bw = 0.0
            w = np.float64(W[i, r])
            for j in range(M):
                bw += H[r, j] * ratio[j]
                bH[r, j] += w * ratio[j]
            g = 1.0 - bw / hsum[r]
            viol = abs(min(w / wsum[r], g))
            if viol > worst:
                worst = viol
    for j in range(M):
        col = 0.0
        for r in range(R):
            col += wsum[r] * H[r, j]
        for r in range(R):
            g = 1.0 - bH[r, j] / wsum[r]
            viol = abs(min(wsum[r] * H[r, j] / col, g))
            if viol > worst:
                worst = viol
    return worst
