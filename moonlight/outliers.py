"""Entries no count model produces, kept out of the analysis before anything is fitted.

One entry of 1e15 in an ordinary table makes the fit spend modules on it, the held-out
likelihood reward every rank that does, and the rank rule run to the top of the range.
An outlier here is an entry above ``qc.outlier_factor`` (100) times both the table's
99th percentile of nonzero counts and the next-largest count of its own gene
(:func:`moonlight.qc.find_outliers`): no Poisson or negative-binomial model of a gene
whose other counts are all a hundred times smaller puts appreciable probability there,
and no real module makes one entry of a gene a hundred times its next. Config
``qc.outliers`` says what happens, before the fit, the cross-validation and the calls
(so in every mode the outlier is out of the rank rule's criteria):

``warn`` (default)
    The entry is replaced by its gene's next-largest count for the analysis, and a
    warning names it with both values (``qc.tsv``, the summary).
``exclude``
    The gene holding it is dropped, named in the QC record.
``refuse``
    The run stops with an error naming every such entry.

A gene whose only nonzero count is the outlier has nothing left to replace it with: it
is dropped in both ``warn`` and ``exclude``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import default
from .counts import Counts
from .qc import _row, describe_outlier, find_outliers
from .tables import CountTableError

__all__ = ["OUTLIER_MODES", "OutlierHandling", "handle_outliers"]

#: What ``qc.outliers`` accepts.
OUTLIER_MODES = ("warn", "exclude", "refuse")


@dataclass(frozen=True)
class OutlierHandling:
    """The counts to analyse and the QC record rows that say what was done to them."""

    counts: Counts
    rows: list[dict[str, str]]


def handle_outliers(counts: Counts | pd.DataFrame, *,
                    mode: str = default("qc.outliers"),
                    factor: float = default("qc.outlier_factor"),
                    source: str = "the counts") -> OutlierHandling:
    """Find the outliers of ``counts`` and replace, drop or refuse them (module docstring).

    Parameters
    ----------
    counts : Counts or DataFrame
    mode : {"warn", "exclude", "refuse"}
        Config ``qc.outliers``.
    factor : float
        Config ``qc.outlier_factor``.
    source : str
        The file the counts came from, for the error of ``"refuse"``.

    Raises
    ------
    CountTableError
        With ``mode="refuse"``, naming every outlier.
    """
    if mode not in OUTLIER_MODES:
        raise ValueError(f"qc.outliers must be one of {OUTLIER_MODES}, not {mode!r}")
    counts = Counts.of(counts)
    found = find_outliers(counts, factor)
    if found.empty:
        return OutlierHandling(counts, [])
    described = [describe_outlier(entry) for _, entry in found.iterrows()]
    if mode == "refuse":
        raise CountTableError(f"{source}: {len(found)} entr{'y' if len(found) == 1 else 'ies'} "
                              "no count model produces (qc.outliers: refuse): "
                              + "; ".join(described))
    alone = found["next_largest"].to_numpy() == 0
    drop = found["gene"] if mode == "exclude" else found.loc[alone, "gene"]
    rows = []
    matrix = counts.matrix.copy()
    if mode == "warn":
        for (_, entry), text, single in zip(found.iterrows(), described, alone):
            if single:
                continue
            _set(matrix, int(entry["row"]), int(entry["col"]), float(entry["next_largest"]))
            rows.append(_row("warning", "outlier",
                             f"{text}; the analysis uses the gene's next-largest count "
                             f"({entry['next_largest']:.6g}) in its place (qc.outliers: "
                             "warn; exclude drops the gene, refuse stops the run)"))
    keep = ~np.isin(np.asarray(counts.genes, dtype=object), list(drop))
    if not keep.all():
        why = {"exclude": "an entry no count model produces (qc.outliers: exclude)",
               "warn": "its only nonzero count is an outlier"}[mode]
        details = [t for t, g in zip(described, found["gene"]) if g in set(drop)]
        rows.append(_row("genes_dropped", int((~keep).sum()),
                         f"{why}: " + "; ".join(details)))
        if mode == "warn":
            rows.append(_row("warning", "outlier", "; ".join(details) + ": the gene's only "
                             "nonzero count, so the gene was dropped"))
        matrix = matrix[np.flatnonzero(keep)]
    genes = [g for g, k in zip(counts.genes, keep) if k]
    return OutlierHandling(Counts(matrix, genes, list(counts.samples)), rows)


def _set(matrix: np.ndarray | object, row: int, col: int, value: float) -> None:
    """``matrix[row, col] = value`` for a dense array or a CSR array holding that entry."""
    if isinstance(matrix, np.ndarray):
        matrix[row, col] = value
        return
    start, stop = matrix.indptr[row], matrix.indptr[row + 1]
    k = start + int(np.flatnonzero(matrix.indices[start:stop] == col)[0])
    matrix.data[k] = value
