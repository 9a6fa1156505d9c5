"""From a fitted W to gene modules and moonlighting genes.

W is first put in columns that sum to one (each module a distribution over genes), then
each row is normalized to sum to one: ``W_norm[i, r]`` is the share of gene i's loading
that sits in module r. A gene is a member of every module where that share exceeds the
threshold (and always of its top module), so a gene shared by two modules has two rows
in the membership table; a gene in two or more modules is a *moonlighting* candidate,
confirmed or not by :mod:`moonlight.confidence` (:func:`keep_called` then keeps an
unconfirmed candidate in its top module and a confirmed one in the two modules its call
names).

*Background* modules (:func:`moonlight.technical.mark_background`: flagged technical and
the top module of almost no sample and the main program of few or none, or diffuse,
flagged or not: the top module of almost no sample, the main program of none and of
almost no gene) are not counted in a gene's calls: :func:`calling_shares` sets their
shares to zero, but for a gene whose top module is one of them, which keeps its row and
is no moonlighting candidate (:func:`moonlighting_candidates`): a gene of a technical
axis is not moonlighting.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["normalize_columns", "normalize_rows", "calling_shares", "call_memberships",
           "moonlighting_genes", "moonlighting_candidates", "keep_called", "module_sizes",
           "counted_modules"]

MEMBERSHIP_COLUMNS = ["gene", "module", "share"]
MOONLIGHTING_COLUMNS = ["gene", "n_modules", "modules", "shares"]


def normalize_columns(W: pd.DataFrame) -> pd.DataFrame:
    """W with every column summing to one (module r as a distribution over genes).

    Raises ValueError naming the entry or the module when a loading is negative or not
    finite, or a column sums to zero (a module that loads no gene).
    """
    values = W.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"W[{W.index[i]!r}, {W.columns[j]!r}] is {values[i, j]}: loadings "
                         "must be finite and non-negative")
    sums = values.sum(axis=0)
    if (sums == 0).any():
        raise ValueError(f"module {W.columns[np.argmin(sums)]!r} loads no gene (its W "
                         "weights sum to zero)")
    return W / sums


def normalize_rows(W: pd.DataFrame) -> pd.DataFrame:
    """Row-normalize column-normalized W: each gene's loading split across modules.

    Columns are normalized first, so the result does not depend on how the scale was
    split between W and H. Raises ValueError as :func:`normalize_columns` does, and
    naming a gene that no module loads (a row of zeros has no shares: a gene without
    counts is dropped before a fit, whose loadings are never exactly zero).
    """
    Wc = normalize_columns(W)
    sums = Wc.sum(axis=1)
    if (sums == 0).any():
        raise ValueError(f"gene {sums.index[np.argmin(sums.to_numpy())]!r} is in no module "
                         "(its W row sums to 0): no weight to share")
    return Wc.div(sums, axis=0)


def calling_shares(W_normalized: pd.DataFrame, background: Iterable[str] = ()) -> pd.DataFrame:
    """The shares the calls read: row-normalized W with every ``background`` module's
    share set to zero, except in the rows whose top module is a background module (a
    gene of the technical axis keeps its row). Without background modules,
    ``W_normalized`` itself. The shares are not renormalized: a gene's top two and its
    rest are counted among the other modules, each as a share of the whole row."""
    mask = W_normalized.columns.isin(list(background))
    if not mask.any():
        return W_normalized
    own = _top_is(W_normalized, mask)
    return W_normalized.where(~(mask[None, :] & ~own[:, None]), 0.0)


def counted_modules(modules: Iterable[str], background: Iterable[str] = ()) -> int:
    """How many of ``modules`` the calls count: those not in ``background``."""
    left_out = set(background)
    return sum(module not in left_out for module in modules)


def _top_is(W_normalized: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    """Per gene: is its top module one of the ``mask`` columns?"""
    return mask[W_normalized.to_numpy(dtype=np.float64).argmax(axis=1)]


def moonlighting_candidates(W_normalized: pd.DataFrame, threshold: float,
                            background: Iterable[str] = ()) -> pd.DataFrame:
    """The genes the calls test (:func:`moonlighting_genes` of the memberships of
    :func:`calling_shares`), but those whose top module is a background module."""
    shares = calling_shares(W_normalized, background)
    candidates = moonlighting_genes(call_memberships(shares, threshold))
    own = W_normalized.index[_top_is(W_normalized,
                                     W_normalized.columns.isin(list(background)))]
    if len(own):
        candidates = candidates[~candidates["gene"].isin(own)].reset_index(drop=True)
    return candidates


def call_memberships(W_normalized: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Gene-to-module memberships from row-normalized W.

    Parameters
    ----------
    W_normalized : DataFrame (genes x modules)
        Rows summing to one, from :func:`normalize_rows`.
    threshold : float
        A gene belongs to each module whose share is strictly above this (in [0, 1)).
        Its top module always counts, so every gene has at least one.

    Returns
    -------
    DataFrame
        Columns ``gene``, ``module``, ``share`` (its row-normalized weight): one row per
        membership, genes in table order and, within a gene, modules by decreasing share.
        Genes and modules are strings, whatever labels W has (``0`` becomes ``"0"``).
    """
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    values = W_normalized.to_numpy()
    member = values > threshold
    member[np.arange(len(values)), values.argmax(axis=1)] = True
    long = W_normalized.rename_axis(index="gene", columns="module").stack().rename("share")
    long = long[member.ravel()].reset_index()
    long["gene_order"] = pd.Categorical(long["gene"], categories=W_normalized.index).codes
    long = long.sort_values(["gene_order", "share"], ascending=[True, False], kind="stable")
    long[["gene", "module"]] = long[["gene", "module"]].astype(str)  # names, not numbers
    return long[MEMBERSHIP_COLUMNS].reset_index(drop=True)


def moonlighting_genes(memberships: pd.DataFrame) -> pd.DataFrame:
    """Genes with two or more memberships, one row each.

    Returns columns ``gene``, ``n_modules``, ``modules`` and ``shares`` (comma-separated,
    by decreasing share); an empty table with these columns when there are none.
    """
    counts = memberships.groupby("gene", sort=False)["module"].transform("size")
    multi = memberships[counts >= 2]
    if multi.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MOONLIGHTING_COLUMNS})
    grouped = multi.groupby("gene", sort=False)
    return pd.DataFrame(
        {
            "gene": list(grouped.groups),
            "n_modules": grouped.size().to_numpy(),
            "modules": grouped["module"].agg(",".join).to_numpy(),
            "shares": grouped["share"].agg(lambda w: ",".join(f"{x:.4f}" for x in w)).to_numpy(),
        }
    )


def keep_called(memberships: pd.DataFrame, called: Iterable[str]) -> pd.DataFrame:
    """Memberships in which every gene keeps its top module and a gene in ``called`` its
    second one too.

    A moonlighting *candidate* whose call was not confirmed (too little support across
    restarts, or too small a likelihood gain; see :mod:`moonlight.confidence`) stays in
    its top module only. A call says "in its two top modules and clearly not the rest"
    (the share test), so a called gene above the threshold in a third module of W keeps
    the two its call names. The membership table then agrees with the moonlighting
    table. ``memberships`` is :func:`call_memberships`' table (modules by decreasing
    share within a gene).
    """
    rank = memberships.groupby("gene", sort=False).cumcount().to_numpy()
    second = (rank == 1) & memberships["gene"].isin(list(called)).to_numpy()
    return memberships[(rank == 0) | second].reset_index(drop=True)


def module_sizes(memberships: pd.DataFrame, modules: list[str]) -> pd.Series:
    """Number of member genes per module (moonlighting genes count in each of theirs)."""
    return memberships["module"].value_counts().reindex(modules, fill_value=0).rename("n_genes")
