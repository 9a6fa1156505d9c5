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
