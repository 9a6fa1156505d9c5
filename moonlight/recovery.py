"""How well a fit recovered a planted truth (simulated data only).

Fitted modules carry arbitrary labels, so they are first matched one-to-one to the true
modules by the Hungarian algorithm on the cosine similarity of W's columns
(:func:`scipy.optimize.linear_sum_assignment`). With the labels aligned:

* a gene is *assigned correctly* when its set of called modules equals its true set; a
  planted broad gene (:func:`planted_kinds`) when its class is ``broad`` (memberships
  with a ``class`` column, :mod:`moonlight.classes`);
* moonlighting precision = called-and-planted / called, recall = called-and-planted /
  planted (NaN where the denominator is zero), a planted moonlighting gene being one in
  exactly two modules of three or more;
* broad genes: how many were planted, classed broad, and called moonlighting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stability import cosine_similarity

__all__ = ["match_modules", "recovery_summary", "planted_kinds"]


def planted_kinds(true_membership: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """The planted moonlighting and broad genes of a truth (genes x modules of bool).

    Moonlighting: in exactly two modules, with a module besides them; broad: in three or
    more, or in both modules of a two-module truth (in every module, as the classes of
    :mod:`moonlight.classes` read it).
    """
    n_true = true_membership.sum(axis=1)
    every = n_true == true_membership.shape[1]
    moonlighting = (n_true == 2) & ~every
    return (true_membership.index[moonlighting],
            true_membership.index[(n_true >= 3) | ((n_true == 2) & every)])


def match_modules(W_true: pd.DataFrame, W_fit: pd.DataFrame) -> pd.DataFrame:
    """Match fitted modules to true ones, maximizing total cosine similarity of W columns.

    Parameters
    ----------
    W_true, W_fit : DataFrame (genes x modules)
        Same genes in the same order; the numbers of modules may differ.

    Returns
    -------
    DataFrame
        One row per fitted module: ``module``, ``true_module`` (empty where the fit has
        more modules than the truth) and ``cosine``.
    """
    if not W_true.index.equals(W_fit.index):
        raise ValueError("W_true and W_fit must list the same genes in the same order")
    similarity = cosine_similarity(W_true, W_fit)
    from scipy.optimize import linear_sum_assignment

    true_idx, fit_idx = linear_sum_assignment(similarity, maximize=True)
    matched = dict(zip(fit_idx, true_idx))
    rows = []
    for j, module in enumerate(W_fit.columns):
        i = matched.get(j)
        rows.append(
            {
                "module": module,
                "true_module": W_true.columns[i] if i is not None else "",
                "cosine": float(similarity[i, j]) if i is not None else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def recovery_summary(
    true_membership: pd.DataFrame,
    W_true: pd.DataFrame,
    W_fit: pd.DataFrame,
    memberships: pd.DataFrame,
    moonlighting: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare a fit with the truth.

    Parameters
    ----------
    true_membership : DataFrame (genes x true modules) of bool
    W_true : DataFrame (genes x true modules)
    W_fit : DataFrame (genes x fitted modules)
        The fitted W at the selected rank: the truth's genes, or those of them that
        entered the fit (modules are matched on these; a gene left out is called in
        no module and is scored so).
    memberships : DataFrame
        Called memberships (``gene``, ``module``, ``share``) from
        :func:`moonlight.modules.call_memberships`.
    moonlighting : DataFrame
        Called moonlighting genes (column ``gene``).

    Returns
    -------
    summary : DataFrame
        One row: ``true_rank``, ``selected_rank``, ``rank_correct``, ``mean_cosine``,
        ``min_cosine``, ``genes_assigned_correctly``, ``moonlighting_planted``,
        ``moonlighting_called``, ``moonlighting_true_positives``, ``precision``, ``recall``.
    matching : DataFrame
        The module matching from :func:`match_modules`.
    """
    unknown = W_fit.index.difference(W_true.index)
    if len(unknown):
        raise ValueError(f"W_fit has {len(unknown)} gene(s) the truth lacks, e.g. "
                         f"{list(unknown[:3])}")
    # genes the data step left out (outliers, the gene selection) are matched on no
    # module and called in none: their truth still counts
    matching = match_modules(W_true.loc[W_fit.index], W_fit)
    label = dict(zip(matching["module"], matching["true_module"]))
    called = pd.crosstab(
        memberships["gene"], memberships["module"].map(label)
    ).reindex(index=true_membership.index, columns=true_membership.columns, fill_value=0) > 0
    # A gene called into a fitted module with no true partner can never be right.
    unmatched = memberships["module"].map(label).eq("")
    spurious = set(memberships.loc[unmatched, "gene"])
    correct = (called == true_membership).all(axis=1) & ~called.index.isin(spurious)
    planted, broad = (set(kind) for kind in planted_kinds(true_membership))
    classed_broad = set(memberships.loc[memberships["class"] == "broad", "gene"]) \
        if "class" in memberships else set()
    broad_genes = sorted(broad)
    correct.loc[broad_genes] = pd.Index(broad_genes).isin(list(classed_broad))

    calls = set(moonlighting["gene"])
    hits = len(planted & calls)
    matched = matching["cosine"].dropna()
    summary = pd.DataFrame(
        [
            {
                "true_rank": true_membership.shape[1],
                "selected_rank": W_fit.shape[1],
                "rank_correct": true_membership.shape[1] == W_fit.shape[1],
                "mean_cosine": float(matched.mean()),
                "min_cosine": float(matched.min()),
                "genes_assigned_correctly": float(correct.mean()),
                "moonlighting_planted": len(planted),
                "moonlighting_called": len(calls),
                "moonlighting_true_positives": hits,
                "precision": _ratio(hits, len(calls)),
                "recall": _ratio(hits, len(planted)),
                "broad_planted": len(broad),
                "broad_classed_broad": len(broad & classed_broad),
                "broad_called_moonlighting": len(broad & calls),
            }
        ]
    )
    return summary, matching
