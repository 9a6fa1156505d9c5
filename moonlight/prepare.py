"""A user's count table made ready for the analysis: the workflow's ``prepare_table`` step.

Read it (:func:`moonlight.tables.read_table`, with the data entry's options), drop the
genes and samples the entry names, keep outliers out (:mod:`moonlight.outliers`), drop
all-zero genes and samples, and check that the table can be fitted at its ranks and
cross-validated with its folds (:func:`moonlight.folds.check_size`); record every step
for the QC record. The rule script only saves what this returns; a notebook, or the
test battery of bad inputs, runs the same function.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import defaults
from .counts import Counts
from .folds import check_size
from .outliers import handle_outliers
from .qc import read_record
from .tables import READ_OPTIONS, drop_empty, drop_named, read_table

__all__ = ["PreparedTable", "prepare_table"]


@dataclass(frozen=True)
class PreparedTable:
    """The counts to analyse and the QC record rows on how they were read and changed."""

    counts: Counts
    record: list[dict[str, str]]


def prepare_table(path: str | os.PathLike[str], options: dict[str, Any] | None = None, *,
                  ranks: Sequence[int] | None = None, folds: dict[str, Any] | None = None,
                  qc: dict[str, Any] | None = None) -> PreparedTable:
    """Read, check and clean one count table as the workflow does.

    Parameters
    ----------
    path : path-like
        The table.
    options : dict, optional
        The data entry's keys: read options (:data:`moonlight.tables.READ_OPTIONS`),
        ``drop_genes``, ``drop_samples``.
    ranks : sequence of int, optional
        The ranks it will be fitted at (config ``ranks``, or the entry's own).
    folds : dict, optional
        ``folds`` and ``design`` (config ``selection``).
    qc : dict, optional
        ``outliers`` and ``outlier_factor`` (config ``qc``).

    Every setting left out is the schema's default.

    Raises
    ------
    CountTableError
        A table that cannot be read, naming the file and line.
    ConfigError
        A table too small for its ranks or folds, naming the key.
    """
    settings = defaults()
    options = dict(options or {})
    ranks = list(ranks) if ranks is not None else settings["ranks"]
    folds = {**{k: settings["selection"][k] for k in ("folds", "design")}, **(folds or {})}
    qc = {**settings["qc"], **(qc or {})}
    source = str(path)
    read = read_table(path, **{k: options[k] for k in READ_OPTIONS if k in options})
    named = drop_named(read.counts, genes=options.get("drop_genes", []),
                       samples=options.get("drop_samples", []), source=source)
    handled = handle_outliers(named, mode=qc["outliers"], factor=qc["outlier_factor"],
                              source=source)
    counts = drop_empty(handled.counts.to_frame(), source=source)
    check_size(counts.shape, ranks, folds, source=source)
    dropped = {
        "genes": {"named in drop_genes": list(options.get("drop_genes", [])),
                  "all-zero counts": [g for g in handled.counts.genes
                                      if g not in counts.index]},
        "samples": {"named in drop_samples": list(options.get("drop_samples", [])),
                    "all-zero counts": [s for s in named.columns if s not in counts.columns]},
    }
    record = read_record(read, genes_read=read.counts.shape[0],
                         samples_read=read.counts.shape[1], dropped=dropped) + handled.rows
    return PreparedTable(Counts.of(counts), record)
