"""moonlight.outliers: an entry no count model produces is kept out of the analysis."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from moonlight import read_count_table
from moonlight.counts import Counts
from moonlight.outliers import handle_outliers
from moonlight.pipeline import analyse
from moonlight.qc import warnings_of
from moonlight.tables import CountTableError

ANSWER = ["cranberry", "grape", "tomato"]


@pytest.fixture(scope="module")
def planted(w09_table):
    counts = read_count_table(w09_table)
    counts.loc["grape", "S7"] = 1e15
    return counts


def test_one_planted_1e15_entry_leaves_rank_and_calls_unchanged(planted):
    result = analyse(planted, [3, 4, 5], restarts=4)
    assert result.rank == 4
    assert sorted(result.moonlighting["gene"]) == ANSWER
    assert warnings_of(result.qc) == "outlier (gene grape, sample S7)"
    detail = result.qc.loc[result.qc["value"] == "outlier", "detail"].iat[0]
    assert "uses the gene's next-largest count" in detail


def test_the_entry_is_replaced_by_its_genes_next_largest_count(planted):
    handled = handle_outliers(planted)
    frame = handled.counts.to_frame()
    row = planted.loc["grape"].drop("S7")
    assert frame.loc["grape", "S7"] == row.max()
    pd.testing.assert_frame_equal(frame.drop(index="grape"),
                                  planted.drop(index="grape").rename_axis("gene"))
    as_sparse = Counts(sparse.csr_array(planted.to_numpy()), list(planted.index),
                       list(planted.columns))
    np.testing.assert_array_equal(handle_outliers(as_sparse).counts.matrix.toarray(),
                                  frame.to_numpy())


def test_exclude_drops_the_gene_and_refuse_names_the_entry(planted):
    handled = handle_outliers(planted, mode="exclude")
    assert "grape" not in handled.counts.genes and len(handled.counts.genes) == 99
    assert [r["check"] for r in handled.rows] == ["genes_dropped"]
    with pytest.raises(CountTableError, match=r"t.tsv: 1 entry no count model produces "
                                              r"\(qc.outliers: refuse\): gene grape, sample S7"):
        handle_outliers(planted, mode="refuse", source="t.tsv")


def test_a_gene_whose_only_count_is_the_outlier_is_dropped():
    counts = pd.DataFrame(np.full((30, 20), 50.0), index=[f"g{i}" for i in range(30)],
                          columns=[f"s{j}" for j in range(20)])
    counts.iloc[3] = 0.0
    counts.iloc[3, 5] = 1e12
    handled = handle_outliers(counts)
    assert "g3" not in handled.counts.genes
    assert [r["check"] for r in handled.rows] == ["genes_dropped", "warning"]


def test_an_ordinary_table_is_left_alone(w09_table):
    counts = read_count_table(w09_table)
    handled = handle_outliers(counts)
    assert handled.rows == []
    np.testing.assert_array_equal(handled.counts.matrix, counts.to_numpy())
