"""What each module is about: its enrichment in the user's gene sets, tested two ways.

Gene identifiers are matched as strings, against the genes that entered the fit (the
*universe*); a set's genes outside the table are left out of every count, and a set with
fewer than ``enrichment.min_set_size`` genes in the table (or more than
``max_set_size``) is not tested.

``overlap`` (over-representation of the members)
    With N genes in the universe, K of them in the set, n members of the module
    (``modules.tsv``) and k members in the set, the p-value is the hypergeometric tail
    ``P(X >= k)``, X ~ Hypergeometric(N, K, n): the chance that n genes drawn at random
    from the table hold k or more of the set. The statistic is the fold enrichment
    ``(k / n) / (K / N)``.
``ranked`` (the module's whole weight profile, no threshold)
    Every gene of the table ranked by its weight in the module (column-normalized W);
    the one-sided Mann-Whitney test of the set's genes ranking above the others, an
    exact rank statistic (normal approximation with tie correction beyond small sizes),
    so the result is deterministic without a seed. The statistic is the area under the
    curve, ``U / (K (N - K))``: 1 when the set's genes are the module's top genes, 0.5 by
    chance.

q-values: Benjamini-Hochberg across every module x set pair of one test. The leading
genes are the set's genes among the module's members (``overlap``) or its genes in the
module's top ``K`` by weight (``ranked``), by decreasing weight.

Gene sets in symbols against a table in Ensembl IDs (or the reverse) match nothing; the
coverage check (:func:`coverage_warning`) says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .config import default
from .genesets import GeneSetError, read_gmt
from .modules import normalize_columns
from .multiple_testing import benjamini_hochberg

__all__ = ["ENRICHMENT_COLUMNS", "Enrichment", "enrichment", "module_enrichment",
           "read_gene_sets", "set_coverage", "coverage_warning"]

ENRICHMENT_COLUMNS = ["module", "set", "test", "overlap", "module_size", "set_size",
                      "universe", "statistic", "p", "q", "leading_genes"]


def set_coverage(sets: Mapping[str, Sequence[str]], universe: Sequence[str]) -> pd.DataFrame:
    """Per set: its genes (``size``), those in the table (``in_table``) and the fraction."""
    known = set(universe)
    rows = [(name, len(genes), sum(g in known for g in genes)) for name, genes in sets.items()]
    table = pd.DataFrame(rows, columns=["set", "size", "in_table"])
    table["fraction"] = table["in_table"] / table["size"].clip(lower=1)
    return table


def coverage_warning(coverage: pd.DataFrame, min_coverage: float,
                     min_set_size: int = default("enrichment.min_set_size")) -> str | None:
    """A message when sets have fewer than ``min_coverage`` of their genes in the table
    (naming how many and a few of them, and how many of those keep fewer than
    ``min_set_size`` genes and so are not tested), or None."""
    low = coverage[coverage["fraction"] < min_coverage]
    if low.empty:
        return None
    examples = ", ".join(f"{s} ({f:.0%})" for s, f in
                         low.sort_values("fraction")[["set", "fraction"]].head(3).itertuples(
                             index=False))
    hint = (" Almost no set gene is in the table: are the sets in gene symbols and the "
            "table in Ensembl IDs (or the reverse)?"
            if coverage["fraction"].median() < 0.1 else "")
    untested = int((low["in_table"] < min_set_size).sum())
    if untested == 0:
        fate = "their tests see only those genes"
    elif untested == len(low):
        fate = (f"each keeps fewer than enrichment.min_set_size = {min_set_size} genes and "
                "is not tested")
    else:
        fate = (f"{untested} of them keep fewer than enrichment.min_set_size = "
                f"{min_set_size} genes and are not tested; the others' tests see only the "
                "genes the table has")
    return (f"{len(low)} of {len(coverage)} gene sets have fewer than {min_coverage:.0%} of "
            f"their genes in the table (e.g. {examples}); {fate}.{hint}")


def _overlap_rows(members: Mapping[str, list[str]], sets: Mapping[str, list[str]],
                  weights: pd.DataFrame, n_universe: int) -> list[dict]:
    from scipy.stats import hypergeom

    rows = []
    for module, genes in members.items():
        order = weights[module]
        for name, in_set in sets.items():
            chosen = set(in_set)
            hits = [g for g in genes if g in chosen]
            k, n, K = len(hits), len(genes), len(in_set)
            p = float(hypergeom.sf(k - 1, n_universe, K, n)) if k else 1.0
            fold = (k / n) / (K / n_universe) if n and K else 0.0
            leading = sorted(hits, key=lambda g: -order[g])
            rows.append({"module": module, "set": name, "test": "overlap", "overlap": k,
                         "module_size": n, "set_size": K, "universe": n_universe,
                         "statistic": fold, "p": p, "leading_genes": ",".join(leading)})
    return rows


def _ranked_rows(sets: Mapping[str, list[str]], weights: pd.DataFrame) -> list[dict]:
    from scipy.stats import mannwhitneyu

    rows = []
    n_universe = len(weights)
    for module in weights.columns:
        order = weights[module]
        ranked = order.sort_values(ascending=False, kind="stable")
        for name, in_set in sets.items():
            members = set(in_set)
            mask = order.index.isin(in_set)
            K = int(mask.sum())
            test = mannwhitneyu(order[mask], order[~mask], alternative="greater")
            top = [g for g in ranked.index[:K] if g in members]
            rows.append({"module": module, "set": name, "test": "ranked", "overlap": len(top),
                         "module_size": n_universe, "set_size": K, "universe": n_universe,
                         "statistic": float(test.statistic) / (K * (n_universe - K)),
                         "p": float(test.pvalue), "leading_genes": ",".join(top)})
    return rows


def enrichment(W: pd.DataFrame, memberships: pd.DataFrame,
               sets: Mapping[str, Sequence[str]], *,
               min_set_size: int = default("enrichment.min_set_size"),
               max_set_size: int = default("enrichment.max_set_size")) -> pd.DataFrame:
    """Every module against every gene set, by both tests (module docstring).

    Parameters
    ----------
    W : DataFrame (genes x modules)
        The fit at the selected rank; its genes are the universe.
    memberships : DataFrame
        ``gene`` and ``module`` per membership (``modules.tsv``).
    sets : mapping of set name -> genes
        As :func:`moonlight.genesets.read_gmt` returns them.
    min_set_size, max_set_size : int
        Sets with fewer or more genes in the table are not tested.

    Returns
    -------
    DataFrame
        :data:`ENRICHMENT_COLUMNS`, sorted by test, module and q.
    """
    universe = [str(g) for g in W.index]
    known = set(universe)
    tested = {name: [g for g in dict.fromkeys(genes) if g in known]
              for name, genes in sets.items()}
    tested = {name: genes for name, genes in tested.items()
              if min_set_size <= len(genes) <= min(max_set_size, len(universe) - 1)}
    if not tested:
        return pd.DataFrame(columns=ENRICHMENT_COLUMNS)
    weights = normalize_columns(W).set_axis(universe)
    members = {str(m): [str(g) for g in memberships.loc[memberships["module"] == m, "gene"]]
               for m in W.columns}
    parts = []
    for rows in (_overlap_rows(members, tested, weights, len(universe)),
                 _ranked_rows(tested, weights)):
        frame = pd.DataFrame(rows)
        frame["q"] = benjamini_hochberg(frame["p"].to_numpy())
        parts.append(frame)
    table = pd.concat(parts, ignore_index=True)[ENRICHMENT_COLUMNS]
    return table.sort_values(["test", "module", "q", "set"], kind="stable",
                             ignore_index=True)


def read_gene_sets(sources: Sequence[str]) -> dict[str, list[str]]:
    """The sets of every GMT in ``sources`` (config ``gene_sets``), in order; a set name
    in two files is refused, naming both."""
    sets: dict[str, list[str]] = {}
    where: dict[str, str] = {}
    for source in sources:
        for name, genes in read_gmt(source).items():
            if name in sets:
                raise GeneSetError(f"{source}: gene set {name!r} is also in {where[name]}")
            sets[name], where[name] = genes, source
    return sets


@dataclass(frozen=True)
class Enrichment:
    """The enrichment step's results: ``table`` (:data:`ENRICHMENT_COLUMNS`),
    ``coverage`` (:func:`set_coverage`) and the coverage ``warning`` (or None)."""

    table: pd.DataFrame
    coverage: pd.DataFrame
    warning: str | None


def module_enrichment(W: pd.DataFrame, memberships: pd.DataFrame,
                      sets: Mapping[str, Sequence[str]] | Sequence[str], *,
                      min_set_size: int = default("enrichment.min_set_size"),
                      max_set_size: int = default("enrichment.max_set_size"),
                      min_coverage: float = default("enrichment.min_coverage")) -> Enrichment:
    """The workflow's ``enrichment`` step (and ``analyse(gene_sets=...)``): the gene sets
    (a mapping, or GMT sources for :func:`read_gene_sets`), their coverage of the table,
    and :func:`enrichment` of every module."""
    if not isinstance(sets, Mapping):
        sets = read_gene_sets(list(sets))
    coverage = set_coverage(sets, [str(g) for g in W.index])
    table = enrichment(W, memberships, sets, min_set_size=min_set_size,
                       max_set_size=max_set_size)
    return Enrichment(table, coverage, coverage_warning(coverage, min_coverage, min_set_size))
