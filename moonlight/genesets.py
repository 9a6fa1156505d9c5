"""What a biologist takes away from each module: its genes ranked, and gene-set files.

:func:`rank_genes` lists, for every module, each member gene (from the membership table,
:func:`moonlight.modules.call_memberships` after :func:`moonlight.modules.keep_called`)
ranked by its W weight, with its share and a specificity score;
:func:`top_genes` condenses that to a few genes per module; :func:`write_gmt` writes
the memberships as a GMT file, the gene-set format that GSEApy, fgsea, clusterProfiler
and Enrichr read.

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

import os
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .config import default
from .io import atomic_path
from .modules import normalize_columns, normalize_rows

__all__ = ["MODULE_GENES_COLUMNS", "TOP_GENES_COLUMNS", "rank_genes", "top_genes",
           "gmt_lines", "write_gmt", "read_gmt", "GeneSetError"]

MODULE_GENES_COLUMNS = ["module", "rank", "gene", "weight", "share", "specificity",
                        "moonlighting", "class"]
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
        ``share``, ``specificity``, ``moonlighting`` (bool), defined in this module's
        docstring, and ``class`` (the gene's class, :mod:`moonlight.classes`, from the
        memberships' ``class`` column; empty when they have none); one row per membership, modules in W's column order, genes by
        decreasing weight (ties in W's row order).

    Raises
    ------
    ValueError
        If W has a negative or non-finite entry, or a column or row that sums to zero
        (:func:`moonlight.modules.normalize_rows`), or the memberships name a gene or
        module not in W.
    """
    share = normalize_rows(W)
    _check_memberships(memberships, W.index, W.columns)
    weight = normalize_columns(W)
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
        "class": (memberships["class"] if "class" in memberships
                  else pd.Series("", index=memberships.index)).to_numpy(),
        "_module": module_pos,
        "_gene": gene_pos,
    })
    table = table.sort_values(["_module", "weight", "_gene"], ascending=[True, False, True],
                              kind="stable")
    table.insert(1, "rank", table.groupby("_module").cumcount().to_numpy() + 1)
    return table[MODULE_GENES_COLUMNS].reset_index(drop=True)


def top_genes(module_genes: pd.DataFrame, n: int = default("top_genes"), *,
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


def _natural_key(name: object) -> tuple[object, ...]:
    """Sort key putting ``M2`` before ``M10``: text and numbers compared piece by piece."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", str(name)) if p)


def gmt_lines(members: pd.DataFrame, *, prefix: str = "",
              descriptions: Mapping[str, str] | None = None,
              modules: Sequence[str] | None = None) -> list[str]:
    """Gene sets as GMT lines: ``name<TAB>description<TAB>gene<TAB>gene...``.

    Parameters
    ----------
    members : DataFrame
        Columns ``gene`` and ``module``, one row per membership: the membership table
        (``modules.tsv``) or :func:`rank_genes`'s output (``module_genes.tsv``, which
        lists the same pairs with genes by decreasing weight). A moonlighting gene has a
        row, and so a place in the gene set, for each of its modules.
    prefix : str
        Put before each module's name in the set name (e.g. ``"w09_"`` gives ``w09_M1``),
        so that sets from several data sets can share one file or one enrichment run.
    descriptions : mapping, optional
        Module -> description (the GMT's second field). By default
        ``"moonlight module M1: 23 genes, 2 moonlighting"``, where moonlighting genes are
        those with more than one membership.
    modules : sequence, optional
        Order of the lines; by default the module names in natural order (``M2`` before
        ``M10``). A module without members gets no line (enrichment tools reject empty
        sets).

    Returns
    -------
    list of str
        One line per module with members, genes in the order of ``members``. Lines carry
        no trailing newline.

    Raises
    ------
    ValueError
        If a column is missing, a module is not in ``modules``, or a gene name, module
        name, prefix or description holds a tab or a line break (the file could not be
        read back).
    """
    missing = [c for c in ("gene", "module") if c not in members]
    if missing:
        raise ValueError(f"members lacks column(s) {missing}; expected modules.tsv or "
                         "module_genes.tsv")
    fields = pd.concat([members["gene"].astype(str), members["module"].astype(str),
                        pd.Series([prefix, *(descriptions or {}).values()], dtype=str)])
    bad = fields[fields.str.contains(r"[\t\r\n]", regex=True)]
    if len(bad):
        raise ValueError(f"a GMT field cannot hold a tab or line break: {bad.iat[0]!r}")
    present = list(pd.unique(members["module"]))
    if modules is None:
        modules = sorted(present, key=_natural_key)
    else:
        unknown = sorted(set(present) - set(modules), key=_natural_key)
        if unknown:
            raise ValueError(f"members name module(s) not in modules: {unknown}")
    multi = set(members.loc[members["gene"].duplicated(keep=False), "gene"])
    groups = dict(list(members.groupby("module", sort=False)))
    lines = []
    for module in modules:
        if module not in groups:
            continue
        genes = groups[module]["gene"]
        n = len(genes)
        description = (descriptions or {}).get(
            module, f"moonlight module {module}: {n} gene{'s' * (n != 1)}, "
                    f"{int(genes.isin(multi).sum())} moonlighting")
        lines.append("\t".join([f"{prefix}{module}", description, *genes.astype(str)]))
    return lines


def write_gmt(members: pd.DataFrame, path: str | os.PathLike[str], *, prefix: str = "",
              descriptions: Mapping[str, str] | None = None,
              modules: Sequence[str] | None = None) -> None:
    """Write :func:`gmt_lines` to ``path`` atomically, each line ending in ``\\n``."""
    lines = gmt_lines(members, prefix=prefix, descriptions=descriptions, modules=modules)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


class GeneSetError(ValueError):
    """A gene-set file that cannot be used, naming the file and line."""


def _gmt_text(source: str) -> tuple[str, str]:
    """The text of a GMT file, or of one inside an installed package
    (``package:path/inside.gmt``), and the name to show in messages."""
    if ":" in source and not os.path.exists(source) and not re.match(r"^[A-Za-z]:[\\/]",
                                                                     source):
        from importlib import resources
        package, inside = source.split(":", 1)
        try:
            return resources.files(package).joinpath(inside).read_text(), source
        except (ModuleNotFoundError, FileNotFoundError) as error:
            raise GeneSetError(f"{source}: no gene-set file {inside!r} in an installed "
                               f"package {package!r} ({error})") from None
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read(), source
    except OSError as error:
        raise GeneSetError(f"{source}: cannot read the gene-set file ({error.strerror})"
                           ) from None


def read_gmt(source: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Gene sets from a GMT file: one set per line, ``name<TAB>description<TAB>gene...``.

    ``source`` is a path, or ``package:path`` for a GMT shipped inside an installed
    package. Gene identifiers are kept as the strings written (a repeated gene counts
    once). Raises :class:`GeneSetError` naming the file and line for a line without
    genes or a repeated set name.
    """
    text, name = _gmt_text(os.fspath(source))
    sets: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
        genes = list(dict.fromkeys(g for g in fields[2:] if g))
        if not fields[0] or not genes:
            raise GeneSetError(f"{name}, line {number}: a gene set needs a name, a "
                               "description and at least one gene, tab-separated")
        if fields[0] in sets:
            raise GeneSetError(f"{name}, line {number}: gene set {fields[0]!r} appears twice")
        sets[fields[0]] = genes
    if not sets:
        raise GeneSetError(f"{name}: no gene sets")
    return sets
