"""The rank guard: a moonlighting call must also hold at the fit one rank above the
selected one, where a module that too small an R merged splits in two (derivation in
docs/methods.md, "The share test, derived")."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from .config import default
from .counts import Counts
from .multiple_testing import benjamini_hochberg
from .share_test import share_test_rows

__all__ = ["drop_private_modules", "neighbour_ranks", "neighbour_fits",
           "neighbour_confirmation"]


def drop_private_modules(W: pd.DataFrame, H: pd.DataFrame, *,
                         max_gene_share: float = default("modules.private_gene_share")
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """W and H without the modules that one gene dominates (that gene holds more than
    ``max_gene_share`` of the module's column of W; ``modules.private_gene_share``).

    A fit with a module to spare often spends it on a single high-count gene's noise;
    such a *private* module says nothing about the other modules, and a gene tested
    against it would look like a one-module gene. At least two modules are kept.
    """
    column = W / W.sum(axis=0)
    private = column.max(axis=0) > max_gene_share
    if (~private).sum() < 2:
        return W, H
    keep = list(W.columns[~private.to_numpy()])
    return W[keep], H.loc[keep]


def neighbour_ranks(rank: int, fitted: Collection[int]) -> list[int]:
    """The fitted ranks a call at ``rank`` must also hold at: ``rank + 1``, if fitted
    (docs/methods.md says why the rank below is not used). Those fits are all the rank
    guard reads, so a caller need load no other."""
    return [rank + 1] if rank + 1 in fitted else []


def neighbour_fits(fits: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]], rank: int
                   ) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    """The fits of :func:`neighbour_ranks`; ``fits`` maps every fitted rank to its
    ``(W, H)``."""
    return {r: fits[r] for r in neighbour_ranks(rank, fits.keys())}


def neighbour_confirmation(counts: Counts | pd.DataFrame, genes: list[str],
                           neighbours: Mapping[int, tuple[pd.DataFrame, ...]], *,
                           threshold: float, overdispersion: str,
                           private_gene_share: float = default("modules.private_gene_share")
                           ) -> pd.DataFrame:
    """The candidates' second-share tests at every neighbouring fit, Benjamini-Hochberg
    adjusted over the candidates, keeping per gene the neighbour with the largest q
    (``counts``: the fitted table, of which the candidates' rows are read in dense
    blocks). A neighbour is ``(W, H)``, or ``(W, H, offsets)`` with known batches (the
    offsets of :func:`moonlight.share_test.share_test` at that fit).

    The second share only: at R + 1 a true module may split in two, and a moonlighting
    gene's rest share with it. Modules one gene dominates are dropped first
    (:func:`drop_private_modules`, at ``private_gene_share``).

    Returns
    -------
    DataFrame indexed by gene: ``neighbour_rank`` (empty without neighbours),
    ``neighbour_p`` and ``neighbour_q``, and ``neighbour_fits_at_cap`` (a row fit of the
    gene's test at some neighbour stopped at its iteration cap).
    """
    table = pd.DataFrame({"neighbour_rank": pd.array([pd.NA] * len(genes), dtype="Int64"),
                          "neighbour_p": np.nan, "neighbour_q": np.nan,
                          "neighbour_fits_at_cap": False},
                         index=pd.Index(genes, name="gene"))
    counts = Counts.of(counts)
    for rank, fit_n in sorted(neighbours.items()):
        W_n, H_n = drop_private_modules(*fit_n[:2], max_gene_share=private_gene_share)
        tested = share_test_rows(counts, genes, W_n, H_n, threshold=threshold,
                                 ceiling=None, level=None, overdispersion=overdispersion,
                                 offsets=fit_n[2] if len(fit_n) > 2 else None)
        p_n = tested["p"].to_numpy()
        table["neighbour_fits_at_cap"] |= tested["fits_at_cap"].to_numpy()
        q_n = benjamini_hochberg(p_n)
        worse = ~(q_n <= table["neighbour_q"].to_numpy())  # NaN counts as worse
        table.loc[worse, "neighbour_p"] = p_n[worse]
        table.loc[worse, "neighbour_q"] = q_n[worse]
        table.loc[worse, "neighbour_rank"] = rank
    return table
