"""The analysis of one count table as a sequence of steps, shared by the workflow and
by notebooks.

The workflow runs each step as its own job (``fit`` and ``crossval`` per rank, then
``select_rank``, then ``call_modules``); its rule scripts call :func:`choose_rank` and
:func:`call_modules` below. :func:`analyse` chains the same steps in one process, with
the same defaults: every setting not given is the ``default:`` of the workflow's config
schema (:func:`moonlight.config.defaults`), which is also what the default
``config.yaml`` holds. So ``analyse(table)`` and the workflow on the same table give the
same modules and calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import progress
from .annotations import Annotated, annotate_modules
from .batches import Batches, factors, offsets
from .classes import broad_p, broad_test, flat_deviance, gene_classes, rest_shares
from .config import (crossval_settings, default, defaults, did_you_mean, fit_settings,
                     size_requirements, validate)
from .confidence import moonlighting_confidence, neighbour_fits
from .crossval import cross_validate, cv_summary
from .enrichment import module_enrichment
from .genesets import rank_genes
from .counts import Counts, refuse_path
from .likelihood import rank_one
from .modules import (calling_shares, call_memberships, keep_called, moonlighting_candidates,
                      normalize_columns, normalize_rows)
from .nmf import NMFResult, fit_nmf
from .prefilter import SELECTION_OPTIONS
from .prepare import prepare_counts, refuse_totals
from .qc import quality_record
from .rowmodel import fitting_threads
from .selection import next_rank, rank_table, selected_rank, withhold_structureless
from .singlecell import read_anndata, read_rows
from .stability import near_best_consensus, stability_summary
from .technical import library_covariates, mark_background, module_associations

__all__ = ["Analysis", "ModuleCalls", "analyse", "call_modules", "choose_rank",
           "classify_genes", "fit_rank", "heldout_folds"]

def fit_rank(counts: Counts, rank: int, **settings: Any) -> NMFResult:
    """:func:`moonlight.fit_nmf` of the counts (names kept)."""
    with progress.step(f"fit, R = {rank}"):
        return fit_nmf(counts.matrix, rank, genes=counts.genes, samples=counts.samples,
                       **settings)


def heldout_folds(counts: Counts, rank: int, **settings: Any) -> pd.DataFrame:
    """:func:`moonlight.crossval.cross_validate` of the counts."""
    with progress.step(f"cross-validation, R = {rank}"):
        return cross_validate(counts.matrix, rank, **settings)


def gene_offsets(beta: pd.DataFrame | None, batches: Batches | None, genes: Sequence[str],
                 samples: Sequence[str]) -> pd.DataFrame | None:
    """The named genes' batch factor in every sample (genes x samples), or None without
    batches: the known offsets of the gene tests (:func:`moonlight.batches.offsets`)."""
    if beta is None or batches is None:
        return None
    genes = list(genes)
    return pd.DataFrame(offsets(beta.loc[genes], batches), index=genes,
                        columns=list(samples))


def rank_one_fit(counts: Counts) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The rank-1 Poisson fit in closed form (:func:`moonlight.likelihood.rank_one`:
    every gene follows the samples' depths) as W and H frames, and its log likelihood.
    The model the workflow reports when the counts show no module structure."""
    w, cols, loglik = rank_one(counts.matrix)
    W = pd.DataFrame({"M1": w}, index=pd.Index(counts.genes, name="gene"))
    H = pd.DataFrame([cols], index=pd.Index(["M1"], name="module"), columns=counts.samples)
    return W, H, loglik


@dataclass(frozen=True)
class ModuleCalls:
    """Modules and moonlighting genes at one rank.

    Attributes
    ----------
    W : DataFrame
        Genes x modules, each column summing to one.
    W_normalized : DataFrame
        ``W`` with each row normalized to sum to one (a gene's share in each module).
    memberships : DataFrame
        ``gene``, ``module``, ``share``: every module a gene belongs to; a candidate
        whose moonlighting call was not confirmed keeps only its top module.
    moonlighting : DataFrame
        The called moonlighting genes.
    candidates : DataFrame
        Every candidate (two or more modules by the threshold) with its statistics and
        whether it was called.
    classes : DataFrame
        Every gene's class (specific, moonlighting, broad, unassigned) with its
        statistics (:func:`moonlight.classes.gene_classes`).
    associations : DataFrame
        Every module's usage against every technical covariate, and which modules are
        flagged technical (:func:`moonlight.technical.module_associations`).
    module_genes : DataFrame
        Every member gene of every module, ranked by its weight
        (:func:`moonlight.genesets.rank_genes`; the workflow's ``module_genes.tsv``).
    consensus : DataFrame
        How often two genes share their top module across the near-best restarts
        (:func:`moonlight.stability.near_best_consensus`; ``consensus.tsv``).
    """

    W: pd.DataFrame
    W_normalized: pd.DataFrame
    memberships: pd.DataFrame
    moonlighting: pd.DataFrame
    candidates: pd.DataFrame
    classes: pd.DataFrame
    associations: pd.DataFrame
    module_genes: pd.DataFrame
    consensus: pd.DataFrame


def choose_rank(logliks: pd.DataFrame, n_genes: int, n_samples: int,
                heldout: pd.DataFrame, stability: pd.DataFrame, *,
                min_stability: float, baseline: pd.DataFrame | None = None,
                min_gain: float, cap_when: str, min_gain_stopped: float,
                n_batches: int = 1) -> pd.DataFrame:
    """The rank table with the rule's choice (:func:`moonlight.selection.rank_table`).

    Parameters
    ----------
    logliks : DataFrame
        Every restart's ``rank`` and ``loglik``.
    n_genes, n_samples : int
        Size of the table.
    heldout : DataFrame
        Per-fold rows of :func:`moonlight.crossval.cross_validate`, every fitted rank
        (the one-SE rule uses the standard error of paired fold differences).
    stability : DataFrame
        One :func:`moonlight.stability.stability_summary` row per rank.
    min_stability : float
        The stability floor (config ``selection.min_stability``).
    baseline : DataFrame, optional
        Per-fold rows of rank 1 on the same folds (the no-structure baseline): with it
        the rule's effect-size cap applies (:mod:`moonlight.selection`).
    min_gain : float
        The cap's floor (config ``selection.min_gain``).
    cap_when : {"always", "rising"}
        When the cap applies (config ``selection.cap_when``).
    min_gain_stopped : float
        The cap's floor where the held-out likelihood stops inside the range (config
        ``selection.min_gain_stopped``).
    n_batches : int
        Known batches (``batch:``) of the batch model, counted in BIC and AIC.
    """
    cv1 = None if baseline is None else float(baseline["heldout_loglik"].sum())
    table = rank_table(logliks, n_genes, n_samples, cv=cv_summary(heldout),
                       cv_folds=heldout, stability=stability, min_stability=min_stability,
                       baseline=cv1, min_gain=min_gain, cap_when=cap_when,
                       min_gain_stopped=min_gain_stopped, n_batches=n_batches)
    return table if baseline is None else withhold_structureless(table, heldout, baseline)


def call_modules(counts: Counts | pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame,
                 Ws: list[pd.DataFrame], logliks: ArrayLike, *, threshold: float,
                 ceiling: float, margin: float, technical_rho: float,
                 background_top_max: float = default("modules.background_top_max"),
                 rank_guard: bool = default("modules.rank_guard"),
                 fits: dict[int, tuple[pd.DataFrame, pd.DataFrame]] | None = None,
                 covariates: pd.DataFrame | None = None, batches: Batches | None = None,
                 threads: int = default("modules.threads"),
                 row_max_iter: int = default("modules.row_max_iter"),
                 **calls: Any) -> ModuleCalls:
    """Normalize W, call memberships and moonlighting genes with their confidence.

    Parameters
    ----------
    counts : Counts or DataFrame (genes x samples)
        Only the candidates' rows are read, in dense blocks (sparse counts are never
        densified whole).
    W, H : DataFrame
        The best fit at the selected rank (any column scale of W).
    Ws, logliks
        Every restart's W at that rank and its log likelihood (for restart support).
    threshold : float
        Membership threshold on row-normalized W (config ``modules.threshold``).
    ceiling : float
        Ceiling on a moonlighting gene's share outside its two modules, and the share
        above which a gene is broad (config ``modules.ceiling``).
    margin : float
        Near-best restarts are within this log likelihood of the best.
    rank_guard : bool
        A call must also hold at the fit one rank above (when ``fits`` has it).
    technical_rho : float
        Flag a module technical at this |rho| with a covariate (``modules.technical_rho``).
    background_top_max : float
        A flagged module that is the top module of fewer than this fraction of the
        samples (or of fewer than twice it while it holds more than half of no sample's
        counts) is background: left out of every gene's calls
        (``modules.background_top_max``; :func:`moonlight.technical.mark_background`);
        so is any module that leads fewer than this fraction, rules no sample and has
        no genes of its own (diffuse).
    fits : dict, optional
        ``rank -> (W, H)`` of every fitted rank, for the rank guard.
    covariates : DataFrame (samples x columns), optional
        Technical sample annotations (a data set's ``technical:`` obs columns), tested
        beside the counts' own read depth.
    batches : Batches, optional
        The samples' known batches when the fits are of the batch model
        (:mod:`moonlight.batches`): every gene test then takes the gene's batch factors
        at that fit (in closed form from W and H) as known offsets of its means.
    threads : int
        Threads the genes' row fits are shared out among (``modules.threads``; the
        same bytes for any count).
    row_max_iter : int
        Iterations a gene's row fit may take (``modules.row_max_iter``).
    **calls
        The rest of the config's ``modules:`` block, passed to
        :func:`moonlight.confidence.moonlighting_confidence`.
    """
    counts = Counts.of(counts)
    scale = W.sum(axis=0).to_numpy(dtype=np.float64)
    if not np.allclose(scale, 1.0, rtol=0.0, atol=1e-9):  # W H stays the fitted product
        H = H.mul(scale, axis=0)
    W = normalize_columns(W)
    W_normalized = normalize_rows(W)
    rank = W.shape[1]
    technical = library_covariates(counts.matrix, [str(s) for s in H.columns])
    if covariates is not None:
        technical = technical.join(covariates.set_axis(covariates.index.astype(str)))
    associations = module_associations(H, technical, min_rho=technical_rho,
                                       fdr=calls["fdr"])
    if rank == 1:  # the one module is the depths themselves, not a technical program
        associations = associations.iloc[0:0]
    associations = mark_background(associations, W, H, top_max=background_top_max)
    background = sorted(set(associations.loc[associations["background"], "module"]))
    genes = list(moonlighting_candidates(W_normalized, threshold, background)["gene"])
    neighbours = neighbour_fits(fits, rank) if rank_guard and fits else None
    samples = [str(s) for s in H.columns]

    def beta_of(W_: pd.DataFrame, H_: pd.DataFrame) -> pd.DataFrame | None:
        return None if batches is None else factors(counts.matrix, W_, H_, batches,
                                                    counts.genes)

    beta = beta_of(W, H)
    if batches is not None and neighbours:
        neighbours = {r: (W_n, H_n, gene_offsets(beta_of(W_n, H_n), batches, genes, samples))
                      for r, (W_n, H_n) in neighbours.items()}
    with fitting_threads(threads, row_max_iter):
        moonlighting, candidates = moonlighting_confidence(
            counts, W, H, Ws, logliks, threshold=threshold, ceiling=ceiling,
            margin=margin, neighbours=neighbours,
            offsets=gene_offsets(beta, batches, genes, samples), background=background,
            **calls)
        classes = classify_genes(counts, W, H, candidates, threshold=threshold,
                                 ceiling=ceiling, fdr=calls["fdr"],
                                 overdispersion=calls["overdispersion"], beta=beta,
                                 batches=batches, background=background)
    memberships = keep_called(call_memberships(calling_shares(W_normalized, background),
                                               threshold), moonlighting["gene"])
    memberships["class"] = memberships["gene"].map(
        classes.set_index("gene")["class"]).to_numpy()
    return ModuleCalls(W=W, W_normalized=W_normalized, memberships=memberships,
                       moonlighting=moonlighting, candidates=candidates, classes=classes,
                       associations=associations,
                       module_genes=rank_genes(W, memberships, moonlighting["gene"]),
                       consensus=near_best_consensus(Ws, logliks, margin=margin))


def classify_genes(counts: Counts, W: pd.DataFrame, H: pd.DataFrame,
                   candidates: pd.DataFrame, *, threshold: float, ceiling: float,
                   fdr: float, overdispersion: str, beta: pd.DataFrame | None = None,
                   batches: Batches | None = None, background: Sequence[str] = ()
                   ) -> pd.DataFrame:
    """Every gene's class (:func:`moonlight.classes.gene_classes`): the flat-profile
    test of every gene and the broad test of the genes above the ceiling, on dense row
    blocks (sparse counts are never densified whole). A candidate's rest test is read
    from ``candidates`` (:func:`moonlight.confidence.moonlighting_confidence` ran it);
    only the other genes above the ceiling are tested here. With known batches,
    ``beta`` (genes x batches) gives every test its gene's offsets. ``background``
    modules are left out of the shares (:func:`moonlight.modules.calling_shares`)."""
    W_normalized = normalize_rows(W)
    genes = [str(g) for g in W.index]

    def offsets_of(rows: pd.DataFrame) -> pd.DataFrame | None:
        return gene_offsets(beta, batches, rows.index, rows.columns)

    signal = pd.concat([flat_deviance(rows, W, H, offsets_of(rows))
                        for rows in counts.row_blocks(genes)])
    wide = np.asarray(genes, dtype=object)[rest_shares(W_normalized, background) > ceiling]
    tested = candidates.set_index("gene")
    seen = tested.index.intersection(wide)
    parts = [broad_p(tested.loc[seen], ceiling)]
    parts += [broad_test(rows, W, H, threshold=threshold, ceiling=ceiling,
                         overdispersion=overdispersion, offsets=offsets_of(rows),
                         background=background)
              for rows in counts.row_blocks([g for g in wide if g not in seen])]
    return gene_classes(W_normalized, candidates, signal, pd.concat(parts),
                        threshold=threshold, ceiling=ceiling, fdr=fdr, background=background)


def _per_sample(table: pd.DataFrame | pd.Series, samples: list[str], name: str,
                item: str) -> pd.DataFrame | pd.Series:
    """``table``'s rows (indexed by sample) for ``samples``, in their order; a sample
    without one ``item``, or with two, is refused by name."""
    if table.index.has_duplicates:
        twice = list(table.index[table.index.duplicated()].unique()[:3])
        raise ValueError(f"{name} has more than one {item} for sample(s) {twice}")
    lacking = [s for s in samples if s not in table.index]
    if lacking:
        raise ValueError(f"{name} has no {item} for {len(lacking)} sample(s), e.g. "
                         f"{lacking[:3]}")
    return table.loc[samples]


@dataclass(frozen=True)
class Analysis:
    """Results of :func:`analyse`: ``table`` (rank selection), ``rank``, the selected
    fit's ``W`` (columns summing to one) and ``H``, its :class:`ModuleCalls` as
    ``calls`` (``memberships``, ``moonlighting`` and ``candidates`` are shortcuts), and
    ``qc``, the QC record with its warnings (:func:`moonlight.qc.quality_record`, the
    workflow's ``qc.tsv`` without the rows on how a file was read), and ``enrichment``,
    the modules against the gene sets (None without gene sets), and ``annotations``, the
    modules against the samples' annotations (None without them), and ``batch_factors``,
    every gene's factor per batch at the selected fit (None without batches), and
    ``heldout``, the held-out log likelihood of every fold of every fitted rank and of
    rank 1 (:func:`moonlight.crossval.cross_validate` rows; the workflow's
    ``crossval/R*.tsv``), with which :func:`moonlight.selection.select_rank` applies
    the rule to ``table`` again with other settings."""

    table: pd.DataFrame
    rank: int
    W: pd.DataFrame
    H: pd.DataFrame
    calls: ModuleCalls
    qc: pd.DataFrame
    enrichment: pd.DataFrame | None = None
    annotations: Annotated | None = None
    batch_factors: pd.DataFrame | None = None
    heldout: pd.DataFrame | None = None

    @property
    def memberships(self) -> pd.DataFrame:
        return self.calls.memberships

    @property
    def moonlighting(self) -> pd.DataFrame:
        return self.calls.moonlighting

    @property
    def candidates(self) -> pd.DataFrame:
        return self.calls.candidates


def _check_arguments(counts: Any, ranks: Any, annotations: Any, covariates: Any,
                     modules: dict[str, Any], known_modules: dict[str, Any]) -> None:
    """What :func:`analyse` is given, refused by the argument's name before any work: a
    path for counts, one rank for ranks, annotations that are no table, a keyword that is
    neither an argument nor a ``modules:`` key (with the name it most likely misspells)."""
    import inspect

    refuse_path(counts, "analyse()")
    if ranks is not None and (isinstance(ranks, (int, np.integer, str))
                              or not isinstance(ranks, Iterable)):
        raise TypeError(f"analyse() ranks must be a list of ranks (for example [{ranks}] "
                        f"or range(2, 8)), got {ranks!r}")
    for name, table in (("annotations", annotations), ("covariates", covariates)):
        if table is not None and not isinstance(table, pd.DataFrame):
            raise TypeError(f"analyse() {name} must be a DataFrame with one row per sample "
                            f"(index: the sample names), got {type(table).__name__}")
    unknown = sorted(set(modules) - set(known_modules))
    if unknown:
        names = [p for p in inspect.signature(analyse).parameters if p != "modules"]
        words = [repr(key) + did_you_mean(key, names + list(known_modules)) for key in unknown]
        raise TypeError(f"analyse() got unknown keyword(s) {', '.join(words)}: neither an "
                        f"argument nor a modules setting (known: {sorted(known_modules)})")


#: The keys of ``analyse(select=...)`` that choose what of an AnnData is read.
ANNDATA_OPTIONS = ("matrix", "gene_ids")


def _is_anndata(counts: Any) -> bool:
    """Whether ``counts`` is an AnnData (checked without importing anndata)."""
    return any(kind.__name__ == "AnnData" and kind.__module__.startswith("anndata")
               for kind in type(counts).__mro__)


@progress.labelled("analyse")
def analyse(
    counts: Counts | pd.DataFrame | Any,
    ranks: Iterable[int] | None = None,
    *,
    restarts: int | None = None,
    fit: dict[str, Any] | None = None,
    selection: dict[str, Any] | None = None,
    qc: dict[str, Any] | None = None,
    gene_sets: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    enrichment: dict[str, Any] | None = None,
    annotations: pd.DataFrame | None = None,
    covariates: pd.DataFrame | None = None,
    select: dict[str, Any] | None = None,
    batches: pd.Series | Sequence[object] | None = None,
    **modules: Any,
) -> Analysis:
    """Fit every rank, cross-validate, select R by the rule, call modules and
    moonlighting genes: the workflow's steps in one call.

    Every setting left out is the workflow's default (:func:`moonlight.config.defaults`).

    Parameters
    ----------
    counts : Counts (dense or sparse), DataFrame (genes x samples) or AnnData
        An AnnData (cells x genes, as AnnData stores them) is read as the workflow reads
        an ``.h5ad`` (:func:`moonlight.singlecell.read_anndata`): ``X`` unless
        ``select={"matrix": "counts"}`` names a layer (or ``"raw"``), genes by
        ``var_names`` unless ``select={"gene_ids": True}``; its values must be raw
        integer counts (the error names the matrices that hold them).
    ranks : iterable of int, optional
        Ranks to fit (config ``ranks``).
    restarts : int, optional
        Random restarts per rank (config ``restarts``).
    fit, selection, qc : dict, optional
        Overrides of the config's ``fit:``, ``selection:`` and ``qc:`` blocks. The
        counts are prepared first as the workflow's data steps prepare every data set's
        (:func:`moonlight.prepare.prepare_counts`: outliers by ``qc.outliers``, all-zero
        genes and samples dropped, the gene selection, the size checked against the
        ranks and folds); what was done is at the top of the QC record.
    gene_sets : mapping of name -> genes, or list of GMT sources, optional
        Gene sets every module is tested against (config ``gene_sets``;
        :func:`moonlight.enrichment.module_enrichment`): ``Analysis.enrichment``.
    enrichment : dict, optional
        Overrides of the config's ``enrichment:`` block.
    annotations : DataFrame (samples x columns), optional
        What is known about the samples (a sample sheet, ``obs`` columns): every module's
        usage is tested against each column (:func:`moonlight.annotations.annotate_modules`):
        ``Analysis.annotations``.
    covariates : DataFrame (samples x columns), optional
        Technical sample annotations to test every module against (as a data set's
        ``technical:`` obs columns in the workflow).
    select : dict, optional
        Overrides of the config's ``gene_selection:`` (``keep_top_genes``,
        ``min_samples_per_gene``; for cells also ``min_counts_per_cell``), as a data
        entry's keys override it in the workflow (:func:`moonlight.prefilter.select_counts`).
        On dense counts the selection runs when it would drop a gene (a table with more
        genes than ``keep_top_genes``, a threshold above 0); on sparse counts always.
        What it did is in the QC record. For an AnnData also ``matrix`` and
        ``gene_ids`` (above).
    batches : Series indexed by sample, or one label per sample, optional
        Each sample's known batch (config ``batch:``): every fit, cross-validation and
        gene test is of the batch model (:mod:`moonlight.batches`);
        ``Analysis.batch_factors`` holds the factors.
    **modules
        Overrides of the config's ``modules:`` block (``threshold``, ...).
    """
    settings = defaults()
    _check_arguments(counts, ranks, annotations, covariates, modules, settings["modules"])
    for block, given in (("fit", fit), ("selection", selection), ("qc", qc),
                         ("enrichment", enrichment)):
        unknown = sorted(set(given or {}) - set(settings[block]))
        if unknown:
            words = ", ".join(repr(key) + did_you_mean(key, settings[block])
                              for key in unknown)
            raise TypeError(f"analyse() got unknown {block} setting(s) {words}; "
                            f"known: {sorted(settings[block])}")
    # an AnnData is read as the workflow reads an .h5ad: cells x genes, its matrix chosen
    read_options = ANNDATA_OPTIONS if _is_anndata(counts) else ()
    unknown = set(select or {}) - set(SELECTION_OPTIONS) - set(read_options)
    if unknown:
        raise TypeError(f"analyse() got unknown select option(s) {sorted(unknown)}; "
                        f"known: {[*SELECTION_OPTIONS, *read_options]}")
    read_record: list[dict[str, str]] = []
    as_read: dict[str, Any] = {}  # counts read (and checked) by the .h5ad reader's code
    if read_options:
        read = read_anndata(counts, **{k: v for k, v in (select or {}).items()
                                       if k in read_options})
        counts, read_record = Counts(read.counts, read.genes, read.cells), read_rows(read)
        refuse_totals(counts, read.path)
        as_read = {"source": read.path, "checked": True}
    counts = Counts.of(counts)
    checks = {**settings["qc"], **(qc or {})}
    if batches is not None:
        batches = (batches if isinstance(batches, pd.Series)
                   else pd.Series(list(batches), index=counts.samples))
        batches = batches.set_axis(batches.index.astype(str))
    ranks = settings["ranks"] if ranks is None else list(ranks)
    sel = {**settings["selection"], **(selection or {})}
    restarts = settings["restarts"] if restarts is None else restarts
    given = {**settings["fit"], **(fit or {})}
    mods = {**settings["modules"], **modules}
    tests = {**settings["enrichment"], **(enrichment or {})}
    # every value as the workflow's config is checked (types, ranges, unique ranks)
    validate({**settings, "ranks": ranks, "restarts": restarts, "fit": given,
              "selection": sel, "qc": checks, "modules": mods, "enrichment": tests})
    validate({"select": select or {}}, {"properties": {"select": {"allOf": [
        {"$ref": "#/$defs/gene_selection_options"},
        {"$ref": "#/$defs/single_cell_options"}]}}})
    needed, folds = size_requirements(ranks, sel)
    prepared = prepare_counts(counts, select, ranks=needed, folds=folds, qc=qc, **as_read)
    counts, data_rows = prepared.counts, read_record + prepared.record
    # the prepared samples (the data step may drop all-zero ones), as call_modules
    # joins them; a sample without a row is refused, as a sample sheet's is
    if covariates is not None:
        covariates = _per_sample(covariates.set_axis(covariates.index.astype(str)),
                                 counts.samples, "covariates", "row")
    if batches is not None:
        batches = Batches.of(_per_sample(batches, counts.samples, "batches", "label"))
    # the fit jobs' keywords; the thread count reaches the fits as a job's threads do
    fit = fit_settings(given, restarts, sel["margin"])
    fit["threads"] = given["threads"]
    fits, logliks, stability, heldout = {}, [], [], []
    cv_settings = crossval_settings(sel, counts.is_sparse)
    # rank 1's folds: the rule's no-structure baseline, and rank 1's own when it is fitted
    baseline = heldout_folds(counts, 1, batches=batches, **cv_settings)

    def add(rank: int) -> None:
        fits[rank] = fit_rank(counts, rank, restarts=restarts, batches=batches, **fit)
        ll = fits[rank].logliks
        logliks.append(pd.DataFrame({"rank": rank, "loglik": ll,
                                     "stopped": fits[rank].stopped_flags()}))
        stability.append(stability_summary(list(fits[rank].W_restarts), ll,
                                           margin=sel["margin"], rank=rank))
        heldout.append(baseline if rank == 1 else heldout_folds(
            counts, rank, batches=batches, **cv_settings))

    def table_now() -> pd.DataFrame:
        return choose_rank(pd.concat(logliks), *counts.shape, pd.concat(heldout),
                           pd.DataFrame(stability), min_stability=sel["min_stability"],
                           baseline=baseline, min_gain=sel["min_gain"],
                           cap_when=sel["cap_when"],
                           min_gain_stopped=sel["min_gain_stopped"],
                           n_batches=1 if batches is None else batches.n_batches)

    for rank in sorted(ranks):
        add(rank)
    table = table_now()
    while (grow := next_rank(table, sel["extend_to"])) is not None:
        add(grow)
        table = table_now()
    rank = selected_rank(table)
    if rank == 1:  # no structure (selection.withhold_structureless)
        W, H, ll = rank_one_fit(counts)
        Ws, lls = [W], np.array([ll])
    else:
        W, H = fits[rank].W_frame(), fits[rank].H_frame()
        Ws, lls = fits[rank].W_restart_frames(), fits[rank].logliks
    progress.show(f"R = {rank} selected; calling modules and moonlighting genes")
    calls = call_modules(counts, W, H, Ws, lls, margin=sel["margin"],
                         fits={r: (f.W_frame(), f.H_frame()) for r, f in fits.items()},
                         covariates=covariates, batches=batches, **mods)
    sets = settings["gene_sets"] if gene_sets is None else gene_sets
    tests.pop("fdr")  # the figure's level; analyse() draws none
    enriched = (module_enrichment(calls.W, calls.memberships, sets, **tests)
                if len(sets) else None)
    folds = pd.concat([*heldout, *([] if 1 in fits else [baseline])], ignore_index=True)
    record = quality_record(counts, table, folds, calls.classes,
                            calls.associations, read_rows=data_rows,
                            **{k: checks[k] for k in ("outlier_factor", "mito_ribo_top",
                                                      "mito_ribo_share")},
                            gene_set_coverage=enriched.warning if enriched else None,
                            module_genes=calls.module_genes,
                            candidates=calls.candidates,
                            restarts=fits[rank].restarts_frame() if rank in fits else None)
    return Analysis(table=table, rank=rank, W=calls.W, H=H, calls=calls, qc=record,
                    enrichment=None if enriched is None else enriched.table,
                    annotations=None if annotations is None
                    else annotate_modules(H, annotations),
                    batch_factors=None if batches is None
                    else factors(counts.matrix, W, H, batches, counts.genes),
                    heldout=folds)
