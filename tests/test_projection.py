"""Projection of new samples with W fixed (moonlight.projection)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

import moonlight
from moonlight.projection import Projection, align_genes, project, transform


@pytest.fixture(scope="module")
def sim():
    return moonlight.simulate(n_genes=60, n_samples=30, n_modules=3, module_size=(10, 25),
                              n_moonlighting=2, depth=(20_000, 30_000), seed=4)


@pytest.fixture(scope="module")
def fit(sim):
    # converged tightly, so its H is the optimum given its W to many digits
    return moonlight.fit_nmf(sim.counts, 3, restarts=2, seed=0, tol=1e-15)


def test_projecting_the_training_samples_reproduces_the_fitted_H(sim, fit):
    proj = project(sim.counts, fit.W_frame())
    assert proj.converged
    H = proj.H.to_numpy()
    # log L stops resolving a sweep's gain with H this close (module docstring)
    np.testing.assert_allclose(H, fit.H, rtol=1e-5, atol=1e-9 * fit.H.max())
    assert proj.loglik.sum() == pytest.approx(fit.loglik, rel=1e-11)


def test_loglik_never_decreases_along_the_sweeps():
    rng = np.random.default_rng(0)
    for case in range(6):
        n, m, r = rng.integers(3, 30), rng.integers(1, 20), rng.integers(1, 6)
        W = rng.gamma(0.3, 1.0, (n, r)) + 1e-9
        V = rng.poisson(W @ rng.gamma(0.5, 50.0, (r, m))).astype(float)
        proj = project(V, W, tol=1e-300, max_iter=80)
        ll = proj.trace["loglik"].to_numpy()
        assert np.all(np.diff(proj.trace["iteration"]) > 0)
        assert np.all(np.isfinite(ll))
        slack = 1e-12 * np.abs(ll[1:]) + 1e-9  # roundoff of the full sum only
        assert np.all(np.diff(ll) >= -slack), (case, np.diff(ll).min())
        assert ll[-1] == pytest.approx(proj.loglik.sum(), rel=1e-10, abs=1e-8)


def test_per_sample_loglik_is_the_poisson_pmf_of_each_column(sim, fit):
    proj = project(sim.counts, fit.W_frame())
    WH = fit.W @ proj.H.to_numpy()
    expected = poisson.logpmf(sim.counts.to_numpy(), WH).sum(axis=0)
    np.testing.assert_allclose(proj.loglik.to_numpy(), expected, rtol=1e-11)
    assert proj.loglik.index.tolist() == sim.counts.columns.tolist()


def test_frames_in_frames_out_arrays_in_arrays_out(sim, fit):
    W = fit.W_frame().rename(columns=lambda m: f"prog_{m}")
    H = transform(sim.counts.iloc[:, :5], W)
    assert isinstance(H, pd.DataFrame)
    assert H.index.tolist() == ["prog_M1", "prog_M2", "prog_M3"]
    assert H.columns.tolist() == sim.counts.columns[:5].tolist()
    H_arr = transform(sim.counts.to_numpy()[:, :5], fit.W)
    assert isinstance(H_arr, np.ndarray) and H_arr.shape == (3, 5)
    assert H_arr.tobytes() == H.to_numpy().tobytes()  # deterministic, same bytes


def test_samples_are_projected_independently(sim, fit):
    """A sample's H does not depend on which other samples are projected beside it."""
    V = sim.counts.to_numpy(float)
    together = transform(V, fit.W, tol=1e-15)
    alone = transform(V[:, [7]], fit.W, tol=1e-15)
    np.testing.assert_allclose(alone[:, 0], together[:, 7], rtol=1e-6)


def test_exact_data_is_recovered_with_missing_genes_and_W_not_renormalized():
    """Noise-free V = W H: H comes back from any subset of genes, on W's full scale."""
    rng = np.random.default_rng(2)
    genes = [f"g{i}" for i in range(40)]
    W = pd.DataFrame(rng.dirichlet(np.ones(40) * 0.5, size=3).T, index=genes,
                     columns=["a", "b", "c"])
    H_true = rng.gamma(1.0, 1000.0, (3, 8))
    V = pd.DataFrame(W.to_numpy() @ H_true, index=genes, columns=[f"s{j}" for j in range(8)])
    V_new = pd.concat([V.drop(index=["g3", "g17", "g30"]),
                       pd.DataFrame(5.0, index=["novel1", "novel2"], columns=V.columns)])
    V_new = V_new.iloc[::-1]  # another gene order
    aligned, missing, extra = align_genes(V_new, W)
    assert missing == ["g3", "g17", "g30"]
    assert extra == ["novel2", "novel1"]
    assert aligned.index.tolist() == [g for g in genes if g not in missing]
    H = transform(aligned, W.loc[aligned.index], tol=1e-15)
    np.testing.assert_allclose(H.to_numpy(), H_true, rtol=1e-6)


def test_align_genes_errors():
    W = pd.DataFrame(np.ones((3, 2)), index=["a", "b", "c"])
    with pytest.raises(ValueError, match="no gene"):
        align_genes(pd.DataFrame(np.ones((2, 1)), index=["x", "y"]), W)
    with pytest.raises(ValueError, match="not unique"):
        align_genes(pd.DataFrame(np.ones((2, 1)), index=["a", "a"]), W)
    with pytest.raises(TypeError, match="strings"):
        align_genes(pd.DataFrame(np.ones((2, 1)), index=[1, 2]), W)
    with pytest.raises(TypeError, match="DataFrames"):
        align_genes(np.ones((3, 1)), W)


@pytest.mark.parametrize(
    "V, W, match",
    [
        (np.ones((3, 2)), np.ones((4, 2)), "3 genes"),
        (-np.ones((3, 2)), np.ones((3, 2)), "negative"),
        (np.ones((3, 2)), np.array([[1.0, 0.0]] * 3), "zero on these genes"),
        (np.array([[1.0, np.nan]] * 3), np.ones((3, 2)), "NaN"),
        (np.ones(3), np.ones((3, 2)), "2-D"),
    ],
)
def test_bad_input_is_rejected(V, W, match):
    with pytest.raises(ValueError, match=match):
        project(V, W)


def test_gene_order_must_match_for_frames(sim, fit):
    with pytest.raises(ValueError, match="align_genes"):
        project(sim.counts.iloc[::-1], fit.W_frame())


def test_all_zero_sample_goes_to_the_floor(fit):
    V = np.zeros((fit.W.shape[0], 2))
    V[:, 1] = 3.0
    proj = project(V, fit.W)
    assert isinstance(proj, Projection)
    assert np.all(proj.H[:, 0] <= 1e-15)
    assert proj.H[:, 1].sum() > 0


def test_multiplicative_warmup_reaches_the_same_optimum_in_fewer_sweeps(monkeypatch):
    """From the flat start, modules a sample does not use crawl down by bounded descent
    steps; the multiplicative updates first (WARMUP_STEPS) shrink them by factors: on
    single-cell-like counts (each sample mostly one program) the descent then needs a
    fraction of the sweeps, and reaches the same log L."""
    import scipy.sparse as sp

    from moonlight import projection

    rng = np.random.default_rng(0)  # benchmarks/sparse_scale.py's cells, smaller
    n, m, r = 400, 600, 8
    member = rng.integers(0, r, n)
    W = np.where(member[:, None] == np.arange(r), rng.lognormal(0, 2.5, (n, 1)), 1e-3)
    W /= W.sum(axis=0)
    usage = rng.dirichlet(np.full(r, 0.05), size=m).T  # mostly one program per sample
    V = sp.csc_array(rng.poisson(rng.gamma(0.5, 2 * (W @ (usage * 500)))).astype(float))
    warm = project(V, W)
    monkeypatch.setattr(projection, "WARMUP_STEPS", 0)
    flat = project(V, W)
    assert warm.converged and flat.converged
    assert warm.n_iter * 3 < flat.n_iter  # 5 sweeps against 19
    assert warm.loglik.sum() == pytest.approx(flat.loglik.sum(), rel=1e-12, abs=1e-6)
    np.testing.assert_allclose(warm.H, flat.H, rtol=1e-4, atol=1e-6 * flat.H.max())


def test_a_projection_entry_leaves_out_the_genes_it_names(tmp_path):
    """``drop_genes`` and ``exclude_genes`` of a ``project:`` entry are read as a data
    set's are (one reader, :func:`moonlight.prepare.read_entry_table`): the genes they
    take are not projected, and genes.tsv calls those of the model excluded, not missing."""
    from moonlight.prepare import read_entry_table
    from moonlight.projection import gene_status
    genes = ["MT-CO1", "MT-ND2", "ACTB", "GAPDH", "novel"]
    table = tmp_path / "new.tsv"
    table.write_text("gene\ts1\ts2\n" + "".join(f"{g}\t{i + 1}\t{2 * i + 1}\n"
                                               for i, g in enumerate(genes)))
    entry = read_entry_table(table, {"exclude_genes": ["^MT-", "NONE"], "drop_genes": ["novel"]})
    assert entry.counts.index.tolist() == ["ACTB", "GAPDH"]
    assert entry.excluded == ["MT-CO1", "MT-ND2"] and entry.taken == {"^MT-": 2, "NONE": 0}
    W = pd.DataFrame([[0.2, 0.1], [0.3, 0.1], [0.2, 0.4], [0.2, 0.3], [0.1, 0.1]],
                     index=["MT-CO1", "ACTB", "GAPDH", "RPL3", "MT-ND2"], columns=["a", "b"])
    aligned, missing, extra = align_genes(entry.counts, W)
    status = gene_status(list(aligned.index), missing, extra, ["novel", *entry.excluded])
    assert dict(zip(status["gene"], status["status"])) == {
        "ACTB": "used", "GAPDH": "used", "RPL3": "missing", "novel": "excluded",
        "MT-CO1": "excluded", "MT-ND2": "excluded"}
    with pytest.raises(Exception, match="new.tsv.*absent"):
        read_entry_table(table, {"drop_genes": ["absent"]})
