"""Counts made ready for the analysis: the workflow's data steps and the start of ``analyse()``.

:func:`prepare_counts` is the step every data set's counts take before anything is
fitted, whatever they came from (a user's table, a single-cell matrix, a simulation,
a notebook's frame given to :func:`moonlight.pipeline.analyse`): refuse values that are
not counts and repeated names (:func:`check_counts`; a file's reader has refused them by
its line already) and rows that are no genes (a read counter's summaries, a
spreadsheet's total: :func:`refuse_summary_rows`, :func:`refuse_totals`), keep outliers
out (:mod:`moonlight.outliers`), drop all-zero genes and samples, select the genes (and
cells) that enter the fit (``keep_top_genes``, ``min_samples_per_gene``:
:mod:`moonlight.prefilter`), and check that the counts can be fitted at their ranks and
cross-validated with their folds (:func:`moonlight.folds.check_size`); every step is
recorded for the QC record.

:func:`prepare_table` reads a user's table first (:func:`moonlight.tables.read_table`,
with the data entry's options) and drops the genes and samples the entry names
(``drop_genes``, ``drop_samples``, and the names and patterns of ``exclude_genes``:
:mod:`moonlight.genefilter`); :func:`prepare_single_cell` does the same for a
single-cell matrix, kept sparse. The rule scripts only save what these return; a
notebook, or the test battery of bad inputs, runs the same functions.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import ConfigError, defaults
from .counts import Counts, entry_position, invalid_values, save_counts
from .folds import check_size
from .genefilter import excluded_genes, exclusion_reason, unmatched
from .io import write_tsv
from .outliers import handle_outliers
from .qc import QC_COLUMNS, _row, dropped_rows, read_record
from .prefilter import Prefiltered, select_counts, selection_changes, selection_settings
from .singlecell import SINGLECELL_OPTIONS, read_rows, read_single_cell
from .tables import (READ_OPTIONS, CountTableError, TableRead, drop_empty, looks_like,
                     named_positions, read_table)

__all__ = ["PreparedTable", "EntryTable", "read_entry_table", "check_counts", "prepare_counts",
           "prepare_table", "prepare_single_cell"]


@dataclass(frozen=True)
class PreparedTable:
    """The counts to analyse and the QC record rows on how they were read and changed."""

    counts: Counts
    record: list[dict[str, str]]

    def save(self, counts_path: str | os.PathLike[str],
             record_path: str | os.PathLike[str]) -> None:
        """The data step's two outputs: the counts (``counts.npz``,
        :func:`moonlight.counts.save_counts`) and the record (``read.tsv``)."""
        save_counts(self.counts, counts_path)
        write_tsv(pd.DataFrame(self.record, columns=QC_COLUMNS), record_path, index=False)


@dataclass(frozen=True)
class EntryTable:
    """A table read with a ``data:`` or ``project:`` entry's options, less the genes and
    samples the entry names.

    Attributes
    ----------
    read : TableRead
        The table as read, and how.
    counts : DataFrame
        Its counts without the entry's ``drop_genes``, ``drop_samples`` and the genes
        its ``exclude_genes`` take.
    excluded : list of str
        The genes ``exclude_genes`` took, in table order.
    taken : dict
        Each ``exclude_genes`` entry -> how many genes it took
        (:func:`moonlight.genefilter.excluded_genes`).
    """

    read: TableRead
    counts: pd.DataFrame
    excluded: list[str]
    taken: dict[str, int]


def read_entry_table(path: str | os.PathLike[str], options: dict[str, Any] | None = None
                     ) -> EntryTable:
    """Read a table with an entry's read options (:data:`moonlight.tables.READ_OPTIONS`)
    and leave out what the entry names: ``drop_genes``, ``drop_samples`` (an error names
    one the table lacks) and the names and patterns of ``exclude_genes``."""
    options = options or {}
    read = read_table(path, **{k: options[k] for k in READ_OPTIONS if k in options})
    _refuse_entry_totals(Counts.of(read.counts), options, str(path))
    kept = _entry_positions(list(read.counts.index), list(read.counts.columns), options,
                            str(path))
    return EntryTable(read, read.counts.iloc[kept.rows, kept.cols], kept.excluded,
                      kept.taken)


@dataclass(frozen=True)
class _Kept:
    """What a data entry keeps of a matrix: row and column positions, the genes its
    ``exclude_genes`` took and what each entry took."""

    rows: list[int]
    cols: list[int]
    excluded: list[str]
    taken: dict[str, int]


def _dropped(options: dict[str, Any], excluded: list[str], taken: dict[str, int]
             ) -> dict[str, dict[str, list[str]]]:
    """What a data entry dropped, by reason, as :func:`moonlight.qc.dropped_rows` records
    it."""
    return {"genes": {"named in drop_genes": list(options.get("drop_genes", [])),
                      **({exclusion_reason(taken): excluded} if taken else {})},
            "samples": {"named in drop_samples": list(options.get("drop_samples", []))}}


def _refuse_entry_totals(counts: Counts, options: dict[str, Any], source: str) -> None:
    """:func:`refuse_totals` on a matrix as read, before the entry's drops."""
    refuse_totals(counts, source, drop_genes=options.get("drop_genes", ()),
                  drop_samples=options.get("drop_samples", ()))


def _entry_positions(genes: list[str], samples: list[str], options: dict[str, Any],
                     source: str) -> _Kept:
    """The rows and columns a data entry keeps: without its ``drop_genes`` and
    ``drop_samples`` (an error names one the matrix lacks) and the genes its
    ``exclude_genes`` names and patterns take."""
    rows, cols = named_positions(genes, samples, genes=options.get("drop_genes", []),
                                 samples=options.get("drop_samples", []), source=source)
    excluded, taken = excluded_genes([genes[i] for i in rows],
                                     options.get("exclude_genes", []))
    return _Kept([i for i, out in zip(rows, excluded) if not out], cols,
                 [genes[i] for i, out in zip(rows, excluded) if out], taken)


def prepare_table(path: str | os.PathLike[str], options: dict[str, Any] | None = None, *,
                  ranks: Sequence[int] | None = None, folds: dict[str, Any] | None = None,
                  qc: dict[str, Any] | None = None,
                  selection: dict[str, Any] | None = None) -> PreparedTable:
    """Read, check and clean one count table as the workflow does.

    Parameters
    ----------
    path : path-like
        The table.
    options : dict, optional
        The data entry's keys: read options (:data:`moonlight.tables.READ_OPTIONS`),
        ``drop_genes``, ``drop_samples``, ``exclude_genes``, and the gene selection
        (:data:`moonlight.prefilter.SELECTION_OPTIONS`; left out: the config's
        ``gene_selection:``).
    ranks : sequence of int, optional
        The ranks it will be fitted at (config ``ranks``, or the entry's own).
    folds : dict, optional
        ``folds`` and ``design`` (config ``selection``).
    qc : dict, optional
        ``outliers`` and ``outlier_factor`` (config ``qc``).
    selection : dict, optional
        The config's ``gene_selection:`` block, which the entry's own keys override.

    Notes
    -----
    Every setting left out is the schema's default.

    Raises
    ------
    CountTableError
        A table that cannot be read, naming the file and line.
    ConfigError
        A table too small for its ranks or folds, naming the key.
    """
    options = dict(options or {})
    entry = read_entry_table(path, options)
    read = entry.read
    record = read_record(read, genes_read=read.counts.shape[0],
                         samples_read=read.counts.shape[1],
                         dropped=_dropped(options, entry.excluded, entry.taken))
    prepared = prepare_counts(entry.counts, options, ranks=ranks, folds=folds, qc=qc,
                              selection=selection, source=str(path), checked=True)
    return PreparedTable(prepared.counts,
                         record + _unmatched_note(entry.taken) + prepared.record)


#: Rows that read counters write beside the genes: htseq-count's read summaries and the
#: first four rows of STAR's ``ReadsPerGene.out.tab``. They count reads no gene took.
SUMMARY_ROWS = ("__no_feature", "__ambiguous", "__too_low_aQual", "__not_aligned",
                "__alignment_not_unique", "N_unmapped", "N_multimapping", "N_noFeature",
                "N_ambiguous")


def refuse_summary_rows(counts: Counts, source: str = "the counts") -> None:
    """Stop at a read counter's summary rows (:data:`SUMMARY_ROWS`) among the genes,
    naming them and how to leave them out: fitted as genes, the reads no gene took
    would make a module of their own.

    Raises
    ------
    CountTableError
    """
    found = [name for name in counts.genes if name in SUMMARY_ROWS]
    if found:
        names = ", ".join(f'"{name}"' for name in found)
        raise CountTableError(f"{source}: rows {names} are a read counter's summary "
                              "(htseq-count, STAR), not genes; leave them out (a data "
                              f"entry's drop_genes: [{names}], or drop them from the table)")


def refuse_totals(counts: Counts, source: str = "the counts", *,
                  drop_genes: Collection[str] = (), drop_samples: Collection[str] = ()
                  ) -> None:
    """Stop at a row that holds the sum of every other row in every sample, or a column
    that holds the sum of every other column (a spreadsheet's "Total"), naming it and how
    to leave it out: fitted as a gene, a total would hold a share of every module and be
    called in all of them; as a sample, it would weigh as much as all the others.

    Run on the matrix as read, before a data entry's drops, since a total sums what
    they leave out too; the lines they name (``drop_genes``, ``drop_samples``) are not
    reported. A total's sum is half the table's, so only the lines whose sum is exactly
    that are compared entry by entry. A line is only taken for the sum of others when at
    least two others have counts, across at least two lines the other way (otherwise a
    replicate, or any gene of a one-sample table, would be "the sum").

    Raises
    ------
    CountTableError
    """
    matrix = counts.matrix
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    column_sums = np.asarray(matrix.sum(axis=0)).ravel()
    grand = row_sums.sum()  # integer counts: exact in any order
    if not grand > 0:
        return
    for kind, what, sums, others, names, dropped, key in (
            ("row", "gene", row_sums, column_sums, counts.genes, drop_genes, "drop_genes"),
            ("column", "sample", column_sums, row_sums, counts.samples, drop_samples,
             "drop_samples")):
        if np.count_nonzero(sums) < 3 or np.count_nonzero(others) < 2:
            continue
        for k in np.flatnonzero(2 * sums == grand):
            if names[k] in dropped:
                continue
            line = matrix[[k], :] if kind == "row" else matrix[:, [k]].T
            line = np.asarray(line.todense() if counts.is_sparse else line).ravel()
            if np.array_equal(2 * line, others):
                raise CountTableError(
                    f"{source}: {what} {names[k]!r} holds the sum of every other {kind} "
                    f"(a spreadsheet's total), not a {what}; leave it out (a data "
                    f'entry\'s {key}: ["{names[k]}"], or delete the {kind} from the table)')


def check_counts(counts: Counts, source: str = "the counts") -> None:
    """Stop unless the names are unique and every value is a finite non-negative integer,
    as the readers require of a file: counts built in memory (``analyse()``'s input)
    get the same refusal, naming the name or the entry, instead of a fit of transformed
    values or an error deep inside a later step.

    Raises
    ------
    CountTableError
        Naming ``source``, the repeated name or an offending entry, and, for
        non-integers, what the values look like.
    """
    for kind, names in (("gene", counts.genes), ("sample", counts.samples)):
        index = pd.Index(names)
        if index.has_duplicates:
            repeated = index[index.duplicated()].unique()
            raise CountTableError(f"{source}: {len(repeated)} {kind} name(s) appear more "
                                  f"than once, e.g. {list(repeated[:3])}; every {kind} "
                                  "needs its own name")
    matrix = counts.matrix
    values = matrix.data if counts.is_sparse else matrix.ravel()
    found = invalid_values(values)
    if found is None:
        return
    what, n_bad, k = found
    i, j = entry_position(matrix, k)
    looks = ("; the matrix " + looks_like(values, np.asarray(matrix.sum(axis=0)).ravel())
             if what == "non-integer values" else "")
    raise CountTableError(f"{source}: {n_bad} {what}, e.g. {values[k]:.6g} for gene "
                          f"{counts.genes[i]!r}, sample {counts.samples[j]!r}{looks}. "
                          "moonlight fits raw integer counts (reads or UMIs)")


def prepare_counts(counts: Counts | pd.DataFrame, options: dict[str, Any] | None = None, *,
                   ranks: Sequence[int] | None = None, folds: dict[str, Any] | None = None,
                   qc: dict[str, Any] | None = None, selection: dict[str, Any] | None = None,
                   source: str = "the counts", checked: bool = False) -> PreparedTable:
    """Check the values and names (:func:`check_counts`), keep outliers out, drop
    all-zero genes and samples, select genes (and cells), check the size: what every
    data set's counts go through before the fit (module docstring).

    Parameters
    ----------
    counts : Counts or DataFrame (genes x samples), dense or sparse
    options : dict, optional
        The data entry's gene selection (:data:`moonlight.prefilter.SELECTION_OPTIONS`;
        other keys are ignored), over ``selection``.
    ranks, folds, qc, selection : optional
        As for :func:`prepare_table`; left out, the schema's defaults.
    source : str
        What the counts are, for warnings and errors (the file they were read from).
    checked : bool
        The values and names were checked already (by the reader of a file, whose
        messages name its line or matrix), and a total line looked for in the matrix as
        read (:func:`refuse_totals`, before the entry's drops): neither is done again.

    Notes
    -----
    Dense counts the selection would leave whole skip it (and its QC rows), so a small
    table is fitted as it was given; sparse counts always pass through it, which keeps
    them in the canonical CSR form the engines read.

    Raises
    ------
    CountTableError
        An outlier with ``qc.outliers: refuse``.
    ConfigError
        A selection the counts cannot meet, or counts too small for their ranks or
        folds, naming the key.
    """
    ranks, folds, qc = _settings(ranks, folds, qc)
    counts = Counts.of(counts)
    if not checked:
        check_counts(counts, source)
        refuse_totals(counts, source)
    refuse_summary_rows(counts, source)
    if counts.shape[0] and counts.shape[1] and not np.any(
            counts.matrix.data if counts.is_sparse else counts.matrix):
        raise CountTableError(f"{source}: every count is 0 ({counts.shape[0]} genes x "
                              f"{counts.shape[1]} samples): nothing to fit")
    handled = handle_outliers(counts, mode=qc["outliers"], factor=qc["outlier_factor"],
                              source=source)
    kept, record = handled.counts, list(handled.rows)
    if not kept.is_sparse:
        frame = drop_empty(kept.to_frame(), source=source)
        record += dropped_rows({
            "genes": {"all-zero counts": [g for g in kept.genes if g not in frame.index]},
            "samples": {"all-zero counts": [s for s in kept.samples
                                            if s not in frame.columns]}})
        kept = Counts.of(frame)
    selected = _select(kept, options or {}, selection, source,
                       unless_whole=not kept.is_sparse)
    if selected is not None:
        kept = Counts(selected.counts, selected.genes, selected.cells)
        record += selected.rows
    check_size(kept.shape, ranks, folds, source=source, sparse=kept.is_sparse)
    return PreparedTable(kept, record)


def _select(counts: Counts, options: dict[str, Any], selection: dict[str, Any] | None,
            source: str, *, unless_whole: bool = False) -> Prefiltered | None:
    """The entry's gene (and cell) selection (:func:`moonlight.prefilter.select_counts`),
    its error naming the file; with ``unless_whole``, None when it would leave the counts
    whole (:func:`moonlight.prefilter.selection_changes`)."""
    try:
        if unless_whole and not selection_changes(counts.shape,
                                                  selection_settings(options, selection)):
            return None
        return select_counts(counts, options, selection)
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None


def _unmatched_note(taken: dict[str, int]) -> list[dict[str, str]]:
    """A QC record note naming the ``exclude_genes`` entries that matched no gene."""
    none = unmatched(taken)
    return [_row("note", "", "exclude_genes entries that matched no gene: "
                 + ", ".join(none))] if none else []


def _settings(ranks: Sequence[int] | None, folds: dict[str, Any] | None,
              qc: dict[str, Any] | None) -> tuple[list[int], dict[str, Any], dict[str, Any]]:
    settings = defaults()
    return (list(ranks) if ranks is not None else settings["ranks"],
            {**{k: settings["selection"][k] for k in ("folds", "design")}, **(folds or {})},
            {**settings["qc"], **(qc or {})})


def prepare_single_cell(path: str | os.PathLike[str], options: dict[str, Any] | None = None,
                        *, ranks: Sequence[int] | None = None,
                        folds: dict[str, Any] | None = None,
                        qc: dict[str, Any] | None = None,
                        selection: dict[str, Any] | None = None) -> PreparedTable:
    """Read a single-cell matrix (h5ad, 10x directory or .h5) as sparse genes x cells
    counts with exact names; drop the named and excluded genes and cells; keep outliers
    out; select genes and cells (``keep_top_genes``, ...); check the size. Parameters
    as :func:`prepare_table`, with the single-cell options in ``options``."""
    options = dict(options or {})
    source = str(path)
    read = read_single_cell(path, **{k: options[k] for k in SINGLECELL_OPTIONS
                                     if k in options})
    genes, cells, X = read.genes, read.cells, read.counts
    _refuse_entry_totals(Counts(X, genes, cells), options, source)
    kept = _entry_positions(genes, cells, options, source)
    if len(kept.rows) < len(genes) or len(kept.cols) < len(cells):  # slicing copies
        X = X[kept.rows][:, kept.cols]
        genes, cells = [genes[i] for i in kept.rows], [cells[j] for j in kept.cols]
    record = (read_rows(read) + dropped_rows(_dropped(options, kept.excluded, kept.taken))
              + _unmatched_note(kept.taken))
    prepared = prepare_counts(Counts(X, genes, cells), options, ranks=ranks, folds=folds,
                              qc=qc, selection=selection, source=source, checked=True)
    return PreparedTable(prepared.counts, record + prepared.record)
