"""Masked (cross-validation) fits: held-out entries must have no effect on the fit."""

import numpy as np
import pandas as pd
import pytest

from moonlight import poisson_loglik, simulate
from moonlight.crossval import (cross_validate, cv_summary, fit_masked, fold_labels,
                                heldout_loglik)


@pytest.fixture(scope="module")
def counts():
    return simulate(n_genes=40, n_samples=20, n_modules=3, module_size=(8, 20),
                    n_moonlighting=2, depth=(5000, 6000), seed=3).counts.to_numpy(float)


def test_fold_labels_partition_every_entry_once():
    labels = fold_labels((13, 7), 4, seed=1)
    assert labels.shape == (13, 7)
    sizes = np.bincount(labels.ravel(), minlength=4)
    assert sizes.sum() == 91 and sizes.max() - sizes.min() <= 1
    assert np.array_equal(labels, fold_labels((13, 7), 4, seed=1))
    assert not np.array_equal(labels, fold_labels((13, 7), 4, seed=2))


def test_masked_entries_have_no_effect_bit_for_bit(counts):
    mask = fold_labels(counts.shape, 5, seed=0) != 0
    other = counts.copy()
    other[~mask] = np.random.default_rng(0).integers(0, 10**6, size=(~mask).sum())
    with_nan = counts.copy()
    with_nan[~mask] = np.nan
    fits = [fit_masked(V, mask, 3, restarts=2, seed=7, max_iter=300) for V in
            (counts, other, with_nan)]
    for fit in fits[1:]:
        for a, b in zip(fits[0], fit):
            assert np.array_equal(a, b)


def test_masked_fit_changes_when_training_entries_change(counts):
    mask = fold_labels(counts.shape, 5, seed=0) != 0
    changed = counts.copy()
    i, j = np.argwhere(mask)[0]
    changed[i, j] += 50
    a = fit_masked(counts, mask, 3, restarts=1, seed=7, max_iter=50)
    b = fit_masked(changed, mask, 3, restarts=1, seed=7, max_iter=50)
    assert not np.array_equal(a[0], b[0])


def test_masked_fit_all_observed_is_a_good_poisson_fit(counts):
    W, H, ll, _, _ = fit_masked(counts, np.ones(counts.shape, bool), 3, restarts=3, seed=0,
                                tol=1e-9, max_iter=3000)
    assert np.allclose(W.sum(axis=1), 1.0)
    best = int(np.argmax(ll))
    assert ll[best] == pytest.approx(poisson_loglik(counts, W[best] @ H[best]), rel=1e-10)


def test_heldout_loglik_sums_to_full_over_a_partition(counts):
    WH = np.full(counts.shape, counts.mean())
    labels = fold_labels(counts.shape, 3, seed=0)
    parts = sum(heldout_loglik(counts, WH, labels == k) for k in range(3))
    assert parts == pytest.approx(poisson_loglik(counts, WH), rel=1e-12)


def test_cross_validation_peaks_at_the_true_rank(counts):
    folds = pd.concat([cross_validate(counts, r, folds=4, restarts=2, max_iter=1000)
                       for r in (1, 2, 3, 4)])
    summary = cv_summary(folds)
    assert list(summary.columns) == ["rank", "cv_loglik", "cv_se"]
    assert (folds.groupby("rank")["n_heldout"].sum() == counts.size).all()
    best = summary.loc[summary["cv_loglik"].idxmax(), "rank"]
    assert best in (3, 4)
    assert summary.set_index("rank").loc[3, "cv_loglik"] > summary.set_index("rank").loc[2,
                                                                                        "cv_loglik"]


@pytest.mark.parametrize("transposed", [True, False])
def test_all_ones_mask_is_the_unmasked_engine_bit_for_bit(counts, transposed, monkeypatch):
    """The masked kernels reduce to fit_nmf's: one engine serves fits and CV fits."""
    from moonlight import engines
    from moonlight.engines import ccd
    from moonlight.starts import random_start

    if not transposed:  # force the row-by-row W kernel (used for tables too big to copy)
        monkeypatch.setattr(ccd, "TRANSPOSE_MEMORY_BUDGET", 0)
    W0, H0 = random_start(counts.sum(axis=0), counts.shape[0], 3, np.random.SeedSequence(5))
    log_v_fact = float(np.sum([np.log(np.arange(1, v + 1)).sum() for v in counts.ravel()]))
    options = engines.Options(tol=1e-10, max_iter=500, check_every=1)
    results = []
    for mask in (None, np.ones(counts.shape)):
        problem = ccd.DenseProblem(counts, mask, log_v_fact)
        (fit,) = engines.fit_restarts("ccd", problem, lambda k: (W0, H0), [0], options,
                                      0.0, [])
        results.append((fit.W, fit.H, (fit.loglik, fit.n_iter, fit.converged)))
    (Wa, Ha, a), (Wb, Hb, b) = results
    assert np.array_equal(Wa, Wb) and np.array_equal(Ha, Hb) and a == b
    assert a[1] > 10  # it did run


def test_masked_training_loglik_is_the_likelihood_of_the_training_entries(counts):
    """The engine's masked log L equals a direct evaluation over the training entries."""
    mask = fold_labels(counts.shape, 4, seed=2) != 1
    W, H, ll, n_iter, _ = fit_masked(counts, mask, 3, restarts=2, seed=1, max_iter=400)
    for k in range(2):
        WH = W[k] @ H[k]
        assert ll[k] == pytest.approx(heldout_loglik(counts, WH, mask), rel=1e-10)
        flat = np.full(counts.shape, counts[mask].mean())
        assert ll[k] > heldout_loglik(counts, flat, mask)


# --- the block design (sparse input) ------------------------------------------------------

import scipy.sparse as sp  # noqa: E402

from moonlight.crossval import (block_fold_labels, block_groups, fit_blocks,  # noqa: E402
                                heldout_loglik_blocks)
from moonlight.engines.sparse_ccd import Blocks, SparseProblem  # noqa: E402
from moonlight.selection import select_rank  # noqa: E402


@pytest.fixture(scope="module")
def sparse_counts():
    V = simulate(n_genes=60, n_samples=40, n_modules=3, module_size=(10, 20),
                 n_moonlighting=2, depth=(150, 400), seed=1).counts
    V = V.loc[V.sum(axis=1) > 0, V.sum(axis=0) > 0]
    assert (V.to_numpy() == 0).mean() > 0.15
    return V


def test_block_design_is_a_latin_square():
    genes, samples = block_groups((13, 11), 4, seed=2)
    for groups in (genes, samples):
        sizes = np.bincount(groups, minlength=4)
        assert sizes.max() - sizes.min() <= 1
    labels = block_fold_labels((13, 11), 4, seed=2)
    assert np.array_equal(labels, (genes[:, None] + samples[None, :]) % 4)
    # every entry held out once; in each fold every gene loses one sample group only
    for f in range(4):
        held = labels == f
        for i in range(13):
            assert np.unique(samples[held[i]]).size == 1
        for j in range(11):
            assert np.unique(genes[held[:, j]]).size == 1
    assert np.array_equal(block_groups((13, 11), 4, seed=2)[0], genes)
    assert not np.array_equal(block_groups((13, 11), 4, seed=3)[0], genes)
    with pytest.raises(ValueError, match="folds <= min"):
        block_groups((3, 10), 4, seed=0)


@pytest.mark.parametrize("design", ["blocks", "samples"])
def test_sparse_and_dense_give_the_same_selection(sparse_counts, design):
    V = sparse_counts
    dense = pd.concat([cross_validate(V, r, folds=4, restarts=2, design=design)
                       for r in (1, 2, 3, 4, 5)])
    sparse = pd.concat([cross_validate(sp.csr_array(V.to_numpy(float)), r, folds=4,
                                       restarts=2, design=design)
                        for r in (1, 2, 3, 4, 5)])
    rel = np.abs(sparse["heldout_loglik"].to_numpy() - dense["heldout_loglik"].to_numpy())
    # samples: the projections stop on a relative change of 1e-12, a sweep apart when
    # sparse and dense sums round differently
    tolerance = 1e-9 if design == "blocks" else 1e-8
    assert (rel / np.abs(dense["heldout_loglik"].to_numpy())).max() < tolerance
    assert sparse["n_heldout"].tolist() == dense["n_heldout"].tolist()
    assert (sparse.groupby("rank")["n_heldout"].sum() == V.size).all()
    chosen = [int(select_rank(cv_summary(t)).pipe(lambda s: s[s].index[0])) for t in
              (dense, sparse)]
    assert chosen[0] == chosen[1]
    assert cv_summary(sparse).set_index("rank")["cv_loglik"].idxmax() == 3  # the truth


def test_block_heldout_entries_have_no_effect_bit_for_bit(sparse_counts):
    V = sp.csc_array(sparse_counts.to_numpy(float))
    genes, samples = block_groups(V.shape, 4, seed=0)
    blocks = Blocks(genes, samples, 4, 1)
    coo = V.tocoo()
    held = blocks.heldout(coo.row, coo.col)
    other = coo.copy()
    other.data[held] = 1e6  # held-out values changed
    a = fit_blocks(V, blocks, 3, restarts=2, seed=7, max_iter=200)
    b = fit_blocks(sp.csc_array(other), blocks, 3, restarts=2, seed=7, max_iter=200)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    changed = coo.copy()
    changed.data[np.flatnonzero(~held)[0]] += 50
    c = fit_blocks(changed, blocks, 3, restarts=2, seed=7, max_iter=200)
    assert not np.array_equal(a[0], c[0])
    # and the dense engine with the same blocks as a mask takes the same steps
    mask = block_fold_labels(V.shape, 4, seed=0) != 1
    d = fit_masked(sparse_counts.to_numpy(float), mask, 3, restarts=2, seed=7, max_iter=200)
    np.testing.assert_allclose(a[2], d[2], rtol=1e-12)


def test_block_heldout_loglik_is_the_dense_heldout_loglik(sparse_counts):
    V = sparse_counts.to_numpy(float)
    rng = np.random.default_rng(0)
    W, H = rng.random((V.shape[0], 3)), rng.random((3, V.shape[1])) * 20
    genes, samples = block_groups(V.shape, 3, seed=4)
    from moonlight.heldout_fits import split_blocks

    problem = SparseProblem.from_matrix(sp.csr_array(V), np.dtype(np.float64), 0.0)
    for f in range(3):
        _, held = split_blocks(problem, Blocks(genes, samples, 3, f))
        dense = heldout_loglik(V, W @ H, block_fold_labels(V.shape, 3, seed=4) == f)
        assert heldout_loglik_blocks(held, W, H) == pytest.approx(dense, rel=1e-12)


@pytest.mark.parametrize("design, init", [(None, "random"), (None, "svd"),
                                          ("blocks", "svd")])
def test_sparse_cross_validation_never_forms_a_dense_matrix(design, init):
    import tracemalloc

    rng = np.random.default_rng(1)
    n = 1500
    V = sp.random_array((n, n), density=0.01, rng=rng, format="csr",
                        data_sampler=lambda size: rng.integers(1, 20, size).astype(float))
    V = sp.csr_array(V + sp.eye_array(n, format="csr"))
    tracemalloc.start()
    cross_validate(V, 3, folds=3, restarts=1, max_iter=2, design=design, init=init)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6 * 2**20, peak / 2**20  # a dense copy: 18 MB


def test_design_errors(sparse_counts):
    with pytest.raises(ValueError, match="design='samples' or 'blocks'"):
        cross_validate(sp.csr_array(sparse_counts.to_numpy(float)), 2, design="entries")
    with pytest.raises(ValueError, match="design must be one of"):
        cross_validate(sparse_counts, 2, design="rows")


def test_background_scoring_zero_is_plain_and_bounds_a_fitted_zero():
    """background=0 scores W H alone, bit for bit; with a background, held-out counts on
    entries the fit put at zero cost at most log(1/background) more than under rank 1,
    and the sparse path scores the same mixture as the dense one."""
    from scipy import sparse

    from moonlight.crossval import cross_validate, with_background

    rng = np.random.default_rng(3)
    V = rng.poisson(0.3, size=(30, 24)).astype(float)
    V[0], V[:, 0] = V[0] + 1, V[:, 0] + 1
    plain = cross_validate(V, 3, folds=3, restarts=1, max_iter=200, background=0.0)
    mixed = cross_validate(V, 3, folds=3, restarts=1, max_iter=200, background=0.01)
    # the default is the config's selection.background, 0.01
    assert mixed.equals(cross_validate(V, 3, folds=3, restarts=1, max_iter=200))
    assert (mixed["heldout_loglik"] > plain["heldout_loglik"]).all()  # zeros are forgiven
    dense_blocks = cross_validate(V, 3, folds=3, restarts=1, max_iter=200,
                                  design="blocks", background=0.01)
    sparse_blocks = cross_validate(sparse.csr_array(V), 3, folds=3, restarts=1,
                                   max_iter=200, design="blocks", background=0.01)
    np.testing.assert_allclose(sparse_blocks["heldout_loglik"],
                               dense_blocks["heldout_loglik"], rtol=1e-9)
    dense_samples, sparse_samples = (
        cross_validate(x, 3, folds=3, restarts=1, max_iter=200, design="samples",
                       background=b) for x, b in ((V, 0.01), (sparse.csr_array(V), 0.01)))
    np.testing.assert_allclose(sparse_samples["heldout_loglik"],
                               dense_samples["heldout_loglik"], rtol=1e-8)
    unmixed = cross_validate(V, 3, folds=3, restarts=1, max_iter=200, design="samples",
                             background=0.0)
    assert (dense_samples["heldout_loglik"] > unmixed["heldout_loglik"]).all()
    W, H = np.array([[1.0, 0.0]]), np.array([[2.0], [0.0]])
    Wb, Hb = with_background(W, H, np.array([[3.0]]), np.array([[1.0]]), 0.25)
    assert (Wb @ Hb).item() == 0.75 * 2.0 + 0.25 * 3.0
    with pytest.raises(ValueError, match="background must be in"):
        cross_validate(V, 2, folds=3, background=1.0)


# --- the samples design (bi-cross-validation; the sparse default) -------------------------

from moonlight.folds import gene_halves, sample_folds  # noqa: E402
from moonlight.heldout_fits import _filled_dense, _filled_training, split_blocks  # noqa: E402


def test_samples_design_partitions_samples_and_scores_every_entry_once(sparse_counts):
    labels = sample_folds(41, 4, seed=3)
    assert np.bincount(labels).tolist() == [11, 10, 10, 10]
    assert np.array_equal(labels, sample_folds(41, 4, seed=3))
    assert not np.array_equal(labels, sample_folds(41, 4, seed=4))
    halves = gene_halves(61, seed=3)
    assert abs(int(halves.sum()) - 30.5) == 0.5
    table = cross_validate(sp.csc_array(sparse_counts.to_numpy(float)), 2, folds=4,
                           restarts=1)
    assert table["n_heldout"].sum() == sparse_counts.size
    assert np.isfinite(table["heldout_loglik"]).all()
    with pytest.raises(ValueError, match="cannot split 40 samples"):
        cross_validate(sparse_counts, 2, folds=41, design="samples")


def _single_cell_like(seed: int, programs: int = 6, cells: int = 1200) -> sp.csr_array:
    """Near-pure cells of programs dominated by a few genes, NB noise (the generator of
    benchmarks/sparse_scale.py), 200 genes."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from sparse_scale import planted_programs

    rng = np.random.default_rng(seed)
    W = planted_programs(200, programs, rng)[0]
    usage = rng.dirichlet(np.full(programs, 0.05), size=cells)
    library = rng.lognormal(np.log(1000.0), 0.5, cells)
    mean = (usage * library[:, None]) @ W.T
    V = sp.csr_array(rng.poisson(rng.gamma(0.5, mean * 2.0)).astype(float).T)
    return sp.csr_array(V[np.asarray(V.sum(axis=1)).ravel() > 0])


def test_samples_design_peaks_at_the_true_rank_where_blocks_fail():
    """Single-cell-like counts (benchmarks/sparse_scale.py's generator: near-pure cells,
    programs dominated by a few genes, NB noise), 200 genes x 1,500 cells, true R = 5.
    On this seed the block design's masked fits at R = 5 put a program on a held-out
    block and score it at about -1.9e9 (R = 4: -3.8e6); held out samples, R = 5 wins
    by over 400,000 units on each side."""
    V = _single_cell_like(3, programs=5, cells=1500)
    table = cv_summary(pd.concat([
        cross_validate(V, r, folds=3, restarts=2, max_iter=300, init="svd",
                       background=0.01) for r in (4, 5, 6)])).set_index("rank")
    cv = table["cv_loglik"]
    assert cv.idxmax() == 5
    assert cv[5] - max(cv[4], cv[6]) > 4e5
    assert (table["cv_se"] < 0.1 * abs(cv)).all()  # no fold predicts absurd means


def test_an_svd_start_escapes_where_random_starts_merge_programs():
    """On these matrices (true R = 6, one start per fold) a random start stops in an
    optimum that merges two programs in at least one fold of each of five seeds, and the
    SVD start ends higher."""
    for seed in range(5):
        V = _single_cell_like(seed)
        runs = {init: cross_validate(V, 6, folds=3, restarts=1, init=init)
                for init in ("svd", "random")}
        gap = runs["svd"]["train_loglik"] - runs["random"]["train_loglik"]
        assert gap.sum() > 1e4 and gap.max() > 1e4, seed


def test_samples_design_trains_from_one_svd_start_among_random_ones():
    from moonlight.heldout_fits import fit_samples

    V = _single_cell_like(0)
    settings = dict(seed=[0, 6, 1], tol=1e-8, max_iter=300, check_every=1)
    mixed = fit_samples(V, 6, restarts=3, init="mixed", **settings)
    svd = fit_samples(V, 6, restarts=1, init="svd", **settings)
    rnd = fit_samples(V, 6, restarts=3, init="random", **settings)
    # restart 0 is the SVD start's fit, the others the random restarts of the same ids
    for part, (m, s_, r) in enumerate(zip(mixed, svd, rnd)):
        np.testing.assert_array_equal(m[0], s_[0], err_msg=str(part))
        np.testing.assert_array_equal(m[1:], r[1:], err_msg=str(part))
    # and it is the default of the samples design only
    pd.testing.assert_frame_equal(cross_validate(V, 6, folds=3, restarts=2, max_iter=50),
                                  cross_validate(V, 6, folds=3, restarts=2, max_iter=50,
                                                 init="mixed"))


def test_entries_design_trains_from_random_starts_by_default(counts):
    pd.testing.assert_frame_equal(
        cross_validate(counts, 3, folds=3, restarts=1, max_iter=50),
        cross_validate(counts, 3, folds=3, restarts=1, max_iter=50, init="random"))
    assert not cross_validate(counts, 3, folds=3, restarts=1, max_iter=50, init="svd")\
        .equals(cross_validate(counts, 3, folds=3, restarts=1, max_iter=50))


@pytest.mark.parametrize("layout", [sp.csr_array, sp.csc_array])
def test_svd_start_fills_heldout_blocks_with_the_rank1_fit(sparse_counts, layout):
    V = sparse_counts.to_numpy(float)
    genes, samples = block_groups(V.shape, 3, seed=0)
    blocks = Blocks(genes, samples, 3, 1)
    problem = SparseProblem.from_matrix(layout(V), np.dtype(np.float64), 0.0)
    train, _ = split_blocks(problem, blocks)
    filled = _filled_training(train)
    held = block_fold_labels(V.shape, 3, seed=0) == 1
    expected = _filled_dense(np.where(held, 0.0, V), (~held).astype(float))
    rng = np.random.default_rng(0)
    X, Y = rng.random((V.shape[1], 4)), rng.random((V.shape[0], 3))
    np.testing.assert_allclose(filled @ X, expected @ X, rtol=1e-5)
    np.testing.assert_allclose(filled.T @ Y, expected.T @ Y, rtol=1e-5)
    # the fill is the rank-1 fit: its training row totals are the data's
    rank1 = np.outer(filled.a, filled.b)
    np.testing.assert_allclose((rank1 * ~held).sum(axis=1), (V * ~held).sum(axis=1),
                               rtol=1e-2)
    # and the dense and sparse masked fits start, and end, at the same point
    d = fit_masked(V, ~held, 3, restarts=1, seed=5, max_iter=300, init="svd")
    s_ = fit_blocks(layout(V), blocks, 3, restarts=1, seed=5, max_iter=300, init="svd")
    assert s_[2][0] == pytest.approx(d[2][0], rel=1e-9)


def test_fold_problems_are_named_before_any_fit():
    from moonlight.folds import fold_problem
    assert fold_problem((2, 2), 5, None) == ("selection.folds: 5 folds of scattered entries "
                                             "need at least 5 entries; the table has 4")
    assert fold_problem((100, 60), 5, None) is None
    assert "samples design need at least 5 samples" in fold_problem((100, 4), 5, None,
                                                                    sparse=True)
    assert fold_problem((100, 6), 5, "samples", largest_rank=5).startswith(
        "ranks: rank 5 cannot be fitted to the 4 samples")
    assert "blocks design" in fold_problem((3, 60), 5, "blocks")


@pytest.mark.parametrize("design", ["entries", "samples"])
def test_rank_one_is_fitted_once_per_fold_from_one_start(counts, design, monkeypatch):
    """Rank 1's optimum is unique (concave in the logs of W and H): one start per fold,
    and that fit is the fold's background too; other ranks keep every restart and
    their own background fit."""
    from moonlight import crossval

    fitted = []
    name = "fit_masked" if design == "entries" else "fit_samples"
    real = getattr(crossval, name)

    def recorded(V, *args, **settings):
        rank = args[-1]
        fitted.append((rank, settings["restarts"]))
        return real(V, *args, **settings)

    monkeypatch.setattr(crossval, name, recorded)
    one = cross_validate(counts, 1, folds=3, restarts=3, design=design)
    assert fitted == [(1, 1)] * 3
    fitted.clear()
    cross_validate(counts, 2, folds=3, restarts=3, design=design)
    assert fitted == [(2, 3), (1, 1)] * 3
    # the same bytes as asking for one start
    fitted.clear()
    pd.testing.assert_frame_equal(
        one, cross_validate(counts, 1, folds=3, restarts=1, design=design))


@pytest.mark.parametrize("sparse", [False, True])
def test_rank_one_training_fit_is_the_closed_form_optimum(counts, sparse):
    """The samples design's rank-1 fits (rank 1 and every rank's background) take the
    closed form: a fit run to convergence reaches the same W, H and log L, and the
    closed form is no worse; a gene with no training count is floored, not zero."""
    import scipy.sparse as sp

    from moonlight.heldout_fits import _fit_restarts, fit_samples
    from moonlight.likelihood import log_factorial_sum

    V = counts.copy()
    V[5] = 0.0
    V = sp.csc_array(V) if sparse else V
    settings = dict(seed=[0, 1, 0], restarts=1, tol=1e-14, max_iter=5000,
                    check_every=1, init="random")
    W, H, ll, n_iter, converged = fit_samples(V, 1, **settings)
    assert n_iter.tolist() == [0] and converged.tolist() == [True]
    dense = V.toarray() if sparse else V
    from moonlight.engines.ccd import DenseProblem

    W_it, H_it, ll_it, _, _ = _fit_restarts(
        DenseProblem(dense, None, log_factorial_sum(dense)), dense.sum(axis=0), 1,
        **settings)
    assert ll[0] >= ll_it[0] - 1e-6 and ll[0] - ll_it[0] < 1e-6
    np.testing.assert_allclose(W[0, :, 0] / W[0].sum(), W_it[0, :, 0] / W_it[0].sum(),
                               rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose((W[0] @ H[0]), (W_it[0] @ H_it[0]), rtol=1e-5)
    assert 0 < W[0, 5, 0] <= 1e-15
    np.testing.assert_allclose(ll[0], poisson_loglik(dense, W[0] @ H[0]), rtol=1e-12)
    with pytest.raises(ValueError, match="init"):
        fit_samples(V, 1, **{**settings, "init": "bogus"})


def test_a_job_names_the_key_that_set_its_rank():
    """A fit or cross-validation job checks its own rank (a config that adds ranks reruns
    no data step): a rank grown to by selection.extend_to is refused under that key."""
    from moonlight.config import ConfigError
    from moonlight.folds import check_job_size
    config = {"data": {"t": {"path": "t.tsv", "ranks": [2, 3]}}, "ranks": [2, 3, 4],
              "selection": {"extend_to": 12, "folds": 5, "design": None}}
    check_job_size((30, 10), 3, config, "t")
    with pytest.raises(ConfigError, match=r"key selection.extend_to: rank 11 exceeds "
                                          r"min\(N, M\) = 10 of data set t \(30 genes"):
        check_job_size((30, 10), 11, config, "t")
    config["selection"]["extend_to"] = None
    with pytest.raises(ConfigError, match=r"key ranks: rank 11"):
        check_job_size((30, 10), 11, config, "t")
    with pytest.raises(ConfigError, match=r"key selection.folds"):
        check_job_size((30, 2), 2, {**config, "selection": {**config["selection"],
                                                            "design": "blocks"}}, "t")
