"""The simulator's invariants: the structure the exercise's generative model prescribes."""

import numpy as np
import pytest

from moonlight.simulate import sample_module_sizes, simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(seed=7)


def test_shapes_and_names(sim):
    assert sim.counts.shape == (100, 60)
    assert sim.W.shape == (100, 4) and sim.H.shape == (4, 60)
    assert sim.counts.index.equals(sim.W.index) and sim.counts.columns.equals(sim.H.columns)


def test_columns_of_W_and_H_sum_to_one(sim):
    np.testing.assert_allclose(sim.W.sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(sim.H.sum(axis=0), 1.0, rtol=1e-12)


def test_W_is_nonzero_exactly_on_memberships(sim):
    assert ((sim.W > 0) == sim.membership).all().all()


def test_every_gene_in_one_module_and_moonlighters_in_two(sim):
    per_gene = sim.membership.sum(axis=1)
    assert per_gene.isin([1, 2]).all()
    assert len(sim.moonlighting) == 3
    assert (per_gene[sim.moonlighting] == 2).all()


def test_module_sizes_within_range(sim):
    sizes = sim.membership.sum(axis=0).to_numpy()
    assert sizes.sum() == 100 + 3
    # 10..40 genes each before the 3 moonlighting genes join a second module.
    assert (sizes >= 10).all() and (sizes <= 40 + 3).all()


def test_moonlighting_genes_carry_real_weight_in_both_modules(sim):
    rows = sim.W.loc[sim.moonlighting]
    shares = rows.div(rows.sum(axis=1), axis=0)
    smaller = np.sort(shares.to_numpy(), axis=1)[:, -2]
    assert (smaller >= 0.2).all()


def test_counts_are_poisson_around_depth_times_WH(sim):
    expected = (sim.W.to_numpy() @ sim.H.to_numpy()) * sim.depth.to_numpy()
    counts = sim.counts.to_numpy()
    assert counts.dtype == np.int64 and (counts >= 0).all()
    # Column totals are Poisson with mean C_j: within 5 standard deviations.
    totals = counts.sum(axis=0)
    assert np.all(np.abs(totals - sim.depth.to_numpy()) < 5 * np.sqrt(sim.depth.to_numpy()))
    # Pearson residuals of a Poisson have variance ~1.
    mask = expected > 5
    residuals = (counts[mask] - expected[mask]) / np.sqrt(expected[mask])
    assert 0.8 < residuals.var() < 1.2
    assert ((sim.depth >= 90_000) & (sim.depth <= 110_000)).all()


def test_same_seed_same_bytes_other_seed_other_data():
    a, b, c = simulate(seed=3), simulate(seed=3), simulate(seed=4)
    assert a.counts.equals(b.counts) and a.W.equals(b.W)
    assert not a.counts.equals(c.counts)


def test_plain_dirichlet_when_min_share_is_zero():
    sim = simulate(seed=0, moonlighting_min_share=0.0, n_moonlighting=5)
    assert len(sim.moonlighting) == 5


def test_module_sizes_sum_and_bounds():
    rng = np.random.default_rng(0)
    for _ in range(50):
        sizes = sample_module_sizes(100, 4, (10, 40), rng)
        assert sizes.sum() == 100 and sizes.min() >= 10 and sizes.max() <= 40


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_genes": 30, "n_modules": 4, "module_size": (10, 40)}, "cannot be split"),
        ({"n_modules": 1, "module_size": (10, 100)}, "at least two modules"),
        ({"depth": (0, 10)}, "depth"),
        ({"moonlighting_min_share": 0.7}, "moonlighting_min_share"),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate(**kwargs)
