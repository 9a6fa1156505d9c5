"""How much to trust a moonlighting call: the calls at a false discovery rate.

A gene whose share exceeds the threshold in two or more modules is a candidate. It is
called when the share test (:mod:`moonlight.share_test`) says, at the false discovery
rate, that its second share is above the threshold and its share outside its two top
modules below the ceiling (an intersection-union test, Benjamini-Hochberg over the
candidates estimated below the ceiling), when most near-best restarts agree
(:func:`moonlighting_support`) and when the call holds one rank up
(:mod:`moonlight.rank_guard`), and when the fit has a module besides the gene's two (and
any background module) for it to be clearly not in: with two, a gene in both is in every
module. The derivation: docs/methods.md, "The share test, derived".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .config import default
from .counts import Counts
from .modules import (calling_shares, call_memberships, counted_modules, keep_called,
                      moonlighting_candidates, moonlighting_genes, normalize_rows)
from .multiple_testing import benjamini_hochberg
from .rank_guard import drop_private_modules, neighbour_confirmation, neighbour_fits
from .share_test import OVERDISPERSION, share_test, share_test_rows
from .stability import align_restarts, near_best

__all__ = ["moonlighting_support", "moonlighting_confidence", "share_test",
           "benjamini_hochberg", "neighbour_fits", "drop_private_modules",
           "CONFIDENCE_COLUMNS", "CANDIDATE_COLUMNS", "OVERDISPERSION",
           "MIN_CALLING_MODULES"]

#: Columns :func:`moonlighting_confidence` adds to the called genes.
CONFIDENCE_COLUMNS = ["support", "rest_share", "q"]

#: Columns of the candidate table, after :data:`moonlight.modules.MOONLIGHTING_COLUMNS`.
CANDIDATE_COLUMNS = [
    "top_module", "top_share", "top_share_low", "top_share_high",
    "second_module", "second_share", "second_share_low", "second_share_high",
    "dispersion", "pearson_phi", "lr_threshold", "statistic", "p", "rest_share",
    "rest_statistic", "rest_p", "q", "support",
    "neighbour_rank", "neighbour_p", "neighbour_q", "confirmed", "called", "fits_at_cap",
    "interval_fits_at_cap",
]

#: Modules a call needs, background ones aside: the gene's two and one it is clearly not
#: in. With two, a gene in both is in every module, which is broad, not moonlighting
#: (:mod:`moonlight.classes`); its test still runs and says ``confirmed``.
MIN_CALLING_MODULES = 3


def _module_sets(W: pd.DataFrame, threshold: float,
                 background: Sequence[str] = ()) -> dict[str, frozenset[str]]:
    members = call_memberships(calling_shares(normalize_rows(W), background), threshold)
    return {g: frozenset(m) for g, m in members.groupby("gene", sort=False)["module"]}


def moonlighting_support(Ws: list[pd.DataFrame], logliks: ArrayLike, genes: list[str], *,
                         threshold: float, margin: float,
                         background: Sequence[str] = ()) -> pd.Series:
    """Fraction of near-best restarts calling each gene in the same modules as the best.

    ``Ws`` are every restart's W (genes x modules, same genes); modules of each restart
    are matched to the best restart's before the calls are compared, and the best's
    ``background`` modules are left out of every restart's memberships
    (:func:`moonlight.modules.calling_shares`).
    """
    chosen = near_best(logliks, margin)
    arrays = align_restarts([np.asarray(Ws[k], float) for k in chosen], reference=0)
    ref = Ws[chosen[0]]
    sets = [_module_sets(pd.DataFrame(A, index=ref.index, columns=ref.columns), threshold,
                         background) for A in arrays]
    return pd.Series(
        [float(np.mean([s[g] == sets[0][g] for s in sets])) for g in genes],
        index=pd.Index(genes, name="gene"), name="support", dtype=float,
    )


def _moonlighting_q(tests: pd.DataFrame, ceiling: float) -> NDArray[np.float64]:
    """Benjamini-Hochberg q-values of the intersection-union test of "in two modules and
    clearly not the rest" (docs/methods.md): ``max(min(1, 2 p2), min(1, 2 rest_p))``
    over the candidates whose estimated rest share is below the ceiling, each p-value
    doubled for the selection by its own estimate; NaN for the others (estimated above
    the ceiling: never called, and left out of the family)."""
    p2 = np.minimum(2.0 * tests["p"].to_numpy(dtype=np.float64), 1.0)
    p_rest = np.minimum(2.0 * tests["rest_p"].to_numpy(dtype=np.float64), 1.0)
    below = tests["rest_share"].to_numpy(dtype=np.float64) < ceiling
    q = np.full(len(tests), np.nan)
    q[below] = benjamini_hochberg(np.maximum(p2, p_rest)[below])
    return q


def moonlighting_confidence(
    counts: Counts | pd.DataFrame,
    W: pd.DataFrame,
    H: pd.DataFrame,
    Ws: list[pd.DataFrame],
    logliks: ArrayLike,
    *,
    threshold: float,
    ceiling: float,
    margin: float,
    fdr: float = default("modules.fdr"),
    min_support: float = default("modules.min_support"),
    level: float = default("modules.level"),
    overdispersion: str = default("modules.overdispersion"),
    neighbours: Mapping[int, tuple[pd.DataFrame, ...]] | None = None,
    neighbour_level: float = default("modules.neighbour_level"),
    private_gene_share: float = default("modules.private_gene_share"),
    offsets: pd.DataFrame | None = None,
    background: Sequence[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Moonlighting candidates, their share test, and the calls at a false discovery rate.

    Parameters
    ----------
    counts : Counts or DataFrame (genes x samples)
        The fitted table (at least the candidates of W; H's samples, in any order). Only
        the candidates' rows are read, in dense blocks (sparse counts stay sparse).
    W, H : DataFrame
        The selected (best) fit: W genes x modules, H modules x samples.
    Ws, logliks
        Every restart's W at that rank and its log likelihood (for ``support``).
    threshold : float
        ``modules.threshold``: membership above this share.
    ceiling : float
        ``modules.ceiling``: a call's share outside its two modules must be clearly
        below this. H0 is "second share <= threshold or rest share >= ceiling".
    margin : float
        Near-best restarts are within this of the best log likelihood.
    fdr : float
        Benjamini-Hochberg level: a candidate needs ``q <= fdr``, q adjusting the
        intersection-union p-value ``max(min(1, 2 p), rest_p)``.
    min_support : float
        A call also needs ``support >= min_support``.
    level : float
        Confidence level of the share intervals.
    overdispersion : {"negative_binomial", "quasi_poisson"}
        Row model of the share test (:func:`share_test`).
    neighbours : mapping rank -> (W, H), optional
        Fits at which every call must also hold (:func:`neighbour_fits` gives the
        workflow's choice, the rank above): there the candidates' second-share tests,
        Benjamini-Hochberg adjusted over the candidates, must give the gene
        ``q <= neighbour_level``.
    neighbour_level : float
        FDR level of the confirmation at the neighbouring ranks (``modules.neighbour_level``).
    private_gene_share : float
        A neighbour's modules one gene holds more than this share of are left out of
        its test (``modules.private_gene_share``;
        :func:`moonlight.rank_guard.drop_private_modules`).
    offsets : DataFrame (genes x samples), optional
        Known factors of every mean (the batch factors, :mod:`moonlight.batches`), for
        the share test (:func:`share_test`); a neighbour then carries its own as a
        third element.
    background : sequence of str
        Modules left out of the candidates' shares (:func:`moonlight.modules.calling_shares`;
        :func:`moonlight.technical.mark_background` chooses them): a candidate is in
        two modules besides them, its top module is none of them
        (:func:`moonlight.modules.moonlighting_candidates`), and the share test counts
        no share of theirs (the rank guard reads the fit above as it is).

    Returns
    -------
    called : DataFrame
        The called genes: ``gene``, ``n_modules``, ``modules``, ``shares`` (of
        :func:`moonlight.modules.moonlighting_genes`: the two modules the call tested,
        W's top two, even where W puts a third share above the threshold) and
        :data:`CONFIDENCE_COLUMNS`.
    candidates : DataFrame
        Every candidate: the same four columns and :data:`CANDIDATE_COLUMNS`
        (``neighbour_rank``, ``neighbour_p``, ``neighbour_q``: the neighbouring rank
        with the largest q and the gene's p and q there, empty without neighbours;
        ``confirmed``: the test's verdict (q, support and the rank guard); ``called``:
        the call, a confirmed gene when the fit has :data:`MIN_CALLING_MODULES` modules
        besides the background ones; ``fits_at_cap``: a row fit of the gene's tests, here or at
        a neighbour, stopped at its iteration cap, so that a statistic may be off;
        ``interval_fits_at_cap``: the same of its intervals' profile fits).
    """
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr}")
    if not 0 <= min_support <= 1:
        raise ValueError(f"min_support must be in [0, 1], got {min_support}")
    if not 0 < neighbour_level < 1:
        raise ValueError(f"neighbour_level must be in (0, 1), got {neighbour_level}")
    W_normalized = normalize_rows(W)
    members = call_memberships(calling_shares(W_normalized, background), threshold)
    candidates = moonlighting_candidates(W_normalized, threshold, background)
    genes = list(candidates["gene"])
    table = pd.DataFrame(index=pd.Index(genes, name="gene"))
    if genes:
        counts = Counts.of(counts)
        table = share_test_rows(counts, genes, W, H, threshold=threshold, ceiling=ceiling,
                                level=level, overdispersion=overdispersion, offsets=offsets,
                                background=background)
        table["q"] = _moonlighting_q(table, ceiling)
        table["support"] = moonlighting_support(Ws, logliks, genes, threshold=threshold,
                                                margin=margin,
                                                background=background).to_numpy()
        guard = neighbour_confirmation(counts, genes, neighbours or {}, threshold=threshold,
                                       overdispersion=overdispersion,
                                       private_gene_share=private_gene_share)
        table[guard.columns] = guard
        table["fits_at_cap"] = table["fits_at_cap"] | table["neighbour_fits_at_cap"]
        holds = ~(table["neighbour_q"] > neighbour_level)  # no neighbour: holds
        table["confirmed"] = (table["q"] <= fdr) & (table["support"] >= min_support) & holds
        table["called"] = table["confirmed"] & (
            counted_modules(W.columns, background) >= MIN_CALLING_MODULES)
    else:
        for key in CANDIDATE_COLUMNS:
            table[key] = pd.Series(dtype=object if key in {"top_module", "second_module"}
                                   else bool if key in {"confirmed", "called",
                                                        "fits_at_cap",
                                                        "interval_fits_at_cap"}
                                   else float)
    candidates = pd.concat([candidates.reset_index(drop=True),
                            table[CANDIDATE_COLUMNS].reset_index(drop=True)], axis=1)
    is_called = candidates["called"].astype(bool).to_numpy()
    # A call names its two tested modules (a third of W above the threshold is "the rest").
    called = moonlighting_genes(keep_called(members, candidates.loc[is_called, "gene"]))
    called = pd.concat([called, candidates.loc[is_called, CONFIDENCE_COLUMNS]
                        .reset_index(drop=True)], axis=1)
    return called, candidates
