"""A row's overdispersion (moonlight.dispersion): Pearson's statistic is the formula's,
the moment dispersion solves X^2(alpha) = df (a closed form where the means are equal,
the simulated value on negative-binomial rows), and a row's value depends on that row
alone."""

import numpy as np
import pytest

from moonlight.dispersion import ALPHA_RANGE, nb_dispersion, pearson
from moonlight.rowmodel import fitting_threads


def _nb_rows(alphas, n_samples=20000, seed=0):
    """Negative-binomial rows (dispersion ``alphas``, 0 = Poisson) on two modules."""
    rng = np.random.default_rng(seed)
    Ht = rng.gamma(1.0, 1.0, (2, n_samples))
    b = rng.uniform(0.5, 2.0, (len(alphas), 2))
    mu = b @ Ht
    a = np.asarray(alphas, dtype=float)[:, None]
    lam = np.where(a > 0, rng.gamma(1 / np.maximum(a, 1e-12), mu * a), mu)
    return rng.poisson(lam).astype(float), Ht, b


def test_pearson_is_the_formula_with_and_without_an_offset():
    V, Ht, b = _nb_rows([0.0, 0.3, 2.0], n_samples=500, seed=1)
    alpha = np.array([0.0, 0.3, 2.0])
    mu = b @ Ht
    expected = ((V - mu) ** 2 / (mu * (1 + alpha[:, None] * mu))).sum(axis=1)
    np.testing.assert_allclose(pearson(V, Ht, b, alpha), expected, rtol=1e-12)
    offset = np.random.default_rng(2).uniform(0.5, 2.0, V.shape)
    mu = (b @ Ht) * offset
    expected = ((V - mu) ** 2 / (mu * (1 + alpha[:, None] * mu))).sum(axis=1)
    np.testing.assert_allclose(pearson(V, Ht, b, alpha, offset=offset), expected,
                               rtol=1e-12)


def test_dispersion_has_the_closed_form_root_where_the_means_are_equal():
    """With every mean m, X^2(alpha) = S / (m (1 + alpha m)), so X^2 = df at
    alpha = (S / (m df) - 1) / m."""
    rng = np.random.default_rng(3)
    m, n = 2.0, 1000
    V = rng.poisson(rng.gamma(2.0, m / 2.0, (4, n))).astype(float)  # alpha 0.5
    Ht, b = np.full((1, n), 1.0), np.full((4, 1), m)
    df = np.array([n - 1.0, n / 2, n / 3, 10.0 * n])
    S = ((V - m) ** 2).sum(axis=1)
    root = (S / (m * df) - 1) / m
    alpha = nb_dispersion(V, Ht, b, df)
    over = S / m > df
    assert over[:3].all() and not over[3]  # the last row is not overdispersed enough
    np.testing.assert_allclose(alpha[over], root[over], rtol=1e-12)
    assert alpha[3] == 0.0


def test_dispersion_recovers_simulated_values_and_stays_in_range():
    truth = [0.0, 0.05, 0.5, 3.0]
    V, Ht, b = _nb_rows(truth, seed=4)
    alpha = nb_dispersion(V, Ht, b, V.shape[1] - 2.0)
    assert alpha[0] < 0.01  # Poisson: 0, or the little its noise allows
    np.testing.assert_allclose(alpha[1:], truth[1:], rtol=0.1)
    # a row the largest dispersion cannot explain gets the range's top
    wild = np.zeros((1, V.shape[1]))
    wild[0, :3] = 1e9
    assert nb_dispersion(wild, Ht, b[:1], V.shape[1] - 2.0)[0] == ALPHA_RANGE[1]


def test_a_row_gives_the_same_bytes_in_any_block_and_thread_count():
    V, Ht, b = _nb_rows([0.0, 0.2, 1.0, 0.05, 4.0], n_samples=3000, seed=5)
    df = np.full(len(V), V.shape[1] - 2.0)
    whole = nb_dispersion(V, Ht, b, df)
    alone = np.concatenate([nb_dispersion(V[i:i + 1], Ht, b[i:i + 1], df[i:i + 1])
                            for i in range(len(V))])
    with fitting_threads(2):
        threaded = nb_dispersion(V, Ht, b, df)
        phi_threaded = pearson(V, Ht, b, whole)
    assert whole.tobytes() == alone.tobytes() == threaded.tobytes()
    assert pearson(V, Ht, b, whole).tobytes() == phi_threaded.tobytes()


def test_shapes_that_do_not_fit_are_refused():
    V, Ht, b = _nb_rows([0.1, 0.2], n_samples=50)
    with pytest.raises(ValueError, match="do not fit"):
        nb_dispersion(V, Ht, b[:, :1], 48.0)
    with pytest.raises(ValueError, match="do not fit"):
        pearson(V[:, :40], Ht, b, 0.0)
