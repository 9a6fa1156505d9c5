"""moonlight.counts: one container, dense or sparse, and its binary file."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from moonlight.counts import Counts, counts_size, load_counts, save_counts

NAMES = ["NA", "007", "12345", "1e5", "TRUE"]  # names a parser would turn into something else


def _frame() -> pd.DataFrame:
    V = np.array([[0, 3, 0], [1.5, 0, 2], [0, 0, 0], [7, 8, 9], [0, 1, 0]])
    return pd.DataFrame(V, index=NAMES, columns=["s1", "002", "NaN"])


@pytest.mark.parametrize("as_sparse", [False, True])
def test_counts_round_trip_with_names_exactly_as_written(tmp_path, as_sparse):
    frame = _frame()
    counts = Counts.of(frame)
    if as_sparse:
        counts = Counts(sparse.csr_array(counts.matrix), counts.genes, counts.samples)
    save_counts(counts, tmp_path / "counts.npz")
    back = load_counts(tmp_path / "counts.npz")
    assert back.is_sparse == as_sparse
    assert back.genes == NAMES and back.samples == ["s1", "002", "NaN"]
    assert all(type(name) is str for name in back.genes + back.samples)
    pd.testing.assert_frame_equal(back.to_frame(), frame.rename_axis("gene"))
    assert counts_size(tmp_path / "counts.npz") == (5, 3, 7 if as_sparse else 15, as_sparse)


def test_the_same_counts_give_the_same_bytes(tmp_path):
    counts = Counts.of(_frame())
    save_counts(counts, tmp_path / "a.npz")
    save_counts(Counts(counts.matrix.copy(), list(counts.genes), list(counts.samples)),
                tmp_path / "b.npz")
    digest = [hashlib.sha256((tmp_path / f).read_bytes()).hexdigest() for f in ("a.npz", "b.npz")]
    assert digest[0] == digest[1]


def test_a_sparse_frame_stays_sparse_and_rows_come_out_dense():
    frame = _frame().astype(pd.SparseDtype(float, 0.0))
    counts = Counts.of(frame)
    assert counts.is_sparse and counts.matrix.nnz == 7
    rows = counts.rows(["007", "TRUE"])
    assert list(rows.index) == ["007", "TRUE"]
    np.testing.assert_array_equal(rows.to_numpy(), [[1.5, 0, 2], [0, 1, 0]])
    blocks = list(counts.row_blocks(counts.genes, limit=6))  # two genes of 3 samples each
    assert [len(b) for b in blocks] == [2, 2, 1]


def test_names_must_match_the_matrix():
    with pytest.raises(ValueError, match="2 gene and 3 sample names for a 5 x 3 matrix"):
        Counts(np.zeros((5, 3)), ["a", "b"], ["x", "y", "z"])


def test_a_name_pandas_read_as_missing_is_refused_not_written_as_nan():
    """pd.read_csv turns the gene name NA into NaN; str() would then name it 'nan'."""
    frame = _frame().rename(index={"NA": np.nan})
    with pytest.raises(ValueError, match="1 gene name.s. are missing .NaN., the first at "
                                         "gene 1; pandas reads names such as NA"):
        Counts.of(frame)
    with pytest.raises(ValueError, match="sample name.s. are missing .NaN., the first at "
                                         "sample 3"):
        Counts.of(_frame().rename(columns={"NaN": None}))
    assert Counts.of(_frame()).genes == NAMES  # the string 'NA' is a name
    frame = _frame()
    frame.columns = pd.MultiIndex.from_tuples([("a", "1"), ("a", "2"), ("b", "1")])
    assert Counts.of(frame).samples[0] == "('a', '1')"  # read as before


def test_size_of_a_missing_file_is_not_known_yet(tmp_path):
    with pytest.raises(FileNotFoundError):  # Snakemake then asks again once it exists
        counts_size(tmp_path / "missing.npz")
