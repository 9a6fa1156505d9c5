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


def test_many_moonlighting_genes_each_get_their_share():
    """With 60 moonlighting genes no whole draw of W passes (each gene passes with
    probability about 0.6); the genes that fall short are redrawn alone, and every one
    ends with its smaller share at least moonlighting_min_share."""
    sim = simulate(seed=3, n_genes=2000, n_samples=20, n_modules=10,
                   module_size=(100, 300), n_moonlighting=60)
    rows = sim.W.loc[sim.moonlighting]
    smaller = np.sort(rows.div(rows.sum(axis=1), axis=0).to_numpy(), axis=1)[:, -2]
    assert len(smaller) == 60 and (smaller >= 0.2).all()
    np.testing.assert_allclose(sim.W.sum(axis=0), 1.0)
    assert ((sim.W > 0) == sim.membership).all().all()


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


# Noise models


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


# Planted shares (for calibration)


def test_planted_shares_are_exact_and_columns_still_sum_to_one():
    shares = [0.05, 0.08, 0.12, 0.15, 0.2, 0.3, 0.5, 0.5]
    sim = simulate(n_genes=200, n_modules=4, module_size=(25, 75), n_moonlighting=8,
                   moonlighting_min_share=0.0, moonlighting_shares=shares, seed=1)
    np.testing.assert_allclose(sim.W.sum(axis=0), 1.0, rtol=1e-12)
    second = sim.second_share
    np.testing.assert_allclose(np.sort(second[sim.moonlighting]), np.sort(shares), rtol=1e-12)
    assert (second.drop(sim.moonlighting) == 0).all()
    assert ((sim.W > 0) == sim.membership).all().all()


def test_planted_shares_are_checked():
    with pytest.raises(ValueError, match="one share per planted gene"):
        simulate(n_moonlighting=3, moonlighting_min_share=0.0, moonlighting_shares=[0.2])
    with pytest.raises(ValueError, match=r"in \(0, 0.5\]"):
        simulate(n_moonlighting=1, moonlighting_min_share=0.0, moonlighting_shares=[0.6])
    with pytest.raises(ValueError, match="moonlighting_min_share"):
        simulate(n_moonlighting=1, moonlighting_shares=[0.1])


def test_broad_genes_are_in_every_module_and_leave_the_rest_unchanged():
    plain = simulate(seed=4)
    sim = simulate(seed=4, n_broad=10)
    assert sim.counts.shape == (110, 60)
    assert len(sim.broad) == 10 and sim.membership.loc[sim.broad].all().all()
    assert sim.moonlighting == plain.moonlighting
    assert np.allclose(sim.W.sum(axis=0), 1.0)
    # Module genes keep their shares exactly; broad genes are within a factor of ~2.
    def shares(W):
        return W.div(W.sum(axis=1), axis=0)
    assert np.allclose(shares(sim.W).iloc[:100].to_numpy(), shares(plain.W).to_numpy())
    broad = sim.W.loc[sim.broad].to_numpy()
    assert (broad.max(axis=1) / broad.min(axis=1) < 2.5).all()


def test_no_broad_genes_gives_the_same_bytes():
    a, b = simulate(seed=9), simulate(seed=9, n_broad=0)
    assert a.counts.equals(b.counts) and a.W.equals(b.W)


def test_a_plate_effect_scales_genes_per_plate_and_nothing_without_it():
    plain = simulate(seed=5, depth=(1e6, 1e6))
    assert simulate(seed=5, depth=(1e6, 1e6), plates=3).counts.equals(plain.counts)
    sim = simulate(seed=5, depth=(1e6, 1e6), plates=2, plate_sd=0.5)
    assert sim.W.equals(plain.W) and sim.H.equals(plain.H)
    # Per gene, the ratio of plate means departs from 1 by the drawn effects.
    def plate_ratio(counts):
        return (counts.iloc[:, 0::2].sum(axis=1) + 1) / (counts.iloc[:, 1::2].sum(axis=1) + 1)
    assert np.log(plate_ratio(sim.counts) / plate_ratio(plain.counts)).std() > 0.4
    with pytest.raises(ValueError, match="plate"):
        simulate(seed=5, plates=0)


def test_dropout_loses_low_counts_more_than_high_ones():
    plain = simulate(seed=6, depth=(2000, 20000))
    assert simulate(seed=6, depth=(2000, 20000), dropout_mid=0.0).counts.equals(plain.counts)
    lossy = simulate(seed=6, depth=(2000, 20000), dropout_mid=5.0)
    V, D = plain.counts.to_numpy(), lossy.counts.to_numpy()
    assert ((D == V) | (D == 0)).all()  # counts are kept whole or lost
    mu = plain.depth.to_numpy() * (plain.W.to_numpy() @ plain.H.to_numpy())
    lost = (V > 0) & (D == 0)
    assert lost[(V > 0) & (mu > 0.5) & (mu < 2)].mean() > 0.7  # 2^(-mu / 5) >= 0.76
    assert lost[(V > 0) & (mu > 50)].mean() < 0.01
    # shallow samples lose more of their nonzero counts than deep ones
    per_sample = lost.sum(axis=0) / np.maximum((V > 0).sum(axis=0), 1)
    shallow = plain.depth.to_numpy() < np.median(plain.depth)
    assert per_sample[shallow].mean() > per_sample[~shallow].mean()


def test_a_technical_program_adds_to_every_gene_and_leaves_the_truth_alone():
    plain = simulate(seed=8, depth=(1e6, 1e6))
    assert simulate(seed=8, depth=(1e6, 1e6), axis_share=0.0).counts.equals(plain.counts)
    assert (plain.axis == 0).all()
    sim = simulate(seed=8, depth=(1e6, 1e6), axis_share=0.4)
    assert sim.W.equals(plain.W) and sim.H.equals(plain.H)
    assert sim.axis.between(0, 0.4).all() and sim.axis.std() > 0.08
    # the program's profile sums to one: a sample keeps its depth
    assert sim.counts.sum(axis=0).to_numpy() == pytest.approx(1e6, rel=0.01)
    # what the modules do not explain grows with the sample's share of the program
    mu = 1e6 * (plain.W.to_numpy() @ plain.H.to_numpy())
    off = np.abs(sim.counts.to_numpy() - mu).sum(axis=0) / 1e6
    assert np.corrcoef(off, sim.axis)[0, 1] > 0.9
    # every gene gets a share of it: on the sample that draws the largest share, the
    # counts exceed the modules' part of the mean, (1 - a_j) mu_ij, for nearly every gene
    j = int(sim.axis.to_numpy().argmax())
    excess = sim.counts.to_numpy()[:, j] - (1 - sim.axis.iat[j]) * mu[:, j]
    assert (excess > 0).mean() > 0.9
    with pytest.raises(ValueError, match="axis_share"):
        simulate(seed=8, axis_share=0.6)
