"""Likelihood-ratio statistic and restart support of moonlighting calls."""

import numpy as np
import pandas as pd
import pytest

from moonlight.confidence import (moonlighting_confidence, moonlighting_support,
                                  single_vs_pair_lr)


@pytest.fixture(scope="module")
def H():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.dirichlet(np.ones(3), size=50).T * 2000,
                        index=["M1", "M2", "M3"])


def test_lr_small_for_single_module_gene_large_for_two_module_gene(H):
    rng = np.random.default_rng(1)
    single = rng.poisson(0.3 * H.loc["M2"].to_numpy())
    double = rng.poisson(0.2 * H.loc["M1"].to_numpy() + 0.2 * H.loc["M3"].to_numpy())
    rows = pd.DataFrame([single, double], index=["single", "double"])
    out = single_vs_pair_lr(rows, H)
    assert out.loc["single", "best_single"] == "M2"
    assert 0 <= out.loc["single", "lr"] < 10
    assert out.loc["double", "best_pair"] == "M1,M3"
    assert out.loc["double", "lr"] > 1000


def test_lr_is_zero_for_an_exact_single_module_row(H):
    rows = pd.DataFrame([0.5 * H.loc["M1"].to_numpy()], index=["g"])
    assert single_vs_pair_lr(rows, H).loc["g", "lr"] == pytest.approx(0.0, abs=1e-6)


def _planted_W():
    W = np.zeros((6, 2))
    W[[0, 1, 2], 0] = 1.0
    W[[3, 4, 5], 1] = 1.0
    W[2, 1] = 0.6  # gene g2 moonlights
    return pd.DataFrame(W / W.sum(axis=0), index=[f"g{i}" for i in range(6)],
                        columns=["M1", "M2"])


def test_support_is_one_when_restarts_agree_even_permuted():
    W = _planted_W()
    permuted = W[["M2", "M1"]].set_axis(["M1", "M2"], axis=1)
    support = moonlighting_support([W, permuted, W], [0.0, 0.0, -1.0], ["g2"],
                                   threshold=0.1, margin=5.0)
    assert support["g2"] == 1.0


def test_support_counts_disagreeing_restarts():
    W = _planted_W()
    single = W.copy()
    single.loc["g2", "M2"] = 0.0
    support = moonlighting_support([W, single], [0.0, -1.0], ["g2"], threshold=0.1,
                                   margin=5.0)
    assert support["g2"] == 0.5


def test_confidence_filters_on_min_support_and_min_lr(H):
    W = _planted_W()
    H2 = H.iloc[:2].set_axis(["M1", "M2"])
    counts = pd.DataFrame(np.random.default_rng(2).poisson(W.to_numpy() @ H2.to_numpy()),
                          index=W.index)
    called, candidates = moonlighting_confidence(counts, W, H2, [W, W], [0.0, 0.0],
                                                 threshold=0.1, margin=5.0)
    assert list(called["gene"]) == ["g2"]
    assert {"support", "lr", "best_single", "best_pair"} <= set(called.columns)
    called, candidates = moonlighting_confidence(counts, W, H2, [W, W], [0.0, 0.0],
                                                 threshold=0.1, margin=5.0, min_lr=1e12)
    assert called.empty and list(candidates["called"]) == [False]
    second = float(candidates["weights"].iat[0].split(",")[1])
    called, _ = moonlighting_confidence(counts, W, H2, [W, W], [0.0, 0.0], threshold=0.1,
                                        margin=5.0, min_second_weight=second + 0.01)
    assert called.empty
