"""Gene and cell selection before the fit, for count tables and single-cell data sets.

A single-cell matrix has tens of thousands of genes, most of them detected in a handful
of cells, and cells whose few counts say little; a bulk table of a whole transcriptome
has 20,000 genes of which most carry no module structure. Before the fit, in this order
(cells are the samples of a table):

1. **cells** with fewer than ``min_counts_per_cell`` counts over all genes read are
   dropped (and cells with none at all, whatever the setting);
2. **genes** detected (count > 0) in fewer than ``min_samples_per_gene`` of the kept cells
   are dropped (and genes with no count in them, whatever the setting);
3. of the genes left, the ``top_genes`` with the largest **Poisson deviance** are kept
   (:func:`poisson_deviance`); ties, exact ones only, go to the gene first in the input;
4. cells with no count in the kept genes are dropped, as moonlight drops all-zero
   samples of a bulk table (a zero column of V carries no information on the modules).
   No gene loses a count by it, so no step has to be repeated.

Every step is sparse arithmetic on the nonzero entries (row and column sums, counts of
nonzeros, one logarithm per nonzero): nothing is made dense. The settings come from the
config's ``gene_selection:`` block, which a data entry's own keys override
(:func:`selection_settings`); its default keeps the 5,000 genes of largest deviance, so
a table of at most 5,000 genes is fitted whole.

**The statistic.** The Poisson deviance of gene i against the rank-1 model, in which
every gene is a fixed share of every cell's counts (mu_ij = s_i n_j / T with gene total
s_i, cell total n_j, grand total T), is

    D_i = 2 sum_j [x_ij log(x_ij / mu_ij) - (x_ij - mu_ij)]
        = 2 sum_{j: x_ij > 0} x_ij log(x_ij T / (s_i n_j)),

the (x - mu) terms summing to zero over j because sum_j mu_ij = s_i. It is the
deviance-based feature selection of Townes, Hicks, Aryee & Irizarry (2019), "Feature
selection and dimension reduction for single-cell RNA-Seq based on a multinomial model",
Genome Biology 20:295 (R package scry, ``devianceFeatureSelection``; its default is the
binomial deviance, which agrees with the Poisson one when a gene is a small share of
every cell's counts). Why this one here: mu is exactly moonlight's own rank-1 Poisson NMF
(the baseline of the QC record's ``no_structure`` warning), so D_i / 2 is the log
likelihood gene i gains from rank 1 to a perfect fit: the most that modules could
explain of it. A gene that only follows cell depth has a small deviance whatever its
expression; a gene that differs between groups of cells has a large one. Unlike a
variance-to-mean ratio of normalized counts (cNMF, scanpy's ``seurat_v3``) it needs no
pseudo-count, normalization or fitted mean-variance trend, and unlike Pearson residuals
(scanpy's ``pearson_residuals``) no clipping; like them it favours well-expressed genes
among equally structured ones, which is where a Poisson fit has its information.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from .config import default, defaults, entry_default
from .counts import Counts
from .qc import _names, _row

__all__ = ["Prefiltered", "poisson_deviance", "select_genes_and_cells",
           "select_counts", "selection_settings", "selection_changes", "SELECTION_OPTIONS",
           "STATISTIC", "NAMES_LISTED"]

#: The options of a data set (config ``data.<name>``) that select genes and cells:
#: ``keep_top_genes`` and ``min_samples_per_gene`` for every input (defaults in the
#: config's ``gene_selection:``), ``min_counts_per_cell`` for single cells, and
#: ``min_cells_per_gene``, the older name of ``min_samples_per_gene``.
SELECTION_OPTIONS = ("keep_top_genes", "min_samples_per_gene", "min_cells_per_gene",
                     "min_counts_per_cell")

logger = logging.getLogger("moonlight")

#: The statistic of ``top_genes``, as the QC record names it.
STATISTIC = ("Poisson deviance from the rank-1 model (Townes et al. 2019, Genome Biology "
             "20:295)")

#: Dropped genes or cells are named in the QC record up to this many per reason.
NAMES_LISTED = 20


@dataclass(frozen=True)
class Prefiltered:
    """The counts that go into the fit, and what was dropped on the way.

    Attributes
    ----------
    counts : scipy.sparse.csr_array or ndarray of shape (N', M')
        float64 (an ndarray from :func:`select_counts` of dense counts), genes x cells,
        the kept genes and cells in their input order.
    genes, cells : list of str
        Their names.
    rows : list of dict
        QC record rows (``check``, ``value``, ``detail``): per step the number dropped
        and why (names when at most :data:`NAMES_LISTED`, else the first ones), then
        ``genes_kept`` and ``samples_kept``.
    deviance : Series
        Poisson deviance of every gene ranked for ``top_genes`` (index: gene names, input
        order); empty when ``top_genes`` did not apply.
    """

    counts: sparse.csr_array | NDArray[np.float64]
    genes: list[str]
    cells: list[str]
    rows: list[dict[str, str]]
    deviance: pd.Series


def poisson_deviance(counts: sparse.csr_array) -> NDArray[np.float64]:
    """Poisson deviance of every gene from the rank-1 model (see the module docstring).

    Parameters
    ----------
    counts : scipy.sparse array or matrix of shape (N, M)
        Genes x cells, non-negative; every cell with at least one count.

    Returns
    -------
    ndarray of shape (N,)
        ``D_i = 2 sum_{j: x_ij > 0} x_ij log(x_ij T / (s_i n_j))``, 0 for a gene without
        counts; O(nnz) time and memory, never dense.
    """
    X = sparse.csr_array(counts, dtype=np.float64)
    s = np.asarray(X.sum(axis=1)).ravel()          # gene totals s_i
    n = np.asarray(X.sum(axis=0)).ravel()          # cell totals n_j
    total = float(s.sum())                         # T
    if X.nnz == 0:
        return np.zeros(X.shape[0])
    # sum_j x_ij log(x_ij T / (s_i n_j)) = sum_j x_ij (log x_ij - log n_j) + s_i log(T / s_i):
    # one array of nnz terms, summed along the rows of the CSR structure (not copied)
    term = np.log(X.data)
    term -= np.log(n)[X.indices]
    term *= X.data
    per_gene = np.asarray(sparse.csr_array((term, X.indices, X.indptr), shape=X.shape)
                          .sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_gene += np.where(s > 0, s * np.log(total / s), 0.0)
    return np.maximum(2.0 * per_gene, 0.0)  # >= 0 exactly; rounding can leave -1e-13


def _check_parameter(name: str, value: int | None, *, allow_none: bool = False,
                     minimum: int = 0) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}"
                         + (" or None" if allow_none else "") + f", not {value!r}")


def _dropped(kind: str, names: list[str], reason: str) -> dict[str, str]:
    return _row(f"{kind}_dropped", len(names),
                f"{reason}: {_names(names, NAMES_LISTED)}" if names else reason)


def select_genes_and_cells(
    counts: sparse.csr_array | sparse.csc_array | NDArray[np.float64],
    genes: list[str],
    cells: list[str],
    *,
    min_samples_per_gene: int = default("gene_selection.min_samples_per_gene"),
    min_counts_per_cell: int = entry_default("min_counts_per_cell"),
    top_genes: int | None = default("gene_selection.keep_top_genes"),
    unit: str = "cells",
) -> Prefiltered:
    """Select genes and cells before the fit, by the steps of the module docstring.

    Parameters
    ----------
    counts : scipy.sparse array or matrix of shape (N, M)
        Genes x cells counts (a numpy array is accepted and made sparse).
    genes : list of str, length N
    cells : list of str, length M
    min_samples_per_gene : int
        Drop genes detected (count > 0) in fewer of the kept cells; 0 keeps every gene
        with a count.
    min_counts_per_cell : int
        Drop cells with fewer counts over all genes read; 0 keeps every cell with a
        count.
    top_genes : int, optional
        Keep this many genes, those with the largest Poisson deviance
        (:func:`poisson_deviance`, computed on the genes and cells kept so far); None
        keeps all. Left out, the schema's ``gene_selection.keep_top_genes`` (cNMF's
        default is 2,000).
    unit : str
        What the QC rows call the samples (``"cells"``; ``"samples"`` for a table).

    Returns
    -------
    Prefiltered

    Raises
    ------
    ValueError
        For a parameter out of range, names that do not match the matrix, or a
        selection that leaves no gene or no cell.
    """
    _check_parameter("min_samples_per_gene", min_samples_per_gene)
    _check_parameter("min_counts_per_cell", min_counts_per_cell)
    _check_parameter("top_genes", top_genes, allow_none=True, minimum=1)
    X = sparse.csr_array(counts, dtype=np.float64)
    if not X.has_canonical_format or (X.data == 0).any():
        X = X.copy()  # never change the caller's matrix
        X.sum_duplicates()
        X.eliminate_zeros()
    if (X.data < 0).any():
        raise ValueError("counts must be non-negative")
    if X.shape != (len(genes), len(cells)):
        raise ValueError(f"counts are {X.shape[0]} x {X.shape[1]} but there are "
                         f"{len(genes)} gene and {len(cells)} cell names")
    gene_names = np.asarray(genes, dtype=object)
    cell_names = np.asarray(cells, dtype=object)
    rows: list[dict[str, str]] = []

    # 1. cells by their total count over all genes read
    totals = np.asarray(X.sum(axis=0)).ravel()
    empty = totals == 0
    low = ~empty & (totals < min_counts_per_cell)
    if empty.any():
        rows.append(_dropped("samples", list(cell_names[empty]), f"all-zero counts ({unit})"))
    if min_counts_per_cell > 0:
        rows.append(_dropped("samples", list(cell_names[low]),
                             f"cells with fewer than min_counts_per_cell = "
                             f"{min_counts_per_cell} counts over all genes read"))
    if (empty | low).any():  # (slicing copies the matrix: only when something goes)
        keep_cells = np.flatnonzero(~(empty | low))
        X, cell_names = X[:, keep_cells], cell_names[keep_cells]

    # 2. genes by the number of kept cells that detect them
    detected = np.diff(X.indptr)  # nonzeros per row = cells with a count (canonical CSR)
    absent = detected == 0
    rare = ~absent & (detected < min_samples_per_gene)
    if absent.any():
        rows.append(_dropped("genes", list(gene_names[absent]),
                             "no count in the kept cells"))
    if min_samples_per_gene > 0:
        rows.append(_dropped("genes", list(gene_names[rare]),
                             f"detected in fewer than min_samples_per_gene = "
                             f"{min_samples_per_gene} samples"))
    if (absent | rare).any():
        keep_genes = np.flatnonzero(~(absent | rare))
        X, gene_names = X[keep_genes], gene_names[keep_genes]

    # 3. the top genes by Poisson deviance; exact ties to the gene first in the input
    deviance = pd.Series(dtype=np.float64)
    if top_genes is not None and X.shape[0] > 0:
        D = poisson_deviance(X)
        deviance = pd.Series(D, index=pd.Index(list(gene_names), dtype=object),
                             name="poisson_deviance")
        if X.shape[0] > top_genes:
            order = np.lexsort((np.arange(len(D)), -D))
            chosen = np.sort(order[:top_genes])
            dropped = np.setdiff1d(np.arange(len(D)), chosen)
            rows.append(_dropped(
                "genes", list(gene_names[dropped]),
                f"not among the keep_top_genes = {top_genes} by {STATISTIC} (kept: deviance >= "
                f"{D[order[top_genes - 1]]:.6g}; largest dropped {D[order[top_genes]]:.6g})"))
            X, gene_names = X[chosen], gene_names[chosen]
        else:
            rows.append(_row("note", "", f"keep_top_genes = {top_genes}: {X.shape[0]} genes "
                                         f"left, all kept"))

    # 4. cells left without a count in the kept genes
    silent = np.bincount(X.indices, minlength=X.shape[1]) == 0
    if silent.any():
        rows.append(_dropped("samples", list(cell_names[silent]),
                             f"no count in the selected genes ({unit})"))
        keep = np.flatnonzero(~silent)
        X, cell_names = X[:, keep], cell_names[keep]

    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"the selection leaves {X.shape[0]} genes x {X.shape[1]} cells "
                         f"(min_samples_per_gene = {min_samples_per_gene}, min_counts_per_cell "
                         f"= {min_counts_per_cell}, keep_top_genes = {top_genes})")
    rows += [_row("genes_kept", X.shape[0]), _row("samples_kept", X.shape[1], unit)]
    logger.info("gene selection: %d of %d genes x %d of %d %s kept",
                X.shape[0], len(genes), X.shape[1], len(cells), unit)
    X = sparse.csr_array(X)
    X.sort_indices()
    return Prefiltered(counts=X, genes=[str(g) for g in gene_names],
                       cells=[str(c) for c in cell_names], rows=rows, deviance=deviance)


def selection_settings(options: dict[str, Any] | None = None,
                       base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The gene and cell selection of a data set: the config's ``gene_selection:`` block
    (``base``; left out, the schema's defaults), overridden by the entry's own
    :data:`SELECTION_OPTIONS` (other keys of the entry are ignored), with
    ``min_cells_per_gene`` read as ``min_samples_per_gene``.

    Raises
    ------
    ValueError
        Both ``min_samples_per_gene`` and its older name ``min_cells_per_gene``.
    """
    given = {k: v for k, v in (options or {}).items() if k in SELECTION_OPTIONS}
    if "min_cells_per_gene" in given:
        if "min_samples_per_gene" in given:
            raise ValueError("give min_samples_per_gene or its older name "
                             "min_cells_per_gene, not both")
        given["min_samples_per_gene"] = given.pop("min_cells_per_gene")
    return {**defaults("gene_selection"), **(base or {}), "min_counts_per_cell": 0, **given}


def selection_changes(shape: tuple[int, int], settings: dict[str, Any]) -> bool:
    """Whether :func:`selection_settings`' ``settings`` select anything on counts of
    ``shape`` (N genes, M samples) beyond all-zero genes and samples: a gene cap below N
    or a threshold above 0."""
    top = settings["keep_top_genes"]
    return ((top is not None and top < shape[0]) or settings["min_samples_per_gene"] > 0
            or settings["min_counts_per_cell"] > 0)


def select_counts(counts: Counts, options: dict[str, Any] | None = None,
                  base: dict[str, Any] | None = None) -> Prefiltered:
    """:func:`select_genes_and_cells` of a :class:`~moonlight.counts.Counts` with a data
    entry's options over the config's ``gene_selection:`` (``base``;
    :func:`selection_settings`); ``Prefiltered.counts`` is dense (an ndarray) for dense
    input and sparse for sparse, as the input was."""
    settings = selection_settings(options, base)
    kept = select_genes_and_cells(
        counts.matrix, counts.genes, counts.samples,
        min_samples_per_gene=settings["min_samples_per_gene"] or 0,
        min_counts_per_cell=settings["min_counts_per_cell"] or 0,
        top_genes=settings["keep_top_genes"],
        unit="cells" if counts.is_sparse else "samples")
    if counts.is_sparse:
        return kept
    return Prefiltered(counts=kept.counts.toarray(), genes=kept.genes, cells=kept.cells,
                       rows=kept.rows, deviance=kept.deviance)
