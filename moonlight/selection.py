"""Choosing the number of modules R.

The log likelihood of nested models only rises with R, so its maximum is no answer.
moonlight uses the Bayesian information criterion, written out:

    BIC(R) = -2 log L_R + k_R log n,    k_R = R (N + M - 1),    n = N M

where log L_R is the best log likelihood over restarts at rank R, k_R the free parameters
(see :func:`moonlight.likelihood.n_free_parameters`) and n the number of observed
counts. The selected R is the one with the smallest BIC (ties: the smaller R).
AIC (``-2 log L + 2 k``) is reported beside it for reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .likelihood import n_free_parameters

__all__ = ["rank_table"]


def rank_table(restarts: pd.DataFrame, n_genes: int, n_samples: int) -> pd.DataFrame:
    """Summarize fits across ranks and select R by minimum BIC.

    Parameters
    ----------
    restarts : DataFrame
        One row per (rank, restart) with at least columns ``rank`` and ``loglik``.
    n_genes, n_samples : int
        N and M of the fitted table.

    Returns
    -------
    DataFrame
        One row per rank, in increasing order: ``rank``, ``loglik`` (best restart),
        ``loglik_spread`` (best minus worst restart), ``n_params``, ``bic``, ``aic``,
        ``selected`` (True on exactly one row).
    """
    missing = {"rank", "loglik"} - set(restarts.columns)
    if missing:
        raise ValueError(f"restarts table lacks column(s) {sorted(missing)}")
    if restarts.empty:
        raise ValueError("no fits to select a rank from")
    grouped = restarts.groupby("rank")["loglik"]
    table = pd.DataFrame(
        {"loglik": grouped.max(), "loglik_spread": grouped.max() - grouped.min()}
    ).reset_index()
    table["n_params"] = [n_free_parameters(n_genes, n_samples, int(r)) for r in table["rank"]]
    n_obs = n_genes * n_samples
    table["bic"] = -2.0 * table["loglik"] + table["n_params"] * np.log(n_obs)
    table["aic"] = -2.0 * table["loglik"] + 2.0 * table["n_params"]
    table["selected"] = False
    table.loc[table["bic"].idxmin(), "selected"] = True
    return table
