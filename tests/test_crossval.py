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
    from moonlight import engines, nmf
    from moonlight.engines import ccd

    if not transposed:  # force the row-by-row W kernel (used for tables too big to copy)
        monkeypatch.setattr(ccd, "TRANSPOSE_MEMORY_BUDGET", 0)
    W0, H0 = nmf._initial_factor(counts.sum(axis=0), counts.shape[0], 3,
                                 np.random.SeedSequence(5))
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
