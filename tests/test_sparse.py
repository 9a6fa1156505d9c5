"""The sparse engine: same optimum as the dense one, never a dense N x M array; restart
subsets that combine into the full run's bytes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import moonlight
from moonlight import call_memberships, normalize_rows
from moonlight.engines.sparse_ccd import Blocks, SparseProblem, SparseSweeps
from moonlight.nmf import combine_results
from moonlight.projection import project

FORMATS = [sp.csc_array, sp.csr_array, sp.csc_matrix, sp.csr_matrix, sp.coo_array]


def _sparse_counts(n_genes: int, n_samples: int, rank: int, seed: int) -> pd.DataFrame:
    """Simulated counts at low depth (many zeros), empty rows and columns dropped."""
    sim = moonlight.simulate(n_genes=n_genes, n_samples=n_samples, n_modules=rank,
                             module_size=(n_genes // (2 * rank), n_genes // rank),
                             n_moonlighting=2, depth=(150, 400), seed=seed)
    V = sim.counts
    return V.loc[V.sum(axis=1) > 0, V.sum(axis=0) > 0]


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return _sparse_counts(60, 40, 3, seed=1)


def _memberships(fit: moonlight.NMFResult) -> pd.DataFrame:
    return call_memberships(normalize_rows(fit.W_frame()), threshold=0.1)


@pytest.mark.parametrize("case", [(60, 40, 3, 1), (80, 50, 4, 2), (30, 70, 2, 3)])
@pytest.mark.parametrize("fmt", [sp.csc_array, sp.csr_array])
def test_sparse_reaches_the_dense_optimum(case, fmt):
    n, m, rank, seed = case
    V = _sparse_counts(n, m, rank, seed)
    assert (V.to_numpy() == 0).mean() > 0.15  # really sparse-ish
    dense = moonlight.fit_nmf(V, rank, restarts=3, seed=0)
    sparse = moonlight.fit_nmf(fmt(V.to_numpy(float)), rank, restarts=3, seed=0,
                               genes=V.index, samples=V.columns)
    rel = np.abs(sparse.logliks - dense.logliks) / np.abs(dense.logliks)
    assert rel.max() < 1e-9
    assert sparse.loglik == pytest.approx(
        moonlight.poisson_loglik(V.to_numpy(), sparse.W @ sparse.H), rel=1e-12)
    pd.testing.assert_frame_equal(_memberships(sparse), _memberships(dense))
    np.testing.assert_allclose(sparse.kkt, dense.kkt, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sparse_format_gives_the_same_fit(counts, fmt):
    ref = moonlight.fit_nmf(sp.csc_array(counts.to_numpy(float)), 3, restarts=2, seed=4)
    fit = moonlight.fit_nmf(fmt(counts.to_numpy(float)), 3, restarts=2, seed=4)
    rel = np.abs(fit.logliks - ref.logliks) / np.abs(ref.logliks)
    assert rel.max() < 1e-12
    assert fit.W_frame().index.tolist() == list(range(counts.shape[0]))  # no names given


def test_sparse_steps_are_the_dense_steps(counts, monkeypatch):
    """Without extrapolation (whose acceptance compares log L values that are summed in
    another order), a few sweeps give the dense engine's factors up to rounding: the
    same steps, their sums taken over the nonzeros in another order."""
    from moonlight.engines import _common

    monkeypatch.setattr(_common, "CCD_EXTRAPOLATE", False)
    kw = dict(restarts=1, seed=2, max_iter=6, tol=1e-300)
    dense = moonlight.fit_nmf(counts, 3, **kw)
    for fmt in (sp.csc_array, sp.csr_array):
        fit = moonlight.fit_nmf(fmt(counts.to_numpy(float)), 3, **kw)
        assert fit.n_iter[0] == 6
        np.testing.assert_allclose(fit.W, dense.W, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(fit.H, dense.H, rtol=1e-10, atol=1e-12)
        assert not np.array_equal(fit.W, dense.W)  # (summed in another order)


def test_names_from_arguments_or_a_sparse_frame(counts):
    M = sp.csr_array(counts.to_numpy(float))
    fit = moonlight.fit_nmf(M, 3, restarts=1, genes=counts.index, samples=counts.columns)
    assert fit.W_frame().index.tolist() == counts.index.tolist()
    assert fit.H_frame().columns.tolist() == counts.columns.tolist()
    frame = counts.astype(pd.SparseDtype("float64", 0.0))
    from_frame = moonlight.fit_nmf(frame, 3, restarts=1)
    assert from_frame.gene_names == fit.gene_names
    assert from_frame.sample_names == fit.sample_names
    assert from_frame.loglik == pytest.approx(fit.loglik, rel=1e-12)
    with pytest.raises(ValueError, match="genes has 3 names"):
        moonlight.fit_nmf(M, 3, restarts=1, genes=["a", "b", "c"])
    with pytest.raises(ValueError, match="DataFrame"):
        moonlight.fit_nmf(counts, 3, restarts=1, genes=counts.index)


def test_duplicate_and_unsorted_entries_are_summed_like_scipy(counts):
    coo = sp.coo_array(counts.to_numpy(float))
    # split every entry into two stored halves, in reverse order: not canonical
    rows = np.concatenate([coo.row, coo.row])[::-1]
    cols = np.concatenate([coo.col, coo.col])[::-1]
    vals = np.concatenate([coo.data / 2, coo.data / 2])[::-1]
    messy = sp.csr_array((vals, (rows, cols)), shape=coo.shape)
    messy.has_canonical_format = False
    before = messy.data.copy()
    ref = moonlight.fit_nmf(sp.csr_array(counts.to_numpy(float)), 3, restarts=1, seed=1)
    fit = moonlight.fit_nmf(messy, 3, restarts=1, seed=1)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-9)
    assert np.array_equal(messy.data, before)  # the caller's matrix is not changed


@pytest.mark.parametrize(
    "V, kwargs, match",
    [
        (sp.csc_array(np.array([[1.0, -1.0], [1.0, 2.0]])), {}, "negative"),
        (sp.csc_array(np.array([[1.0, np.nan], [1.0, 2.0]])), {}, "NaN"),
        (sp.csc_array(np.array([[0.0, 0.0], [1.0, 2.0]])), {}, "all-zero row"),
        (sp.csr_array(np.array([[0.0, 1.0], [0.0, 2.0]])), {}, "all-zero column"),
        (sp.csc_array(np.eye(3)), {"method": "mu"}, "dense V"),
        (sp.csc_array(np.eye(3)), {"rank": 4}, "rank must be between"),
    ],
)
def test_bad_sparse_input_is_rejected(V, kwargs, match):
    kwargs = {"rank": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        moonlight.fit_nmf(V, kwargs.pop("rank"), restarts=1, **kwargs)


def test_the_fit_never_forms_a_dense_matrix():
    """2,000 x 2,000 at 1% density: a dense float64 copy would take 32 MB."""
    rng = np.random.default_rng(0)
    n = 2000
    V = sp.random_array((n, n), density=0.01, rng=rng, format="csc",
                        data_sampler=lambda size: rng.integers(1, 20, size).astype(float))
    V = V + sp.eye_array(n, format="csc")  # no empty row or column
    V = sp.csc_array(V)
    tracemalloc.start()
    moonlight.fit_nmf(V, 5, restarts=1, seed=0, max_iter=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20, peak / 2**20


@st.composite
def sparse_cases(draw):
    n = draw(st.integers(2, 9))
    m = draw(st.integers(2, 8))
    V = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.0, 1.0, 3.0, 60.0]),
                               min_size=n * m, max_size=n * m))).reshape(n, m)
    for i in np.flatnonzero(V.sum(axis=1) == 0):
        V[i, i % m] = 1.0
    for j in np.flatnonzero(V.sum(axis=0) == 0):
        V[j % n, j] = 1.0
    return V, draw(st.integers(1, min(n, m, 3))), draw(st.sampled_from(["csc", "csr"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=sparse_cases(), seed=st.integers(0, 2**16))
def test_sparse_loglik_never_decreases(case, seed):
    V, rank, fmt = case
    M = sp.csc_array(V) if fmt == "csc" else sp.csr_array(V)
    fit = moonlight.fit_nmf(M, rank, restarts=2, seed=seed, max_iter=60, tol=1e-300)
    for _, tr in fit.trace.groupby("restart"):
        ll = tr["loglik"].to_numpy()
        assert np.all(np.isfinite(ll))
        assert np.all(np.diff(ll) >= -(1e-12 * np.abs(ll[1:]) + 1e-9))
    assert fit.loglik == pytest.approx(moonlight.poisson_loglik(V, fit.W @ fit.H),
                                       rel=1e-10, abs=1e-9)


@st.composite
def blocked_cases(draw):
    """A sparse case, and maybe a Latin-square hold-out of it (folds 2-3)."""
    V, rank, fmt = draw(sparse_cases())
    folds = draw(st.sampled_from([0, 2, 3]))
    if folds == 0:
        return V, rank, fmt, None
    genes = np.array(draw(st.lists(st.integers(0, folds - 1), min_size=V.shape[0],
                                   max_size=V.shape[0])), dtype=np.int64)
    samples = np.array(draw(st.lists(st.integers(0, folds - 1), min_size=V.shape[1],
                                     max_size=V.shape[1])), dtype=np.int64)
    return V, rank, fmt, Blocks(genes, samples, folds, draw(st.integers(0, folds - 1)))


def _training_problem(V: np.ndarray, fmt: str, blocks: Blocks | None
                      ) -> tuple[SparseProblem, np.ndarray]:
    """The sparse problem of V's training entries and their 0/1 weights (dense)."""
    train = np.ones_like(V)
    if blocks is not None:
        i, j = np.indices(V.shape)
        train = (~blocks.heldout(i.ravel(), j.ravel())).reshape(V.shape).astype(float)
    M = (sp.csc_array if fmt == "csc" else sp.csr_array)(V * train)
    return SparseProblem.from_matrix(M, np.dtype(np.float64), 0.0, blocks), train


def _dense_terms(V: np.ndarray, train: np.ndarray, W: np.ndarray, H: np.ndarray) -> float:
    """``sum m [V log WH - WH]`` over the training entries, computed densely."""
    WH = np.maximum(W @ H, np.finfo(float).tiny)
    return float(np.sum(train * (V * np.log(WH) - WH)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=blocked_cases(), seed=st.integers(0, 2**16), moves_W=st.booleans())
def test_blocked_sparse_half_sweeps_never_lower_the_likelihood(case, seed, moves_W):
    """The raw blocked half-sweeps (no extrapolation, no acceptance test), with and
    without held-out blocks, and with W held fixed: log L over the training entries
    never decreases, and the product the sweep keeps equals W H at the nonzeros."""
    V, rank, fmt, blocks = case
    problem, train = _training_problem(V, fmt, blocks)
    sweeps = SparseSweeps(problem, moves_W=moves_W)
    rng = np.random.default_rng(seed)
    W = rng.gamma(0.5, 1.0, (V.shape[0], rank)) + 1e-12
    H = rng.gamma(0.5, 10.0, (rank, V.shape[1])) + 1e-12
    previous = _dense_terms(V, train, W, H)
    for _ in range(12):
        sweeps.sweep_H(W, H)
        after_H = _dense_terms(V, train, W, H)
        assert after_H >= previous - 1e-11 * abs(previous) - 1e-9
        if moves_W:
            sweeps.sweep_W(W, H)
            after_W = _dense_terms(V, train, W, H)
            assert after_W >= after_H - 1e-11 * abs(after_H) - 1e-9
            previous = after_W
        else:
            previous = after_H
        # the kept product, at the nonzeros in the order of the last half's arrays
        indptr, indices, _ = sweeps.by_gene if moves_W else sweeps.by_sample
        outer = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        genes, samples = (outer, indices) if moves_W else (indices, outer)
        np.testing.assert_allclose(sweeps.WH, np.maximum(W @ H, 1e-300)[genes, samples],
                                   rtol=1e-12)
    assert sweeps.terms(W, H) == pytest.approx(previous, rel=1e-10, abs=1e-9)


def test_blocked_sparse_fit_with_held_out_blocks_is_deterministic(counts):
    """A block hold-out fit (as cross-validation runs it) gives the same bytes twice and
    the dense engine's optimum on the same training entries (masked)."""
    from moonlight.crossval import block_groups, fit_blocks, fit_masked

    V = counts.to_numpy(float)
    genes, samples = block_groups(V.shape, 3, seed=0)
    blocks = Blocks(genes, samples, 3, 1)
    a = fit_blocks(sp.csr_array(V), blocks, 3, restarts=2, seed=5)
    b = fit_blocks(sp.csr_array(V), blocks, 3, restarts=2, seed=5)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    i, j = np.indices(V.shape)
    mask = ~blocks.heldout(i.ravel(), j.ravel()).reshape(V.shape)
    dense = fit_masked(V, mask, 3, restarts=2, seed=5)
    np.testing.assert_allclose(a[2], dense[2], rtol=1e-9)


def _fit_with_threads(V: np.ndarray, threads: int, blocks: Blocks | None = None):
    """Two restarts of the sparse engine (and a projection with W fixed) on ``threads``
    threads; every array they return."""
    from moonlight.engines import Options, sparse_ccd

    problem = SparseProblem.from_matrix(sp.csr_array(V), np.dtype(np.float64), 0.0, blocks)
    rng = np.random.default_rng(7)
    starts = [(rng.random((V.shape[0], 3)) + 0.1, rng.random((3, V.shape[1])) * 20 + 0.1)
              for _ in range(2)]
    options = Options(tol=1e-12, max_iter=200, check_every=1, threads=threads)
    fits = list(sparse_ccd.fit_restarts(problem, lambda k: starts[k], [0, 1], options,
                                        0.0, []))
    out = [a for fit in fits for a in (fit.W, fit.H, np.array([fit.loglik, fit.kkt,
                                                                fit.n_iter]))]
    H = starts[0][1].copy()
    loglik, n_iter, _ = sparse_ccd.fit_H(problem, fits[0].W, H, options, [])
    return [*out, H, np.array([loglik, n_iter])]


@pytest.mark.parametrize("held_out", [False, True])
def test_threads_give_the_same_bytes(counts, held_out):
    """Rows of a blocked half-sweep are independent, so 2 threads give the bytes of 1,
    run after run (restarts, held-out blocks, projection)."""
    V = counts.to_numpy(float)
    blocks = None
    if held_out:
        from moonlight.crossval import block_groups

        blocks = Blocks(*block_groups(V.shape, 3, seed=0), 3, 2)
        i, j = np.indices(V.shape)
        V = np.where(blocks.heldout(i.ravel(), j.ravel()).reshape(V.shape), 0.0, V)
    one = _fit_with_threads(V, 1, blocks)
    two = _fit_with_threads(V, 2, blocks)
    again = _fit_with_threads(V, 2, blocks)
    for a, b, c in zip(one, two, again):
        assert a.tobytes() == b.tobytes() == c.tobytes()
    assert one[2][2] > 10  # the restarts ran sweeps, not just the start


def test_bad_thread_counts_are_rejected(counts):
    problem = SparseProblem.from_matrix(sp.csr_array(counts.to_numpy(float)),
                                        np.dtype(np.float64), 0.0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            SparseSweeps(problem, threads=bad)


# --- restart subsets ----------------------------------------------------------------


@pytest.mark.parametrize("method, sparse", [("ccd", False), ("ccd", True), ("mu", False)])
def test_restart_subsets_combine_into_the_full_run_bytes(counts, method, sparse):
    V = sp.csr_array(counts.to_numpy(float)) if sparse else counts
    kw = dict(restarts=6, seed=3, method=method, max_iter=300)
    names = dict(genes=counts.index, samples=counts.columns) if sparse else {}
    full = moonlight.fit_nmf(V, 3, **kw, **names)
    parts = [moonlight.fit_nmf(V, 3, restart_ids=ids, **kw, **names)
             for ids in (range(3, 6), [0, 2], [1])]
    assert parts[0].restart_ids.tolist() == [3, 4, 5]
    combined = combine_results(parts)
    for name in ("W", "H", "logliks", "n_iter", "converged", "kkt", "W_restarts",
                 "restart_ids"):
        assert getattr(combined, name).tobytes() == getattr(full, name).tobytes(), name
    assert combined.loglik == full.loglik and combined.best_restart == full.best_restart
    assert combined.gene_names == full.gene_names
    cols = ["restart", "iteration", "loglik"]
    pd.testing.assert_frame_equal(combined.trace[cols], full.trace[cols])
    pd.testing.assert_frame_equal(combined.restarts_frame(), full.restarts_frame())


def test_a_restart_subset_is_the_same_restart_as_in_the_full_run(counts):
    full = moonlight.fit_nmf(counts, 3, restarts=4, seed=9)
    one = moonlight.fit_nmf(counts, 3, restarts=4, seed=9, restart_ids=[2])
    assert one.logliks.tobytes() == full.logliks[2:3].tobytes()
    assert one.best_restart == 2
    assert one.restarts_frame()["restart"].tolist() == [2]


def test_bad_restart_subsets_are_rejected(counts):
    with pytest.raises(ValueError, match="restart_ids"):
        moonlight.fit_nmf(counts, 2, restarts=3, restart_ids=[3])
    with pytest.raises(ValueError, match="restart_ids"):
        moonlight.fit_nmf(counts, 2, restarts=3, restart_ids=[1, 1])
    a = moonlight.fit_nmf(counts, 2, restarts=3, restart_ids=[0, 1], max_iter=20)
    b = moonlight.fit_nmf(counts, 2, restarts=3, restart_ids=[1, 2], max_iter=20)
    with pytest.raises(ValueError, match="repeat"):
        combine_results([a, b])
    c = moonlight.fit_nmf(counts, 3, restarts=3, restart_ids=[2], max_iter=20)
    with pytest.raises(ValueError, match="not fits of one problem"):
        combine_results([a, c])


# --- projection of sparse samples ---------------------------------------------------------


@pytest.mark.parametrize("fmt", [sp.csc_array, sp.csr_array])
def test_sparse_projection_equals_dense_projection(counts, fmt):
    fit = moonlight.fit_nmf(counts, 3, restarts=2, seed=0)
    dense = project(counts, fit.W_frame())
    sparse = project(fmt(counts.to_numpy(float)), fit.W)
    # both stop where log L no longer resolves a sweep's gain (roundoff): H agrees to
    # ~1e-6, log L to the last digits
    np.testing.assert_allclose(sparse.H, dense.H.to_numpy(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(sparse.loglik, dense.loglik.to_numpy(), rtol=1e-10)
    frame = counts.astype(pd.SparseDtype("float64", 0.0))
    named = project(frame, fit.W_frame())
    assert named.H.columns.tolist() == counts.columns.tolist()


def test_fit_nmf_threads_give_the_same_result(counts):
    V = sp.csr_array(counts.to_numpy(float))
    one = moonlight.fit_nmf(V, 3, restarts=2, seed=4, threads=1)
    two = moonlight.fit_nmf(V, 3, restarts=2, seed=4, threads=2)
    assert one.W.tobytes() == two.W.tobytes() and one.H.tobytes() == two.H.tobytes()
    assert one.logliks.tobytes() == two.logliks.tobytes()
    with pytest.raises(ValueError, match="threads must be a positive integer, got 0"):
        moonlight.fit_nmf(V, 3, restarts=1, threads=0)
