"""Compiled inner loops of the Poisson NMF engine for sparse V (numba, serial,
deterministic): the coordinate steps of :mod:`moonlight._kernels` over the nonzero
entries only. The step, its guarantee and the determinism rules are those of
:mod:`moonlight._kernels`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._kernels import FASTMATH, block_product, coordinate_step


# ----------------------------------------------------------------------------------------
# Sparse V: the same coordinate steps over the nonzero entries only
# ----------------------------------------------------------------------------------------
#
# V is held in compressed-column form (indptr, indices, data) of shape (n_A, n_B): the
# nonzeros of column j are data[indptr[j]:indptr[j+1]] at rows indices[...], rows in
# increasing order. The model is V ~ Poisson(A B) with A (n_A, R) and B (R, n_B), and
# the product is kept at the nonzeros only, ``WH[k] = (A B)_{indices[k], j}``. For
# V (genes x samples) in CSC form, A = W and B = H; for V in CSR form the arrays are
# the CSC form of V^T, A = H^T and B = W^T (transposed views).
#
# An entry with V_ij = 0 adds nothing to the data sums of any gradient or curvature
# (it enters phi only through ``sum_k b_k t``), so those sums run over the nonzeros
# only: the dense kernels' steps, with the sums taken in another order (interleaved
# partials over the nonzeros, :func:`_nonzero_sums`), so equal to them up to rounding.
# The constant part of a gradient, sum_i m_ij A_ir over the entries that count, is
# passed in as a small table ``const`` (G, R) with a group per compressed row,
# ``group``: one row when every entry counts, one per group of a block design that
# holds out whole blocks (cross-validation). The likelihood's ``sum_ij (AB)_ij`` is
# separable, ``sum_r (sum_i A_ir)(sum_j B_rj)``, so no kernel needs the product at the
# zeros.
#
# The sweeps are cache-blocked (:func:`sparse_update_blocks`): the H half runs over V
# compressed by samples, the W half over V compressed by genes (a copy of the other
# orientation, made once per problem), each row of the factor swept taking all its R
# steps in one pass over its nonzeros.


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def grouped_column_sums(A, group, excluded, n_groups):
    """``out[g, r] = sum_i A_ir`` over the rows with ``group[i] != excluded[g]``.

    Sums run in row order (as the dense kernels'), so with nothing excluded (``excluded
    = [-1]``) ``out[0]`` equals their column sums bit for bit. ``excluded`` has one entry
    per output row; ``n_groups`` is its length.
    """
    N, R = A.shape
    out = np.zeros((n_groups, R), dtype=np.float64)
    for g in range(n_groups):
        e = excluded[g]
        for i in range(N):
            if group[i] != e:
                for r in range(R):
                    out[g, r] += A[i, r]
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def sparse_product(indptr, indices, A, B, WH, tiny):
    """``WH[k] = max((A B)_{i j}, tiny)`` at every stored entry k = (i, j)."""
    R = A.shape[1]
    for j in range(indptr.size - 1):
        for k in range(indptr[j], indptr[j + 1]):
            i = indices[k]
            acc = 0.0
            for r in range(R):
                acc += np.float64(A[i, r]) * B[r, j]
            WH[k] = max(acc, tiny)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def sparse_loglik_terms(data, log_WH):
    """``sum_k data_k log_WH_k`` in index order (the data part of log L at the nonzeros)."""
    total = 0.0
    for k in range(data.size):
        total += data[k] * log_WH[k]
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def column_totals(indptr, indices, data, n_rows, compressed):
    """Sums of the stored values along the compressed axis (``compressed``: one total per
    column) or along the other (one per row), each accumulated in increasing index order."""
    if compressed:
        out = np.zeros(indptr.size - 1, dtype=np.float64)
        for j in range(indptr.size - 1):
            for k in range(indptr[j], indptr[j + 1]):
                out[j] += data[k]
    else:
        out = np.zeros(n_rows, dtype=np.float64)
        for j in range(indptr.size - 1):
            for k in range(indptr[j], indptr[j + 1]):
                out[indices[k]] += data[k]
    return out


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _nonzero_lane(v, w, k, s1, s2, c):
    """Entry k of :func:`_nonzero_sums` added to one lane's partials (s1, s2, c)."""
    wk = w[k]
    vk = v[k]
    t = vk * wk
    return s1 + t, s2 + t * wk, max(c, wk if vk > 0 else 0.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _nonzero_sums(v, y, b, d, bn, tiny, w):
    """:func:`_row_sums` without a mask, for the rows of a sparse matrix.

    The same commit (``y_k <- max(y_k + b_k d, tiny)``) and sums, in two loops: the
    commit with ``w_k = bn_k / y_k`` into scratch (``w``, at least n long), which
    vectorizes (it sums nothing); then ``s1 = sum v_k w_k``, ``s2 = sum v_k w_k^2`` and
    ``c = max w_k`` over ``v_k > 0`` in 8 interleaved partials held in scalar variables
    (entry k into partial k mod 8, the last n mod 8 entries into partial 0, the
    partials added pairwise in a fixed tree): no scratch partials to allocate per call,
    which at a column of ~130 nonzeros (a cell's genes) cost as much as the sums. 0.5 ns
    per entry on long rows and 0.85 on rows of 127, against 1.2 and 2.4 for
    :func:`_row_sums` (which vectorizes neither loop here). Inlined into its caller:
    at a cell's ~130 nonzeros the call itself cost 15% of the H half. Returns (s1, s2, c).
    """
    n = v.size
    for k in range(n):
        yk = max(y[k] + b[k] * d, tiny)
        y[k] = yk
        w[k] = bn[k] / yk
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    q0 = q1 = q2 = q3 = q4 = q5 = q6 = q7 = 0.0
    c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0
    full = n - n % 8
    for k in range(0, full, 8):
        p0, q0, c0 = _nonzero_lane(v, w, k, p0, q0, c0)
        p1, q1, c1 = _nonzero_lane(v, w, k + 1, p1, q1, c1)
        p2, q2, c2 = _nonzero_lane(v, w, k + 2, p2, q2, c2)
        p3, q3, c3 = _nonzero_lane(v, w, k + 3, p3, q3, c3)
        p4, q4, c4 = _nonzero_lane(v, w, k + 4, p4, q4, c4)
        p5, q5, c5 = _nonzero_lane(v, w, k + 5, p5, q5, c5)
        p6, q6, c6 = _nonzero_lane(v, w, k + 6, p6, q6, c6)
        p7, q7, c7 = _nonzero_lane(v, w, k + 7, p7, q7, c7)
    for k in range(full, n):
        p0, q0, c0 = _nonzero_lane(v, w, k, p0, q0, c0)
    s1 = ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))
    s2 = ((q0 + q1) + (q2 + q3)) + ((q4 + q5) + (q6 + q7))
    c = max(max(max(c0, c1), max(c2, c3)), max(max(c4, c5), max(c6, c7)))
    return s1, s2, c


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _sparse_block(lo, hi, indices, data, Bt, const_row, x, y, flat, w, eps, tiny):
    """All R coordinates of one compressed row (its nonzeros ``lo:hi``), in cache.

    Gathers the partner entries at the row's nonzeros into a contiguous (R, n) block
    (``flat`` is scratch of at least R n entries), recomputes the row's product ``y``
    (n,) from x and that block, then takes the R steps of :func:`_step_block` (each
    :func:`coordinate_step`, committed into y in the pass that gathers the next
    coordinate's sums, :func:`_nonzero_sums`), over the nonzeros only: a zero adds
    nothing to any sum. ``w`` is scratch of at least n entries (for
    :func:`_nonzero_sums`). Updates x and y in place; returns the steps that moved.
    """
    n = hi - lo
    R = x.size
    B = flat[: R * n].reshape((R, n))
    for t in range(n):
        col = indices[lo + t]
        for r in range(R):
            B[r, t] = Bt[col, r]
    block_product(x, B, y, tiny)
    v = data[lo:hi]
    moved = 0
    d = 0.0
    for r in range(R):
        # commit coordinate r-1's step (none for r = 0) and gather coordinate r's sums
        s1, s2, c = _nonzero_sums(v, y, B[r - 1] if r > 0 else B[0], d, B[r], tiny, w)
        xr = np.float64(x[r])
        d = coordinate_step(xr, const_row[r] - s1, s2, c, eps)
        if d != 0.0:
            x[r] = max(xr + d, eps)  # x + (eps - x) may round below eps
            moved += 1
    if d != 0.0:
        b = B[R - 1]
        for k in range(n):
            y[k] = max(y[k] + b[k] * d, tiny)
    return moved


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def sparse_update_blocks(indptr, indices, data, A, Bt, const, group, eps, tiny, WH,
                         first, last):
    """One cache-blocked coordinate sweep over rows ``first:last`` of A (n_A, R) in
    ``V ~ A B``, with V compressed along the rows of A (row i's nonzeros are
    ``indptr[i]:indptr[i+1]`` at columns ``indices[...]``).

    With B fixed the objective separates over the rows of A, and row i sees only its own
    nonzeros: each row takes all its R coordinate steps while its data (values, product
    and the partner entries gathered from ``Bt``) stay in cache, one pass over the
    nonzeros per half-sweep where a pass per coordinate would take R
    (:func:`_sparse_block`). The gradient of ``A_ir`` is ``const[group[i], r] -
    sum_k B_r,col(k) V_k / (AB)_k`` over the row's nonzeros. Each row's product is
    recomputed from A and B before its steps, so no product is carried between halves,
    and no row's result depends on any other row's: the rows may be split among threads
    in any way without changing a bit (:func:`sparse_update_blocks_parallel`).

    Parameters
    ----------
    indptr, indices, data : ndarrays
        V (or V^T) compressed along the rows of A: canonical, columns sorted.
    A : ndarray (n_A, R)
        The factor swept, updated in place (may be a transposed view).
    Bt : ndarray (n_B, R)
        The partner factor, transposed, rows contiguous.
    const : float64 ndarray (G, R)
        Constant parts of the gradients, one row per group.
    group : int64 ndarray (n_A,)
    eps, tiny : float
    WH : ndarray (nnz,) or None
        When given, receives the product ``(A B)`` at every nonzero as its row finishes
        (the kept product for log L), in the order of ``data``.
    first, last : int
        The rows swept (``0, n_A`` for all).

    Returns the number of coordinate steps that moved.
    """
    R = A.shape[1]
    longest = 0
    for i in range(first, last):
        longest = max(longest, indptr[i + 1] - indptr[i])
    flat = np.empty(R * longest, dtype=np.float64)
    ybuf = np.empty(longest, dtype=np.float64)
    w = np.empty(longest, dtype=np.float64)
    x = np.empty(R, dtype=np.float64)
    moved = 0
    for i in range(first, last):
        lo = indptr[i]
        hi = indptr[i + 1]
        for r in range(R):
            x[r] = A[i, r]
        if WH is None:
            moved += _sparse_block(lo, hi, indices, data, Bt, const[group[i]], x,
                                   ybuf[: hi - lo], flat, w, eps, tiny)
        else:
            moved += _sparse_block(lo, hi, indices, data, Bt, const[group[i]], x,
                                   WH[lo:hi], flat, w, eps, tiny)
        for r in range(R):
            A[i, r] = x[r]
    return moved


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", parallel=True)
def sparse_update_blocks_parallel(indptr, indices, data, A, Bt, const, group, eps, tiny,
                                  WH, bounds):
    """:func:`sparse_update_blocks` over all rows, split into parts at ``bounds`` (P + 1
    increasing row indices from 0 to n_A), the parts run side by side by numba's
    threads (as many as :func:`numba.set_num_threads` allows). Rows are independent
    and each runs the serial code, so the result is the serial sweep's, bit for bit,
    whatever the parts and the threads; the steps moved are counted per part and added
    in part order."""
    parts = bounds.size - 1
    moved = np.zeros(parts, dtype=np.int64)
    for p in prange(parts):
        moved[p] = sparse_update_blocks(indptr, indices, data, A, Bt, const, group, eps,
                                        tiny, WH, bounds[p], bounds[p + 1])
    total = 0
    for p in range(parts):
        total += moved[p]
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def sparse_ratio_products(indptr, indices, data, A, Bt, tiny):
    """The data parts of the gradients of ``V ~ A B`` over the nonzeros, for the KKT
    measure: ``gA = (V / AB) B^T`` (n_A, R) and ``gBt = (V / AB)^T A`` (n_B, R).

    V is compressed along the rows of A (as in :func:`sparse_update_blocks`) and Bt
    (n_B, R) is B transposed, rows contiguous. The product at each nonzero is computed
    afresh (``max(x @ b, tiny)``, as the blocked sweeps do). Row i's sums stay in
    registers; the partner's are added into gBt, whose rows should be few (the genes'
    W when V is compressed by samples: in cache).
    """
    n_A, R = A.shape
    gA = np.zeros((n_A, R), dtype=np.float64)
    gBt = np.zeros((Bt.shape[0], R), dtype=np.float64)
    x = np.empty(R, dtype=np.float64)
    acc = np.empty(R, dtype=np.float64)
    for i in range(n_A):
        for r in range(R):
            x[r] = A[i, r]
            acc[r] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            col = indices[k]
            y = 0.0
            for r in range(R):
                y += x[r] * Bt[col, r]
            ratio = data[k] / max(y, tiny)
            for r in range(R):
                acc[r] += Bt[col, r] * ratio
                gBt[col, r] += x[r] * ratio
        for r in range(R):
            gA[i, r] = acc[r]
    return gA, gBt
