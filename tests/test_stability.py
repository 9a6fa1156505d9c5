"""The gene consensus matrix across near-best restarts, as an output."""

import numpy as np
import pandas as pd
import pytest

from moonlight import stability
from moonlight.stability import near_best_consensus, stability_summary

GENES = [f"g{i}" for i in range(6)]


def _W(top, n_modules=3):
    """A W whose row i has its largest entry in module top[i]."""
    W = np.full((len(top), n_modules), 0.1)
    W[np.arange(len(top)), top] = 1.0
    return pd.DataFrame(W / W.sum(axis=0), index=GENES[: len(top)],
                        columns=[f"M{r + 1}" for r in range(n_modules)])


def test_identical_restarts_give_a_zero_one_matrix():
    W = _W([0, 0, 1, 1, 2, 2])
    permuted = W.iloc[:, [2, 0, 1]]  # same modules in another order: same consensus
    C = near_best_consensus([W, W.copy(), permuted], [0.0, 0.0, 0.0], margin=1.0)
    assert C.index.tolist() == GENES and C.columns.tolist() == GENES
    assert C.index.name == "gene"
    expected = np.kron(np.eye(3), np.ones((2, 2)))
    np.testing.assert_array_equal(C.to_numpy(), expected)


def test_fractions_over_near_best_restarts_only():
    a = _W([0, 0, 1, 1, 2, 2])
    b = _W([0, 1, 1, 1, 2, 2])  # g1 moves to g2's module
    far = _W([0, 1, 2, 0, 1, 2])  # 100 below the best: not near-best
    C = near_best_consensus([a, b, far], [0.0, -1.0, -100.0], margin=5.0)
    assert C.loc["g0", "g1"] == 0.5 and C.loc["g1", "g2"] == 0.5
    assert C.loc["g2", "g3"] == 1.0 and C.loc["g0", "g3"] == 0.0
    np.testing.assert_array_equal(C.to_numpy(), C.to_numpy().T)
    np.testing.assert_array_equal(np.diag(C), 1.0)
    # The cophenetic correlation is computed on this very matrix.
    assert stability_summary([a.to_numpy(), b.to_numpy(), far.to_numpy()],
                             [0.0, -1.0, -100.0], margin=5.0)["cophenetic"] == \
        stability.cophenetic_correlation(C.to_numpy())


def test_big_tables_use_the_cophenetic_gene_sample(monkeypatch):
    monkeypatch.setattr(stability, "COPHENETIC_MAX_GENES", 4)
    rng = np.random.default_rng(0)
    Ws = [rng.random((10, 2)) for _ in range(2)]
    names = [f"gene{i}" for i in range(10)]
    C = near_best_consensus(Ws, [0.0, 0.0], margin=1.0, genes=names)
    assert C.shape == (4, 4)
    assert C.index.tolist() == [names[i] for i in stability.cophenetic_genes(10)]
    assert C.index[0] == "gene0" and C.index[-1] == "gene9"
    with pytest.raises(ValueError, match="gene name"):
        near_best_consensus(Ws, [0.0, 0.0], margin=1.0, genes=names[:9])
