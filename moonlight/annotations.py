"""Modules against what the user knows about the samples: a sample sheet or ``obs``.

The annotations of a data set are the columns of its sample sheet (a data entry's
``samples:``, a table keyed by sample name; for a count table) or the ``obs`` columns
its ``annotations:`` names (for an ``.h5ad``); ``annotations:`` also picks columns of a
sample sheet. For every module's usage share (the fraction of a sample's fitted counts
it explains, as in :mod:`moonlight.technical`):

* a categorical column: per group, the mean usage and the fraction of the group's
  samples in which the module is the top one (:func:`usage_by_group`), and a
  Kruskal-Wallis test of the usage across groups;
* a numeric column: Spearman's correlation;

with q-values by Benjamini-Hochberg over every module x column pair
(:func:`moonlight.technical.usage_associations`, the same statistics as the technical
axes). Outputs: ``annotations.tsv`` (the tests), ``usage_by_group.tsv`` and its figure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import ConfigError
from .technical import covariate_kind, read_obs_columns, usage_associations

__all__ = ["USAGE_COLUMNS", "Annotated", "batch_labels", "read_sample_sheet",
           "technical_covariates", "usage_by_group", "annotate_modules"]

USAGE_COLUMNS = ["covariate", "group", "module", "n", "mean_usage", "fraction_top"]


def read_sample_sheet(path: str | os.PathLike[str], samples: Sequence[str], *,
                      columns: Sequence[str] | None = None,
                      key: str = "annotations", as_text: bool = False) -> pd.DataFrame:
    """The sample sheet's rows for ``samples`` (tab- or comma-separated, a header, the
    sample names in the first column, read as strings; a column whose every value is a
    number becomes numeric, unless ``as_text``: labels such as batches stay as written).
    A value written with a leading zero (``01``, ``007``) is a label, not a number, so its
    column stays labels (tested as groups, not correlated).

    Raises
    ------
    ConfigError
        Naming the sheet and the samples of the fit it lacks, or the columns it lacks.
    """
    sheet = pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False)
    sheet = sheet.set_index(sheet.columns[0])
    sheet.index = sheet.index.astype(str).str.strip()
    used = sheet.index[sheet.index.isin(list(samples))]  # (a shared sheet, blank rows)
    if used.has_duplicates:
        repeated = list(used[used.duplicated()].unique()[:3])
        raise ConfigError(f"{path}: config key samples: the sample sheet has more than one "
                          f"row for sample(s) {repeated}; give each sample one row")
    missing = [s for s in samples if s not in sheet.index]
    if missing:
        raise ConfigError(f"{path}: config key samples: the sample sheet lacks "
                          f"{len(missing)} sample(s) of the table, e.g. {missing[:3]}")
    if columns is not None:
        absent = [c for c in columns if c not in sheet.columns]
        if absent:
            raise ConfigError(f"{path}: config key {key} names column(s) {absent} "
                              f"that the sample sheet lacks; it has {list(sheet.columns)}")
        sheet = sheet[list(columns)]
    table = sheet.loc[list(samples)]
    table = table.where(table != "")  # an empty field is missing (the labels stay text)
    for name in ([] if as_text else table.columns):
        numbers = pd.to_numeric(table[name], errors="coerce")
        coded = table[name].dropna().astype(str).str.strip().str.match(r"[+-]?0[0-9]").any()
        if numbers.notna().sum() == table[name].notna().sum() and not coded:
            table[name] = numbers
    return table.rename_axis("sample")


def technical_covariates(path: str | os.PathLike[str], options: dict,
                         samples: Sequence[str]) -> pd.DataFrame:
    """A data set's ``technical:`` columns for ``samples``: from its sample sheet
    (``samples:``) when it has one, else from the ``.h5ad``'s obs; no column (the sample
    names only) when ``technical:`` is not set."""
    columns = list(options.get("technical") or [])
    if not columns:
        return pd.DataFrame(index=pd.Index(list(samples), name="sample"))
    if options.get("samples"):
        return read_sample_sheet(options["samples"], samples, columns=columns,
                                 key="technical")
    return read_obs_columns(str(path), columns, list(samples))


def batch_labels(path: str | os.PathLike[str], options: dict,
                 samples: Sequence[str]) -> pd.DataFrame:
    """A data set's known batch per sample (its ``batch:`` column, from the sample sheet
    or the ``.h5ad``'s obs), as strings in a ``batch`` column; the sample names only when
    ``batch:`` is not set.

    Raises
    ------
    ConfigError
        Naming the file, the column and the samples without a batch.
    """
    column = options.get("batch")
    if not column:
        return pd.DataFrame(index=pd.Index(list(samples), name="sample"))
    if options.get("samples"):
        # batch labels stay as written ("01" is not 1)
        table = read_sample_sheet(options["samples"], samples, columns=[column], key="batch",
                                  as_text=True)
        source = options["samples"]
    else:
        table = read_obs_columns(str(path), [column], list(samples), key="batch")
        source = path
    labels = table[column]
    if labels.isna().any():
        lacking = list(labels.index[labels.isna()][:3])
        raise ConfigError(f"{source}: config key batch: column {column!r} has no value for "
                          f"{int(labels.isna().sum())} sample(s), e.g. {lacking}")
    return pd.DataFrame({"batch": labels.astype(str)}, index=table.index)


def usage_by_group(H: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """Per categorical column, group and module: the samples (``n``), the mean usage
    share and the fraction of the group's samples whose top module it is."""
    values = H.to_numpy(dtype=np.float64)
    usage = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-300)
    top = usage.argmax(axis=0)
    cov = annotations.set_axis(annotations.index.astype(str)).loc[[str(s) for s in H.columns]]
    rows = []
    for name in cov.columns:
        if covariate_kind(cov[name]) == "numeric":
            continue
        labels = cov[name].astype(object).where(cov[name].notna(), None)
        for group in sorted({str(v) for v in labels if v is not None}):
            members = (labels.astype(str) == group).to_numpy() & labels.notna().to_numpy()
            for r, module in enumerate(H.index):
                rows.append({"covariate": str(name), "group": group, "module": str(module),
                             "n": int(members.sum()),
                             "mean_usage": float(usage[r, members].mean()),
                             "fraction_top": float((top[members] == r).mean())})
    return pd.DataFrame(rows, columns=USAGE_COLUMNS)


@dataclass(frozen=True)
class Annotated:
    """``tests`` (module x column associations with q-values) and ``usage`` (usage by
    group, :data:`USAGE_COLUMNS`)."""

    tests: pd.DataFrame
    usage: pd.DataFrame


def annotate_modules(H: pd.DataFrame, annotations: pd.DataFrame) -> Annotated:
    """The workflow's ``annotations`` step (and ``analyse(annotations=...)``)."""
    tests = usage_associations(H, annotations)
    return Annotated(tests.sort_values(["covariate", "q", "module"], kind="stable",
                                       ignore_index=True),
                     usage_by_group(H, annotations))
