"""Compiled inner loops of the Poisson NMF engine (numba, serial, deterministic).

Notation: ``V ~ Poisson(W H)`` with V (N, M), W (N, R), H (R, M) and the running
product ``WH`` (N, M) kept in memory and updated in place. The objective minimized is
the generalized KL divergence up to constants, ``f = sum_ij [(WH)_ij - V_ij log (WH)_ij]``
(so ``log L = -f - sum log V!``).

Cyclic coordinate descent (Hsieh & Dhillon 2011): one coordinate x (an entry of W or
H) at a time, all others fixed. With ``b_k`` the partner entries (a row of H for
``W_ir``, a column of W for ``H_rj``) the 1-D objective is

    phi(x + t) = sum_k [ b_k t - V_k log(WH_k + b_k t) ] + const,

which is convex, with

    g = phi'(x) = sum_k b_k - sum_k b_k V_k / WH_k
    phi''(x)    = sum_k b_k^2 V_k / WH_k^2
    phi'''      = -2 sum_k b_k^3 V_k / (WH_k + b_k t)^3 < 0.

Each coordinate takes one step that provably does not increase phi, so no trial
evaluation is needed and a coordinate costs one pass over its data, which also
accumulates the sums of the next coordinate at the new point:

* g < 0 (move up): the Newton step ``t = -g / phi''``. Along it phi'' only decreases
  (phi''' < 0), so ``phi'(x + t) <= g + phi''(x) t = 0``: the step stops at or before
  the 1-D minimum and phi decreases along all of it.
* g > 0 (move down): a Newton step may overshoot (phi'' grows on the way down). With
  ``c = max_k b_k / WH_k`` over the entries with ``V_k > 0``, every such product stays
  above ``WH_k (1 - c s)`` on ``[x - s, x]``, so phi'' there is at most
  ``L(s) = phi''(x) / (1 - c s)^2``. The step ``s = g / L(s)``, the smaller root of
  ``s = a (1 - c s)^2`` with ``a = g / phi''(x)``,

      s = 2 a / (2 a c + 1 + sqrt(4 a c + 1)),

  minimizes that quadratic upper bound (majorization-minimization), so
  ``phi(x - s) <= phi(x) - g s / 2``. Where no product would shrink much (c s small) it
  is the Newton step; where one would, it is damped just enough.
* Either step is then projected on ``x >= eps``, which only shortens it.

This replaced a safeguarded Newton step (a trial pass, then a secant pass for almost
every row, since a downward Newton step always overshoots): one pass per row instead of
two, and fewer sweeps. The exercise table's R = 2..7 sweep (10 restarts each) went from
19 s to under 5 s on one core (benchmarks/RESULTS.md).

All loops are serial with a fixed summation order, so results do not depend on the
number of threads. The parallel kernels (:func:`update_blocks_parallel`, and
:func:`moonlight._sparse_kernels.sparse_update_blocks_parallel` for sparse V, whose
kernels are in :mod:`moonlight._sparse_kernels`) run independent rows of the serial
code side by side, which gives the same bytes.
"""

from __future__ import annotations

import math

import numpy as np

# numba is a hard dependency: a silent pure-Python fallback turned a broken numba import
# (e.g. a stray timeit.py on sys.path) into fits thousands of times slower, with no error.
from numba import njit, prange, types
from numba.extending import intrinsic


#: ``error_model="numpy"`` on every kernel: Python's ZeroDivisionError check on each
#: division otherwise stops LLVM from vectorizing the division loops (no division here
#: can see a zero: products are floored at ``tiny``).
#: Floating-point flags: only FMA contraction. No "reassoc": every sum is accumulated
#: strictly in loop order (the per-column sums of the H kernel still vectorize across
#: columns without reordering any one sum), so results are bit-identical run to run.
FASTMATH = {"contract"}

# ``tiny`` arguments: smallest value a product entry may take (guards log and division
# against roundoff); the smallest normal number of the working dtype.


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def coordinate_step(x, g, curvature, c, eps):
    """The change of one coordinate at x (see the module docstring); never raises phi.

    ``g`` and ``curvature`` are phi' and phi'' at x, ``c = max_k b_k / WH_k`` over the
    entries with ``V_k > 0``, and ``eps`` the floor of every factor entry. The caller
    stores ``max(x + d, eps)``: when the step goes to the floor, ``x + (eps - x)`` can
    round to 0.
    """
    if g < 0.0:
        return -g / curvature  # upward Newton step (curvature >= g^2 / sum V > 0)
    if g > 0.0:
        if curvature > 0.0:
            a = g / curvature
            ac = a * c
            s = 2.0 * a / (2.0 * ac + 1.0 + math.sqrt(4.0 * ac + 1.0))
        else:
            s = x  # no data: phi is linear and increasing, go to the floor
        return min(max(x - s, eps) - x, 0.0)
    return 0.0


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def loglik_terms(V, WH, log_WH, mask):
    """``sum_ij m_ij [V_ij log WH_ij - WH_ij]``, accumulated in a fixed order.

    Parameters
    ----------
    V : ndarray (n, M)
        Counts; 0 wherever the mask is 0.
    WH : ndarray (n, M)
        The product (floored at ``tiny``, so its logarithm is finite).
    log_WH : float64 ndarray (n, M)
        ``log(WH)``, computed by :func:`log_into`.
    mask : ndarray (n, M) of 0/1 weights, or None (every entry counts)
    """
    # one running sum per column (independent, so the loop vectorizes without reordering
    # any sum), then the column sums in order
    acc = np.zeros(V.shape[1], dtype=np.float64)
    loglik_columns(V, WH, log_WH, mask, acc)
    return ordered_sum(acc)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def loglik_columns(V, WH, log_WH, mask, acc):
    """Add ``sum_i m_ij [V_ij log WH_ij - WH_ij]`` of every column j to ``acc[j]`` (M,),
    each sum in row order: :func:`loglik_terms` before its total, for a table held in
    blocks of columns."""
    n, M = V.shape
    for i in range(n):
        for j in range(M):
            if mask is None:
                acc[j] += V[i, j] * log_WH[i, j] - WH[i, j]
            else:
                acc[j] += mask[i, j] * (V[i, j] * log_WH[i, j] - WH[i, j])


@intrinsic
def _float_bits(typingctx, x):
    """The bits of a float64 as an int64 (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_float(typingctx, bits):
    """The float64 whose bits an int64 holds (a bit cast, no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


# fdlibm's e_log.c (Sun Microsystems, 1993): ln 2 in two parts (k * _LN2_HI is exact for
# |k| < 2^11) and the minimax polynomial of log(1 + f) on |s| < 0.1716, s = f / (2 + f)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
#: The bits of sqrt(1/2): x = 2^k z with z in [sqrt(1/2), sqrt(2)).
_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD
_EXPONENT_BITS = -(1 << 52)  # 0xFFF0000000000000
#: 2^52 + 1024 as a float and its bits: float(k) = float(bits(k + 1024 + 2^52)) - that,
#: exact for -1024 <= k < 2^52 - 1024 (a normal double gives -1022 <= k <= 1024), with no
#: int64-to-float conversion (which AVX2 lacks in vectors).
_MAGIC = 4503599627371520.0
_MAGIC_BITS = 0x4330000000000000 + 1024


@njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def _log(x):
    """log(x) for a positive, normal, finite float64, within 1 ulp: fdlibm's method
    (Sun's e_log.c) with its special cases left out, so that a loop of it vectorizes."""
    bits = _float_bits(x)
    shifted = bits - _SQRT_HALF_BITS
    k = _bits_float((shifted >> 52) + _MAGIC_BITS) - _MAGIC
    f = _bits_float(bits - (shifted & _EXPONENT_BITS)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    half_f2 = 0.5 * f * f
    return k * _LN2_HI - ((half_f2 - (s * (half_f2 + t1 + t2) + k * _LN2_LO)) - f)


def log_into(x, out):
    """``out[...] = log(x)`` in float64, for a 1-D or 2-D array ``x`` (any layout) of
    positive, normal, finite entries (a product floored at ``tiny``) and a contiguous
    ``out`` of its shape.

    The sweeps' log likelihood takes one logarithm per entry of the product (per
    nonzero of a sparse V). NumPy's float64 ``log`` is vectorized only for AVX-512;
    this loop vectorizes with AVX2 too (benchmarks/RESULTS.md, section 10) and is within
    1 ulp of the C library's log. Every entry takes the same operations, so a value
    does not depend on its position. Zero, infinite or NaN entries give finite nonsense,
    not -inf, inf or NaN: no caller passes one (products are floored at ``tiny``).
    """
    if x.shape != out.shape:
        raise ValueError(f"log_into: x has shape {x.shape} but out {out.shape}")
    if x.ndim == 1:
        x, out = x.reshape(1, -1), out.reshape(1, -1)
    log_rows(x, out)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def log_rows(x, out):
    """:func:`log_into` of a 2-D array (the compiled loop)."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = _log(np.float64(x[i, j]))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def ordered_sum(x):
    """``x_0 + x_1 + ...`` from 0.0, in index order."""
    total = 0.0
    for k in range(x.size):
        total += x[k]
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def product(W, H, WH, tiny):
    """Recompute ``WH = max(W @ H, tiny)`` in place (no logarithms: for extrapolated points)."""
    N, M = WH.shape
    R = W.shape[1]
    row = np.empty(M, dtype=np.float64)
    for i in range(N):
        for j in range(M):
            row[j] = 0.0
        for r in range(R):
            w = np.float64(W[i, r])
            for j in range(M):
                row[j] += w * H[r, j]
        for j in range(M):
            WH[i, j] = max(row[j], tiny)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def extrapolate(X, X_prev, beta, eps, out):
    """``out = max(eps, X + beta (X - X_prev))``: a step further along the last sweep."""
    Xf = X.ravel()
    Pf = X_prev.ravel()
    Of = out.ravel()
    for k in range(Xf.size):
        Of[k] = max(Xf[k] + beta * (Xf[k] - Pf[k]), eps)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def rescale_columns(W, H):
    """``W <- W D^-1, H <- D H`` with ``D = diag(sum_i W_ir)``, in place (WH unchanged)."""
    N, R = W.shape
    scale = np.zeros(R, dtype=np.float64)
    for i in range(N):
        for r in range(R):
            scale[r] += W[i, r]
    for i in range(N):
        for r in range(R):
            W[i, r] = W[i, r] / scale[r]
    for r in range(R):
        for j in range(H.shape[1]):
            H[r, j] = H[r, j] * scale[r]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _column_weights(W, r, mask, out):
    """``out_j = sum_i m_ij W_ir``: the constant part of the gradient of ``H_rj``.

    ``mask`` is None (every entry counts) or an (N, M) array of 0/1 weights.
    """
    N = W.shape[0]
    if mask is None:
        acc = 0.0
        for i in range(N):
            acc += W[i, r]
        out[:] = acc
    else:
        out[:] = 0.0
        for i in range(N):
            w = np.float64(W[i, r])
            for j in range(out.size):
                out[j] += mask[i, j] * w


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _column_sums(V, WH, W, r, d, tiny, rn, s1, s2, c):
    """Commit row r's steps (``WH_ij += W_ir d_j``) and gather row rn's sums at the new WH.

    Per column j: ``s1_j = sum_i W_i,rn V_ij / WH_ij``, ``s2_j = sum_i W_i,rn^2 V_ij /
    WH_ij^2`` (phi'') and ``c_j = max W_i,rn / WH_ij`` over ``V_ij > 0``. With ``r < 0``
    nothing is committed.
    """
    N, M = V.shape
    s1[:] = 0.0
    s2[:] = 0.0
    c[:] = 0.0
    for i in range(N):
        w = np.float64(W[i, r]) if r >= 0 else 0.0
        wn = np.float64(W[i, rn])
        for j in range(M):
            y = max(WH[i, j] + w * d[j], tiny)
            WH[i, j] = y
            inv = 1.0 / y
            v = V[i, j]
            q = wn * v * inv
            s1[j] += q
            s2[j] += q * wn * inv
            c[j] = max(c[j], wn * inv if v > 0 else 0.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def update_H_cols(V, WH, W, H, eps, tiny, mask):
    """One cyclic coordinate sweep over every entry of H, row by row; updates H and WH.

    Entries ``H_r1 .. H_rM`` of one row are independent given the rest, so they step
    together. One pass over V and WH per row commits the steps into WH and gathers the
    next row's sums at the new point; every per-column sum runs across the inner loop
    over columns, which therefore vectorizes with no reordering of any sum. With
    ``mask`` (0/1 weights, (N, M)), entries of weight 0 drop out of every sum; V must be
    0 there. Returns the number of coordinates that moved.

    Applied to the transposed problem ``V^T ~ H^T W^T`` the same kernel updates W.
    """
    N, M = V.shape
    R = W.shape[1]
    wsum = np.empty(M, dtype=np.float64)
    s1 = np.empty(M, dtype=np.float64)
    s2 = np.empty(M, dtype=np.float64)
    c = np.empty(M, dtype=np.float64)
    d = np.zeros(M, dtype=np.float64)
    _column_sums(V, WH, W, -1, d, tiny, 0, s1, s2, c)
    moved = 0
    for r in range(R):
        # wsum_j = sum_i m_ij W_ir: the constant part of the gradient of H_rj
        _column_weights(W, r, mask, wsum)
        for j in range(M):
            x = np.float64(H[r, j])
            d[j] = coordinate_step(x, wsum[j] - s1[j], s2[j], c[j], eps)
            if d[j] != 0.0:
                H[r, j] = max(x + d[j], eps)  # x + (eps - x) may round below eps
                moved += 1
        if r + 1 < R:
            _column_sums(V, WH, W, r, d, tiny, r + 1, s1, s2, c)
        else:
            for i in range(N):
                w = np.float64(W[i, r])
                for j in range(M):
                    WH[i, j] = max(WH[i, j] + w * d[j], tiny)
    return moved


#: Partial sums per vector reduction in the cache-blocked kernels: a sum along a row of
#: V is accumulated in LANES interleaved partial sums (entry k into partial k mod LANES),
#: then the partials are added in lane order. The order is fixed by the code (not by the
#: machine or by numba's choices), so results stay the same to the bit run to run, and
#: the independent partials let the loop vectorize without "reassoc". 16 = two AVX-512
#: or four AVX2 vectors of float64 in flight (8 ran at 1.65 ns per entry, 16 at 0.68).
LANES = 16


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _lane(v, y, b, d, bn, tiny, a1, a2, a3, k, l):
    """Entry k of :func:`_row_sums`, into partial sum l."""
    yk = max(y[k] + b[k] * d, tiny)
    y[k] = yk
    inv = 1.0 / yk
    vk = v[k]
    bk = np.float64(bn[k])
    q = bk * vk * inv
    a1[l] += q
    a2[l] += q * bk * inv
    a3[l] = max(a3[l], bk * inv if vk > 0 else 0.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _row_sums(v, y, b, d, bn, tiny):
    """Commit one step into a row of the product and gather the next coordinate's sums.

    ``y_k <- max(y_k + b_k d, tiny)``, then at the new y, over k: ``s1 = sum bn_k v_k /
    y_k``, ``s2 = sum bn_k^2 v_k / y_k^2`` and ``c = max bn_k / y_k`` over ``v_k > 0``.
    Sums in :data:`LANES` interleaved partials. Returns (s1, s2, c). A held-out entry
    (``v_k`` = 0) adds to none of them, so a masked block needs no mask here: only its
    constant parts differ (:func:`_masked_partner_sums`).
    """
    n = v.size
    # fresh arrays: the compiler then knows they alias nothing and keeps them in registers
    a1 = np.zeros(LANES)
    a2 = np.zeros(LANES)
    a3 = np.zeros(LANES)
    full = n - n % LANES
    for k0 in range(0, full, LANES):
        for l in range(LANES):  # a fixed count: unrolled and vectorized
            _lane(v, y, b, d, bn, tiny, a1, a2, a3, k0 + l, l)
    for k in range(full, n):
        _lane(v, y, b, d, bn, tiny, a1, a2, a3, k, k - full)
    s1 = 0.0
    s2 = 0.0
    c = 0.0
    for l in range(LANES):
        s1 += a1[l]
        s2 += a2[l]
        c = max(c, a3[l])
    return s1, s2, c


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _masked_partner_sums(m, B, const):
    """``const_r = sum_k m_k B_rk`` into ``const`` (R,): the constant parts of the
    gradients of one masked block (a row of W or a column of H), whose 0/1 weights ``m``
    (n,) differ from block to block. Summed in :data:`LANES` interleaved partials, in a
    pass of its own: read inside :func:`_row_sums`, the mask kept that loop from
    vectorizing, and a masked sweep took six times an unmasked one."""
    R, n = B.shape
    full = n - n % LANES
    a0 = np.empty(LANES)
    for r in range(R):
        b = B[r]
        a0[:] = 0.0
        for k0 in range(0, full, LANES):
            for l in range(LANES):
                a0[l] += m[k0 + l] * np.float64(b[k0 + l])
        for k in range(full, n):
            a0[k - full] += m[k] * np.float64(b[k])
        s0 = 0.0
        for l in range(LANES):
            s0 += a0[l]
        const[r] = s0


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _step_block(v, y, B, x, const, eps, tiny):
    """All R coordinates of one block (a column of H or a row of W), cyclically, with its
    data in cache; updates x (R,) and the block's product y in place.

    ``v`` (n,) is the block's data (0 where held out), ``y`` (n,) the product at the
    current point, ``B`` (R, n) the partner rows (row r pairs with x_r), ``const`` (R,)
    the constant parts of the gradients (a masked block's own:
    :func:`_masked_partner_sums`). Each step is :func:`coordinate_step`, committed into
    y in the pass that gathers the next coordinate's sums. Returns the steps that moved.
    """
    R = x.size
    moved = 0
    d = 0.0
    for r in range(R):
        # commit coordinate r-1's step (none for r = 0) and gather coordinate r's sums
        s1, s2, c = _row_sums(v, y, B[r - 1] if r > 0 else B[0], d, B[r], tiny)
        xr = np.float64(x[r])
        d = coordinate_step(xr, const[r] - s1, s2, c, eps)
        if d != 0.0:
            x[r] = max(xr + d, eps)  # x + (eps - x) may round below eps
            moved += 1
    if d != 0.0:
        b = B[R - 1]
        for k in range(y.size):
            y[k] = max(y[k] + b[k] * d, tiny)
    return moved


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def block_product(x, B, y, tiny):
    """``y = max(x @ B, tiny)``: one row (or column) of the product, from scratch."""
    y[:] = 0.0
    for r in range(x.size):
        xr = np.float64(x[r])
        for k in range(y.size):
            y[k] += xr * B[r, k]
    for k in range(y.size):
        y[k] = max(y[k], tiny)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def update_blocks(V, A, B, eps, tiny, mask, WH):
    """One cache-blocked coordinate sweep over every entry of A (n, R) in ``V ~ A B``.

    With B fixed the objective separates over the rows of A: row i sees only row i of V
    (contiguous) and of the product. So each row takes all its R coordinate steps while
    its data stay in cache (:func:`_step_block`), starting from its product recomputed
    from A and B: one pass over V per half-sweep, where :func:`update_H_cols` makes R.
    ``V ~ W H`` gives the W half (A = W, B = H); the transposed problem ``V^T ~ H^T W^T``
    (A = H^T, B = W^T, V^T a C-contiguous copy) gives the H half.

    Parameters
    ----------
    V : ndarray (n, k)
        Counts, C-contiguous (0 where ``mask`` is 0).
    A : ndarray (n, R)
        The factor swept, updated in place (may be a transposed view).
    B : ndarray (R, k)
        The partner factor (rows contiguous).
    eps, tiny : float
    mask : ndarray (n, k) of 0/1 weights, or None
    WH : ndarray (n, k) or None
        When given, receives the product ``A B`` as each row finishes (the kept product
        for log L).

    Returns the number of coordinate steps that moved.
    """
    return _update_block_rows(V, A, B, _partner_sums(B, mask), eps, tiny, mask, WH, 0,
                              V.shape[0])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _partner_sums(B, mask):
    """``const_r = sum_j B_rj`` (the constant parts of the gradients; zeros when a mask is
    given: each block then has its own, :func:`_masked_partner_sums`)."""
    R, k = B.shape
    const = np.zeros(R, dtype=np.float64)
    if mask is None:
        for r in range(R):
            acc = 0.0
            for j in range(k):
                acc += B[r, j]
            const[r] = acc
    return const


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _update_block_rows(V, A, B, const, eps, tiny, mask, WH, first, last):
    """Rows ``first:last`` of :func:`update_blocks`, given its constants."""
    k = V.shape[1]
    R = A.shape[1]
    y = np.empty(k, dtype=np.float64)
    x = np.empty(R, dtype=np.float64)
    own = np.empty(R, dtype=np.float64)
    moved = 0
    for i in range(first, last):
        for r in range(R):
            x[r] = A[i, r]
        block_product(x, B, y, tiny)
        # two calls, not one with an optional row of the mask: numba then compiles each
        # with no test of the mask inside its loops
        if mask is None:
            moved += _step_block(V[i], y, B, x, const, eps, tiny)
        else:
            _masked_partner_sums(mask[i], B, own)
            moved += _step_block(V[i], y, B, x, own, eps, tiny)
        for r in range(R):
            A[i, r] = x[r]
        if WH is not None:
            for j in range(k):
                WH[i, j] = y[j]
    return moved


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def update_blocks_parallel(V, A, B, eps, tiny, mask, WH, bounds):
    """:func:`update_blocks` with the rows split into parts at ``bounds`` (P + 1
    increasing row indices from 0 to n), run side by side by numba's threads. Rows are
    independent given B and each runs the serial code, so the result is the serial
    sweep's, bit for bit, whatever the parts and threads."""
    const = _partner_sums(B, mask)
    parts = bounds.size - 1
    moved = np.zeros(parts, dtype=np.int64)
    for p in prange(parts):
        moved[p] = _update_block_rows(V, A, B, const, eps, tiny, mask, WH, bounds[p],
                                      bounds[p + 1])
    total = 0
    for p in range(parts):
        total += moved[p]
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def update_W_rows(V, WH, W, H, eps, tiny, mask):
    """One cyclic coordinate sweep over every entry of W, gene by gene; updates W and WH.

    Row i of W only touches row i of V and WH (contiguous): its R coordinates step one
    after another, each followed by one pass over the row that commits the step and
    gathers the next coordinate's sums. With ``mask`` (0/1 weights, (N, M)), entries of
    weight 0 drop out of every sum; V must be 0 there. Returns the number of
    coordinates that moved.

    The sums run along a row, so unlike :func:`update_H_cols` the inner loop does not
    vectorize; it needs no transposed copy of V and WH, and serves tables too large for
    one (see ``moonlight.nmf``).
    """
    N, M = V.shape
    R = W.shape[1]
    # hsum_r = sum_j m_ij H_rj: the constant part of the gradient of W_ir
    hsum = np.zeros(R, dtype=np.float64)
    if mask is None:
        for r in range(R):
            acc = 0.0
            for j in range(M):
                acc += H[r, j]
            hsum[r] = acc
    cur = np.empty(M, dtype=np.float64)
    moved = 0
    for i in range(N):
        if mask is not None:
            for r in range(R):
                acc = 0.0
                for j in range(M):
                    acc += mask[i, j] * H[r, j]
                hsum[r] = acc
        for j in range(M):
            cur[j] = WH[i, j]
        d = 0.0
        for r in range(-1, R):
            # commit coordinate r's step into the row (none for r = -1) and gather the
            # sums of coordinate r + 1 at the new point
            if r + 1 < R:
                rn = r + 1
                s1 = 0.0
                s2 = 0.0
                c = 0.0
                for j in range(M):
                    y = max(cur[j] + H[r, j] * d, tiny) if r >= 0 else cur[j]
                    cur[j] = y
                    inv = 1.0 / y
                    v = V[i, j]
                    q = H[rn, j] * v * inv
                    s1 += q
                    s2 += q * H[rn, j] * inv
                    if v > 0:
                        c = max(c, H[rn, j] * inv)
                x = np.float64(W[i, rn])
                d = coordinate_step(x, hsum[rn] - s1, s2, c, eps)
                if d != 0.0:
                    W[i, rn] = max(x + d, eps)  # x + (eps - x) may round below eps
                    moved += 1
            elif d != 0.0:
                for j in range(M):
                    cur[j] = max(cur[j] + H[r, j] * d, tiny)
        for j in range(M):
            WH[i, j] = cur[j]
    return moved


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
    # one sample's R entries side by side: the R sums of a row of W run as R
    # independent chains (each in sample order, as one at a time would), so they
    # overlap instead of waiting on each other's additions
    Ht = np.ascontiguousarray(H.T)
    bHt = np.zeros((M, R))
    bw = np.empty(R)
    w = np.empty(R)
    worst = 0.0
    for i in range(N):
        for r in range(R):
            bw[r] = 0.0
            w[r] = W[i, r]
        for j in range(M):
            ratio = np.float64(V[i, j] / WH[i, j])  # float32 input: the quotient's own
            for r in range(R):
                bw[r] += Ht[j, r] * ratio
                bHt[j, r] += w[r] * ratio
        for r in range(R):
            g = 1.0 - bw[r] / hsum[r]
            viol = abs(min(w[r] / wsum[r], g))
            if viol > worst:
                worst = viol
    for j in range(M):
        col = 0.0
        for r in range(R):
            col += wsum[r] * H[r, j]
        for r in range(R):
            g = 1.0 - bHt[j, r] / wsum[r]
            viol = abs(min(wsum[r] * H[r, j] / col, g))
            if viol > worst:
                worst = viol
    return worst
