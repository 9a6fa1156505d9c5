"""Held-out likelihood of Poisson NMF by K-fold cross-validation over matrix entries.

The entries of V are split at random into K folds of (nearly) equal size: every entry is
held out exactly once. For fold k, W and H are fitted to the other entries only, by the
coordinate-descent engine (:mod:`moonlight.engines.ccd`) with a 0/1 mask M (1 on training
entries) passed to its kernels: the gradient of ``W_ir`` becomes
``sum_j M_ij H_rj - sum_j H_rj M_ij V_ij / WH_ij``, and likewise for H and for the
likelihood, so a held-out entry drops out of every sum. Its value has no effect on the
fit, not even in the last bit: the engine only ever sees ``where(M, V, 0)``. The fold is
then scored by the Poisson log likelihood of its held-out entries under the fitted WH. A
rank that overfits the training entries predicts held-out ones worse, so unlike the
in-sample log likelihood the held-out one has a maximum in R.

Per rank the workflow reports ``cv_loglik`` = the sum over folds (each entry scored once)
and ``cv_se`` = ``sqrt(K) * sd(fold values)``, the standard error of that sum.

The start of restart r of fold k is drawn from child r of ``SeedSequence([seed, rank,
k])`` exactly as :func:`moonlight.fit_nmf` draws its starts (column totals estimated
from the training entries), so results do not depend on how many other restarts run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import engines
from .likelihood import log_factorial_sum, poisson_loglik
from .nmf import _initial_factor

__all__ = ["fold_labels", "fit_masked", "heldout_loglik", "cross_validate", "cv_summary",
           "CV_COLUMNS"]

CV_COLUMNS = ["rank", "fold", "train_loglik", "heldout_loglik", "n_heldout", "n_iter",
              "converged"]


def fold_labels(shape: tuple[int, int], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold (0..K-1) of every entry: a uniformly random balanced partition of the entries.

    Sizes differ by at most one; the same ``(shape, folds, seed)`` gives the same labels.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    n = shape[0] * shape[1]
    if folds > n:
        raise ValueError(f"cannot split {n} entries into {folds} folds")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1EC7]))
    labels = np.empty(n, dtype=np.int64)
    labels[rng.permutation(n)] = np.arange(n) % folds
    return labels.reshape(shape)


def fit_masked(
    V: ArrayLike,
    mask: ArrayLike,
    rank: int,
    *,
    restarts: int = 3,
    seed: int | Iterable[int] = 0,
    tol: float = 1e-8,
    max_iter: int = 2000,
    check_every: int = 1,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.int64], NDArray[np.bool_]]:
    """Fit ``V ~ Poisson(W H)`` on the entries where ``mask`` is true.

    The engine is the coordinate descent of :mod:`moonlight.engines.ccd` (``method="ccd"``) with the
    mask passed to its kernels: every gradient, curvature and likelihood sum runs over
    the training entries only.

    Parameters
    ----------
    V : array (N, M)
        Counts; values where ``mask`` is false are never read (they may be anything,
        even NaN).
    mask : bool array (N, M)
        True on training entries.
    rank, restarts, tol, max_iter, check_every
        As in :func:`moonlight.fit_nmf` (convergence on the training log likelihood;
        iterations are sweeps).
    seed : int or sequence of int
        Entropy of ``SeedSequence``; restart r starts from its child r.

    Returns
    -------
    W : (restarts, N, R), H : (restarts, R, M), train_loglik : (restarts,),
    n_iter : (restarts,), converged : (restarts,)
        Every restart's factors (W columns summing to one), training log likelihood,
        iterations and convergence flag.
    """
    mask = np.asarray(mask, dtype=bool)
    V = np.asarray(V, dtype=np.float64)
    if V.shape != mask.shape:
        raise ValueError(f"V has shape {V.shape} but mask has shape {mask.shape}")
    MV = np.where(mask, V, 0.0)
    if (MV < 0).any() or not np.isfinite(MV).all():
        raise ValueError("training entries of V must be finite and non-negative")
    weights = mask.astype(np.float64)
    n_genes, n_samples = V.shape
    if not 1 <= rank <= min(n_genes, n_samples):
        raise ValueError(f"rank must be between 1 and {min(n_genes, n_samples)}, got {rank}")
    if restarts < 1 or max_iter < 1 or check_every < 1 or not tol > 0:
        raise ValueError("restarts, max_iter and check_every must be >= 1 and tol > 0")
    log_v_fact = log_factorial_sum(MV)

    # Starts as in moonlight.nmf, with column totals estimated from the training entries.
    observed = np.maximum(weights.sum(axis=0), 1.0)
    column_totals = MV.sum(axis=0) * n_genes / observed
    W = np.empty((restarts, n_genes, rank))
    H = np.empty((restarts, rank, n_samples))
    logliks = np.empty(restarts)
    n_iter = np.zeros(restarts, dtype=np.int64)
    converged = np.zeros(restarts, dtype=bool)
    children = np.random.SeedSequence(seed).spawn(restarts)

    def starts(k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _initial_factor(column_totals, n_genes, rank, children[k])

    problem = engines.ccd.DenseProblem(MV, weights, log_v_fact)
    options = engines.Options(tol=tol, max_iter=max_iter, check_every=check_every)
    for fit in engines.fit_restarts("ccd", problem, starts, range(restarts), options,
                                    time.perf_counter(), []):
        k = fit.restart
        logliks[k], n_iter[k], converged[k] = fit.loglik, fit.n_iter, fit.converged
        scale = fit.W.sum(axis=0)
        W[k], H[k] = fit.W / scale, fit.H * scale[:, None]
    return W, H, logliks, n_iter, converged


def heldout_loglik(V: ArrayLike, WH: ArrayLike, heldout: ArrayLike) -> float:
    """Full Poisson log likelihood ``sum[V log WH - WH - log V!]`` over held-out entries."""
    heldout = np.asarray(heldout, dtype=bool)
    v = np.asarray(V, dtype=np.float64)[heldout]
    mu = np.asarray(WH, dtype=np.float64)[heldout]
    return poisson_loglik(v, mu)


def cross_validate(
    V: ArrayLike | pd.DataFrame,
    rank: int,
    *,
    folds: int = 5,
    seed: int = 0,
    restarts: int = 3,
    tol: float = 1e-8,
    max_iter: int = 2000,
    check_every: int = 1,
) -> pd.DataFrame:
    """K-fold held-out log likelihood of one rank.

    The partition depends on ``(shape, folds, seed)`` only, so every rank is scored on
    the same folds (differences between ranks are paired). In each fold the restart with
    the best *training* log likelihood is scored on the held-out entries.

    Returns
    -------
    DataFrame
        One row per fold, columns :data:`CV_COLUMNS`.
    """
    V = np.asarray(V, dtype=np.float64)
    labels = fold_labels(V.shape, folds, seed)
    rows = []
    for k in range(folds):
        heldout = labels == k
        W, H, train, n_iter, converged = fit_masked(
            V, ~heldout, rank, restarts=restarts, seed=[seed, rank, k], tol=tol,
            max_iter=max_iter, check_every=check_every,
        )
        best = int(np.argmax(train))
        rows.append({
            "rank": rank,
            "fold": k,
            "train_loglik": float(train[best]),
            "heldout_loglik": heldout_loglik(V, W[best] @ H[best], heldout),
            "n_heldout": int(heldout.sum()),
            "n_iter": int(n_iter[best]),
            "converged": bool(converged[best]),
        })
    return pd.DataFrame(rows, columns=CV_COLUMNS)


def cv_summary(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Per rank: ``cv_loglik`` (sum over folds) and ``cv_se`` (``sqrt(K)`` x sd over folds)."""
    grouped = per_fold.groupby("rank")["heldout_loglik"]
    k = grouped.size()
    return pd.DataFrame({
        "cv_loglik": grouped.sum(),
        "cv_se": np.sqrt(k) * grouped.std(ddof=1).fillna(0.0),
    }).reset_index()
