"""Tests of the Poisson NMF fit engine (moonlight.nmf)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import moonlight
from moonlight.nmf import METHODS, _initial_factors, normalize_factors

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w09-data.tbl"


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    rng = np.random.default_rng(7)
    W = rng.random((12, 3))
    H = rng.random((3, 9)) * 50
    return rng.poisson(W @ H).astype(float) + 1.0


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "V, match",
    [
        (np.ones(5), "2-D"),
        (np.ones((2, 3, 4)), "2-D"),
        (np.ones((0, 3)), "empty"),
        (np.array([[1.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[1.0, np.inf], [1.0, 2.0]]), "NaN or infinite"),
        (np.array([[1.0, -1.0], [1.0, 2.0]]), "negative"),
        (np.array([[0.0, 0.0], [1.0, 2.0]]), "all-zero row"),
        (np.array([[0.0, 1.0], [0.0, 2.0]]), "all-zero"),
    ],
)
def test_bad_matrix_is_rejected(V, match):
    with pytest.raises(ValueError, match=match):
        moonlight.fit_nmf(V, 1)


@pytest.mark.parametrize("rank", [0, -1, 10])
def test_rank_out_of_range(small, rank):
    with pytest.raises(ValueError, match="rank must be between 1 and min"):
        moonlight.fit_nmf(small, rank)


def test_rank_must_be_integer(small):
    with pytest.raises(TypeError):
        moonlight.fit_nmf(small, 2.0)
    with pytest.raises(TypeError):
        moonlight.fit_nmf(small, True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"restarts": 0}, "restarts"),
        ({"tol": 0.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"method": "als"}, "method"),
        ({"check_every": 0}, "check_every"),
        ({"dtype": np.int64}, "dtype"),
    ],
)
def test_bad_options(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        moonlight.fit_nmf(small, 2, **kwargs)


# --- result shape and API ---------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_result_fields(small, method):
    frame = pd.DataFrame(small, index=[f"g{i}" for i in range(12)],
                         columns=[f"s{j}" for j in range(9)])
    fit = moonlight.fit_nmf(frame, 3, restarts=3, seed=1, method=method, max_iter=300)
    assert fit.method == method
    assert fit.W.shape == (12, 3) and fit.H.shape == (3, 9)
    np.testing.assert_allclose(fit.W.sum(axis=0), 1.0)
    assert np.all(np.diff(fit.H.sum(axis=1)) <= 0)  # canonical order
    assert fit.logliks.shape == fit.n_iter.shape == fit.converged.shape == fit.kkt.shape == (3,)
    assert fit.loglik == fit.logliks.max() == fit.logliks[fit.best_restart]
    ll = moonlight.poisson_loglik(small, fit.W @ fit.H)
    assert fit.loglik == pytest.approx(ll, rel=1e-9)
    assert list(fit.trace.columns) == ["restart", "iteration", "seconds", "loglik"]
    rf = fit.restarts_frame()
    assert list(rf.columns) == ["restart", "loglik", "n_iter", "converged", "best", "kkt",
                                 "stopped"]
    assert not rf["stopped"].any()  # no race by default
    assert fit.W_frame().index.tolist() == frame.index.tolist()
    assert fit.H_frame().columns.tolist() == frame.columns.tolist()
    assert fit.module_labels() == ["M1", "M2", "M3"]


# --- MU is the exercise's update rule ---------------------------------------------------


def test_mu_matches_exercise_equations(small):
    n_iter = 25
    W0, H0 = _initial_factors(small, 2, 1, seed=3)
    W, H = W0[0].copy(), H0[0].copy()
    N, M = small.shape
    for _ in range(n_iter):
        # H_rj <- H_rj * sum_i W_ir V_ij / (WH)_ij / sum_i W_ir
        WH = W @ H
        H_new = np.empty_like(H)
        for r in range(2):
            for j in range(M):
                H_new[r, j] = H[r, j] * sum(W[i, r] * small[i, j] / WH[i, j] for i in range(N)) \
                    / sum(W[i, r] for i in range(N))
        H = H_new
        # W_ir <- W_ir * sum_j H_rj V_ij / (WH)_ij / sum_j H_rj
        WH = W @ H
        W_new = np.empty_like(W)
        for i in range(N):
            for r in range(2):
                W_new[i, r] = W[i, r] * sum(H[r, j] * small[i, j] / WH[i, j] for j in range(M)) \
                    / sum(H[r, j] for j in range(M))
        W = W_new
    fit = moonlight.fit_nmf(small, 2, restarts=1, seed=3, method="mu", max_iter=n_iter,
                            tol=1e-300, check_every=n_iter)
    assert fit.n_iter[0] == n_iter
    W_ref, H_ref = normalize_factors(W, H)
    np.testing.assert_allclose(fit.W, W_ref, rtol=1e-10)
    np.testing.assert_allclose(fit.H, H_ref, rtol=1e-10)


# --- determinism and restart independence -----------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_bytes(small, method):
    a = moonlight.fit_nmf(small, 3, restarts=3, seed=11, method=method, max_iter=200)
    b = moonlight.fit_nmf(small, 3, restarts=3, seed=11, method=method, max_iter=200)
    assert a.W.tobytes() == b.W.tobytes() and a.H.tobytes() == b.H.tobytes()
    assert a.logliks.tobytes() == b.logliks.tobytes()
    assert a.kkt.tobytes() == b.kkt.tobytes()
    c = moonlight.fit_nmf(small, 3, restarts=3, seed=12, method=method, max_iter=200)
    assert c.logliks.tobytes() != a.logliks.tobytes()


@pytest.mark.parametrize("method", METHODS)
def test_restart_does_not_depend_on_restart_count(small, method):
    a = moonlight.fit_nmf(small, 2, restarts=2, seed=5, method=method, max_iter=200)
    b = moonlight.fit_nmf(small, 2, restarts=4, seed=5, method=method, max_iter=200)
    assert a.logliks.tobytes() == b.logliks[:2].tobytes()
    assert a.n_iter.tolist() == b.n_iter[:2].tolist()


def test_mu_chunking_does_not_change_results(small, monkeypatch):
    from moonlight.engines import mu

    a = moonlight.fit_nmf(small, 2, restarts=3, seed=2, method="mu", max_iter=100)
    monkeypatch.setattr(mu, "MU_MEMORY_BUDGET", 1)  # one restart per chunk
    b = moonlight.fit_nmf(small, 2, restarts=3, seed=2, method="mu", max_iter=100)
    assert a.logliks.tobytes() == b.logliks.tobytes()
    assert a.W.tobytes() == b.W.tobytes()


def test_float32_close_to_float64(small):
    a = moonlight.fit_nmf(small, 2, restarts=2, seed=0)
    b = moonlight.fit_nmf(small, 2, restarts=2, seed=0, dtype=np.float32)
    assert b.W.dtype == np.float64
    assert b.loglik == pytest.approx(a.loglik, rel=1e-4)


# --- log L never decreases ------------------------------------------------------------------


@st.composite
def count_matrices(draw):
    n = draw(st.integers(2, 8))
    m = draw(st.integers(2, 7))
    V = draw(arrays(np.float64, (n, m), elements=st.sampled_from([0.0, 0.0, 0.0, 1.0, 2.0,
                                                                   5.0, 40.0, 1000.0])))
    # no all-zero row or column: put a count on a diagonal where one is empty
    for i in np.flatnonzero(V.sum(axis=1) == 0):
        V[i, i % m] = 1.0
    for j in np.flatnonzero(V.sum(axis=0) == 0):
        V[j % n, j] = 1.0
    rank = draw(st.integers(1, min(n, m, 3)))
    return V, rank


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=count_matrices(), seed=st.integers(0, 2**16))
def test_loglik_never_decreases(method, case, seed):
    V, rank = case
    fit = moonlight.fit_nmf(V, rank, restarts=2, seed=seed, method=method, max_iter=60,
                            check_every=1, tol=1e-300)
    for _, tr in fit.trace.groupby("restart"):
        ll = tr["loglik"].to_numpy()
        assert np.all(np.isfinite(ll))
        # roundoff of recomputing the full sum; no real decrease is allowed
        slack = 1e-12 * np.abs(ll[1:]) + 1e-9
        assert np.all(np.diff(ll) >= -slack), np.diff(ll).min()


def test_zero_entries_can_recover():
    # a start with an exact-zero-like entry must not stay at the floor when the data
    # wants it positive: a rank-1 matrix fit from any start reaches the rank-1 MLE
    rng = np.random.default_rng(0)
    V = np.outer(rng.random(8) + 0.1, rng.random(6) + 0.1) * 100
    for method in METHODS:
        fit = moonlight.fit_nmf(V, 1, restarts=1, method=method, max_iter=5000)
        # rank-1 Poisson MLE: outer product of row and column totals / grand total
        expected = np.outer(V.sum(1), V.sum(0)) / V.sum()
        np.testing.assert_allclose(fit.W @ fit.H, expected, rtol=1e-5)


# --- quality --------------------------------------------------------------------------------


def test_recovers_planted_modules():
    sim = moonlight.simulate(seed=3)
    fit = moonlight.fit_nmf(sim.counts, 4, restarts=3, seed=0)
    match = moonlight.match_modules(sim.W, fit.W_frame())
    assert match["cosine"].min() > 0.95
    assert fit.converged.all()
    assert fit.kkt.max() < 1e-2


@pytest.mark.skipif(not DATA.exists(), reason=f"exercise table not found at {DATA}")
def test_default_reaches_mu_on_real_table():
    V = moonlight.read_count_table(DATA)
    mu = moonlight.fit_nmf(V, 4, restarts=3, seed=0, method="mu", max_iter=3000)
    default = moonlight.fit_nmf(V, 4, restarts=3, seed=0)
    assert default.method == "ccd"
    assert default.loglik >= mu.loglik
    assert default.loglik >= -25764.5


def test_every_restart_W_is_kept_and_the_best_is_W():
    from moonlight import simulate

    counts = simulate(n_genes=30, n_samples=12, n_modules=2, module_size=(10, 20),
                      n_moonlighting=1, seed=3).counts
    for method in ("ccd", "mu"):
        fit = moonlight.fit_nmf(counts, 2, restarts=3, seed=1, method=method, max_iter=300)
        assert fit.W_restarts.shape == (3, 30, 2)
        np.testing.assert_allclose(fit.W_restarts.sum(axis=1), 1.0)
        assert np.array_equal(fit.W_restarts[fit.best_restart], fit.W)
        frames = fit.W_restart_frames()
        assert frames[0].index.tolist() == counts.index.tolist()


def _phi(x, b, V, rest):
    """1-D objective of one coordinate at value x: sum_k [b_k x - V_k log(rest_k + b_k x)]."""
    return float(np.sum(b * x) - np.sum(V * np.log(rest + b * x)))


@settings(max_examples=300, deadline=None)
@given(k=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-6, 1e-2, 1.0, 1e3]))
def test_coordinate_step_never_raises_the_1d_objective(k, seed, scale):
    """Newton up (no overshoot: phi' stays <= 0), majorized Newton down (phi drops)."""
    from moonlight._kernels import coordinate_step

    rng = np.random.default_rng(seed)
    b = rng.gamma(0.5, 1.0, k) * scale + 1e-12
    V = rng.choice([0.0, 0.0, 1.0, 3.0, 50.0, 5000.0], size=k)
    if V.sum() == 0:
        V[0] = 1.0
    rest = rng.gamma(0.5, 1.0, k) * rng.choice([0.0, 1.0], size=k) * scale
    x = float(rng.gamma(0.5, 1.0)) + 1e-12
    y = rest + b * x
    g = float(np.sum(b) - np.sum(b * V / y))
    curvature = float(np.sum(b**2 * V / y**2))
    c = float(np.max(np.where(V > 0, b / y, 0.0)))
    d = coordinate_step(x, g, curvature, c, 1e-16)
    assert np.sign(d) == -np.sign(g) or d == 0.0
    new = max(x + d, 1e-16)  # what the kernels store
    before, after = _phi(x, b, V, rest), _phi(new, b, V, rest)
    assert after <= before + 1e-12 * abs(before) + 1e-12
    if g < 0:  # upward: the step ends at or before the 1-D minimum
        assert d == pytest.approx(-g / curvature)
        g_after = float(np.sum(b) - np.sum(b * V / (rest + b * new)))
        assert g_after <= 1e-9 * np.sum(b)


@pytest.mark.parametrize("layout", ["transposed", "rows", "blocked"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=count_matrices(), seed=st.integers(0, 2**16), masked=st.booleans())
def test_every_half_sweep_raises_the_likelihood(layout, case, seed, masked):
    """The raw kernels, with no extrapolation or acceptance test, never lower log L:
    the row-at-a-time kernels (W on the transposed problem or gene by gene) and the
    cache-blocked one (every coordinate of a column of H, then of a row of W, in turn)."""
    from moonlight import _kernels

    V, rank = case
    rng = np.random.default_rng(seed)
    mask = (rng.random(V.shape) < 0.7).astype(float) if masked else None
    MV = V if mask is None else V * mask
    mask_t = None if mask is None else np.ascontiguousarray(mask.T)
    MVt = np.ascontiguousarray(MV.T)
    W, H = _initial_factors(V, rank, 1, seed)
    W, H = np.ascontiguousarray(W[0]), np.ascontiguousarray(H[0])
    tiny = np.finfo(float).tiny
    WH = np.empty_like(V)
    log_WH = np.empty_like(V)

    def loglik():
        _kernels.product(W, H, WH, tiny)
        np.log(WH, out=log_WH)
        return _kernels.loglik_terms(MV, WH, log_WH, mask)

    previous = loglik()
    for _ in range(15):
        if layout == "blocked":
            _kernels.update_blocks(MVt, H.T, np.ascontiguousarray(W.T), 1e-16, tiny, mask_t,
                                   None)
        else:
            _kernels.update_H_cols(MV, WH, W, H, 1e-16, tiny, mask)
        after_H = loglik()
        if layout == "transposed":
            WHt = np.ascontiguousarray(WH.T)
            _kernels.update_H_cols(MVt, WHt, H.T, W.T, 1e-16, tiny, mask_t)
        elif layout == "rows":
            _kernels.update_W_rows(MV, WH, W, H, 1e-16, tiny, mask)
        else:
            kept = np.empty_like(V)
            _kernels.update_blocks(MV, W, H, 1e-16, tiny, mask, kept)
            _assert_kept_product(kept, W, H, mask)
        after_W = loglik()
        for new, old in ((after_H, previous), (after_W, after_H)):
            assert new >= old - 1e-11 * abs(old) - 1e-9
        previous = after_W


def _assert_kept_product(kept, W, H, mask):
    """The product the blocked W half leaves behind (for log L) is W @ H on the entries
    that count, up to the roundoff of its in-place updates, relative to the likelihood's
    scale: a coordinate's product with a training partner never exceeds its term in
    ``sum WH``, which the descent keeps below the starting objective. Held-out entries
    (weight 0, never read) carry no such bound (test below)."""
    tiny = np.finfo(float).tiny
    exact = np.maximum(W @ H, tiny)
    train = np.ones(kept.shape, dtype=bool) if mask is None else mask > 0
    scale = np.sum(np.where(train, exact, 0.0)) + 1.0
    np.testing.assert_allclose(kept[train], exact[train], rtol=1e-12, atol=1e-12 * scale)


def test_blocked_masked_kept_product_drifts_only_where_nothing_reads_it():
    """The case that once made the blocked kernel's masked path look broken: a row of W
    whose only training partner in H is at the floor (1e-16, V = 1000 there) takes a
    Newton step to ~1e17 (the 1-D optimum: nothing else in the row is trained), and
    back down a sweep later. The in-place product at that row's held-out entries,
    whose partners are ~1,500, keeps the cancellation error of 1e17 * 1,500 - 1e17 *
    1,500: there it is off by orders of magnitude (printed as the old failure), while
    on every training entry it equals W H and log L never decreases."""
    from moonlight import _kernels

    rng = np.random.default_rng(129)
    n, m = rng.integers(2, 9), rng.integers(2, 8)
    V = rng.choice([0.0, 0, 0, 1, 2, 5, 40, 1000], size=(n, m))
    rank = int(rng.integers(1, min(n, m, 3) + 1))
    mask = (rng.random(V.shape) < 0.7).astype(float)
    for i in np.flatnonzero(V.sum(axis=1) == 0):
        V[i, i % m] = 1.0
    for j in np.flatnonzero(V.sum(axis=0) == 0):
        V[j % n, j] = 1.0
    MV = V * mask
    W, H = _initial_factors(V, rank, 1, 129)
    W, H = np.ascontiguousarray(W[0]), np.ascontiguousarray(H[0])
    tiny = np.finfo(float).tiny

    def loglik():
        WH = np.maximum(W @ H, tiny)
        return float(np.sum(mask * (MV * np.log(WH) - WH)))

    previous, worst_heldout = loglik(), 0.0
    for _ in range(15):
        _kernels.update_blocks(np.ascontiguousarray(MV.T), H.T, np.ascontiguousarray(W.T),
                               1e-16, tiny, np.ascontiguousarray(mask.T), None)
        kept = np.empty_like(V)
        _kernels.update_blocks(MV, W, H, 1e-16, tiny, mask, kept)
        _assert_kept_product(kept, W, H, mask)
        exact = np.maximum(W @ H, tiny)
        worst_heldout = max(worst_heldout, np.max(np.abs(kept - exact)[mask == 0]))
        assert loglik() >= previous - 1e-11 * abs(previous)
        previous = loglik()
    assert worst_heldout > 10.0  # the drift the old check saw, where nothing reads it


def test_blocked_sweeps_same_bytes_and_same_optimum(monkeypatch):
    """Forced on a small table, the cache-blocked engine gives the same bytes twice, a
    log L that never decreases along a restart, and the row-at-a-time engine's optimum
    (only the summation order differs)."""
    from moonlight.engines import ccd

    counts = moonlight.simulate(seed=3).counts
    plain = moonlight.fit_nmf(counts, 4, restarts=2, seed=0)
    monkeypatch.setattr(ccd, "BLOCKED_MIN_BYTES", 0)
    a = moonlight.fit_nmf(counts, 4, restarts=2, seed=0)
    b = moonlight.fit_nmf(counts, 4, restarts=2, seed=0)
    for name in ("W", "H", "logliks", "n_iter", "kkt"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    for _, tr in a.trace.groupby("restart"):
        ll = tr["loglik"].to_numpy()
        assert np.all(np.diff(ll) >= -1e-12 * np.abs(ll[1:]))
    np.testing.assert_allclose(a.logliks, plain.logliks, rtol=1e-9)
    np.testing.assert_allclose(a.W, plain.W, atol=1e-6)
    assert a.kkt.max() < 1e-2


@pytest.mark.parametrize("masked", [False, True])
def test_blocked_dense_threads_give_the_same_bytes(monkeypatch, masked):
    """Forced blocked, the dense engine on 2 threads (rows of W and columns of H split
    between them) gives the bytes of 1 thread, run after run."""
    from moonlight.engines import Options, ccd

    monkeypatch.setattr(ccd, "BLOCKED_MIN_BYTES", 0)
    V = moonlight.simulate(seed=3).counts.to_numpy(float)
    mask = (np.random.default_rng(2).random(V.shape) < 0.8).astype(float) if masked else None
    problem = ccd.DenseProblem(V if mask is None else V * mask, mask, 0.0)
    W0, H0 = _initial_factors(V, 4, 1, 5)

    def fit(threads):
        options = Options(tol=1e-10, max_iter=100, check_every=1, threads=threads)
        (res,) = ccd.fit_restarts(problem, lambda k: (W0[0], H0[0]), [0], options, 0.0, [])
        return res.W.tobytes(), res.H.tobytes(), res.loglik, res.n_iter

    one, two, again = fit(1), fit(2), fit(2)
    assert one == two == again
    assert one[3] > 10
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        ccd.DenseSweeps(problem, threads=0)


def test_masked_blocks_gather_their_own_constant_parts():
    """A masked block's constant parts are its weighted partner sums ``B @ m``, every
    lane and the tail included (n = 37 is two full lanes of 16 and 5 left over)."""
    from moonlight import _kernels

    rng = np.random.default_rng(5)
    B = rng.random((3, 37))
    m = (rng.random(37) < 0.7).astype(float)
    const = np.empty(3)
    _kernels._masked_partner_sums(m, B, const)
    np.testing.assert_allclose(const, B @ m, rtol=1e-14)
    assert const[0] != pytest.approx(B[0].sum())  # the held-out entries are left out


def test_masked_fits_take_the_blocked_kernels(monkeypatch):
    """Held-out entries (a 0/1 mask, as cross-validation passes) are swept cache-blocked
    too where the table is big enough, and reach the row kernels' optimum."""
    from moonlight.crossval import fit_masked
    from moonlight.engines import ccd

    V = np.ones((6, 5))
    monkeypatch.setattr(ccd, "BLOCKED_MIN_BYTES", 0)
    assert ccd.DenseSweeps(ccd.DenseProblem(V, None, 0.0)).blocked
    assert ccd.DenseSweeps(ccd.DenseProblem(V, (V > 0).astype(float), 0.0)).blocked
    counts = moonlight.simulate(seed=3).counts.to_numpy(float)
    mask = np.random.default_rng(0).random(counts.shape) < 0.8
    blocked = fit_masked(counts, mask, 4, restarts=2, seed=1)
    monkeypatch.setattr(ccd, "BLOCKED_MIN_BYTES", 2**62)
    rows = fit_masked(counts, mask, 4, restarts=2, seed=1)
    np.testing.assert_allclose(blocked[2], rows[2], rtol=1e-9)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gene_blocks_give_the_bytes_of_one_block(monkeypatch, masked, dtype):
    """The W half on the transposed layout, swept in blocks of genes (a last block
    shorter than the others), gives the bytes of the same fit swept in one block, and
    its log L is the whole transposed table's, summed in the same order to the bit."""
    from moonlight.engines import Options, ccd
    from moonlight.likelihood import ProductLoglik

    V = moonlight.simulate(seed=3).counts.to_numpy(float)  # 100 genes
    mask = (np.random.default_rng(2).random(V.shape) < 0.8).astype(float) if masked else None
    problem = ccd.DenseProblem((V if mask is None else V * mask).astype(dtype), mask, 0.0)
    W0, H0 = _initial_factors(V, 4, 1, 5)

    def fit(width):
        monkeypatch.setattr(ccd, "GENE_BLOCK", width)
        sweeps = ccd.DenseSweeps(problem)
        assert sweeps.transposed and len(sweeps.gene_blocks.bounds) == -(-100 // width)
        options = Options(tol=1e-10, max_iter=200, check_every=1)
        (res,) = ccd.fit_restarts(problem, lambda k: (W0[0], H0[0]), [0], options, 0.0, [])
        return res.W.tobytes(), res.H.tobytes(), res.loglik, res.n_iter

    one = fit(1000)
    assert one == fit(16) == fit(7)
    assert one[3] > 10

    # log L of the blocks against ProductLoglik on the whole V^T, several row blocks
    monkeypatch.setattr(ccd, "LOG_BLOCK", 3 * V.shape[0] + 5)  # 3 samples per row block
    blocks = ccd.TransposedBlocks(problem.V, mask, 16)
    WH = np.random.default_rng(4).random(V.shape).astype(dtype) + 0.1
    blocks.load(WH)
    monkeypatch.setattr(moonlight.likelihood, "LOG_BLOCK", 3 * V.shape[0] + 5)
    whole = ProductLoglik(np.ascontiguousarray(problem.V.T),
                          None if mask is None else np.ascontiguousarray(mask.T))
    assert blocks.rows == whole.rows == 3
    assert blocks.terms() == whole.terms(np.ascontiguousarray(WH.T))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kkt_violation_is_the_scaled_gradient_formula(dtype):
    """The compiled KKT measure against its formula in numpy, on a point where W's
    and H's entries both violate it, in the working dtypes."""
    from moonlight import _kernels

    rng = np.random.default_rng(8)
    W = rng.random((30, 5)).astype(dtype)
    H = (rng.random((5, 12)) * 50).astype(dtype)
    V = rng.poisson(2.0 * (W @ H).astype(float)).astype(dtype)
    WH = np.empty_like(V)
    _kernels.product(W, H, WH, float(np.finfo(dtype).tiny))
    W64, H64, ratio = W.astype(float), H.astype(float), (V / WH).astype(float)
    wsum, hsum = W64.sum(axis=0), H64.sum(axis=1)
    g_W = 1.0 - (ratio @ H64.T) / hsum
    g_H = 1.0 - (W64.T @ ratio) / wsum[:, None]
    share = wsum[:, None] * H64 / (wsum @ H64)
    expected = max(np.abs(np.minimum(W64 / wsum, g_W)).max(),
                   np.abs(np.minimum(share, g_H)).max())
    assert _kernels.kkt_violation(V, W, H, WH) == pytest.approx(expected, rel=1e-12)
    assert expected > 0.1  # not a stationary point: the measure has something to find


@pytest.mark.parametrize("settings, error, message", [
    ({"seed": None}, TypeError, "seed must be a non-negative integer, got None"),
    ({"seed": -1}, ValueError, "seed must be a non-negative integer, got -1"),
    ({"restarts": 2.5}, TypeError, "restarts must be an integer, got 2.5"),
    ({"max_iter": 10.0}, TypeError, "max_iter must be an integer, got 10.0"),
])
def test_bad_settings_name_the_parameter(settings, error, message):
    V = np.random.default_rng(0).poisson(5.0, size=(12, 8)).astype(float) + 1
    with pytest.raises(error, match=message):
        moonlight.fit_nmf(V, 2, **settings)
