"""Simulator: negative-binomial noise has the stated mean and variance."""

import numpy as np
import pytest

from moonlight import simulate


def test_poisson_default_is_unchanged_by_the_noise_option():
    a = simulate(seed=5).counts
    b = simulate(seed=5, noise="poisson", dispersion=0.3).counts
    assert a.equals(b)


def test_negative_binomial_moments():
    # One module, one gene carrying all weight: every entry has mean C_j (depth fixed).
    sim = simulate(n_genes=2, n_samples=200_000, n_modules=1, module_size=(2, 2),
                   n_moonlighting=0, depth=(50.0, 50.0), noise="negative_binomial",
                   dispersion=0.1, seed=0)
    mu = (sim.depth.to_numpy() * (sim.W.to_numpy() @ sim.H.to_numpy()))
    V = sim.counts.to_numpy(float)
    for i in range(2):
        m = mu[i].mean()
        assert np.allclose(mu[i], m)
        assert V[i].mean() == pytest.approx(m, rel=0.01)
        assert V[i].var() == pytest.approx(m + 0.1 * m**2, rel=0.03)


def test_negative_binomial_needs_positive_dispersion():
    with pytest.raises(ValueError, match="dispersion"):
        simulate(noise="negative_binomial", dispersion=0.0)
    with pytest.raises(ValueError, match="noise"):
        simulate(noise="gaussian")
