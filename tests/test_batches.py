"""The known-batch model: V_ij ~ Poisson(beta_{i,b(j)} (W H)_ij) (moonlight.batches)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from moonlight import fit_nmf
from moonlight.batches import Batches, batch_problem, factors
from moonlight.crossval import cross_validate
from moonlight.engines.batch_mu import batch_loglik, update
from moonlight.likelihood import poisson_loglik
from moonlight.pipeline import analyse
from moonlight.recovery import match_modules
from moonlight.share_test import share_test
from moonlight.simulate import simulate


def planted(plate_sd=1.0, seed=5, **kw):
    settings = dict(n_genes=60, n_samples=60, n_modules=3, module_size=(15, 25),
                    n_moonlighting=3, plates=3, plate_sd=plate_sd, seed=seed,
                    depth=(4000, 8000), h_concentration=0.3)
    return simulate(**{**settings, **kw})


def test_labels_are_strings_and_sorted():
    b = Batches.of([2, "10", "2", 10, "a"])
    assert b.names == ["10", "2", "a"]
    assert b.codes.tolist() == [1, 0, 1, 0, 2]
    assert b.missing_from(np.array([0, 2])) == ["10", "a"]
    with pytest.raises(ValueError, match="no batch label"):
        Batches.of(["a", None, "b"])


def test_every_step_raises_the_likelihood_dense_sparse_and_masked():
    sim = planted()
    V = sim.counts.to_numpy(dtype=np.float64)
    batches = Batches.of(sim.plate)
    rng = np.random.default_rng(0)
    mask = (rng.random(V.shape) > 0.2).astype(np.float64)
    for problem in (batch_problem(V, batches), batch_problem(sp.csr_array(V), batches),
                    batch_problem(V * mask, batches, mask)):
        W, H = rng.random((60, 3)) + 0.1, rng.random((3, 60)) * 100 + 1
        from moonlight.engines.batch_mu import batch_factors
        beta, W = batch_factors(problem, W, H)
        previous = batch_loglik(problem, W, H, beta)
        for _ in range(30):
            W, H, beta = update(problem, W, H, beta)
            now = batch_loglik(problem, W, H, beta)
            assert now >= previous - 1e-9 * abs(previous)
            previous = now
        # the factors average to one over the samples; W's columns sum to one
        np.testing.assert_allclose(beta @ problem.sizes / problem.sizes.sum(), 1.0)
        np.testing.assert_allclose(W.sum(axis=0), 1.0)


def test_one_batch_is_the_plain_model():
    sim = planted(plates=1)
    plain = fit_nmf(sim.counts, 3, restarts=2, seed=1)
    one = fit_nmf(sim.counts, 3, restarts=2, seed=1, batches=["x"] * 60, tol=1e-12,
                  max_iter=50000)
    assert one.method == "batch_mu"
    np.testing.assert_allclose(one.batch_factors, 1.0, rtol=1e-9)
    assert one.loglik == pytest.approx(plain.loglik, abs=1e-3)
    assert poisson_loglik(sim.counts.to_numpy(), one.W @ one.H) == pytest.approx(one.loglik)


def test_sparse_fit_equals_dense_and_factors_are_recovered():
    sim = planted(depth=(2e5, 4e5))
    dense = fit_nmf(sim.counts, 3, restarts=2, seed=1, batches=sim.plate)
    sparse = fit_nmf(sp.csr_array(sim.counts.to_numpy()), 3, restarts=2, seed=1,
                     batches=sim.plate)
    np.testing.assert_allclose(sparse.W, dense.W, atol=1e-10)
    assert sparse.loglik == pytest.approx(dense.loglik, rel=1e-12)
    truth = np.log(sim.plate_factors.to_numpy())
    fitted = np.log(dense.batch_factors)
    # ratios between batches are what the data identify
    assert np.corrcoef(truth[:, 0] - truth[:, 1], fitted[:, 0] - fitted[:, 1])[0, 1] > 0.99
    frame = factors(sim.counts, dense.W, dense.H, Batches.of(sim.plate))
    np.testing.assert_allclose(frame.to_numpy(), dense.batch_factors, rtol=1e-6)
    assert list(frame.columns) == ["plate1", "plate2", "plate3"]


@pytest.mark.parametrize("design", ["entries", "samples"])
def test_heldout_likelihood_peaks_at_the_true_rank_only_with_batches(design):
    sim = planted()
    V = sim.counts.to_numpy(dtype=np.float64)
    batches = Batches.of(sim.plate)

    def curve(b):
        return pd.Series({r: cross_validate(V, r, design=design, restarts=2, batches=b)
                          ["heldout_loglik"].sum() for r in (2, 3, 4)})

    assert curve(batches).idxmax() == 3
    assert curve(None).idxmax() > 3  # without them, modules soak up the batches


def test_crossval_errors_name_the_problem():
    sim = planted()
    V = sim.counts.to_numpy(dtype=np.float64)
    with pytest.raises(ValueError, match="blocks"):
        cross_validate(V, 2, design="blocks", batches=Batches.of(sim.plate))
    lonely = Batches.of(["a"] * 59 + ["b"])
    with pytest.raises(ValueError, match=r"holds out every sample of batch\(es\) \['b'\]"):
        cross_validate(V, 2, design="samples", batches=lonely)
    with pytest.raises(ValueError, match="59 labels for 60 samples"):
        fit_nmf(V, 2, batches=["a"] * 59)


def test_offsets_of_one_change_nothing_and_true_offsets_restore_the_shares():
    sim = planted(plate_sd=0.0, n_moonlighting=0, depth=(5e4, 1e5))
    fit = fit_nmf(sim.counts, 3, restarts=2, seed=1)
    W, H = fit.W_frame(), fit.H_frame()
    rows = sim.counts.iloc[:10]
    ones = pd.DataFrame(1.0, index=rows.index, columns=rows.columns)
    plain = share_test(rows, W, H, threshold=0.1, ceiling=0.2)
    pd.testing.assert_frame_equal(share_test(rows, W, H, threshold=0.1, ceiling=0.2,
                                             offsets=ones), plain)
    # the same genes read at 3x in half the samples: with those offsets the shares stay
    scale = np.where(np.arange(60) < 30, 3.0, 1.0)
    rng = np.random.default_rng(2)
    mean = (W.loc[rows.index].to_numpy() @ H.to_numpy()) * scale
    scaled = pd.DataFrame(rng.poisson(mean), index=rows.index, columns=rows.columns)
    offsets = pd.DataFrame(np.broadcast_to(scale, rows.shape), index=rows.index,
                           columns=rows.columns)
    test = share_test(scaled, W, H, threshold=0.1, ceiling=0.2, offsets=offsets)
    np.testing.assert_allclose(test["top_share"], plain["top_share"], atol=0.03)


def test_without_batches_the_plates_become_modules_and_false_calls():
    """The plain model on the table of the workflow test in which batch: gives R = 3, the
    planted calls and matched cosines >= 0.95 (tests/test_real_tables_workflow.py)."""
    sim = planted(plate_sd=1.5)
    plain = analyse(sim.counts, ranks=[2, 3, 4], restarts=3)
    assert plain.rank > 3
    assert len(set(plain.moonlighting["gene"]) - set(sim.moonlighting)) >= 3


def test_analyse_without_a_batch_effect_costs_nothing():
    # benchmarks/batches.py states the rate over fresh seeds (seed 5 loses one call to
    # the rank guard at an unconverged R + 1 fit)
    sim = planted(plate_sd=0.0, seed=6)
    with_batches = analyse(sim.counts, ranks=[2, 3, 4], restarts=3, batches=sim.plate)
    plain = analyse(sim.counts, ranks=[2, 3, 4], restarts=3)
    assert with_batches.rank == plain.rank == 3
    # the factors count in BIC and AIC: N (K - 1) more parameters at every rank
    extra = sim.counts.shape[0] * (sim.plate.nunique() - 1)
    assert (with_batches.table["n_params"] - plain.table["n_params"] == extra).all()
    assert sorted(with_batches.moonlighting["gene"]) == sorted(plain.moonlighting["gene"])
    matched = match_modules(plain.W, with_batches.W)
    assert matched["cosine"].min() > 0.99


def test_batch_labels_come_from_a_sheet_or_obs_as_written(tmp_path):
    import anndata

    from moonlight.annotations import batch_labels
    from moonlight.batches import read_batches
    from moonlight.config import ConfigError
    from moonlight.io import write_tsv

    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\trun\tdepth\ns1\t01\t5\ns2\t2\t6\ns3\t01\t7\n")
    labels = batch_labels("table.tsv", {"samples": str(sheet), "batch": "run"},
                          ["s3", "s1", "s2"])
    assert labels["batch"].tolist() == ["01", "01", "2"]
    write_tsv(labels, tmp_path / "batches.tsv")
    batches = read_batches(tmp_path / "batches.tsv", ["s1", "s2", "s3"])
    assert batches.names == ["01", "2"] and batches.codes.tolist() == [0, 1, 0]
    write_tsv(batch_labels("t", {}, ["s1"]), tmp_path / "none.tsv")  # no batch: names
    assert read_batches(tmp_path / "none.tsv", ["s1"]) is None
    with pytest.raises(ConfigError, match="config key batch names column"):
        batch_labels("t", {"samples": str(sheet), "batch": "lane"}, ["s1"])
    gappy = tmp_path / "gappy.tsv"
    gappy.write_text("sample\trun\ns1\t01\ns2\t\n")
    with pytest.raises(ConfigError, match=r"no value for 1 sample\(s\), e.g. \['s2'\]"):
        batch_labels("t", {"samples": str(gappy), "batch": "run"}, ["s1", "s2"])
    h5ad = tmp_path / "cells.h5ad"
    anndata.AnnData(X=np.ones((3, 2), dtype=np.float32),
                    obs=pd.DataFrame({"chem": pd.Categorical(["v2", "v3", "v2"])},
                                     index=["c1", "c2", "c3"])).write_h5ad(h5ad)
    assert batch_labels(h5ad, {"batch": "chem"}, ["c2", "c3"])["batch"].tolist() == \
        ["v3", "v2"]


def test_sparse_counts_with_batches_take_the_samples_design_to_the_answer():
    """Single-cell counts stay sparse: the batch fit, the samples design of the
    cross-validation and the gene tests all run on the CSR matrix."""
    from moonlight.counts import Counts

    sim = planted(plate_sd=1.5)
    counts = Counts(sp.csr_array(sim.counts.to_numpy(dtype=np.float64)),
                    list(sim.counts.index), list(sim.counts.columns))
    result = analyse(counts, ranks=[3, 4], restarts=2, batches=sim.plate)
    assert result.rank == 3
    assert sorted(result.moonlighting["gene"]) == sorted(sim.moonlighting)
