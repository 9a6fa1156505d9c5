"""The quality-control record of a data set, and the warnings a user must see.

One record per data set (``results/<name>/qc.tsv``), a table of ``check``, ``value``,
``detail`` rows: how the table was read (format, encoding, header decision and why), the
genes and samples kept and dropped (named), depth, sparsity, non-integer counts, the
largest entries against the table's typical scale, and **warnings**. A warning says what
the answer is worth (and, for an outlier, what was done about it):

``no_structure``
    The selected rank's held-out log likelihood does not beat rank 1 (one module: every
    gene proportional to the samples' depths) by more than one standard error of the
    paired per-fold difference. The modules then describe noise, not structure.
``outlier``
    An entry more than ``outlier_factor`` times both the table's 99th percentile of
    nonzero counts and the next-largest count of its own gene: one entry like that can
    make a module or a moonlighting call by itself. The data steps keep it out of the
    analysis before anything is fitted (:mod:`moonlight.outliers`, config
    ``qc.outliers``) and name it here; the warning on the counts as fitted is for counts
    that did not pass through them.
``rank_at_top``
    The selected rank is the largest one fitted, or the held-out likelihood still rose
    at the largest rank and the effect-size cap chose a smaller R: the rule never saw a
    rank at which the held-out likelihood stopped rising, so the true structure may be
    larger, or (on real counts) extra modules may absorb overdispersion and technical
    axes. Fit larger ranks
    (``ranks:``, or ``selection.extend_to``, which grows the range one rank at a time
    until the rule stops inside it), and read the extra modules with care.
``unstable_rank``
    The rule would have chosen another rank had that rank's restarts agreed (matched
    cosine under ``selection.min_stability``): its best optimum was found once, or not
    at all. More restarts may settle it, and R with it.
``not_converged``
    The selected rank's best restart (the fit whose W and H are reported) stopped at its
    sweep cap (``fit.max_iter``) before its log likelihood settled: W, H and the calls
    may still move. Raise ``fit.max_iter`` (the known-batch model's multiplicative
    updates need many more sweeps than coordinate descent).
``technical_module``
    A module's usage follows a technical axis of the samples (read depth, a
    ``technical:`` obs column; :mod:`moonlight.technical`): read it as that axis, not as
    a biological program.
``gene_set_coverage``
    Gene sets of ``gene_sets`` have fewer than ``enrichment.min_coverage`` of their genes
    in the table (:mod:`moonlight.enrichment`).
``mito_ribo_module``
    A module's top genes are mostly mitochondrial or ribosomal
    (:mod:`moonlight.genefilter`): it may describe cell quality, not identity.
``orientation``
    The table's rows (genes) have totals that spread less than its columns' (samples'),
    as a samples x genes table's do (:data:`TRANSPOSED_SPREAD_RATIO`): it may be
    transposed, and its modules then group samples.
``outside_validated_range``
    The table is sparser or shallower than every table on which the rank rule and the
    moonlighting calls were validated (``benchmarks/CALIBRATION.md``): mean count per
    entry below
    :data:`VALIDATED_MIN_MEAN_COUNT` or a fraction of zero entries above
    :data:`VALIDATED_MAX_ZERO_FRACTION`. The selected rank and the calls may then be
    wrong in ways the grid did not measure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .classes import class_counts
from .config import default
from .counts import Counts
from .genefilter import mito_ribo_modules
from .selection import heldout_gain, selected_rank, still_rising, structure_gain
from .tables import TableRead
from .technical import technical_modules

__all__ = [
    "QC_COLUMNS",
    "VALIDATED_MIN_MEAN_COUNT",
    "VALIDATED_MAX_ZERO_FRACTION",
    "TRANSPOSED_SPREAD_RATIO",
    "DEFAULT_OUTLIER_FACTOR",
    "QCWarning",
    "read_record",
    "count_record",
    "outlier_warnings",
    "range_warnings",
    "orientation_warning",
    "structure_warning",
    "top_rank_warning",
    "stability_warning",
    "technical_warning",
    "capped_fits_warning",
    "class_record",
    "mito_ribo_warnings",
    "qc_table",
    "quality_record",
    "warnings_of",
]

logger = logging.getLogger("moonlight")

QC_COLUMNS = ["check", "value", "detail"]

#: The shallowest tables on which the rank rule and the moonlighting calls were validated
#: (the calibration benchmark's sparse regime, benchmarks/CALIBRATION.md: 1,000 genes x
#: 200 samples at 150 reads per sample) have a mean count per entry of 0.15 ...
VALIDATED_MIN_MEAN_COUNT = 0.15
#: ... and its sparsest have 88% zero entries. Tables beyond either bound get the
#: ``outside_validated_range`` warning.
VALIDATED_MAX_ZERO_FRACTION = 0.88

#: Genes' totals spread over orders of magnitude, samples' depths less: the standard
#: deviation of log10 totals over the rows (genes) was 21 times the columns' (samples')
#: on the exercise table and 0.92 to 7.3 times on the genes fitted of the 14 real data
#: sets of benchmarks/REAL_DATA.md (0.92: 92 cells whose depths spread widely). A table
#: whose rows spread less than this fraction of its columns' looks transposed (samples x
#: genes) and gets the ``orientation`` warning; a transposed table whose samples spread
#: as widely as its genes passes unwarned.
TRANSPOSED_SPREAD_RATIO = 0.67

#: An entry is an outlier above this many times both the 99th percentile of the table's
#: nonzero counts and the next-largest count of its gene.
DEFAULT_OUTLIER_FACTOR: float = default("qc.outlier_factor")

#: How many of the largest entries the record lists.
N_LARGEST = 5


@dataclass(frozen=True)
class QCWarning:
    """One warning of the QC record: a short ``kind`` and a ``message`` that says what
    happened and what follows from it."""

    kind: str
    message: str


def _row(check: str, value: object, detail: str = "") -> dict[str, str]:
    return {"check": check, "value": str(value), "detail": detail}


def _names(names: Iterable[str], limit: int = 50) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def read_record(read: TableRead, *, genes_read: int, samples_read: int,
                dropped: dict[str, dict[str, list[str]]]) -> list[dict[str, str]]:
    """Rows for how a user's table was read and what was dropped before the fit.

    Parameters
    ----------
    read : TableRead
        What :func:`moonlight.tables.read_table` returned.
    genes_read, samples_read : int
        Size of the table as read.
    dropped : dict
        ``{"genes": {reason: [names]}, "samples": {reason: [names]}}``.
    """
    rows = [
        _row("source", read.path),
        _row("format", read.format,
             f"compression {read.compression}; encoding {read.encoding or 'n/a'}; "
             f"separator {read.separator}"),
        _row("header", "yes" if read.header else "no", read.header_reason),
    ]
    rows += [_row("note", "", note) for note in read.notes]
    rows += [_row("warning", kind, message) for kind, message in read.warnings]
    rows += [_row("genes_read", genes_read), _row("samples_read", samples_read)]
    return rows + dropped_rows(dropped)


def dropped_rows(dropped: dict[str, dict[str, list[str]]]) -> list[dict[str, str]]:
    """A ``genes_dropped`` or ``samples_dropped`` row per reason that dropped any, with
    the names: ``dropped`` is ``{"genes": {reason: [names]}, "samples": {...}}``."""
    return [_row(f"{kind}_dropped", len(names), f"{reason}: {_names(names)}")
            for kind in ("genes", "samples")
            for reason, names in dropped.get(kind, {}).items() if names]


@dataclass(frozen=True)
class _Entries:
    """The nonzero entries of a count matrix, dense or sparse, with its names."""

    values: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    shape: tuple[int, int]
    genes: list[str]
    samples: list[str]

    @classmethod
    def of(cls, counts: Counts | pd.DataFrame) -> _Entries:
        counts = Counts.of(counts)
        if counts.is_sparse:
            X = counts.matrix.tocoo()
            keep = X.data != 0
            return cls(X.data[keep].astype(np.float64), X.row[keep], X.col[keep], X.shape,
                       counts.genes, counts.samples)
        V = counts.matrix
        rows, cols = np.nonzero(V)
        return cls(V[rows, cols], rows, cols, V.shape, counts.genes, counts.samples)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def depth(self) -> np.ndarray:
        return np.bincount(self.cols, weights=self.values, minlength=self.shape[1])

    def q99(self) -> float:
        return float(np.quantile(self.values, 0.99)) if self.values.size else 0.0

    def largest(self, n: int) -> np.ndarray:
        """Positions (in ``values``) of the ``n`` largest entries, largest first."""
        order = np.lexsort((self.cols, self.rows, -self.values))
        return order[:n]

    def top_two_per_gene(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each gene's largest count, its position in ``values`` (-1 if none) and the
        gene's next-largest count (0 when it has one nonzero count or none)."""
        n = self.shape[0]
        order = np.lexsort((self.values, self.rows))
        rows = self.rows[order]
        last = np.flatnonzero(np.r_[rows[1:] != rows[:-1], True]) if rows.size else rows
        top = np.zeros(n)
        where = np.full(n, -1)
        second = np.zeros(n)
        top[rows[last]] = self.values[order[last]]
        where[rows[last]] = order[last]
        has_second = (last > 0) & (rows[np.maximum(last - 1, 0)] == rows[last])
        second[rows[last[has_second]]] = self.values[order[last[has_second] - 1]]
        return top, where, second


def count_record(counts: Counts | pd.DataFrame) -> list[dict[str, str]]:
    """Rows describing the counts that go into the fit (genes x samples, a DataFrame or
    :class:`moonlight.counts.Counts`, dense or sparse; never densified)."""
    e = _Entries.of(counts)
    depth = e.depth()
    total = float(e.values.sum())
    q99 = e.q99()
    non_integer = int((e.values != np.round(e.values)).sum())
    rows = [
        _row("genes", e.shape[0]),
        _row("samples", e.shape[1]),
        _row("total_counts", f"{total:.10g}"),
        _row("depth_min", f"{depth.min():.10g}", f"sample {e.samples[int(depth.argmin())]}"),
        _row("depth_median", f"{np.median(depth):.10g}"),
        _row("depth_max", f"{depth.max():.10g}", f"sample {e.samples[int(depth.argmax())]}"),
        _row("mean_count_per_entry", f"{total / e.size:.6g}"),
        _row("zero_fraction", f"{1 - e.values.size / e.size:.6g}"),
        _row("non_integer_entries", non_integer),
        _row("nonzero_count_q99", f"{q99:.10g}", "99th percentile of the nonzero counts"),
    ]
    for k in e.largest(N_LARGEST):
        value = e.values[k]
        ratio = value / q99 if q99 > 0 else np.inf
        rows.append(_row("largest_entry", f"{value:.10g}",
                         f"gene {e.genes[e.rows[k]]}, sample {e.samples[e.cols[k]]}: "
                         f"{ratio:.3g} x the 99th percentile of nonzero counts"))
    return rows


#: Columns of :func:`find_outliers`.
OUTLIER_COLUMNS = ["gene", "sample", "row", "col", "count", "next_largest", "q99"]


def find_outliers(counts: Counts | pd.DataFrame,
                  factor: float = DEFAULT_OUTLIER_FACTOR) -> pd.DataFrame:
    """Entries above ``factor`` x the table's 99th percentile of nonzero counts and
    ``factor`` x the next-largest count of their own gene (see the module docstring):
    one row each, :data:`OUTLIER_COLUMNS` (``row``/``col`` are positions)."""
    e = _Entries.of(counts)
    if e.values.size == 0 or e.shape[1] < 2:
        return pd.DataFrame(columns=OUTLIER_COLUMNS)
    q99 = e.q99()
    top, where, second = e.top_two_per_gene()
    flagged = np.flatnonzero((top > factor * q99) & (top > factor * second))
    cols = e.cols[where[flagged]]
    return pd.DataFrame({"gene": [e.genes[i] for i in flagged],
                         "sample": [e.samples[j] for j in cols], "row": flagged, "col": cols,
                         "count": top[flagged], "next_largest": second[flagged],
                         "q99": q99}, columns=OUTLIER_COLUMNS)


def describe_outlier(entry: pd.Series) -> str:
    """``gene g, sample s: count ...`` with how far it is above the table and its gene."""
    return (f"gene {entry['gene']}, sample {entry['sample']}: count {entry['count']:.6g} is "
            f"{entry['count'] / entry['q99']:.3g} x the table's 99th percentile of nonzero "
            f"counts and {entry['count'] / max(entry['next_largest'], 1.0):.3g} x the "
            "gene's next-largest count")


def outlier_warnings(counts: Counts | pd.DataFrame,
                     factor: float = DEFAULT_OUTLIER_FACTOR) -> list[QCWarning]:
    """Entries above ``factor`` x the table's nonzero q99 and ``factor`` x the next-largest
    count of their gene (see the module docstring), each named."""
    return [QCWarning("outlier", f"{describe_outlier(entry)}; one entry like this can make "
                                 "a module or a moonlighting call by itself (drop the gene "
                                 "or sample with drop_genes/drop_samples if it is an error)")
            for _, entry in find_outliers(counts, factor).iterrows()]


def range_warnings(counts: Counts | pd.DataFrame) -> list[QCWarning]:
    """``outside_validated_range`` when the table is shallower or sparser than the
    selection grid's tables (see :data:`VALIDATED_MIN_MEAN_COUNT`)."""
    e = _Entries.of(counts)
    mean, zeros = float(e.values.sum()) / e.size, 1 - e.values.size / e.size
    reasons = []
    if mean < VALIDATED_MIN_MEAN_COUNT:
        reasons.append(f"mean count per entry {mean:.3g} < {VALIDATED_MIN_MEAN_COUNT:g}")
    if zeros > VALIDATED_MAX_ZERO_FRACTION:
        reasons.append(f"{zeros:.1%} zero entries > {VALIDATED_MAX_ZERO_FRACTION:.0%}")
    if not reasons:
        return []
    return [QCWarning(
        "outside_validated_range",
        "; ".join(reasons) + ": the rank rule and the moonlighting calls were validated "
        "only on denser tables (benchmarks/CALIBRATION.md), so the selected rank and the "
        "calls may be wrong here in ways that were not measured",
    )]


def orientation_warning(counts: Counts | pd.DataFrame) -> QCWarning | None:
    """``orientation`` when the table looks like samples x genes: its rows' totals
    spread less than :data:`TRANSPOSED_SPREAD_RATIO` of its columns' (standard deviation
    of log10 totals; tables under 10 rows or columns are not judged)."""
    e = _Entries.of(counts)
    if min(e.shape) < 10:
        return None
    rows = np.bincount(e.rows, weights=e.values, minlength=e.shape[0])
    spread_rows, spread_cols = (float(np.log10(t[t > 0]).std()) for t in (rows, e.depth()))
    if spread_rows >= TRANSPOSED_SPREAD_RATIO * spread_cols:
        return None
    return QCWarning(
        "orientation",
        f"the rows' totals spread less than the columns' (standard deviation of log10 "
        f"totals {spread_rows:.3g} against {spread_cols:.3g}), as samples' depths do "
        "against genes' totals: the table may be samples x genes, where moonlight reads "
        "genes x samples, and then its modules group samples; if so, transpose it "
        "(table.T) and run again")


def structure_warning(heldout: pd.DataFrame, rank: int) -> QCWarning | None:
    """``no_structure`` if rank ``rank`` does not beat rank 1 on held-out data.

    Parameters
    ----------
    heldout : DataFrame
        Per-fold cross-validation rows (``rank``, ``fold``, ``heldout_loglik``) of rank 1
        and of ``rank``, scored on the same folds.
    rank : int
        The selected rank.

    Notes
    -----
    With d_k the difference of held-out log likelihoods (``rank`` minus rank 1) in fold
    k, the gain is ``sum_k d_k`` and its standard error ``sqrt(K) sd(d)`` (as
    :func:`moonlight.crossval.cv_summary` scales it). The warning is raised when the gain
    is not larger than one standard error.
    """
    if rank == 1:
        gains = {r: structure_gain(heldout, r) for r in sorted(set(heldout["rank"]) - {1})}
        if not gains:  # rank 1 alone was fitted: nothing was compared (rank_at_top says so)
            return None
        best = max(gains, key=lambda r: gains[r][0])
        gain, se = gains[best]
        return QCWarning(
            "no_structure",
            f"the rank the rule chose does not beat rank 1 on held-out data by more than a "
            f"standard error (the largest gain of any fitted rank, at R = {best}: {gain:.4g} "
            f"log-likelihood units, standard error {se:.4g}): the counts are explained as "
            "well by every gene following the samples' depths, so R = 1 is reported and no "
            "moonlighting gene is called")
    gain, se = structure_gain(heldout, rank)
    if gain > se:
        return None
    return QCWarning(
        "no_structure",
        f"the selected rank {rank} does not beat rank 1 on held-out data (gain "
        f"{gain:.4g} log-likelihood units, standard error {se:.4g}): the counts are "
        "explained as well by every gene following the samples' depths, so the modules "
        "and moonlighting genes describe noise, not structure",
    )


def stability_warning(selection: pd.DataFrame, heldout: pd.DataFrame) -> QCWarning | None:
    """``unstable_rank`` naming the ranks the rule would have selected had their restarts
    agreed (``passed_over`` of :func:`moonlight.selection.rank_table`: matched cosine
    under ``selection.min_stability``), with their held-out gain over the selected rank.

    Parameters
    ----------
    selection : DataFrame
        The rank table (``rank``, ``selected``, ``passed_over``, ``matched_cosine``).
    heldout : DataFrame
        Per-fold held-out rows of the fitted ranks.
    """
    if "passed_over" not in selection:
        return None
    rank = selected_rank(selection)
    passed = selection.loc[selection["passed_over"].eq(True)]  # empty on the rank-1 row
    if passed.empty:
        return None
    named = []
    for other, cosine in passed[["rank", "matched_cosine"]].itertuples(index=False):
        gain, se = heldout_gain(heldout, rank, int(other))
        named.append(f"R = {int(other)} (held-out gain over R = {rank} {gain:.4g}, standard "
                     f"error {se:.4g}; matched cosine {float(cosine):.2f})")
    return QCWarning(
        "unstable_rank",
        f"the rule would have chosen another rank had its restarts agreed: "
        f"{'; '.join(named)}; its best optimum was found once or not at all, and with "
        "more restarts (restarts:) it may be found again and the rank chosen")


def convergence_warning(restarts: pd.DataFrame | None, rank: int) -> QCWarning | None:
    """``not_converged`` when the best restart of the selected rank stopped at its sweep
    cap rather than by the tolerance.

    Parameters
    ----------
    restarts : DataFrame or None
        That rank's restart table (``fits/R<rank>/restarts.tsv``,
        :meth:`moonlight.NMFResult.restarts_frame`): ``n_iter``, ``converged``, ``best``
        (and ``stopped``: restarts a race stopped, which never converge by design). None
        for rank 1 (fitted in closed form).
    rank : int
        The selected rank.
    """
    if restarts is None or restarts.empty:
        return None
    best = restarts.loc[restarts["best"].astype(bool)].iloc[0]
    if bool(best["converged"]):
        return None
    ran = restarts.loc[~restarts.get("stopped", pd.Series(False, index=restarts.index))
                       .astype(bool)]
    return QCWarning(
        "not_converged",
        f"the best restart of R = {rank} stopped at its sweep cap ({int(best['n_iter'])} "
        f"sweeps) before its log likelihood settled ({int(ran['converged'].astype(bool).sum())} "
        f"of {len(ran)} restarts converged): W, H and the calls may still move; raise "
        "fit.max_iter",
    )


def top_rank_warning(selection: pd.DataFrame) -> QCWarning | None:
    """``rank_at_top`` when the selected rank is the largest fitted rank (rank 1 only
    when no rank above it was fitted: then no module was looked for), or when the
    held-out likelihood still rose there and the effect-size cap chose a smaller R
    (:func:`moonlight.selection.still_rising`).

    Parameters
    ----------
    selection : DataFrame
        The rank table (``rank_selection.tsv``): ``rank`` and ``selected``.
    """
    ranks = selection["rank"].to_numpy(dtype=np.int64)
    rank = selected_rank(selection)
    if rank < ranks.max():
        if not still_rising(selection):
            return None
        above = selection.loc[selection["rank"] > rank].sort_values("rank").iloc[0]
        share = (f", which took {float(above['gain_share']):.3g} of the held-out gain"
                 if "gain_share" in selection else "")
        return QCWarning(
            "rank_at_top",
            f"the held-out likelihood still rose at the largest rank fitted ({ranks.max()}): "
            f"every step up to it beat the one before by more than a standard error, and "
            f"the effect-size cap (selection.min_gain) stopped R at {rank}, before the step "
            f"to {int(above['rank'])}{share}; with larger ranks fitted the likelihood may "
            "stop and the rule choose another R: fit larger ranks (ranks:, or "
            "selection.extend_to)")
    if rank == 1:
        return QCWarning(
            "rank_at_top",
            "rank 1 is the only rank fitted, so no module structure was looked for: fit "
            "ranks above 1 (ranks:) to find modules")
    return QCWarning(
        "rank_at_top",
        f"the selected rank {rank} is the largest rank fitted: the held-out likelihood "
        "did not stop rising inside the range, so the structure may be larger, or extra "
        "modules may absorb overdispersion or technical axes; fit larger ranks (ranks:, "
        "or selection.extend_to to grow the range until the rule stops inside it), and "
        "read the extra modules with care; no moonlighting call was checked at the rank "
        "above (modules.rank_guard needs it fitted)",
    )


def diffuse_warning(associations: pd.DataFrame) -> QCWarning | None:
    """``diffuse_module`` naming every module that no sample and no gene is ruled by
    (``diffuse`` of :func:`moonlight.technical.mark_background`, and so background)
    that no technical covariate flags (:func:`technical_warning` names a flagged one)."""
    if "diffuse" not in associations:  # module_covariates.tsv of an older run
        return None
    flagged = set(technical_modules(associations)["module"])
    marked = associations.loc[associations["diffuse"].astype(bool), "module"]
    modules = [m for m in dict.fromkeys(marked) if m not in flagged]
    if not modules:
        return None
    return QCWarning(
        "diffuse_module",
        f"module(s) {', '.join(modules)} hold more than half of no sample's counts, are "
        "the top module of fewer than modules.background_top_max of the samples and "
        "have no genes of their own (most of the W column on genes of other modules), "
        "and no technical covariate follows them (module_covariates.tsv, diffuse): they "
        "are background, so their shares are left out of every gene's calls and class "
        "(a gene with a share in one is not called moonlighting in it); the selected "
        "rank may hold a module more than the data's sources: read the fit one rank "
        "fewer beside it",
    )


def technical_warning(associations: pd.DataFrame) -> QCWarning | None:
    """``technical_module`` naming every flagged module of
    :func:`moonlight.technical.module_associations` with its strongest covariate."""
    flagged = technical_modules(associations)
    if flagged.empty:
        return None
    named = ", ".join(f"{m} ({c}, rho {r:+.2f})" for m, c, r in
                      flagged[["module", "covariate", "rho"]].itertuples(index=False))
    background = flagged.loc[flagged["background"].astype(bool), "module"].tolist()
    left_out = "" if not background else (
        f"; {', '.join(background)}: the main program of almost no sample, so background, "
        "left out of the genes' shares in the calls and classes")
    return QCWarning(
        "technical_module",
        f"module(s) whose usage follows a technical axis of the samples: {named}; read "
        f"them as that axis, not as biological programs, unless a module is the main "
        f"program of many samples: a cell type with fewer counts per cell, or a line "
        f"with more mitochondrial reads, is a source the axis follows "
        f"(module_covariates.tsv){left_out}",
    )


def capped_fits_warning(candidates: pd.DataFrame) -> QCWarning | None:
    """``row_fit_cap`` naming the moonlighting candidates whose tests have a row fit
    that stopped at its iteration cap (``fits_at_cap`` of
    :func:`moonlight.confidence.moonlighting_confidence`; interval fits at the cap,
    ``interval_fits_at_cap``, are listed in the table only)."""
    if "fits_at_cap" not in candidates:
        return None
    capped = candidates.loc[candidates["fits_at_cap"].astype(bool)]
    if capped.empty:
        return None
    called = int(capped["called"].astype(bool).sum())
    return QCWarning(
        "row_fit_cap",
        f"{len(capped)} of {len(candidates)} moonlighting candidates ({called} called) "
        f"have a test whose row fit stopped at its iteration cap: "
        f"{_names(capped['gene'])}; their statistics may be off "
        "(moonlighting_candidates.tsv, column fits_at_cap): raise modules.row_max_iter",
    )


def mito_ribo_warnings(module_genes: pd.DataFrame, *,
                       top: int = default("qc.mito_ribo_top"),
                       share: float = default("qc.mito_ribo_share")) -> list[QCWarning]:
    """``mito_ribo_module`` for every module whose ``top`` genes are at least ``share``
    mitochondrial or ribosomal (:func:`moonlight.genefilter.mito_ribo_modules`)."""
    return [QCWarning("mito_ribo_module",
                      f"module {module}: {len(genes)} of its top genes are mitochondrial or "
                      f"ribosomal ({', '.join(genes)}); such genes follow cell quality and "
                      "size more than identity: read the module with care, or leave them "
                      "out with exclude_genes (e.g. ['^MT-', '^RP[SL]\\d']) and run again")
            for module, genes in mito_ribo_modules(module_genes, top, share).items()]


def class_record(classes: pd.DataFrame, candidates: pd.DataFrame | None = None
                 ) -> list[dict[str, str]]:
    """Rows of the QC record: genes per class (:mod:`moonlight.classes`) at the selected
    rank, with the share of all genes; and a note when confirmed candidates were classed
    broad because the fit has no module besides their two (``candidates``, the
    moonlighting candidates)."""
    total = max(len(classes), 1)
    rows = [_row(f"genes_{name}", int(n), f"{n / total:.1%} of the fitted genes")
            for name, n in class_counts(classes).items()]
    if candidates is not None and "confirmed" in candidates:
        every = int((candidates["confirmed"].astype(bool)
                     & ~candidates["called"].astype(bool)).sum())
        if every:
            rows.append(_row("note", "", f"{every} gene(s) confirmed in both of the fit's "
                                         "two modules (background ones aside) are classed "
                                         "broad, not moonlighting: a gene in both is in "
                                         "every module, and a call needs a module the gene "
                                         "is clearly not in (fit three or more)"))
    return rows


def qc_table(rows: list[dict[str, str]], warnings: list[QCWarning]) -> pd.DataFrame:
    """The QC record: ``rows`` then one ``warning`` row per warning (logged too)."""
    for warning in warnings:
        logger.warning("%s: %s", warning.kind, warning.message)
    table = rows + [_row("warning", w.kind, w.message) for w in warnings]
    return pd.DataFrame(table, columns=QC_COLUMNS)


def quality_record(counts: Counts | pd.DataFrame, selection: pd.DataFrame,
                   heldout: pd.DataFrame, classes: pd.DataFrame,
                   associations: pd.DataFrame, *,
                   read_rows: list[dict[str, str]] | None = None,
                   outlier_factor: float = DEFAULT_OUTLIER_FACTOR,
                   mito_ribo_top: int = default("qc.mito_ribo_top"),
                   mito_ribo_share: float = default("qc.mito_ribo_share"),
                   gene_set_coverage: str | None = None,
                   module_genes: pd.DataFrame | None = None,
                   candidates: pd.DataFrame | None = None,
                   restarts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The QC record of one analysed data set (rule ``qc``, and ``Analysis.qc``).

    Parameters
    ----------
    counts : Counts or DataFrame
        The counts that were fitted.
    selection : DataFrame
        The rank table (``rank``, ``selected``).
    heldout : DataFrame
        Per-fold held-out rows of every fitted rank and of rank 1.
    classes, associations : DataFrame
        The gene classes and the module-covariate associations of the calls.
    read_rows : list of dict, optional
        How the input was read (``read.tsv``), first in the record.
    outlier_factor : float
        Config ``qc.outlier_factor``.
    mito_ribo_top, mito_ribo_share : int, float
        Config ``qc.mito_ribo_top`` and ``qc.mito_ribo_share`` (the ``mito_ribo_module``
        warning).
    gene_set_coverage : str, optional
        The enrichment step's coverage message
        (:func:`moonlight.enrichment.coverage_warning`): a ``gene_set_coverage`` warning.
    module_genes : DataFrame, optional
        Every module's ranked genes (``module_genes.tsv``): a ``mito_ribo_module``
        warning for a module whose top genes are mostly mitochondrial or ribosomal.
    candidates : DataFrame, optional
        The moonlighting candidates (``moonlighting_candidates.tsv``): a ``row_fit_cap``
        warning when a test's row fit stopped at its iteration cap.
    restarts : DataFrame, optional
        The selected rank's restart table: a ``not_converged`` warning when its best
        restart stopped at the sweep cap.
    """
    rank = selected_rank(selection)
    warnings = [structure_warning(heldout, rank), top_rank_warning(selection),
                stability_warning(selection, heldout), convergence_warning(restarts, rank),
                technical_warning(associations), diffuse_warning(associations)]
    warnings += outlier_warnings(counts, outlier_factor)
    warnings += [*range_warnings(counts), orientation_warning(counts)]
    if gene_set_coverage:
        warnings.append(QCWarning("gene_set_coverage", gene_set_coverage))
    if module_genes is not None:
        warnings += mito_ribo_warnings(module_genes, top=mito_ribo_top,
                                       share=mito_ribo_share)
    if candidates is not None:
        warnings.append(capped_fits_warning(candidates))
    rows = list(read_rows or []) + count_record(counts) + class_record(classes, candidates)
    return qc_table(rows, [w for w in warnings if w is not None])


def warnings_of(record: pd.DataFrame) -> str:
    """The warnings of a QC record as one short string for the summary (kinds, ``;``-
    separated, an outlier with its gene and sample), empty if none."""
    rows = record.loc[record["check"] == "warning"]
    parts = []
    for kind, detail in zip(rows["value"], rows["detail"]):
        parts.append(f"outlier ({detail.split(':')[0]})" if kind == "outlier" else kind)
    return "; ".join(parts)
