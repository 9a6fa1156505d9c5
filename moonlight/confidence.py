"""How much to trust a moonlighting call: restart support and a likelihood-ratio statistic.

* ``support``: the fraction of near-best restarts (see :mod:`moonlight.stability`), after
  their modules are matched to the best restart's, in which the gene is called in the
  same set of modules as in the best restart. 1.0 = every near-best solution agrees.
* ``lr``: given the fitted H (modules x samples), gene i's row v is fitted by each single
  module, ``v_j ~ Poisson(a h_rj)`` (closed form ``a = sum v / sum h_r``), and by each
  pair, ``v_j ~ Poisson(a h_rj + b h_sj)`` with ``a, b >= 0`` (a concave problem, solved by
  multiplicative EM updates). ``lr = 2 (max over pairs log L2 - max over modules log L1)``
  (>= 0). For a one-module gene it is small (a boundary chi-square); a gene really in two
  modules has a large one. ``best_single`` and ``best_pair`` name the winning modules.

A gene in two or more modules by the W threshold is *called* moonlighting only when
``support >= min_support``, ``lr >= min_lr`` and its second-largest row-normalized weight
is at least ``min_second_weight``. The last is an effect size: ``lr`` is computed given
the *fitted* H, whose estimation error makes ``lr`` grow with a gene's counts even when
the gene is in one module, so on deep data a significant ``lr`` alone does not separate
a gene just above the membership threshold from a real two-module gene
(benchmarks/SELECTION.md).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaln, xlogy

from .modules import call_memberships, moonlighting_genes, normalize_rows
from .stability import align_restarts, near_best

__all__ = ["single_vs_pair_lr", "moonlighting_support", "moonlighting_confidence",
           "second_weights", "CONFIDENCE_COLUMNS"]

CONFIDENCE_COLUMNS = ["support", "lr", "best_single", "best_pair"]


def single_vs_pair_lr(rows: pd.DataFrame, H: pd.DataFrame, *, n_iter: int = 2000,
                      tol: float = 1e-10) -> pd.DataFrame:
    """Likelihood-ratio statistic of the best two-module over the best one-module fit.

    Parameters
    ----------
    rows : DataFrame (genes x samples)
        Count rows to test.
    H : DataFrame (modules x samples)
        Fitted module activities (same samples, same order).

    Returns
    -------
    DataFrame indexed by gene: ``loglik_single``, ``best_single``, ``loglik_pair``,
    ``best_pair`` ("Ma,Mb"), ``lr``.
    """
    V = rows.to_numpy(dtype=np.float64)  # (G, M)
    Hm = np.maximum(H.to_numpy(dtype=np.float64), 1e-300)  # (R, M)
    names = list(H.index)
    log_fact = gammaln(V + 1.0).sum(axis=1)

    # One module: a = sum v / sum h_r.
    a1 = V.sum(axis=1)[:, None] / Hm.sum(axis=1)[None, :]  # (G, R)
    mu1 = a1[:, :, None] * Hm[None, :, :]
    ll1 = xlogy(V[:, None, :], mu1).sum(axis=2) - mu1.sum(axis=2) - log_fact[:, None]
    best1 = ll1.argmax(axis=1)
    out = pd.DataFrame(index=rows.index)
    out["loglik_single"] = ll1[np.arange(len(V)), best1]
    out["best_single"] = [names[r] for r in best1]
    if len(names) < 2:
        out["loglik_pair"] = out["loglik_single"]
        out["best_pair"] = ""
        out["lr"] = 0.0
        return out

    pairs = list(itertools.combinations(range(len(names)), 2))
    P = np.stack([np.stack([Hm[r], Hm[s]]) for r, s in pairs])  # (P, 2, M)
    # Start halfway between the two single-module fits; EM (MU) never decreases log L.
    coef = 0.5 * np.stack([a1[:, [r for r, _ in pairs]], a1[:, [s for _, s in pairs]]],
                          axis=2)  # (G, P, 2)
    col = P.sum(axis=2)[None, :, :]  # (1, P, 2)
    prev = None
    for it in range(n_iter):
        mu = np.einsum("gpk,pkm->gpm", coef, P)
        ratio = V[:, None, :] / mu
        coef *= np.einsum("gpm,pkm->gpk", ratio, P) / col
        if it % 50 == 49:
            mu = np.einsum("gpk,pkm->gpm", coef, P)
            ll = xlogy(V[:, None, :], mu).sum(axis=2) - mu.sum(axis=2)
            if prev is not None and np.max(np.abs(ll - prev) / np.maximum(np.abs(ll), 1)) < tol:
                break
            prev = ll
    mu = np.einsum("gpk,pkm->gpm", coef, P)
    ll2 = xlogy(V[:, None, :], mu).sum(axis=2) - mu.sum(axis=2) - log_fact[:, None]
    best2 = ll2.argmax(axis=1)
    out["loglik_pair"] = np.maximum(ll2[np.arange(len(V)), best2], out["loglik_single"])
    out["best_pair"] = [f"{names[pairs[p][0]]},{names[pairs[p][1]]}" for p in best2]
    out["lr"] = 2.0 * (out["loglik_pair"] - out["loglik_single"])
    return out


def _module_sets(W: pd.DataFrame, threshold: float) -> dict[str, frozenset[str]]:
    members = call_memberships(normalize_rows(W), threshold)
    return {g: frozenset(m) for g, m in members.groupby("gene", sort=False)["module"]}


def moonlighting_support(Ws: list[pd.DataFrame], logliks: ArrayLike, genes: list[str], *,
                         threshold: float, margin: float) -> pd.Series:
    """Fraction of near-best restarts calling each gene in the same modules as the best.

    ``Ws`` are every restart's W (genes x modules, same genes); modules of each restart
    are matched to the best restart's before the calls are compared.
    """
    chosen = near_best(logliks, margin)
    arrays = align_restarts([np.asarray(Ws[k], float) for k in chosen], reference=0)
    ref = Ws[chosen[0]]
    sets = [_module_sets(pd.DataFrame(A, index=ref.index, columns=ref.columns), threshold)
            for A in arrays]
    return pd.Series(
        [float(np.mean([s[g] == sets[0][g] for s in sets])) for g in genes],
        index=pd.Index(genes, name="gene"), name="support", dtype=float,
    )


def second_weights(candidates: pd.DataFrame) -> pd.Series:
    """Second-largest row-normalized weight of each candidate (0 for a one-module gene),
    read from the ``weights`` column of :func:`moonlight.modules.moonlighting_genes`."""
    return candidates["weights"].astype(str).str.split(",").map(
        lambda w: float(w[1]) if len(w) > 1 else 0.0).astype(float)


def moonlighting_confidence(
    counts: pd.DataFrame,
    W: pd.DataFrame,
    H: pd.DataFrame,
    Ws: list[pd.DataFrame],
    logliks: ArrayLike,
    *,
    threshold: float,
    margin: float,
    min_support: float = 0.0,
    min_lr: float = 0.0,
    min_second_weight: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Moonlighting candidates (two or more modules by the W threshold) with confidence.

    Parameters
    ----------
    counts : DataFrame (genes x samples)
    W, H : DataFrame
        The selected (best) fit.
    Ws, logliks
        Every restart's W at that rank and its log likelihood.

    Returns
    -------
    called : DataFrame
        Candidates with ``support >= min_support``, ``lr >= min_lr`` and second weight
        ``>= min_second_weight``: columns of
        :func:`moonlight.modules.moonlighting_genes` plus :data:`CONFIDENCE_COLUMNS`.
    candidates : DataFrame
        Every candidate with the same columns and a boolean ``called``.
    """
    members = call_memberships(normalize_rows(W), threshold)
    candidates = moonlighting_genes(members)
    genes = list(candidates["gene"])
    if genes:
        support = moonlighting_support(Ws, logliks, genes, threshold=threshold, margin=margin)
        lr = single_vs_pair_lr(counts.loc[genes], H)
        candidates["support"] = support.to_numpy()
        candidates["lr"] = lr["lr"].to_numpy()
        candidates["best_single"] = lr["best_single"].to_numpy()
        candidates["best_pair"] = lr["best_pair"].to_numpy()
    else:
        candidates["support"] = pd.Series(dtype=float)
        candidates["lr"] = pd.Series(dtype=float)
        candidates["best_single"] = pd.Series(dtype=object)
        candidates["best_pair"] = pd.Series(dtype=object)
    candidates["called"] = ((candidates["support"] >= min_support)
                            & (candidates["lr"] >= min_lr)
                            & (second_weights(candidates) >= min_second_weight))
    called = candidates.loc[candidates["called"]].drop(columns="called").reset_index(drop=True)
    return called, candidates
