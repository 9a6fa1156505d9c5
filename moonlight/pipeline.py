"""The whole analysis of one count table in one call, without Snakemake.

The workflow runs the same steps as separate jobs (fit and crossval per rank, then
select_rank, then call_modules); :func:`analyse` chains them in-process, for the
benchmark grid (``benchmarks/selection_grid.py``), tests and interactive use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .confidence import moonlighting_confidence
from .crossval import cross_validate, cv_summary
from .modules import call_memberships, keep_called, normalize_rows
from .selection import rank_table
from .nmf import fit_nmf
from .stability import stability_summary

__all__ = ["Analysis", "analyse", "DEFAULT_SELECTION"]

#: Defaults of the config's ``selection:`` block.
DEFAULT_SELECTION: dict[str, Any] = {
    "folds": 5,
    "seed": 0,
    "restarts": 3,
    "tol": 1e-8,
    "max_iter": 2000,
    "check_every": 1,
    "min_stability": 0.9,
    "margin": 5.0,
}


@dataclass(frozen=True)
class Analysis:
    """Results of :func:`analyse`: ``table`` (rank selection), ``rank``, the selected
    ``W`` and ``H``, ``memberships``, ``moonlighting`` (called genes) and ``candidates``."""

    table: pd.DataFrame
    rank: int
    W: pd.DataFrame
    H: pd.DataFrame
    memberships: pd.DataFrame
    moonlighting: pd.DataFrame
    candidates: pd.DataFrame


def analyse(
    counts: pd.DataFrame,
    ranks: Iterable[int],
    *,
    restarts: int = 10,
    fit: dict[str, Any] | None = None,
    selection: dict[str, Any] | None = None,
    threshold: float = 0.1,
    min_support: float = 0.0,
    min_lr: float = 0.0,
    min_second_weight: float = 0.0,
) -> Analysis:
    """Fit every rank, cross-validate, select R by the rule, call moonlighting genes.

    ``fit`` goes to :func:`moonlight.fit_nmf` (``seed``, ``tol``, ``max_iter``, ...);
    ``selection`` overrides :data:`DEFAULT_SELECTION`.
    """
    fit = dict(fit or {})
    sel = {**DEFAULT_SELECTION, **(selection or {})}
    fits, logliks, stab, cv = {}, [], [], []
    for rank in sorted(ranks):
        fits[rank] = fit_nmf(counts, rank, restarts=restarts, **fit)
        ll = fits[rank].logliks
        logliks.append(pd.DataFrame({"rank": rank, "loglik": ll}))
        stab.append(stability_summary(list(fits[rank].W_restarts), ll, margin=sel["margin"],
                                      rank=rank))
        cv.append(cross_validate(counts, rank, folds=sel["folds"], seed=sel["seed"],
                                 restarts=sel["restarts"], tol=sel["tol"],
                                 max_iter=sel["max_iter"], check_every=sel["check_every"]))
    table = rank_table(pd.concat(logliks), *counts.shape, cv=cv_summary(pd.concat(cv)),
                       stability=pd.DataFrame(stab), min_stability=sel["min_stability"])
    rank = int(table.loc[table["selected"], "rank"].iat[0])
    chosen = fits[rank]
    W, H = chosen.W_frame(), chosen.H_frame()
    called, candidates = moonlighting_confidence(
        counts, W, H, chosen.W_restart_frames(), chosen.logliks,
        threshold=threshold, margin=sel["margin"], min_support=min_support, min_lr=min_lr,
        min_second_weight=min_second_weight,
    )
    return Analysis(table=table, rank=rank, W=W, H=H,
                    memberships=keep_called(call_memberships(normalize_rows(W), threshold),
                                            called["gene"]),
                    moonlighting=called, candidates=candidates)
