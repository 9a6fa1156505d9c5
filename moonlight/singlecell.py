"""Reading single-cell count matrices: AnnData ``.h5ad``, 10x Genomics directories and ``.h5``.

Every reader returns a :class:`SingleCellRead`: the counts as a **genes x cells**
``scipy.sparse.csr_array`` of float64 (moonlight's orientation: genes are rows, as in a
bulk table, so a cells x genes AnnData matrix is transposed), the gene and cell names as
lists of ``str``, and how the matrix was read. float64 holds every integer count up to
2^53 exactly, so nothing is lost by the conversion. Nothing is ever made dense: a dense
``X`` in an ``.h5ad`` is made sparse as it is read.

What is read, each by its well-kept library:

* **AnnData** ``.h5ad`` (:func:`anndata.read_h5ad`, backed mode, so that only the chosen
  matrix is brought into memory): ``matrix="X"`` (default), ``"raw"`` (``adata.raw.X``
  with ``adata.raw.var_names``) or the name of a layer (``"counts"``). Genes are
  ``var_names``, or ``var["gene_ids"]`` (as scanpy's 10x readers store Ensembl IDs) with
  ``gene_ids=True``.
* **A 10x directory** (CellRanger's ``filtered_feature_bc_matrix/``): ``matrix.mtx.gz``
  (:func:`scipy.io.mmread`), ``features.tsv.gz`` (v3) or ``genes.tsv`` (v2) and
  ``barcodes.tsv.gz``, compressed or not, read by pandas with every field a string.
  A common prefix (GEO's ``GSM123_matrix.mtx.gz``, ``GSM123_features.tsv.gz``, ...) is
  accepted. Gene symbols name the genes (column 2), Ensembl IDs (column 1) with
  ``gene_ids=True``. Features of another type than ``Gene Expression`` (antibody capture,
  CRISPR guides, multiplexing tags) are dropped with a note.
* **A 10x** ``.h5`` (:mod:`h5py`): CellRanger v3's ``matrix`` group (features with their
  types, dropped as above) or v2's one group per genome (``genome=`` when there are
  several). The compressed-sparse-column components (``data``, ``indices``, ``indptr``,
  ``shape``) are read as they are stored and handed to :class:`scipy.sparse.csc_array`.

**Names** are strings exactly as stored. Repeated gene names (10x gene symbols repeat:
several Ensembl genes of a reference can share one symbol) are made unique the way
scanpy users know from ``adata.var_names_make_unique()``: by
:func:`anndata.utils.make_index_unique`, which keeps the first and renames the next
``A-1``, ``A-2`` (skipping a name already taken); the renamed genes are logged and
listed in :attr:`SingleCellRead.notes`. A repeated cell name
is an error: cells from several samples must be told apart (e.g. a sample suffix) before
moonlight can report per cell.

**Counts must be raw integers.** A matrix with negative, non-finite or non-integer values
stops the read with a :class:`SingleCellError` naming the file, the matrix, an offending
entry, what the values look like (log-transformed: non-integers no larger than
:data:`LOG_MAX`; normalized to equal totals per cell; scaled: negative values) and, for an
``.h5ad``, which of its matrices do hold integer counts. Normalized matrices are the
common mistake: ``sc.pp.normalize_total`` and ``sc.pp.log1p`` overwrite ``X`` and the
counts survive only in a layer or in ``raw``.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from .config import entry_default
from .counts import entry_position, invalid_values
from .qc import _names, _row
# what a non-integer matrix looks like is said as for tables
from .tables import LOG_MAX, CountTableError, looks_like, name_warnings

__all__ = [
    "SingleCellError",
    "SingleCellRead",
    "FORMATS",
    "GENE_EXPRESSION",
    "LOG_MAX",
    "SINGLECELL_OPTIONS",
    "detect_format",
    "read_single_cell",
    "read_h5ad_counts",
    "read_anndata",
    "read_10x_mtx",
    "read_10x_h5",
    "unique_gene_names",
    "read_rows",
    "stored_entries",
]

logger = logging.getLogger("moonlight")

#: Values of ``format``: ``"table"`` is a bulk text/Excel table (:mod:`moonlight.tables`).
FORMATS = ("auto", "table", "h5ad", "10x", "10x_h5")

#: The 10x feature type that is counted; every other type is dropped with a note.
GENE_EXPRESSION = "Gene Expression"

#: Keys of a data set's config entry that are options of :func:`read_single_cell`.
SINGLECELL_OPTIONS = ("format", "matrix", "gene_ids", "genome")

_MATRIX_NAMES = ("matrix.mtx.gz", "matrix.mtx")
_FEATURE_NAMES = ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv")
_BARCODE_NAMES = ("barcodes.tsv.gz", "barcodes.tsv")


class SingleCellError(CountTableError):
    """A single-cell count matrix that cannot be used, with the file (and matrix) that
    show why. A :class:`moonlight.tables.CountTableError`, so one ``except`` catches both."""


@dataclass(frozen=True)
class SingleCellRead:
    """A single-cell count matrix and how it was read.

    Attributes
    ----------
    counts : scipy.sparse.csr_array of shape (N, M)
        float64 counts, genes x cells, canonical (sorted indices, no duplicates, no
        stored zeros).
    genes : list of str, length N
        Gene names, unique (repeats renamed, see :attr:`duplicates_renamed`).
    cells : list of str, length M
        Cell names (barcodes or ``obs_names``), unique.
    path : str
        The file or directory read.
    format : str
        ``"h5ad"``, ``"10x"`` (a directory) or ``"10x_h5"``.
    matrix : str
        The matrix used: ``"X"``, ``"raw"`` or ``"layers/<name>"`` of an ``.h5ad``; the
        Matrix Market file's name of a 10x directory; the HDF5 group (``"matrix"`` or the
        genome) of a 10x ``.h5``.
    transposed : bool
        Whether the stored matrix was cells x genes and was transposed.
    duplicates_renamed : list of str
        The new names of genes whose name repeated (``["A-1", "A-2"]``), in gene order.
    notes : list of str
        Everything else worth a line in the log and the QC record (dropped feature types,
        renamed genes, a dense matrix made sparse).
    warnings : list of (kind, message)
        What the QC record lists as warnings: ``date_names`` and ``number_names``, gene
        names a spreadsheet turned into dates or numbers
        (:func:`moonlight.tables.name_warnings`).
    """

    counts: sparse.csr_array
    genes: list[str]
    cells: list[str]
    path: str
    format: str
    matrix: str
    transposed: bool
    duplicates_renamed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The counts as a dense genes x cells DataFrame (small matrices only: it
        allocates N x M floats), names as index and columns."""
        return pd.DataFrame(self.counts.toarray(), index=pd.Index(self.genes, dtype=object),
                            columns=pd.Index(self.cells, dtype=object))


def _fail(path: str | os.PathLike[str], message: str) -> SingleCellError:
    return SingleCellError(f"{path}: {message}")


# --- names -------------------------------------------------------------------------


def unique_gene_names(genes: list[str]) -> tuple[list[str], list[str]]:
    """Gene names made unique as ``adata.var_names_make_unique()`` makes them.

    Parameters
    ----------
    genes : list of str

    Returns
    -------
    names : list of str
        The first occurrence of a name keeps it; the next become ``name-1``, ``name-2``,
        ... (a suffix already taken by another gene is skipped), by
        :func:`anndata.utils.make_index_unique`.
    renamed : list of str
        The new names, in gene order.
    """
    from anndata.utils import make_index_unique

    index = pd.Index(genes, dtype=object)
    if index.is_unique:
        return list(genes), []
    with warnings.catch_warnings():
        # it warns when a suffix collides with an existing name; the note says it instead
        warnings.simplefilter("ignore", UserWarning)
        unique = make_index_unique(index, join="-")
    names = [str(name) for name in unique]
    renamed = [new for new, old in zip(names, genes) if new != old]
    return names, renamed


def _check_names(path: str, genes: list[str], cells: list[str], gene_source: str,
                 cell_source: str
                 ) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """Gene names made unique (renamed as scanpy does, noted and logged) after checking
    that no name is empty and no cell name repeats.

    Returns
    -------
    genes, renamed, notes : list of str
    warnings : list of (kind, message)
        The name warnings (:func:`moonlight.tables.name_warnings`) of the names as read,
        before repeats are renamed: both of two genes a spreadsheet made ``1-Mar``, a
        renamed one with the name it is kept under (``gene 10 (kept as '1-Mar-1')``),
        which is the name ``drop_genes`` and the outputs use.
    """
    for kind, names, source in (("gene", genes, gene_source), ("cell", cells, cell_source)):
        empty = [i for i, name in enumerate(names) if name == ""]
        if empty:
            raise _fail(path, f"{source}: {kind} {empty[0] + 1} of {len(names)} has an empty "
                              "name")
    index = pd.Index(cells, dtype=object)
    repeated = index[index.duplicated()]
    if len(repeated):
        where = np.flatnonzero(index == repeated[0]) + 1
        raise _fail(path, f"{cell_source}: cell {repeated[0]!r} appears more than once "
                          f"(positions {', '.join(map(str, where[:5]))}); "
                          f"{len(set(repeated))} cell name(s) repeat. Cell names must be "
                          "unique: give the cells of different samples distinct names "
                          "(e.g. a sample suffix) before reading")
    unique, renamed = unique_gene_names(genes)
    where = [f"{position} (kept as {kept!r})" if kept != name else str(position)
             for position, (name, kept) in enumerate(zip(genes, unique), start=1)]
    cautions = name_warnings(pd.Series(genes, index=where), "gene")
    notes = []
    if renamed:
        note = (f"{len(renamed)} gene name(s) repeat in {gene_source} and were made unique "
                f"as scanpy's var_names_make_unique does: {_names(renamed, 20)}")
        logger.warning("%s: %s", path, note)
        notes.append(note)
    return unique, renamed, notes, cautions


def _decode(values: Any) -> list[str]:
    """Names stored as bytes or str (HDF5 strings, pandas values), as a list of str."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


# --- values ------------------------------------------------------------------------


def _looks_like(X: sparse.csr_array) -> str:
    """What a non-integer genes x cells matrix looks like (for the error message)."""
    return looks_like(X.data, np.asarray(X.sum(axis=0)).ravel(), unit="cell",
                      normalizer="sc.pp.normalize_total")


def _check_counts(path: str, X: sparse.csr_array, genes: list[str], cells: list[str],
                  matrix: str, suggestion: Callable[[], str]) -> None:
    """Stop unless every stored value of ``X`` (genes x cells) is a finite non-negative
    integer; the error names an offending entry, says what the matrix looks like and
    ends with ``suggestion()`` (which matrix to use instead)."""
    data = X.data
    found = invalid_values(data)
    if found is None:
        return
    what, _, k = found
    looks = {"non-finite values": lambda: "is not a count matrix",
             "negative values": lambda: "looks scaled or centred (as sc.pp.scale leaves it)",
             "non-integer values": lambda: _looks_like(X)}[what]
    i, j = entry_position(X, k)
    raise _fail(path, f"matrix {matrix} holds {what} (e.g. {data[k]:.6g} for gene "
                      f"{genes[i]!r}, cell {cells[j]!r}): it {looks()}. moonlight "
                      f"fits raw integer counts (UMIs or reads). {suggestion()}")


def _canonical(X: sparse.csr_array | sparse.csc_array) -> sparse.csr_array:
    """float64 CSR with sorted indices, duplicates summed and stored zeros dropped."""
    X = sparse.csr_array(X).astype(np.float64, copy=False)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


# --- AnnData .h5ad -----------------------------------------------------------------

#: Rows of a dense backed X brought into memory at a time while it is made sparse.
_DENSE_BLOCK = 4096


def _in_memory(stored: Any) -> tuple[Any, bool]:
    """A matrix of a backed AnnData in memory: scipy sparse or a numpy array, and
    whether it was stored dense. A dense HDF5 dataset is read in blocks of rows and made
    sparse block by block, so that it is never in memory as a whole."""
    import h5py

    if isinstance(stored, h5py.Dataset):
        blocks = [sparse.csr_array(_sparse_dtype(stored[start:start + _DENSE_BLOCK]))
                  for start in range(0, stored.shape[0], _DENSE_BLOCK)]
        return sparse.vstack(blocks, format="csr"), True
    if hasattr(stored, "to_memory"):  # anndata's backed sparse dataset
        return stored.to_memory(), False
    if sparse.issparse(stored):
        return stored, False
    return _sparse_dtype(np.asarray(stored)), True


def _sparse_dtype(block: NDArray) -> NDArray:
    """``block``, float16 values as float32 (exactly: every float16 is a float32), which
    scipy.sparse can hold; other types as they are."""
    return block.astype(np.float32) if block.dtype == np.float16 else block


def _h5ad_choices(adata: Any) -> dict[str, Callable[[], Any]]:
    """The matrices of an AnnData by their ``matrix`` option value: X, raw, each layer."""
    choices: dict[str, Callable[[], Any]] = {}
    if adata.X is not None:
        choices["X"] = lambda: adata.X
    if adata.raw is not None:
        choices["raw"] = lambda: adata.raw.X
    for name in adata.layers.keys():
        choices[name] = lambda name=name: adata.layers[name]
    return choices


def _label(choice: str) -> str:
    """How a matrix of an .h5ad is named in messages and in the record."""
    return choice if choice in ("X", "raw") else f"layers/{choice}"


def _is_counts(stored: Any) -> bool:
    """Whether a matrix holds only finite non-negative integers."""
    matrix, _ = _in_memory(stored)
    data = matrix.data if sparse.issparse(matrix) else matrix
    if np.issubdtype(data.dtype, np.integer):
        return bool((data >= 0).all())
    if not np.issubdtype(data.dtype, np.number):
        return False
    return invalid_values(np.ravel(data)) is None


def _h5ad_suggestion(adata: Any, used: str, key: str) -> str:
    """Which other matrices of an AnnData hold integer counts, and ``key``, how to choose
    one (the config's key, or analyse()'s argument)."""
    choices = _h5ad_choices(adata)
    good = [name for name, get in choices.items() if name != used and _is_counts(get())]
    if good:
        return ("Matrices of this AnnData that hold integer counts: "
                + ", ".join(f"{_label(name)} (matrix: {name})" for name in good)
                + f"; choose one with {key}")
    return (f"None of this AnnData's matrices ({', '.join(_label(n) for n in choices)}) holds "
            "integer counts: read the counts from where they came from (CellRanger's "
            "filtered_feature_bc_matrix, or the AnnData before sc.pp.normalize_total and "
            "sc.pp.log1p; keep them with adata.layers['counts'] = adata.X.copy())")


def read_h5ad_counts(path: str | os.PathLike[str], *, matrix: str = entry_default("matrix"),
                     gene_ids: bool = entry_default("gene_ids")) -> SingleCellRead:
    """Read the counts of an AnnData ``.h5ad`` file, genes x cells.

    Parameters
    ----------
    path : path-like
        An ``.h5ad`` file (cells x genes, as AnnData stores them).
    matrix : str
        ``"X"`` (default), ``"raw"`` (``adata.raw.X``, genes ``adata.raw.var_names``) or
        the name of a layer (``"counts"``). Must hold raw integer counts.
    gene_ids : bool
        Name genes by ``var["gene_ids"]`` (Ensembl IDs, as scanpy's 10x readers store
        them; ``raw.var["gene_ids"]`` for ``"raw"``) instead of ``var_names``.

    Returns
    -------
    SingleCellRead
        ``transposed`` is True (AnnData is cells x genes).

    Raises
    ------
    SingleCellError
        Naming the file: not an ``.h5ad``; no such matrix (the message lists the file's
        matrices); names missing, empty or cells repeated; values that are not raw
        integer counts (the message says what they look like and which of the file's
        matrices hold counts).
    """
    import anndata

    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        with warnings.catch_warnings():
            # repeated names are handled below: genes renamed (noted), cells refused
            warnings.filterwarnings("ignore", r"(Variable|Observation) names are not unique")
            adata = anndata.read_h5ad(path, backed="r")
    except Exception as error:  # h5py and anndata raise many kinds for a foreign file
        raise _fail(path, f"cannot open as an AnnData .h5ad file ({error})") from None
    try:
        return _anndata_counts(adata, str(path), matrix, gene_ids,
                               "the data set's 'matrix' key")
    finally:
        adata.file.close()


def read_anndata(adata: Any, *, matrix: str = entry_default("matrix"),
                 gene_ids: bool = entry_default("gene_ids")) -> SingleCellRead:
    """The counts of an AnnData object in memory, genes x cells, read and checked as
    :func:`read_h5ad_counts` reads a file's (``matrix``, ``gene_ids`` as there; errors
    name ``AnnData`` where those name the file)."""
    return _anndata_counts(adata, "AnnData", matrix, gene_ids, "select={'matrix': ...}")


def _anndata_counts(adata: Any, source: str, matrix: str, gene_ids: bool,
                    key: str) -> SingleCellRead:
    """The counts of an AnnData (backed by a file or in memory), genes x cells; ``key``
    is how the messages tell the user to choose another matrix."""
    choices = _h5ad_choices(adata)
    if matrix not in choices:
        raise _fail(source, f"no matrix {matrix!r}; it has "
                            + (", ".join(f"{_label(n)} (matrix: {n})" for n in choices)
                               or "no matrix at all"))
    var = adata.raw.var if matrix == "raw" else adata.var
    var_source = "raw.var" if matrix == "raw" else "var"
    if gene_ids:
        if "gene_ids" not in var.columns:
            raise _fail(source, f"gene_ids: {var_source} has no 'gene_ids' column (its "
                                f"columns: {', '.join(map(str, var.columns)) or 'none'})")
        if var["gene_ids"].isna().any():
            raise _fail(source, f"gene_ids: {var_source}['gene_ids'] is missing for gene "
                                f"{var.index[var['gene_ids'].isna().to_numpy()][0]!r}")
        genes, gene_source = _decode(var["gene_ids"]), f"{var_source}['gene_ids']"
    else:
        genes, gene_source = _decode(var.index), f"{var_source}_names"
    cells = _decode(adata.obs_names)
    stored, dense = _in_memory(choices[matrix]())
    notes = ["the matrix is stored dense and was made sparse"] if dense else []
    if stored.shape != (len(cells), len(genes)):
        raise _fail(source, f"matrix {_label(matrix)} is {stored.shape[0]} x "
                            f"{stored.shape[1]}, but it has {len(cells)} cells and "
                            f"{len(genes)} genes")
    X = _canonical(sparse.csr_array(stored).T)
    del stored  # the stored copy (cells x genes), no longer needed
    genes, renamed, name_notes, cautions = _check_names(source, genes, cells, gene_source,
                                                        "obs_names")
    _check_counts(source, X, genes, cells, _label(matrix),
                  lambda: _h5ad_suggestion(adata, matrix, key))
    return _finish(SingleCellRead(
        counts=X, genes=genes, cells=cells, path=source, format="h5ad",
        matrix=_label(matrix), transposed=True, duplicates_renamed=renamed, warnings=cautions,
        notes=notes + name_notes))


def _finish(read: SingleCellRead) -> SingleCellRead:
    """Log what was read and warn of its name warnings; return it."""
    for _, message in read.warnings:
        warnings.warn(f"{read.path}: {message}", stacklevel=2)
    logger.info("%s: %s, matrix %s%s; %d genes x %d cells, %d nonzero counts (%.3g%%)",
                read.path, read.format, read.matrix,
                ", transposed from cells x genes" if read.transposed else "",
                len(read.genes), len(read.cells), read.counts.nnz,
                100.0 * read.counts.nnz / max(1, len(read.genes) * len(read.cells)))
    return read


# --- 10x Genomics ------------------------------------------------------------------


_TENX_INTEGER = ("10x Genomics matrices hold integer counts; this one was changed after "
                 "CellRanger wrote it. Read the counts as CellRanger wrote them")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _read_tsv(path: Path) -> pd.DataFrame:
    """A headerless tab-separated file (gzipped or not), every field a string."""
    try:
        return pd.read_csv(path, sep="\t", header=None, dtype=str, na_filter=False,
                           quoting=csv.QUOTE_NONE,
                           compression="gzip" if _is_gzip(path) else None)
    except pd.errors.EmptyDataError:
        raise _fail(path, "the file is empty") from None
    except (pd.errors.ParserError, OSError, EOFError, UnicodeDecodeError) as error:
        raise _fail(path, f"cannot read as a tab-separated file ({error})") from None


def _tenx_files(path: Path) -> tuple[Path, Path, Path]:
    """The matrix, features (or genes) and barcodes files of a 10x directory; ``path``
    is the directory or its matrix file. A prefix common to the three is allowed."""
    directory = path if path.is_dir() else path.parent
    if path.is_dir():
        matrices = sorted(p.name for p in directory.iterdir()
                          if p.is_file() and p.name.endswith(_MATRIX_NAMES))
    else:
        matrices = [path.name] if path.name.endswith(_MATRIX_NAMES) else []
    if not matrices:
        raise _fail(path, "no matrix.mtx.gz or matrix.mtx; a 10x directory holds "
                          "matrix.mtx.gz, features.tsv.gz (or genes.tsv) and "
                          "barcodes.tsv.gz")
    if len(matrices) > 1:
        raise _fail(path, f"several matrices ({', '.join(matrices)}); give the path of one")
    name = matrices[0]
    prefix = name[:-len(next(s for s in _MATRIX_NAMES if name.endswith(s)))]
    found = []
    for kind, candidates in (("features", _FEATURE_NAMES), ("barcodes", _BARCODE_NAMES)):
        present = [directory / f"{prefix}{c}" for c in candidates
                   if (directory / f"{prefix}{c}").is_file()]
        if not present:
            raise _fail(directory, f"{name} has no {kind} file beside it (looked for "
                                   + ", ".join(prefix + c for c in candidates) + ")")
        found.append(present[0])
    return directory / name, found[0], found[1]


def _feature_selection(path: str, ids: list[str], names: list[str], types: list[str],
                       source: str) -> tuple[NDArray[np.intp], list[str]]:
    """Positions of the Gene Expression features, and a note on the others (dropped)."""
    kinds = pd.Series(types, dtype=object)
    keep = (kinds == GENE_EXPRESSION).to_numpy()
    if not keep.any():
        raise _fail(path, f"{source}: no feature of type {GENE_EXPRESSION!r} (types: "
                          f"{', '.join(sorted(set(types)))})")
    notes = []
    if not keep.all():
        dropped = kinds[~keep].value_counts(sort=False)
        note = (f"{int((~keep).sum())} feature(s) dropped: "
                + ", ".join(f"{kind} ({n})" for kind, n in dropped.items())
                + f"; moonlight fits {GENE_EXPRESSION} features only")
        logger.info("%s: %s", path, note)
        notes.append(note)
    return np.flatnonzero(keep), notes


def read_10x_mtx(path: str | os.PathLike[str], *,
                 gene_ids: bool = entry_default("gene_ids")) -> SingleCellRead:
    """Read a 10x Genomics matrix directory, genes x cells.

    Parameters
    ----------
    path : path-like
        The directory (CellRanger's ``filtered_feature_bc_matrix/``, or v2's
        ``filtered_gene_bc_matrices/<genome>/``), or its ``matrix.mtx(.gz)``.
    gene_ids : bool
        Name genes by their IDs (column 1 of the features file, Ensembl) rather than
        their symbols (column 2).

    Returns
    -------
    SingleCellRead
        ``matrix`` is the Matrix Market file's name; ``transposed`` is True only for a
        matrix stored cells x genes (as some uploads to GEO are), recognised by its shape.

    Raises
    ------
    SingleCellError
        Naming the file: a missing file, a matrix whose shape does not match the
        features and barcodes, no Gene Expression feature, empty or repeated names,
        values that are not integer counts.
    """
    from scipy.io import mmread

    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file or directory")
    matrix_path, features_path, barcodes_path = _tenx_files(path)
    features = _read_tsv(features_path)
    barcodes = _read_tsv(barcodes_path)
    if barcodes.shape[1] != 1:
        raise _fail(barcodes_path, f"{barcodes.shape[1]} columns; a barcodes file has one")
    cells = barcodes[0].tolist()
    ids = features[0].tolist()
    names = features[1].tolist() if features.shape[1] > 1 else ids
    types = (features[2].tolist() if features.shape[1] > 2
             else [GENE_EXPRESSION] * len(ids))
    notes = [] if features.shape[1] > 1 else [
        f"{features_path.name} has one column: genes are named by it"]
    try:
        if _is_gzip(matrix_path):
            import gzip

            with gzip.open(matrix_path, "rb") as handle:
                stored = mmread(handle)
        else:
            stored = mmread(matrix_path)
    except (ValueError, OSError, EOFError, TypeError) as error:
        raise _fail(matrix_path, f"cannot read as a Matrix Market file ({error})") from None
    if not sparse.issparse(stored):
        stored = sparse.coo_array(stored)
    shape, n_genes, n_cells = stored.shape, len(ids), len(cells)
    transposed = shape != (n_genes, n_cells) and shape == (n_cells, n_genes)
    if shape != (n_genes, n_cells) and not transposed:
        raise _fail(matrix_path, f"the matrix is {shape[0]} x {shape[1]}, but "
                                 f"{features_path.name} lists {n_genes} features and "
                                 f"{barcodes_path.name} {n_cells} barcodes")
    if transposed:
        notes.append("the matrix is stored cells x genes and was transposed")
    X = _canonical(stored.T if transposed else stored)
    del stored
    keep, type_notes = _feature_selection(str(matrix_path), ids, names, types,
                                          features_path.name)
    X = X[keep] if keep.size < n_genes else X
    genes = [(ids if gene_ids else names)[i] for i in keep]
    cells_source = barcodes_path.name
    genes, renamed, name_notes, cautions = _check_names(str(path), genes, cells,
                                                        features_path.name, cells_source)
    _check_counts(str(matrix_path), X, genes, cells, matrix_path.name,
                  lambda: _TENX_INTEGER)
    return _finish(SingleCellRead(
        counts=X, genes=genes, cells=cells, path=str(path), format="10x",
        matrix=matrix_path.name, transposed=transposed, duplicates_renamed=renamed,
        warnings=cautions, notes=notes + type_notes + name_notes))


def read_10x_h5(path: str | os.PathLike[str], *, gene_ids: bool = entry_default("gene_ids"),
                genome: str | None = None) -> SingleCellRead:
    """Read a 10x Genomics ``.h5`` matrix (CellRanger v3 or v2), genes x cells.

    Parameters
    ----------
    path : path-like
        CellRanger's ``filtered_feature_bc_matrix.h5`` (v3: a ``matrix`` group) or
        ``filtered_gene_bc_matrices_h5.h5`` (v2: one group per genome).
    gene_ids : bool
        Name genes by their IDs (``features/id``, v2 ``genes``) rather than their symbols
        (``features/name``, v2 ``gene_names``).
    genome : str, optional
        v2: the genome group to read (needed when the file has several); v3: keep only
        the features of this genome (``features/genome``) of a multi-genome run.

    Returns
    -------
    SingleCellRead
        ``matrix`` is the HDF5 group read; ``transposed`` is False (10x stores features
        x barcodes).

    Raises
    ------
    SingleCellError
        Naming the file: not HDF5, not a 10x layout (an AnnData file is recognised and
        named), a missing dataset, inconsistent components, names or values as for the
        other readers.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise _fail(path, f"cannot open as an HDF5 file ({error})") from None
    with handle:
        groups = [k for k, v in handle.items() if isinstance(v, h5py.Group)]
        if "matrix" in handle:
            label = "matrix"
            group = handle["matrix"]
            if "features" not in group:
                raise _fail(path, "matrix: no 'features' group (a CellRanger v3 file has "
                                  "matrix/features/id, name, feature_type)")
            features = group["features"]
            _require(path, features, ("id", "name"), "matrix/features")
            ids = _decode(features["id"][()])
            names = _decode(features["name"][()])
            types = (_decode(features["feature_type"][()]) if "feature_type" in features
                     else [GENE_EXPRESSION] * len(ids))
            genomes = (_decode(features["genome"][()]) if "genome" in features
                       else [""] * len(ids))
        else:
            if {"X", "obs", "var"} <= set(handle.keys()):
                raise _fail(path, "this is an AnnData file, not a 10x .h5: name it .h5ad or "
                                  "give the data set format: h5ad")
            if not groups:
                raise _fail(path, "not a 10x .h5: no 'matrix' group (CellRanger v3) nor a "
                                  "genome group (v2)")
            if genome is None and len(groups) > 1:
                raise _fail(path, f"the file holds several genomes ({', '.join(groups)}); "
                                  "choose one with genome")
            label = genome if genome is not None else groups[0]
            if label not in handle:
                raise _fail(path, f"genome: no group {label!r} (the file has "
                                  f"{', '.join(groups)})")
            group = handle[label]
            _require(path, group, ("genes", "gene_names"), label)
            ids = _decode(group["genes"][()])
            names = _decode(group["gene_names"][()])
            types = [GENE_EXPRESSION] * len(ids)
            genomes = [label] * len(ids)
        _require(path, group, ("barcodes", "data", "indices", "indptr", "shape"), label)
        cells = _decode(group["barcodes"][()])
        shape = tuple(int(n) for n in group["shape"][()])
        if shape != (len(ids), len(cells)):
            raise _fail(path, f"{label}/shape is {shape}, but the file lists {len(ids)} "
                              f"features and {len(cells)} barcodes")
        try:
            stored = sparse.csc_array((group["data"][()], group["indices"][()],
                                       group["indptr"][()]), shape=shape)
        except ValueError as error:
            raise _fail(path, f"{label}: data, indices and indptr do not make a "
                              f"compressed-sparse-column matrix ({error})") from None
    notes: list[str] = []
    if genome is not None and label == "matrix":
        if genome not in set(genomes):
            raise _fail(path, f"genome: no feature of genome {genome!r} (genomes: "
                              f"{', '.join(sorted(set(genomes)))})")
        types = [t if g == genome else f"other genome {g}" for t, g in zip(types, genomes)]
    X = _canonical(stored)
    del stored
    keep, type_notes = _feature_selection(str(path), ids, names, types, f"{label}/features")
    X = X[keep] if keep.size < len(ids) else X
    genes = [(ids if gene_ids else names)[i] for i in keep]
    gene_source = (f"{label}/features/{'id' if gene_ids else 'name'}" if label == "matrix"
                   else f"{label}/{'genes' if gene_ids else 'gene_names'}")
    genes, renamed, name_notes, cautions = _check_names(str(path), genes, cells, gene_source,
                                                        f"{label}/barcodes")
    _check_counts(str(path), X, genes, cells, label, lambda: _TENX_INTEGER)
    return _finish(SingleCellRead(
        counts=X, genes=genes, cells=cells, path=str(path), format="10x_h5", matrix=label,
        transposed=False, duplicates_renamed=renamed, warnings=cautions,
        notes=notes + type_notes + name_notes))


def _require(path: Path, group: Any, names: tuple[str, ...], where: str) -> None:
    missing = [name for name in names if name not in group]
    if missing:
        raise _fail(path, f"{where}: no {', '.join(missing)} (not a CellRanger layout)")


# --- one entry point ---------------------------------------------------------------


def stored_entries(path: str | os.PathLike[str],
                   format: str = entry_default("format")) -> int | None:
    """How many entries the largest count matrix of a single-cell file stores (its
    nonzeros, or every entry of a dense matrix), read from the file's header or HDF5
    metadata without reading the matrix; None where that cannot be told (a text table,
    a file that cannot be opened: the reader, not this, reports what is wrong).

    For an ``.h5ad`` every matrix the ``matrix`` option could name counts (``X``,
    ``raw``, each layer), for a 10x ``.h5`` every genome, so the figure bounds what any
    options read. :mod:`moonlight.resources` declares a job's memory from it.
    """
    path = Path(path)
    kind = detect_format(path, format)
    try:
        if kind == "10x":
            return _mtx_entries(_tenx_files(path)[0])
        if kind in ("h5ad", "10x_h5"):
            return _hdf5_entries(path)
    except (OSError, ValueError, SingleCellError):
        return None
    return None


def _mtx_entries(matrix: Path) -> int | None:
    """The entry count of a Matrix Market header (``rows columns entries``)."""
    import gzip

    opener = gzip.open if _is_gzip(matrix) else open
    with opener(matrix, "rt") as handle:
        for line in handle:
            if not line.startswith("%"):
                fields = line.split()
                return int(fields[2]) if len(fields) == 3 else None
    return None


def _hdf5_entries(path: Path) -> int | None:
    """The largest matrix of an HDF5 file: a sparse group's ``data`` length, or a dense
    dataset's size, over the datasets and groups that hold count matrices (``X``,
    ``raw/X``, ``layers/*`` of an AnnData; ``matrix`` or the genome groups of a 10x
    file)."""
    import h5py

    def size(node: Any) -> int:
        if isinstance(node, h5py.Dataset):
            return int(node.size)
        return int(node["data"].size) if "data" in node else 0

    with h5py.File(path, "r") as f:
        nodes = [f[k] for k in ("X", "raw/X", "matrix") if k in f]
        nodes += [f["layers"][k] for k in f["layers"]] if "layers" in f else []
        if not nodes:  # a CellRanger v2 file: one group per genome
            nodes = [g for g in f.values() if isinstance(g, h5py.Group) and "data" in g]
        sizes = [size(n) for n in nodes]
    return max(sizes) if sizes else None


def detect_format(path: str | os.PathLike[str], format: str = "auto") -> str:
    """The format ``path`` is read as: ``format``, or with ``"auto"`` the path's.

    A directory, or a ``matrix.mtx(.gz)`` file, is ``"10x"``; ``.h5ad`` is ``"h5ad"``;
    ``.h5``/``.hdf5`` is ``"10x_h5"``; anything else is ``"table"`` (a bulk count table,
    read by :func:`moonlight.tables.read_table`).
    """
    if format != "auto":
        return format
    path = Path(path)
    name = path.name.lower()
    if path.is_dir() or name.endswith(_MATRIX_NAMES):
        return "10x"
    if name.endswith(".h5ad"):
        return "h5ad"
    if name.endswith((".h5", ".hdf5")):
        return "10x_h5"
    return "table"


def read_single_cell(
    path: str | os.PathLike[str],
    *,
    format: Literal["auto", "h5ad", "10x", "10x_h5"] = entry_default("format"),
    matrix: str = entry_default("matrix"),
    gene_ids: bool = entry_default("gene_ids"),
    genome: str | None = None,
) -> SingleCellRead:
    """Read a single-cell count matrix in any of the formats of the module docstring.

    Parameters
    ----------
    path : path-like
        An ``.h5ad`` file, a 10x directory (or its ``matrix.mtx.gz``) or a 10x ``.h5``.
    format : {"auto", "h5ad", "10x", "10x_h5"}
        ``"auto"`` decides by :func:`detect_format`.
    matrix : str
        ``.h5ad`` only: ``"X"``, ``"raw"`` or a layer name (see
        :func:`read_h5ad_counts`).
    gene_ids : bool
        Name genes by their IDs (Ensembl) rather than their symbols.
    genome : str, optional
        10x ``.h5`` only (see :func:`read_10x_h5`).

    Returns
    -------
    SingleCellRead

    Raises
    ------
    ValueError
        For an unknown ``format`` or an option that does not apply to the format.
    SingleCellError
        For a file that cannot be used, naming it (see each reader).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    chosen = detect_format(path, format)
    if chosen == "table":
        raise ValueError(f"{path}: a bulk count table (format: table) is read by "
                         "moonlight.tables.read_table; single-cell formats are "
                         "h5ad, 10x and 10x_h5")
    if matrix != "X" and chosen != "h5ad":
        raise ValueError(f"{path}: matrix={matrix!r} applies to .h5ad files only "
                         f"(this is {chosen})")
    if genome is not None and chosen != "10x_h5":
        raise ValueError(f"{path}: genome applies to 10x .h5 files only (this is {chosen})")
    if chosen == "h5ad":
        return read_h5ad_counts(path, matrix=matrix, gene_ids=gene_ids)
    if chosen == "10x":
        return read_10x_mtx(path, gene_ids=gene_ids)
    return read_10x_h5(path, gene_ids=gene_ids, genome=genome)


def read_rows(read: SingleCellRead) -> list[dict[str, str]]:
    """QC record rows (``check``, ``value``, ``detail``) for how a matrix was read, in
    the shape of :func:`moonlight.qc.read_record`'s (cells are the samples)."""
    n_genes, n_cells = read.counts.shape
    rows = [
        _row("source", read.path),
        _row("format", read.format,
             f"matrix {read.matrix}; "
             + ("transposed from cells x genes" if read.transposed
                else "genes x cells as stored")),
    ]
    rows += [_row("note", "", note) for note in read.notes]
    rows += [_row("warning", kind, message) for kind, message in read.warnings]
    rows += [
        _row("genes_read", n_genes),
        _row("samples_read", n_cells, "cells"),
        _row("nonzero_entries", read.counts.nnz,
             f"{read.counts.nnz / max(1, n_genes * n_cells):.4g} of the genes x cells"),
    ]
    return rows
