"""What a biologist takes away from each module: its genes ranked, and gene-set files.

:func:`rank_genes` lists, for every module, each member gene (from the membership table,
:func:`moonlight.modules.call_memberships` after :func:`moonlight.modules.keep_called`)
ranked by its W weight, with its share and a specificity score;
:func:`top_genes` condenses that to a few genes per module.

Three numbers describe gene i in module r (W genes x modules, any column scale):

``weight``
    Column-normalized W, ``Wc_ir = W_ir / sum_k W_kr``: the fraction of module r's
    expected counts that come from gene i. Genes are ranked by it.
``share``
    Row-normalized ``Wc``, ``p_ir = Wc_ir / sum_s Wc_is``: the fraction of gene i's
    loading that sits in module r (the quantity memberships are called on).
``specificity``
    ``share x log2 fold enrichment``: ``p_ir * log2(N * Wc_ir)``, with N the number of
    genes. ``N * Wc_ir`` is the gene's weight in the module over that of a gene of
    average weight (1 / N), so the score is high for a gene that is both prominent in the
    module and exclusive to it (a marker), shrinks with the share for genes spread across
    modules (housekeeping or moonlighting genes), and is negative for members whose
    weight is below average (low-count genes whose share is poorly determined).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .modules import normalize_columns

__all__ = ["MODULE_GENES_COLUMNS", "TOP_GENES_COLUMNS", "rank_genes", "top_genes"]

MODULE_GENES_COLUMNS = ["module", "rank", "gene", "weight", "share", "specificity",
                        "moonlighting"]
TOP_GENES_COLUMNS = ["module", "n_genes", "n_moonlighting", "top_genes", "moonlighting_genes"]


def _check_memberships(memberships: pd.DataFrame, genes: pd.Index, modules: pd.Index) -> None:
    missing = [c for c in ("gene", "module") if c not in memberships]
    if missing:
        raise ValueError(f"memberships lacks column(s) {missing}; expected the table of "
                         "moonlight.modules.call_memberships")
    unknown_genes = pd.Index(memberships["gene"]).difference(genes)
    if len(unknown_genes):
        raise ValueError(f"memberships name {len(unknown_genes)} gene(s) not in W, e.g. "
                         f"{unknown_genes[0]!r}")
    unknown_modules = pd.Index(memberships["module"]).difference(modules)
    if len(unknown_modules):
        raise ValueError(f"memberships name module(s) not in W: {list(unknown_modules)}")


def rank_genes(W: pd.DataFrame, memberships: pd.DataFrame,
               moonlighting: Iterable[str] = ()) -> pd.DataFrame:
    """Every member gene of every module, ranked by its weight in the module.

    Parameters
    ----------
    W : DataFrame (genes x modules)
        Fitted W; any column scale (columns are normalized here). Every column and
        every row must have a positive sum.
    memberships : DataFrame
        Columns ``gene`` and ``module``, one row per membership: the table written as
        ``modules.tsv`` (:func:`moonlight.modules.keep_called` of
        :func:`moonlight.modules.call_memberships`).
    moonlighting : iterable of str
        The called moonlighting genes (``moonlighting.tsv``'s ``gene`` column).

    Returns
    -------
    DataFrame
        Columns ``module``, ``rank`` (1 = largest weight), ``gene``, ``weight``,
        ``share``, ``specificity`` and ``moonlighting`` (bool), defined in this module's
        docstring; one row per membership, modules in W's column order, genes by
        decreasing weight (ties in W's row order).

    Raises
    ------
    ValueError
        If a column or row of W sums to zero, or the memberships name a gene or module
        not in W.
    """
    values = W.to_numpy(dtype=np.float64)
    if (values.sum(axis=0) <= 0).any():
        raise ValueError(f"W has a module whose weights sum to zero: "
                         f"{list(W.columns[values.sum(axis=0) <= 0])}")
    if (values.sum(axis=1) <= 0).any():
        raise ValueError(f"W has {int((values.sum(axis=1) <= 0).sum())} gene(s) with no "
                         f"weight in any module, e.g. {W.index[values.sum(axis=1) <= 0][0]!r}")
    _check_memberships(memberships, W.index, W.columns)
    weight = normalize_columns(W)
    share = weight.div(weight.sum(axis=1), axis=0)
    # p_ir * log2(N Wc_ir); members have p_ir > 0, hence Wc_ir > 0.
    with np.errstate(divide="ignore"):
        specificity = share * np.log2(len(W) * weight)

    gene_pos = W.index.get_indexer(memberships["gene"])
    module_pos = W.columns.get_indexer(memberships["module"])
    table = pd.DataFrame({
        "module": memberships["module"].to_numpy(),
        "gene": memberships["gene"].to_numpy(),
        "weight": weight.to_numpy()[gene_pos, module_pos],
        "share": share.to_numpy()[gene_pos, module_pos],
        "specificity": specificity.to_numpy()[gene_pos, module_pos],
        "moonlighting": memberships["gene"].isin(set(moonlighting)).to_numpy(),
        "_module": module_pos,
        "_gene": gene_pos,
    })
    table = table.sort_values(["_module", "weight", "_gene"], ascending=[True, False, True],
                              kind="stable")
    table.insert(1, "rank", table.groupby("_module").cumcount().to_numpy() + 1)
    return table[MODULE_GENES_COLUMNS].reset_index(drop=True)


def top_genes(module_genes: pd.DataFrame, n: int = 10, *,
              by: str = "weight") -> pd.DataFrame:
    """A few top genes of every module, for a report table.

    Parameters
    ----------
    module_genes : DataFrame
        Output of :func:`rank_genes`.
    n : int
        Genes listed per module (at least 1).
    by : {"weight", "specificity"}
        Order of the listed genes: the ranking of :func:`rank_genes` (weight) or
        decreasing specificity (ties by weight rank).

    Returns
    -------
    DataFrame
        One row per module with members: ``module``, ``n_genes``, ``n_moonlighting``,
        ``top_genes`` (the first ``n`` genes, comma-separated) and
        ``moonlighting_genes`` (all of the module's moonlighting genes, comma-separated,
        by weight rank; empty if none).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n (top genes per module) must be a positive integer, got {n!r}")
    if by not in ("weight", "specificity"):
        raise ValueError(f"by must be 'weight' or 'specificity', got {by!r}")
    rows = []
    for module, genes in module_genes.groupby("module", sort=False):
        ordered = genes if by == "weight" else genes.sort_values(
            ["specificity", "rank"], ascending=[False, True], kind="stable")
        rows.append({
            "module": module,
            "n_genes": len(genes),
            "n_moonlighting": int(genes["moonlighting"].sum()),
            "top_genes": ", ".join(ordered["gene"].iloc[:n]),
            "moonlighting_genes": ", ".join(genes.loc[genes["moonlighting"], "gene"]),
        })
    return pd.DataFrame(rows, columns=TOP_GENES_COLUMNS)
