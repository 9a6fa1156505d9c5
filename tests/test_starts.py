"""Tests of the restarts' starting points (moonlight.starts, fit_nmf(init=...))."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import moonlight
from moonlight.engines import EPS
from moonlight.nmf import _initial_factors, combine_results
from moonlight.starts import nndsvd, randomized_svd


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(11)
    W = rng.random((40, 4)) ** 4
    H = rng.random((4, 30)) * 60
    V = rng.poisson(W @ H).astype(float)
    V[V.sum(axis=1) == 0, 0] = 1.0
    V[0, V.sum(axis=0) == 0] = 1.0
    return V


# --- init="random" is the start moonlight always had ----------------------------------


def test_random_start_is_the_historical_draw(counts):
    """The bytes of the start before init= existed: W uniform, columns normalized; H
    uniform times 2 x sample total / R; one child of SeedSequence(seed) per restart."""
    W, H = _initial_factors(counts, 3, 2, 5)
    for k, child in enumerate(np.random.SeedSequence(5).spawn(2)):
        rng = np.random.default_rng(child)
        w = rng.random((40, 3))
        assert W[k].tobytes() == (w / w.sum(axis=0)).tobytes()
        h = rng.random((3, 30)) * (2.0 * counts.sum(axis=0) / 3)
        assert H[k].tobytes() == h.tobytes()


def test_init_random_is_the_default_fit_bytes(counts):
    default = moonlight.fit_nmf(counts, 3, restarts=2, seed=4)
    random = moonlight.fit_nmf(counts, 3, restarts=2, seed=4, init="random")
    assert default.W.tobytes() == random.W.tobytes()
    assert default.H.tobytes() == random.H.tobytes()
    assert default.logliks.tobytes() == random.logliks.tobytes()


def test_bad_init_is_rejected(counts):
    with pytest.raises(ValueError, match="init must be one of"):
        moonlight.fit_nmf(counts, 2, restarts=1, init="nndsvd")


# --- init="svd" -------------------------------------------------------------------------


def test_nndsvd_recovers_disjoint_programs_exactly():
    """V = W H with disjoint supports: the singular vectors are the programs, so NNDSVD
    on the randomized SVD returns V itself."""
    rng = np.random.default_rng(2)
    W = np.zeros((30, 3))
    H = np.zeros((3, 24))
    for r in range(3):
        W[10 * r:10 * r + 10, r] = rng.random(10) + 0.5 * (r + 1)
        H[r, 8 * r:8 * r + 8] = rng.random(8) * 10 * (r + 1)
    V = W @ H
    W0, H0 = nndsvd(*randomized_svd(V, 3, np.random.default_rng(0)))
    np.testing.assert_allclose(W0 @ H0, V, rtol=0, atol=1e-10 * V.max())


def test_svd_starts_are_deterministic_positive_and_scaled(counts):
    W, H = _initial_factors(counts, 3, 4, 7, "svd")
    W2, H2 = _initial_factors(counts, 3, 4, 7, "svd")
    assert W.tobytes() == W2.tobytes() and H.tobytes() == H2.tobytes()
    assert W.dtype == H.dtype == np.float64
    assert W.min() >= EPS and H.min() >= EPS
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-12)  # columns of each W
    np.testing.assert_allclose(H.sum(axis=(1, 2)), counts.sum(), rtol=1e-12)
    for k in range(1, 4):  # every restart its own start
        assert np.abs(W[k] - W[0]).max() > 1e-3 * W[0].max()
        assert np.abs(H[k] - H[0]).max() > 1e-3 * H[0].max()


@pytest.mark.parametrize("fmt", ["csc", "csr", "coo"])
def test_svd_starts_of_dense_and_sparse_v_agree(counts, fmt):
    Wd, Hd = _initial_factors(counts, 3, 3, 1, "svd")
    Ws, Hs = _initial_factors(sp.coo_array(counts).asformat(fmt), 3, 3, 1, "svd")
    np.testing.assert_allclose(Ws, Wd, rtol=1e-12, atol=1e-12 * Wd.max())
    np.testing.assert_allclose(Hs, Hd, rtol=1e-12, atol=1e-12 * Hd.max())


def test_svd_fit_dense_equals_sparse_and_fans_out(counts):
    dense = moonlight.fit_nmf(counts, 3, restarts=3, seed=2, init="svd")
    sparse = moonlight.fit_nmf(sp.csc_array(counts), 3, restarts=3, seed=2, init="svd")
    np.testing.assert_allclose(sparse.logliks, dense.logliks, rtol=1e-9)
    parts = [moonlight.fit_nmf(counts, 3, restarts=3, seed=2, init="svd", restart_ids=ids)
             for ids in ([0, 2], [1])]
    joined = combine_results(parts)
    assert joined.W.tobytes() == dense.W.tobytes()
    assert joined.logliks.tobytes() == dense.logliks.tobytes()


def test_svd_start_never_densifies_a_sparse_v():
    """20,000 x 200,000 at 0.1%: dense, V would take 32 GB; the start needs thin
    matrices only (H is R x M)."""
    rng = np.random.default_rng(0)
    n_genes, n_cells, per_cell = 20_000, 200_000, 20
    indices = np.sort(rng.integers(0, n_genes, (n_cells, per_cell)), axis=1).ravel()
    indptr = np.arange(0, n_cells * per_cell + 1, per_cell)
    data = rng.integers(1, 10, indices.size).astype(np.float64)
    V = sp.csc_array((data, indices.astype(np.int32), indptr), shape=(n_genes, n_cells))
    tracemalloc.start()
    W, H = _initial_factors(V, 2, 1, 0, "svd")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert W.shape == (1, n_genes, 2) and H.shape == (1, 2, n_cells)
    assert W.min() >= EPS and H.min() >= EPS
    assert peak < 120 * 2**20, peak / 2**20  # a dense copy: 32,000 MiB


def test_plain_sweeps_delay_extrapolation(counts, monkeypatch):
    """plain_sweeps=0 is the extrapolated descent as always; plain_sweeps >= max_iter is
    the descent with extrapolation switched off, byte for byte."""
    from moonlight import engines
    from moonlight.engines import _common, ccd

    problem = ccd.DenseProblem(np.ascontiguousarray(counts), None, 0.0)
    W0, H0 = _initial_factors(counts, 3, 1, 3)

    def fit(**options):
        run = engines.fit_restarts("ccd", problem, lambda k: (W0[0], H0[0]), [0],
                                   engines.Options(tol=1e-12, max_iter=40, check_every=1,
                                                   **options), 0.0, [])
        found = next(run)
        return found.W.tobytes() + found.H.tobytes()

    extrapolated, plain = fit(), fit(plain_sweeps=40)
    assert fit(plain_sweeps=0) == extrapolated
    assert plain != extrapolated
    monkeypatch.setattr(_common, "CCD_EXTRAPOLATE", False)
    assert fit() == plain
