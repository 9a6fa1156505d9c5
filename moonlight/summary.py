"""One line per data set: the rank chosen, module sizes, moonlighting genes, recovery."""

from __future__ import annotations

import pandas as pd

from .qc import warnings_of

__all__ = ["SUMMARY_COLUMNS", "dataset_summary"]

SUMMARY_COLUMNS = [
    "dataset", "simulated", "selected_rank", "loglik", "module_sizes", "n_moonlighting",
    "moonlighting_genes", "true_rank", "genes_assigned_correctly", "precision", "recall",
    "warnings",
]


def dataset_summary(
    name: str,
    selection: pd.DataFrame,
    memberships: pd.DataFrame,
    moonlighting: pd.DataFrame,
    recovery: pd.DataFrame | None = None,
    qc: pd.DataFrame | None = None,
) -> dict[str, object]:
    """Summarize one data set's results as a flat record.

    Parameters
    ----------
    name : str
        Data-set name.
    selection : DataFrame
        :func:`moonlight.selection.rank_table` output.
    memberships, moonlighting : DataFrame
        Outputs of :func:`moonlight.modules.call_memberships` and
        :func:`moonlight.modules.moonlighting_genes`.
    recovery : DataFrame, optional
        One-row :func:`moonlight.recovery.recovery_summary` table (simulated data only).
    qc : DataFrame, optional
        The data set's QC record (:func:`moonlight.qc.qc_table`); its warnings fill the
        ``warnings`` column (empty when there are none).

    Returns
    -------
    dict
        Keys :data:`SUMMARY_COLUMNS`: module sizes are comma-separated by module; the
        recovery columns (``true_rank`` onwards) are NA for real data.
    """
    chosen = selection.loc[selection["selected"]].iloc[0]
    sizes = memberships["module"].value_counts().sort_index(
        key=lambda m: m.str.lstrip("M").astype(int)
    )
    record: dict[str, object] = {
        "dataset": name,
        "simulated": recovery is not None,
        "selected_rank": int(chosen["rank"]),
        "loglik": float(chosen["loglik"]),
        "module_sizes": ",".join(str(n) for n in sizes),
        "n_moonlighting": len(moonlighting),
        "moonlighting_genes": ",".join(moonlighting["gene"]),
        "true_rank": pd.NA,
        "genes_assigned_correctly": pd.NA,
        "precision": pd.NA,
        "recall": pd.NA,
        "warnings": "" if qc is None else warnings_of(qc),
    }
    if recovery is not None:
        row = recovery.iloc[0]
        for key in ("true_rank", "genes_assigned_correctly", "precision", "recall"):
            record[key] = row[key]
    return record
