"""The row fits under the share test (moonlight.rowmodel.fit_rows): they reach the
optimum, their log likelihood is the dense formula's, and a row's result does not
depend on the rows fitted beside it."""

import numpy as np
import pytest

from moonlight.rowmodel import (expand, fit_rows, fitting_threads, row_loglik, share_map,
                                share_start)


def _rows(seed: int, n_rows: int = 6, n_modules: int = 4, n_samples: int = 400,
          zeros: float = 0.9):
    """Sparse count rows (about ``zeros`` of them zero) on random module activities;
    half the rows negative binomial."""
    rng = np.random.default_rng(seed)
    Ht = rng.gamma(0.5, 2.0, (n_modules, n_samples))
    b = rng.gamma(0.5, 1.0, (n_rows, n_modules))
    mu = b @ Ht
    mu *= -np.log(zeros) / mu.mean(axis=1, keepdims=True)  # P(0) about `zeros`
    V = rng.poisson(mu * rng.gamma(2.0, 0.5, mu.shape)).astype(float)
    alpha = np.where(np.arange(n_rows) % 2 == 0, 0.0, 0.4)
    return V, Ht, alpha, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_free_fit_meets_the_optimality_conditions(seed):
    """With one free coefficient per module (T = I) the fit is a non-negative regression:
    at the optimum every positive coefficient has a zero gradient and every zero one a
    gradient <= 0 (scaled by the row's total)."""
    V, Ht, alpha, _ = _rows(seed)
    n_rows, n_modules = V.shape[0], Ht.shape[0]
    eye = np.broadcast_to(np.eye(n_modules), (n_rows, n_modules, n_modules))
    b, _ = fit_rows(V, Ht, eye, np.ones((n_rows, n_modules)), alpha, max_iter=500,
                    tol=1e-15)
    mu = b @ Ht
    grad = ((V - mu) / (mu * (1 + alpha[:, None] * mu))) @ Ht.T
    scale = (Ht.sum(axis=1) * np.maximum(b.sum(axis=1, keepdims=True), 1)).max()
    assert (V > 0).mean() < 0.3  # the rows are sparse
    assert np.all(np.abs(grad[b > 0]) < 1e-6 * scale)
    assert np.all(grad[b == 0] < 1e-6 * scale)


def _cell_type_rows():
    """Cells of six types, each expressing its own module, and count rows on them (half
    negative binomial), with every row's optimum from a long fit: some of its
    coefficients at zero, the others well above."""
    rng = np.random.default_rng(4)
    n_rows, n_modules, n_samples = 8, 6, 3000
    Ht = np.full((n_modules, n_samples), 1e-16)
    cell_type = rng.integers(0, n_modules, n_samples)
    Ht[cell_type, np.arange(n_samples)] = rng.gamma(4.0, 0.25, n_samples)
    Ht += rng.gamma(0.3, 0.05, Ht.shape) * (rng.random(Ht.shape) < 0.2)
    b = rng.gamma(0.5, 1.0, (n_rows, n_modules)) * (rng.random((n_rows, n_modules)) < 0.4)
    b[:, 0] += 0.5
    mu = b @ Ht
    V = rng.poisson(mu * rng.gamma(2.0, 0.5, mu.shape)).astype(float)
    alpha = np.where(np.arange(n_rows) % 2 == 0, 0.0, 0.5)
    eye = np.broadcast_to(np.eye(n_modules), (n_rows, n_modules, n_modules))
    best, ll_best = fit_rows(V, Ht, eye, np.ones((n_rows, n_modules)), alpha,
                             max_iter=3000, tol=1e-15)
    assert (best == 0).any(axis=1).all()  # every row has coefficients at zero
    return V, Ht, alpha, eye, best, ll_best


def test_a_coefficient_on_its_way_to_zero_does_not_hold_the_others_back():
    """Rows started near their optimum, with every coefficient that belongs at zero a
    tiny positive number, reach the optimum's log likelihood in 10 Newton steps. Kept
    free, such a coefficient shortened every step for dozens of iterations (54 nats
    short after 10 on one row)."""
    V, Ht, alpha, eye, best, ll_best = _cell_type_rows()
    start = np.where(best > 0, 0.7 * best, 1e-12 * best.max(axis=1, keepdims=True))
    _, ll = fit_rows(V, Ht, eye, start, alpha, max_iter=10)
    np.testing.assert_allclose(ll, ll_best, rtol=0, atol=1e-6)


def test_a_coefficient_climbing_from_a_tiny_value_gets_there_in_a_few_steps():
    """A coefficient that belongs well above zero starts at 1e-9 of its optimum. Newton
    steps on v log mu about double it per iteration (30 to get back); the longer steps
    tried after such a step reach the optimum's log likelihood within 10."""
    V, Ht, alpha, eye, best, ll_best = _cell_type_rows()
    smallest = np.where(best > 0, best, np.inf).argmin(axis=1)
    start = best.copy()
    start[np.arange(len(V)), smallest] *= 1e-9
    _, ll = fit_rows(V, Ht, eye, start, alpha, max_iter=10)
    np.testing.assert_allclose(ll, ll_best, rtol=0, atol=1e-6)


def test_fits_stopped_at_the_iteration_cap_are_flagged():
    """A row that stops at max_iter short of its optimum is flagged in ``capped`` (which
    is only ever set, never cleared); a row that converged is not, on one thread or two."""
    V, Ht, alpha, eye, best, ll_best = _cell_type_rows()
    start = np.ones_like(best)
    capped = np.zeros(len(V), dtype=bool)
    _, ll = fit_rows(V, Ht, eye, start, alpha, max_iter=2, capped=capped)
    assert capped.all() and (ll < ll_best).all()
    for threads in (1, 2):
        again = np.zeros(len(V), dtype=bool)
        with fitting_threads(threads):
            _, ll = fit_rows(V, Ht, eye, start, alpha, capped=again)
        assert not again.any()
        np.testing.assert_allclose(ll, ll_best, rtol=0, atol=1e-6)
        fit_rows(V[:1], Ht, eye[:1], start[:1], alpha[:1], max_iter=1, capped=again[:1])
        assert again.tolist() == [True] + [False] * (len(V) - 1)
    # the cap of a block (modules.row_max_iter, as call_modules sets it)
    for cap, stopped in ((2, True), (500, False)):
        flags = np.zeros(len(V), dtype=bool)
        with fitting_threads(1, max_iter=cap):
            fit_rows(V, Ht, eye, start, alpha, capped=flags)
        assert flags.all() if stopped else not flags.any()


def test_log_likelihood_is_the_dense_formula_with_and_without_offsets():
    """A Poisson row is evaluated on its nonzero counts only; the result is the dense
    formula's (row_loglik) at the returned coefficients."""
    V, Ht, alpha, rng = _rows(3)
    module = rng.integers(0, Ht.shape[0], len(V))
    T = share_map(module, np.full(len(V), 0.3), Ht.shape[0])
    start = share_start(rng.gamma(1.0, 1.0, (len(V), Ht.shape[0])), module)
    for offset in (None, rng.gamma(4.0, 0.25, V.shape)):
        c, ll = fit_rows(V, Ht, T, start, alpha, offset=offset)
        dense = row_loglik(V, Ht, expand(c, T), alpha, offset)
        np.testing.assert_allclose(ll, dense, rtol=1e-12)
        assert np.all(ll >= row_loglik(V, Ht, expand(start, T), alpha, offset))


def test_a_row_gives_the_same_bytes_whatever_rows_are_beside_it():
    V, Ht, alpha, rng = _rows(4)
    module = rng.integers(0, Ht.shape[0], len(V))
    T = share_map(module, np.full(len(V), 0.2), Ht.shape[0])
    start = share_start(rng.gamma(1.0, 1.0, (len(V), Ht.shape[0])), module)
    c_all, ll_all = fit_rows(V, Ht, T, start, alpha)
    for g in (0, 3):
        c_one, ll_one = fit_rows(V[g:g + 1], Ht, T[g:g + 1], start[g:g + 1], alpha[g:g + 1])
        assert c_one.tobytes() == c_all[g:g + 1].tobytes()
        assert ll_one.tobytes() == ll_all[g:g + 1].tobytes()


def test_rows_shared_out_among_threads_give_the_same_bytes():
    from moonlight import _row_kernels
    from moonlight.rowmodel import fitting_threads

    V, Ht, alpha, rng = _rows(5, n_rows=9)
    module = rng.integers(0, Ht.shape[0], len(V))
    T = share_map(module, np.full(len(V), 0.25), Ht.shape[0])
    start = share_start(rng.gamma(1.0, 1.0, (len(V), Ht.shape[0])), module)
    offset = rng.gamma(4.0, 0.25, V.shape)
    c_one, ll_one = fit_rows(V, Ht, T, start, alpha, offset=offset)
    with fitting_threads(2):
        c_two, ll_two = fit_rows(V, Ht, T, start, alpha, offset=offset)
    assert _row_kernels.fit_rows_parallel.signatures  # the threaded kernel ran
    assert c_two.tobytes() == c_one.tobytes() and ll_two.tobytes() == ll_one.tobytes()
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        with fitting_threads(0):
            pass


@pytest.mark.parametrize("n_samples", [397, 400])
def test_four_samples_at_a_time_add_the_terms_one_sample_at_a_time(n_samples):
    """The row fits' gradient and curvature pass (four samples per load of every
    accumulator) is the one-sample-at-a-time sum to the byte, with and without offsets,
    for negative-binomial and Poisson terms, whether or not four divides the samples."""
    from moonlight import _row_kernels as k

    V, Ht, _, rng = _rows(6, n_rows=2, n_modules=5, n_samples=n_samples)
    Hs = np.ascontiguousarray(Ht.T)
    b = rng.gamma(1.0, 0.2, Ht.shape[0])
    for alpha in (0.0, 0.4):
        for offset in (np.ones(1), rng.gamma(4.0, 0.25, n_samples)):
            has_offset = offset.size > 1
            cells = np.flatnonzero(V[0]) if alpha == 0.0 else np.arange(n_samples)
            one = np.zeros(5), np.zeros((5, 5))
            for j in cells:
                k._accumulate(V[0], Hs, b, alpha, offset, has_offset, j, 1e-300, *one)
            four = np.zeros(5), np.zeros((5, 5))
            k._accumulate_all(V[0], Hs, b, alpha, offset, has_offset, cells, 1e-300, *four)
            assert four[0].tobytes() == one[0].tobytes()
            assert np.tril(four[1]).tobytes() == np.tril(one[1]).tobytes()
            assert np.tril(one[1]).any()
