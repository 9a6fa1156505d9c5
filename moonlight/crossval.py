"""Held-out likelihood of Poisson NMF by K-fold cross-validation over matrix entries.

The entries of V are split at random into K folds of (nearly) equal size: every entry is
held out exactly once. For fold k, W and H are fitted to the other entries only, with the
*masked* multiplicative updates (M = 1 on training entries, 0 on held-out ones)::

    H <- H * W^T (M * V / WH) / W^T M
    W <- W * (M * V / WH) H^T / M H^T

so a held-out entry drops out of every sum: its value has no effect on the fit (not even
in the last bit, since ``M * V`` is formed as ``where(M, V, 0)``). The fold is then scored
by the Poisson log likelihood of its held-out entries under the fitted WH. A rank that
overfits the training entries predicts held-out ones worse, so unlike the in-sample log
likelihood the held-out one has a maximum in R.

Per rank the workflow reports ``cv_loglik`` = the sum over folds (each entry scored once)
and ``cv_se`` = ``sqrt(K) * sd(fold values)``, the standard error of that sum.

Restarts of one fold run together as stacked 3-D arrays (restart, ., .) like
:mod:`moonlight.nmf`; the start of restart r of fold k is drawn from child r of
``SeedSequence([seed, k])``, so results do not depend on how many other restarts run.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, xlogy

__all__ = ["fold_labels", "fit_masked", "heldout_loglik", "cross_validate", "cv_summary",
           "CV_COLUMNS"]

#: Floor applied to factor entries after an update (as in moonlight.nmf).
EPS = 1e-16

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


def _masked_loglik(MV: NDArray, mask: NDArray, WH: NDArray, log_v_fact: float) -> NDArray:
    """Poisson log likelihood over the mask's entries, per stacked restart (K,)."""
    return (xlogy(MV, WH).sum(axis=(-2, -1)) - (mask * WH).sum(axis=(-2, -1))
            - log_v_fact)


def fit_masked(
    V: ArrayLike,
    mask: ArrayLike,
    rank: int,
    *,
    restarts: int = 3,
    seed: int | Iterable[int] = 0,
    tol: float = 1e-6,
    max_iter: int = 2000,
    check_every: int = 10,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.int64], NDArray[np.bool_]]:
    """Fit ``V ~ Poisson(W H)`` on the entries where ``mask`` is true, all restarts at once.

    Parameters
    ----------
    V : array (N, M)
        Counts; values where ``mask`` is false are never read (they may be anything,
        even NaN).
    mask : bool array (N, M)
        True on training entries.
    rank, restarts, tol, max_iter, check_every
        As in :func:`moonlight.fit_nmf` (convergence on the training log likelihood).
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
    Mf = mask.astype(np.float64)
    n_genes, n_samples = V.shape
    if not 1 <= rank <= min(n_genes, n_samples):
        raise ValueError(f"rank must be between 1 and {min(n_genes, n_samples)}, got {rank}")
    log_v_fact = float(gammaln(MV + 1.0).sum())

    # Starts as in moonlight.nmf, with column totals estimated from the training entries.
    observed = np.maximum(Mf.sum(axis=0), 1.0)
    column_totals = MV.sum(axis=0) * n_genes / observed
    W = np.empty((restarts, n_genes, rank))
    H = np.empty((restarts, rank, n_samples))
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(restarts)):
        rng = np.random.default_rng(child)
        w = rng.random((n_genes, rank))
        W[k] = w / w.sum(axis=0)
        H[k] = rng.random((rank, n_samples)) * (2.0 * column_totals / rank) + EPS

    logliks = _masked_loglik(MV, Mf, W @ H, log_v_fact)
    n_iter = np.zeros(restarts, dtype=np.int64)
    converged = np.zeros(restarts, dtype=bool)
    active = np.arange(restarts)
    iteration = 0
    while active.size and iteration < max_iter:
        steps = min(check_every, max_iter - iteration)
        Wa, Ha = W[active], H[active]
        for _ in range(steps):
            ratio = MV / (Wa @ Ha)
            Ha *= (Wa.transpose(0, 2, 1) @ ratio) / (Wa.transpose(0, 2, 1) @ Mf)
            np.maximum(Ha, EPS, out=Ha)
            ratio = MV / (Wa @ Ha)
            Wa *= (ratio @ Ha.transpose(0, 2, 1)) / (Mf @ Ha.transpose(0, 2, 1))
            np.maximum(Wa, EPS, out=Wa)
        iteration += steps
        W[active], H[active] = Wa, Ha
        new = _masked_loglik(MV, Mf, Wa @ Ha, log_v_fact)
        change = np.abs(new - logliks[active]) / np.maximum(np.abs(new), 1e-300)
        logliks[active] = new
        n_iter[active] = iteration
        done = change < tol
        converged[active[done]] = True
        active = active[~done]

    scale = W.sum(axis=1)  # (K, R)
    return W / scale[:, None, :], H * scale[:, :, None], logliks, n_iter, converged


def heldout_loglik(V: ArrayLike, WH: ArrayLike, heldout: ArrayLike) -> float:
    """Full Poisson log likelihood ``sum[V log WH - WH - log V!]`` over held-out entries."""
    heldout = np.asarray(heldout, dtype=bool)
    v = np.asarray(V, dtype=np.float64)[heldout]
    mu = np.asarray(WH, dtype=np.float64)[heldout]
    return float(xlogy(v, mu).sum() - mu.sum() - gammaln(v + 1.0).sum())


def cross_validate(
    V: ArrayLike | pd.DataFrame,
    rank: int,
    *,
    folds: int = 5,
    seed: int = 0,
    restarts: int = 3,
    tol: float = 1e-6,
    max_iter: int = 2000,
    check_every: int = 10,
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
