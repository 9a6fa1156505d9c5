"""Gene and cell selection before the fit: the Poisson deviance is the log-likelihood
gain over the rank-1 model, the selection keeps planted structure and drops what the
thresholds say, names what it drops, breaks ties by input order and never densifies."""

import numpy as np
import pytest
from scipy import sparse
from scipy.special import gammaln, xlogy

from moonlight.likelihood import poisson_loglik
from moonlight.prefilter import poisson_deviance, select_genes_and_cells


def names(prefix, n):
    return [f"{prefix}{i}" for i in range(n)]


@pytest.fixture(scope="module")
def planted():
    """200 genes x 300 cells of Poisson noise around cell depth, with genes 10, 50 and
    150 (mean 2 per cell) three times higher in one half of the cells than in the other."""
    rng = np.random.default_rng(5)
    depth = rng.lognormal(0.0, 0.3, size=300)
    rate = np.outer(rng.gamma(2.0, 0.5, size=200), depth)
    for gene in (10, 50, 150):
        rate[gene] = 2.0 * depth
        rate[gene, :150] *= 3.0
    return sparse.csr_array(rng.poisson(rate).astype(np.float64))


def test_deviance_is_twice_the_loglik_gain_over_rank_one(planted):
    V = planted.toarray()
    expected = np.outer(V.sum(axis=1), V.sum(axis=0)) / V.sum()   # rank-1 Poisson MLE
    saturated = (xlogy(V, V) - V - gammaln(V + 1)).sum(axis=1)     # mu = V
    gain = [2 * (saturated[i] - poisson_loglik(V[i:i + 1], expected[i:i + 1]))
            for i in range(len(V))]
    np.testing.assert_allclose(poisson_deviance(planted), gain, rtol=1e-10, atol=1e-9)


def test_deviance_is_zero_for_genes_that_follow_depth():
    depth = np.array([1.0, 2.0, 5.0, 3.0])
    V = sparse.csr_array(np.outer([1.0, 3.0, 2.0], depth))       # exactly rank 1
    np.testing.assert_allclose(poisson_deviance(V), 0.0, atol=1e-12)
    assert poisson_deviance(sparse.csr_array((2, 3))).tolist() == [0.0, 0.0]


def test_top_genes_keep_the_planted_structure(planted):
    genes, cells = names("g", 200), names("c", 300)
    selected = select_genes_and_cells(planted, genes, cells, top_genes=3)
    assert selected.genes == ["g10", "g50", "g150"]                 # input order
    assert selected.cells == cells
    np.testing.assert_array_equal(selected.counts.toarray(),
                                  planted.toarray()[[10, 50, 150]])
    rows = {row["check"]: row for row in selected.rows}
    assert rows["genes_dropped"]["value"] == "197"
    assert "not among the keep_top_genes = 3 by Poisson deviance" in rows["genes_dropped"]["detail"]
    assert "g0, g1, g2" in rows["genes_dropped"]["detail"] and "(177 more)" in \
        rows["genes_dropped"]["detail"]
    assert rows["genes_kept"]["value"] == "3" and rows["samples_kept"]["value"] == "300"
    assert len(selected.deviance) == 200


def test_thresholds_drop_what_they_say_and_name_it():
    V = np.array([
        # c0 c1 c2 c3 c4 c5
        [0, 0, 0, 0, 0, 0],     # g0: no count at all
        [0, 9, 0, 0, 0, 0],     # g1: in one cell only
        [5, 1, 2, 1, 0, 0],     # g2
        [3, 0, 4, 1, 1, 0],     # g3: its c4 count is c4's only one
        [1, 2, 0, 1, 0, 0],     # g4: only in c1 once c0 is gone -> detected in 2 cells
    ], dtype=float)
    selected = select_genes_and_cells(sparse.csr_array(V), names("g", 5), names("c", 6),
                                      min_samples_per_gene=2, min_counts_per_cell=2,
                                      top_genes=None)
    details = [(row["check"], row["value"], row["detail"]) for row in selected.rows]
    assert details == [
        ("samples_dropped", "1", "all-zero counts (cells): c5"),
        ("samples_dropped", "1", "cells with fewer than min_counts_per_cell = 2 counts over "
                                 "all genes read: c4"),
        ("genes_dropped", "1", "no count in the kept cells: g0"),
        ("genes_dropped", "1", "detected in fewer than min_samples_per_gene = 2 samples: g1"),
        ("genes_kept", "3", ""),
        ("samples_kept", "4", "cells"),
    ]
    assert selected.genes == ["g2", "g3", "g4"] and selected.cells == ["c0", "c1", "c2", "c3"]
    np.testing.assert_array_equal(selected.counts.toarray(), V[2:, :4])


def test_cells_left_without_counts_in_the_top_genes_are_dropped():
    rng = np.random.default_rng(2)
    V = rng.poisson(1.0, size=(30, 40)).astype(float)
    V[0] = np.r_[np.full(20, 50.0), np.full(20, 5.0)]   # the one structured gene
    V[0, 33] = 0                                        # ... but not in cell c33
    selected = select_genes_and_cells(sparse.csr_array(V), names("g", 30), names("c", 40),
                                      top_genes=1)
    assert selected.genes == ["g0"] and "c33" not in selected.cells
    assert len(selected.cells) == 39
    assert selected.rows[-3]["detail"] == "no count in the selected genes (cells): c33"


def test_ties_go_to_the_gene_first_in_the_input_and_results_are_repeatable():
    rng = np.random.default_rng(1)
    V = rng.poisson(2.0, size=(20, 40)).astype(float)
    V[4] = V[1] = V[3]                                 # three genes with equal deviance,
    V[[1, 3, 4], :20] *= 4                             # the largest
    X = sparse.csr_array(V)
    first = select_genes_and_cells(X, names("g", 20), names("c", 40), top_genes=2)
    assert first.deviance["g1"] == first.deviance["g3"] == first.deviance["g4"]
    assert first.genes == ["g1", "g3"]
    again = select_genes_and_cells(X.copy(), names("g", 20), names("c", 40), top_genes=2)
    assert again.rows == first.rows
    np.testing.assert_array_equal(again.counts.data, first.counts.data)


def test_defaults_drop_only_empty_genes_and_cells_and_leave_the_input_alone():
    X = sparse.csr_array((np.array([0.0, 2.0, 3.0]), np.array([0, 1, 2]),
                          np.array([0, 2, 2, 3])), shape=(3, 4))   # a stored zero
    before = X.copy()
    selected = select_genes_and_cells(X, ["a", "b", "c"], ["w", "x", "y", "z"])
    assert selected.genes == ["a", "c"] and selected.cells == ["x", "y"]
    # the schema's keep_top_genes (5,000) keeps every gene of a smaller matrix, and says so
    assert [(row["check"], row["detail"]) for row in selected.rows] == [
        ("samples_dropped", "all-zero counts (cells): w, z"),
        ("genes_dropped", "no count in the kept cells: b"),
        ("note", "keep_top_genes = 5000: 2 genes left, all kept"),
        ("genes_kept", ""), ("samples_kept", "cells")]
    np.testing.assert_array_equal(X.data, before.data)
    assert X.nnz == 3


def test_never_densifies():
    """100,000 genes x 200,000 cells would be 160 GB dense; a few nonzeros take no time."""
    n_genes, n_cells = 100_000, 200_000
    rows = np.arange(0, n_genes, 10)
    X = sparse.csr_array((np.arange(1.0, len(rows) + 1), (rows, rows * 2)),
                         shape=(n_genes, n_cells))
    selected = select_genes_and_cells(X, names("g", n_genes), names("c", n_cells),
                                      min_samples_per_gene=1, top_genes=100)
    assert selected.counts.shape == (100, 100)


def test_bad_parameters_and_empty_selections():
    X = sparse.csr_array(np.eye(3))
    for key, value in (("min_samples_per_gene", -1), ("min_counts_per_cell", 1.5),
                       ("top_genes", 0), ("top_genes", True)):
        with pytest.raises(ValueError, match=key):
            select_genes_and_cells(X, ["a", "b", "c"], ["x", "y", "z"], **{key: value})
    with pytest.raises(ValueError, match="3 x 3 but there are 2 gene"):
        select_genes_and_cells(X, ["a", "b"], ["x", "y", "z"])
    with pytest.raises(ValueError, match="the selection leaves 0 genes"):
        select_genes_and_cells(X, ["a", "b", "c"], ["x", "y", "z"], min_samples_per_gene=2)


def test_a_data_entry_overrides_the_configs_gene_selection():
    from moonlight.config import defaults
    from moonlight.prefilter import selection_settings

    assert selection_settings() == {**defaults("gene_selection"), "min_counts_per_cell": 0}
    assert selection_settings({"keep_top_genes": None, "path": "x.tsv"})["keep_top_genes"] \
        is None
    assert selection_settings({"min_cells_per_gene": 3})["min_samples_per_gene"] == 3
    with pytest.raises(ValueError, match="not both"):
        selection_settings({"min_cells_per_gene": 3, "min_samples_per_gene": 2})


def test_a_table_keeps_its_top_genes_and_stays_dense(tmp_path, planted):
    """A text table (200 x 300 with three planted genes) through the workflow's
    prepare_table step: keep_top_genes keeps the planted genes, dense, and says so;
    left out, the default keeps a table under its size whole."""
    import pandas as pd

    from moonlight.prepare import prepare_table
    V = planted.toarray()
    path = tmp_path / "table.tsv"
    pd.DataFrame(V.astype(int), index=names("g", 200), columns=names("c", 300)).to_csv(
        path, sep="\t")
    kept = prepare_table(path, {"keep_top_genes": 3}, ranks=[2])
    assert kept.counts.genes == ["g10", "g50", "g150"] and not kept.counts.is_sparse
    np.testing.assert_array_equal(kept.counts.matrix, V[[10, 50, 150]])
    rows = {row["check"]: row for row in kept.record}
    assert rows["genes_dropped"]["value"] == "197"
    assert rows["samples_kept"]["detail"] == "samples"
    whole = prepare_table(path, ranks=[2])
    assert whole.counts.genes == names("g", 200)
    assert not any("top_genes" in r["detail"] for r in whole.record)  # untouched, as analyse()
    capped = prepare_table(path, ranks=[2], selection={"keep_top_genes": 3})   # config's
    assert capped.counts.genes == ["g10", "g50", "g150"]


def test_analyse_selects_genes_of_a_table_and_refuses_an_unknown_option():
    import pandas as pd

    from moonlight.pipeline import analyse
    rng = np.random.default_rng(3)
    W = rng.dirichlet(np.full(12, 0.3), size=2).T
    table = pd.DataFrame(rng.poisson(4000 * W @ rng.dirichlet([1, 1], size=30).T),
                         index=names("g", 12), columns=names("s", 30))
    result = analyse(table, [2], restarts=2, select={"keep_top_genes": 6},
                     selection={"folds": 3})
    assert len(result.W) == 6 and not result.qc.empty
    assert "not among the keep_top_genes = 6" in " ".join(result.qc["detail"].astype(str))
    with pytest.raises(TypeError, match="keep_top_gene"):
        analyse(table, select={"keep_top_gene": 3})
