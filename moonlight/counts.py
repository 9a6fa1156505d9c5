"""One container for a count matrix, dense or sparse, with its names; its binary file.

Every data set of the workflow, a simulated table, a user's text table or a single-cell
matrix, becomes a :class:`Counts` once (rules ``simulate``, ``prepare_table``,
``prepare_single_cell``) and is written as ``results/<name>/counts.npz``; every later job
loads that file (:func:`load_counts`) instead of parsing text, and the scheduler reads a
job's size from the arrays' headers (:func:`counts_size`) without loading the counts.

The file is a ``.npz`` archive that :func:`numpy.load` reads without pickle: ``genes``
and ``samples`` (unicode arrays: names stay the strings they were), ``shape``, and either
``values`` (a dense matrix, C order) or ``data``/``indices``/``indptr`` (CSR). It is
written atomically, with fixed archive timestamps, so the same counts give the same bytes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from .io import atomic_path

__all__ = ["Counts", "CountsSize", "save_counts", "load_counts", "counts_size",
           "dense_values", "refuse_path", "invalid_values", "entry_position", "INVALID_VALUES",
           "ROW_BLOCK_ENTRIES"]

#: Entries of a dense block of rows (:meth:`Counts.row_blocks`): 32 MB of float64, so
#: that a computation holding several arrays of a block's size stays small.
ROW_BLOCK_ENTRIES = 2**22


@dataclass(frozen=True)
class Counts:
    """A genes x samples count matrix and its names.

    Attributes
    ----------
    matrix : ndarray of shape (N, M), float64, or scipy.sparse.csr_array
        The counts; sparse for single-cell data, which is never densified whole.
    genes : list of str, length N
    samples : list of str, length M
    """

    matrix: NDArray[np.float64] | sparse.csr_array
    genes: list[str]
    samples: list[str]

    def __post_init__(self) -> None:
        n, m = self.matrix.shape
        if len(self.genes) != n or len(self.samples) != m:
            raise ValueError(f"{len(self.genes)} gene and {len(self.samples)} sample names "
                             f"for a {n} x {m} matrix")

    @classmethod
    def of(cls, counts: Counts | pd.DataFrame | ArrayLike | sparse.sparray
           | sparse.spmatrix) -> Counts:
        """``counts`` as a :class:`Counts`: a DataFrame keeps its index and columns as
        names (as strings; sparse columns stay sparse), a bare matrix gets ``g0, g1, ...``
        and ``s0, s1, ...``."""
        if isinstance(counts, Counts):
            return counts
        refuse_path(counts, "Counts.of()")
        if isinstance(counts, pd.DataFrame):
            _refuse_missing_names(counts)
            genes = [str(g) for g in counts.index]
            samples = [str(s) for s in counts.columns]
            if counts.shape[1] and all(isinstance(t, pd.SparseDtype) for t in counts.dtypes):
                return cls(_csr(counts.sparse.to_coo()), genes, samples)
            return cls(dense_values(counts, "the counts"), genes, samples)
        matrix = _csr(counts) if sparse.issparse(counts) else dense_values(counts, "the counts")
        n, m = matrix.shape
        return cls(matrix, [f"g{i}" for i in range(n)], [f"s{j}" for j in range(m)])

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def is_sparse(self) -> bool:
        return sparse.issparse(self.matrix)

    def rows(self, genes: Sequence[str]) -> pd.DataFrame:
        """The named genes' rows as a dense DataFrame (genes x samples)."""
        position = {g: i for i, g in enumerate(self.genes)}
        block = self.matrix[[position[g] for g in genes]]
        block = block.toarray() if self.is_sparse else block
        return pd.DataFrame(block, index=pd.Index(list(genes), name="gene"),
                            columns=self.samples)

    def row_blocks(self, genes: Sequence[str], limit: int = ROW_BLOCK_ENTRIES
                   ) -> Iterator[pd.DataFrame]:
        """The named genes' rows in dense blocks of at most about ``limit`` entries."""
        step = max(1, limit // max(self.shape[1], 1))
        for i in range(0, len(genes), step):
            yield self.rows(genes[i:i + step])

    def to_frame(self) -> pd.DataFrame:
        """The whole matrix as a dense DataFrame (index ``gene``)."""
        return self.rows(self.genes)


def _refuse_missing_names(frame: pd.DataFrame) -> None:
    """Stop at a missing gene or sample name (NaN or None), which ``str`` would turn
    into the name ``'nan'``: pandas reads ``NA``, ``nan``, ``NULL`` and more as missing."""
    for kind, names in (("gene", frame.index), ("sample", frame.columns)):
        if isinstance(names, pd.MultiIndex):
            continue  # a tuple of labels is a name (str() writes it)
        missing = np.flatnonzero(pd.isna(names))
        if missing.size:
            raise ValueError(
                f"the counts: {missing.size} {kind} name(s) are missing (NaN), the first "
                f"at {kind} {missing[0] + 1}; pandas reads names such as NA, nan and NULL "
                "as missing values: read the table with moonlight.read_count_table, or "
                "with pandas' keep_default_na=False, to keep them as written")


def refuse_path(values: object, caller: str) -> None:
    """Stop, saying how to read it, when ``caller`` (``"analyse()"``, ...) was given a
    file's path where it takes counts."""
    if isinstance(values, (str, os.PathLike)):
        raise TypeError(f"{caller} takes counts in memory, not the path {str(values)!r}: "
                        "read a count table with moonlight.read_table(path).counts, .h5ad "
                        "or 10x input with moonlight.singlecell.read_single_cell")


def dense_values(values: ArrayLike | pd.DataFrame, what: str) -> NDArray[np.float64]:
    """``values`` as a float64 array; a table with a column of text (the names, most
    often, which belong in the index) is refused naming the column. ``what`` names the
    argument in the message."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        if not isinstance(values, pd.DataFrame):
            raise
        for name in values.columns:
            column = values[name]
            text = pd.to_numeric(column, errors="coerce").isna() & column.notna()
            if text.any():
                raise ValueError(
                    f"{what}: column {str(name)!r} holds text ({column[text].iloc[0]!r}), "
                    f"not numbers; if it holds the row names, make it the index "
                    f"(table.set_index({name!r}))") from None
        raise


#: The kinds of value no count matrix holds, in the order :func:`invalid_values` tests.
INVALID_VALUES = ("non-finite values", "negative values", "non-integer values")


def invalid_values(values: NDArray) -> tuple[str, int, int] | None:
    """The first kind of :data:`INVALID_VALUES` among ``values`` (a dense matrix
    flattened, or a sparse one's stored values), how many there are and the position of
    the first; None when every value is a finite non-negative integer. Tested in blocks
    of :data:`ROW_BLOCK_ENTRIES`: a million cells' values take GB, and a copy more."""
    tests = (lambda v: ~np.isfinite(v), lambda v: v < 0, lambda v: v != np.floor(v))
    for what, test in zip(INVALID_VALUES, tests):
        n, first = 0, -1
        for start in range(0, values.size, ROW_BLOCK_ENTRIES):
            bad = test(values[start:start + ROW_BLOCK_ENTRIES])
            count = int(bad.sum())
            if count and first < 0:
                first = start + int(np.argmax(bad))
            n += count
        if n:
            return what, n, first
    return None


def entry_position(matrix: NDArray | sparse.csr_array, k: int) -> tuple[int, int]:
    """Row and column of the ``k``-th value of :func:`invalid_values`: of a dense
    matrix flattened in C order, or of a CSR matrix's stored values."""
    if sparse.issparse(matrix):
        return (int(np.searchsorted(matrix.indptr, k, side="right") - 1),
                int(matrix.indices[k]))
    i, j = divmod(int(k), matrix.shape[1])
    return int(i), int(j)


def _csr(matrix: sparse.sparray | sparse.spmatrix) -> sparse.csr_array:
    X = sparse.csr_array(matrix, dtype=np.float64)
    X.sum_duplicates()
    X.sort_indices()
    return X


def _write_array(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as stream:
        np.lib.format.write_array(stream, np.ascontiguousarray(array), allow_pickle=False)


def save_counts(counts: Counts, path: str | os.PathLike[str]) -> None:
    """Write ``counts`` to ``path`` (``.npz``), atomically and byte-deterministically."""
    if counts.is_sparse:
        X = _csr(counts.matrix)
        arrays = {"data": X.data, "indices": X.indices.astype(np.int64),
                  "indptr": X.indptr.astype(np.int64)}
    else:
        arrays = {"values": np.asarray(counts.matrix, dtype=np.float64)}
    arrays |= {"shape": np.asarray(counts.shape, dtype=np.int64),
               "genes": np.asarray(counts.genes, dtype=str),
               "samples": np.asarray(counts.samples, dtype=str)}
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as archive:
        for name, array in arrays.items():
            _write_array(archive, name, array)


def load_counts(path: str | os.PathLike[str]) -> Counts:
    """The :class:`Counts` that :func:`save_counts` wrote."""
    with np.load(path, allow_pickle=False) as stored:
        shape = tuple(int(n) for n in stored["shape"])
        genes, samples = stored["genes"].tolist(), stored["samples"].tolist()
        if "values" in stored:
            return Counts(stored["values"].reshape(shape), genes, samples)
        matrix = sparse.csr_array((stored["data"], stored["indices"], stored["indptr"]),
                                  shape=shape)
        return Counts(matrix, genes, samples)


class CountsSize(NamedTuple):
    """What a counts file holds, from its headers: ``genes``, ``samples``, ``stored``
    (the entries stored: N x M dense, the nonzeros sparse) and ``sparse``."""

    genes: int
    samples: int
    stored: int
    sparse: bool


def _array_length(archive: zipfile.ZipFile, name: str) -> int:
    with archive.open(f"{name}.npy") as stream:
        major, _ = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        shape, _, _ = read_header(stream)
    return int(np.prod(shape))


@lru_cache(maxsize=64)
def _size(path: str, size: int, mtime_ns: int) -> CountsSize:
    with zipfile.ZipFile(path) as archive:
        with archive.open("shape.npy") as stream:
            n_genes, n_samples = (int(n) for n in np.lib.format.read_array(stream))
        is_sparse = "data.npy" in archive.namelist()
        stored = _array_length(archive, "data" if is_sparse else "values")
    return CountsSize(n_genes, n_samples, stored, is_sparse)


def counts_size(path: str | os.PathLike[str]) -> CountsSize:
    """The size of the counts in ``path`` without loading them, cheap enough for
    Snakemake to call while it schedules. Raises ``FileNotFoundError`` for a missing
    file, which Snakemake takes as "not known yet" and asks again once it exists."""
    stat = Path(path).stat()
    return _size(str(path), stat.st_size, stat.st_mtime_ns)
