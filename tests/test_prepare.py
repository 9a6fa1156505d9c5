"""moonlight.prepare.prepare_counts: the one data step every data set's counts take
(a table, a single-cell matrix, a simulation, analyse()'s input)."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from moonlight import simulate
from moonlight.config import ConfigError
from moonlight.counts import Counts
from moonlight.pipeline import analyse
from moonlight.prepare import prepare_counts
from moonlight.tables import CountTableError


pytestmark = pytest.mark.filterwarnings("ignore:.*all-zero counts:UserWarning")


@pytest.fixture(scope="module")
def drawn():
    """A simulated table with one outlier and one all-zero gene."""
    counts = simulate(seed=4, n_genes=60, n_samples=30, n_modules=3,
                      module_size=(10, 25)).counts.astype(np.float64)
    counts.iloc[7, 3] = 1e15
    counts.iloc[20] = 0.0
    return counts


def test_outliers_empty_genes_and_the_selection_are_handled_and_recorded(drawn):
    with pytest.warns(UserWarning, match="sim4: dropping 1 gene.*all-zero counts: gene21"):
        prepared = prepare_counts(drawn, ranks=[2, 3], selection={"keep_top_genes": 50},
                                  source="sim4")
    checks = [row["check"] for row in prepared.record]
    assert checks[:2] == ["warning", "genes_dropped"]  # the outlier, then the empty gene
    assert drawn.index[20] in prepared.record[1]["detail"]
    assert "all-zero counts" in prepared.record[1]["detail"]
    assert prepared.counts.shape == (50, 30) and drawn.index[20] not in prepared.counts.genes
    assert "genes_kept" in checks and not prepared.counts.is_sparse
    assert prepared.counts.to_frame().to_numpy().max() < 1e15


def test_sparse_counts_take_the_same_step(drawn):
    as_sparse = Counts(sparse.csr_array(drawn.to_numpy()), list(drawn.index),
                       list(drawn.columns))
    dense = prepare_counts(drawn, ranks=[2], selection={"keep_top_genes": 50})
    kept = prepare_counts(as_sparse, ranks=[2], selection={"keep_top_genes": 50})
    assert kept.counts.is_sparse and kept.counts.genes == dense.counts.genes
    np.testing.assert_array_equal(kept.counts.matrix.toarray(), dense.counts.matrix)


def test_counts_too_small_for_the_ranks_are_refused_naming_the_key(drawn):
    with pytest.raises(ConfigError, match=r"config key ranks: rank 40 exceeds .*sim1"):
        prepare_counts(drawn, ranks=[2, 40], source="sim1")


def test_analyse_starts_with_the_same_step(drawn):
    """analyse()'s QC record begins with what prepare_counts recorded, and it fits the
    prepared genes (the workflow's simulate and prepare rules save the same)."""
    prepared = prepare_counts(drawn, ranks=[2, 3], selection={"keep_top_genes": 50})
    result = analyse(drawn, [2, 3], restarts=2, select={"keep_top_genes": 50})
    top = result.qc.iloc[:len(prepared.record)].reset_index(drop=True)
    pd.testing.assert_frame_equal(top, pd.DataFrame(prepared.record)[top.columns])
    assert list(result.W.index) == prepared.counts.genes


def _changed(counts: pd.DataFrame, how: str) -> pd.DataFrame:
    changed = counts.copy()
    if how == "log":
        return np.log1p(changed / changed.sum() * 1e6)
    if how == "nan":
        changed.iloc[3, 7] = np.nan
    elif how == "negative":
        changed.iloc[5, 2] = -3.0
    elif how == "gene twice":
        changed = changed.rename(index={changed.index[1]: changed.index[0]})
    elif how == "sample twice":
        changed = changed.rename(columns={changed.columns[1]: changed.columns[0]})
    return changed


@pytest.mark.parametrize("how, message", [
    ("log", r"the counts: \d+ non-integer values, e.g. .* for gene 'gene01', sample "
            r"'sample01'; the matrix looks log-transformed"),
    ("nan", r"1 non-finite values, e.g. nan for gene 'gene04', sample 'sample08'"),
    ("negative", r"1 negative values, e.g. -3 for gene 'gene06', sample 'sample03'"),
    ("gene twice", r"1 gene name\(s\) appear more than once, e.g. \['gene01'\]"),
    ("sample twice", r"1 sample name\(s\) appear more than once, e.g. \['sample01'\]")])
def test_analyse_refuses_what_the_readers_refuse_before_any_fit(drawn, how, message):
    """A file of log values, a missing or negative count, or a repeated name stops the
    workflow's reader; analyse() fitted log values (a wrong rank, no call, no warning) and
    failed on the others after every fit, naming nothing."""

    counts = drawn.drop(index=drawn.index[[7, 20]])  # no outlier, no all-zero gene
    with pytest.raises(CountTableError, match=message):
        analyse(_changed(counts, how), [2], restarts=1)
    sparse_counts = Counts.of(counts)
    halves = Counts(sparse.csr_array(sparse_counts.matrix * 0.5), sparse_counts.genes,
                    sparse_counts.samples)
    with pytest.raises(CountTableError, match="non-integer values"):
        prepare_counts(halves, ranks=[2])


def test_a_read_counters_summary_rows_are_refused_by_name(tmp_path):
    """htseq-count ends its table with __no_feature, __ambiguous, ...; fitted as genes,
    the reads no gene took would make a module. The entry's drop_genes leaves them out."""
    from moonlight.prepare import prepare_table
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(30)] + ["__no_feature", "__ambiguous"]
    frame = pd.DataFrame(rng.poisson(20, (32, 12)), index=genes,
                         columns=[f"s{j}" for j in range(12)])
    with pytest.raises(CountTableError, match='rows "__no_feature", "__ambiguous" are a '
                                              "read counter's summary"):
        prepare_counts(frame, ranks=[2])
    path = tmp_path / "htseq.tsv"
    frame.rename_axis("gene").to_csv(path, sep="\t")
    kept = prepare_table(path, {"drop_genes": ["__no_feature", "__ambiguous"]}, ranks=[2])
    assert kept.counts.shape == (30, 12)


@pytest.mark.parametrize("sparse_counts", [False, True])
def test_a_spreadsheets_total_row_or_column_is_refused_by_name(drawn, sparse_counts):
    """A sheet's "Total" row under the genes (or "Sum" column after the samples) holds
    the sum of all the others: fitted as a gene it would take a share of every module.
    It is refused with the drop_genes (drop_samples) that leaves it out; a gene that
    only comes close is fitted."""
    counts = drawn.copy()
    counts.iloc[7, 3] = 10.0
    with_total = pd.concat([counts, counts.sum().to_frame("Total").T])
    with_sum = counts.assign(Sum=counts.sum(axis=1))

    def given(frame):
        if not sparse_counts:
            return frame
        return Counts(sparse.csr_array(frame.to_numpy()), list(frame.index),
                      list(frame.columns))

    with pytest.raises(CountTableError, match="gene 'Total' holds the sum of every other "
                                              'row .*drop_genes: \\["Total"\\]'):
        prepare_counts(given(with_total), ranks=[2])
    with pytest.raises(CountTableError, match="sample 'Sum' holds the sum of every other "
                                              'column .*drop_samples: \\["Sum"\\]'):
        prepare_counts(given(with_sum), ranks=[2])
    near = with_total.copy()
    near.iloc[-1, 0] += 1
    assert prepare_counts(given(near), ranks=[2]).counts.shape[0] == with_total.shape[0] - 1


def test_a_total_is_found_before_the_entrys_drops_and_no_replicate_is_one(tmp_path):
    """A Total column sums every sample, the dropped ones too: looked for in the table as
    read. Two identical replicates beside an all-zero sample, or a one-sample table, hold
    no total (each line would be 'the sum of the others')."""
    from moonlight.prepare import prepare_table, refuse_totals
    rng = np.random.default_rng(1)
    table = pd.DataFrame(rng.poisson(20, (40, 8)).astype(float),
                         index=[f"g{i}" for i in range(40)], columns=[f"s{j}" for j in range(8)])
    path = tmp_path / "total.tsv"
    table.assign(Total=table.sum(axis=1)).rename_axis("gene").to_csv(path, sep="\t")
    with pytest.raises(CountTableError, match="sample 'Total' holds the sum"):
        prepare_table(path, {"drop_samples": ["s3"]}, ranks=[2])
    assert prepare_table(path, {"drop_samples": ["Total"]}, ranks=[2]).counts.shape == (40, 8)
    replicates = table.iloc[:, :3].assign(s1=table["s0"], s2=0.0)
    refuse_totals(Counts.of(replicates))
    refuse_totals(Counts.of(pd.DataFrame({"s": [3.0, 4.0, 7.0]}, index=["a", "b", "c"])))
