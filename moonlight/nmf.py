"""Poisson NMF: fit ``V ~ Poisson(W H)`` by maximum likelihood.

Maximizing the Poisson log likelihood is minimizing the generalized Kullback-Leibler
divergence D(V || WH). Lee & Seung's multiplicative updates (2001) do this while keeping
W and H non-negative, and never decrease the likelihood::

    H_rj <- H_rj * sum_i W_ir V_ij / (WH)_ij  /  sum_i W_ir
    W_ir <- W_ir * sum_j H_rj V_ij / (WH)_ij  /  sum_j H_rj

All restarts of one rank run together as stacked 3-D arrays (restart, ., .), so small
tables pay numpy's per-call overhead once per iteration rather than once per restart.
Each restart draws its start from its own child of ``SeedSequence(seed)``, so a restart's
result does not depend on how many others run beside it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy

from .likelihood import log_factorial_sum

__all__ = ["NMFResult", "fit_nmf", "normalize_factors", "METHODS"]

Method = Literal["mu"]
METHODS: tuple[str, ...] = ("mu",)

#: Floor applied to every factor entry after an update. Multiplicative updates can never
#: move an entry away from exactly zero; a tiny positive floor lets it recover.
EPS = 1e-16


@dataclass(frozen=True)
class NMFResult:
    """The best of several restarts of a Poisson NMF fit.

    Attributes
    ----------
    W : ndarray of shape (N, R)
        Gene loadings; every column sums to one (a distribution over genes).
    H : ndarray of shape (R, M)
        Module activity per sample; carries the scale, so ``W @ H`` is the expected count.
    loglik : float
        Full Poisson log likelihood of the best restart.
    logliks : ndarray of shape (restarts,)
        Final log likelihood of every restart, in restart order.
    n_iter : ndarray of shape (restarts,)
        Iterations each restart ran.
    converged : ndarray of shape (restarts,)
        True where the restart stopped on the tolerance rather than the iteration cap.
    best_restart : int
        Index of the restart kept as W and H.
    trace : DataFrame
        One row per convergence check: ``restart``, ``iteration``, ``seconds`` (wall time
        since the fit began) and ``loglik``.
    method : str
        The algorithm used.
    gene_names, sample_names : list of str, optional
        Row and column labels when V was a DataFrame.
    """

    W: NDArray[np.float64]
    H: NDArray[np.float64]
    loglik: float
    logliks: NDArray[np.float64]
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]
    best_restart: int
    trace: pd.DataFrame
    method: str
    gene_names: list[str] | None = field(default=None)
    sample_names: list[str] | None = field(default=None)

    @property
    def rank(self) -> int:
        """Number of modules R."""
        return int(self.W.shape[1])

    def module_labels(self) -> list[str]:
        """Module names ``M1 .. MR`` in column order."""
        return [f"M{r + 1}" for r in range(self.rank)]

    def W_frame(self) -> pd.DataFrame:
        """W as a DataFrame (genes x modules)."""
        return pd.DataFrame(self.W, index=self.gene_names, columns=self.module_labels())

    def H_frame(self) -> pd.DataFrame:
        """H as a DataFrame (modules x samples)."""
        return pd.DataFrame(self.H, index=self.module_labels(), columns=self.sample_names)

    def restarts_frame(self) -> pd.DataFrame:
        """One row per restart: ``restart``, ``loglik``, ``n_iter``, ``converged``, ``best``."""
        n = len(self.logliks)
        return pd.DataFrame(
            {
                "restart": np.arange(n),
                "loglik": self.logliks,
                "n_iter": self.n_iter,
                "converged": self.converged,
                "best": np.arange(n) == self.best_restart,
            }
        )


def normalize_factors(
    W: NDArray[np.float64], H: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rescale so every column of W sums to one, moving the scale into H; WH is unchanged.

    Modules are then put in a canonical order, by decreasing total activity
    ``sum_j H_rj``, so that equal fits are written identically.
    """
    scale = W.sum(axis=0)
    W = W / scale
    H = H * scale[:, None]
    order = np.argsort(-H.sum(axis=1), kind="stable")
    return W[:, order], H[order, :]


def _validate(V: ArrayLike, rank: int, restarts: int, tol: float, max_iter: int, method: str
              ) -> NDArray[np.float64]:
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2:
        raise ValueError(f"V must be a 2-D matrix (genes x samples), got {V.ndim} dimension(s)")
    n_genes, n_samples = V.shape
    if n_genes == 0 or n_samples == 0:
        raise ValueError(f"V is empty (shape {V.shape})")
    if not np.isfinite(V).all():
        raise ValueError("V contains NaN or infinite values")
    if (V < 0).any():
        raise ValueError("V contains negative values; counts must be non-negative")
    zero_rows = np.flatnonzero(V.sum(axis=1) == 0)
    zero_cols = np.flatnonzero(V.sum(axis=0) == 0)
    if zero_rows.size or zero_cols.size:
        raise ValueError(
            f"V has {zero_rows.size} all-zero row(s) and {zero_cols.size} all-zero column(s); "
            "they carry no information: drop them first (moonlight.io.drop_empty)"
        )
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)):
        raise TypeError(f"rank must be an integer, got {rank!r}")
    if not 1 <= rank <= min(n_genes, n_samples):
        raise ValueError(
            f"rank must be between 1 and min(N, M) = {min(n_genes, n_samples)}, got {rank}"
        )
    if restarts < 1:
        raise ValueError(f"restarts must be at least 1, got {restarts}")
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return V


def _initial_factors(
    V: NDArray[np.float64], rank: int, restarts: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Random starts, one independent stream per restart.

    W columns are uniform random then normalized to sum to one; H is uniform random scaled
    so each sample's expected total matches its observed total on average.
    """
    n_genes, n_samples = V.shape
    column_totals = V.sum(axis=0)
    W = np.empty((restarts, n_genes, rank))
    H = np.empty((restarts, rank, n_samples))
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(restarts)):
        rng = np.random.default_rng(child)
        w = rng.random((n_genes, rank))
        W[k] = w / w.sum(axis=0)
        H[k] = rng.random((rank, n_samples)) * (2.0 * column_totals / rank)
    return W, H


def _multiplicative_update(
    V: NDArray[np.float64], W: NDArray[np.float64], H: NDArray[np.float64]
) -> None:
    """One Lee-Seung KL step on stacked factors W (K, N, R) and H (K, R, M), in place."""
    # H <- H * W^T (V / WH) / W^T 1
    ratio = V / (W @ H)
    H *= (W.transpose(0, 2, 1) @ ratio) / W.sum(axis=1)[:, :, None]
    np.maximum(H, EPS, out=H)
    # W <- W * (V / WH) H^T / 1 H^T
    ratio = V / (W @ H)
    W *= (ratio @ H.transpose(0, 2, 1)) / H.sum(axis=2)[:, None, :]
    np.maximum(W, EPS, out=W)


def _stacked_loglik(
    V: NDArray[np.float64], W: NDArray[np.float64], H: NDArray[np.float64], log_v_fact: float
) -> NDArray[np.float64]:
    """Log likelihood of each stacked restart, shape (K,)."""
    WH = W @ H
    return xlogy(V, WH).sum(axis=(1, 2)) - WH.sum(axis=(1, 2)) - log_v_fact


def fit_nmf(
    V: ArrayLike | pd.DataFrame,
    rank: int,
    *,
    restarts: int = 10,
    seed: int = 0,
    tol: float = 1e-9,
    max_iter: int = 20000,
    check_every: int = 10,
    method: Method = "mu",
) -> NMFResult:
    """Fit ``V ~ Poisson(W H)`` from several random starts and keep the best.

    Parameters
    ----------
    V : array or DataFrame of shape (N, M)
        Non-negative counts, genes x samples, with no all-zero row or column.
    rank : int
        Number of modules R, ``1 <= R <= min(N, M)``.
    restarts : int
        Independent random starts; the one with the highest log likelihood is kept.
    seed : int
        Seed of the random starts; the same seed gives the same bytes.
    tol : float
        A restart has converged when the relative change of its log likelihood between
        two checks, ``|L_t - L_{t-check}| / |L_t|``, falls below ``tol``.
    max_iter : int
        Iteration cap per restart; a restart stopped by it has ``converged = False``.
    check_every : int
        Iterations between convergence checks (each costs one extra product WH).
    method : {"mu"}
        ``"mu"``: Lee & Seung multiplicative updates.

    Returns
    -------
    NMFResult
        Best W (columns summing to one) and H, every restart's log likelihood, iteration
        counts, convergence flags and a convergence trace.
    """
    gene_names = sample_names = None
    if isinstance(V, pd.DataFrame):
        gene_names = [str(g) for g in V.index]
        sample_names = [str(s) for s in V.columns]
    V = _validate(V, rank, restarts, tol, max_iter, method)
    log_v_fact = log_factorial_sum(V)

    W, H = _initial_factors(V, rank, restarts, seed)
    logliks = _stacked_loglik(V, W, H, log_v_fact)
    n_iter = np.zeros(restarts, dtype=np.int64)
    converged = np.zeros(restarts, dtype=bool)
    active = np.arange(restarts)
    trace_rows: list[tuple[int, int, float, float]] = [
        (k, 0, 0.0, float(logliks[k])) for k in range(restarts)
    ]
    start = time.perf_counter()
    iteration = 0
    while active.size and iteration < max_iter:
        steps = min(check_every, max_iter - iteration)
        Wa, Ha = W[active], H[active]
        for _ in range(steps):
            _multiplicative_update(V, Wa, Ha)
        iteration += steps
        W[active], H[active] = Wa, Ha
        new = _stacked_loglik(V, Wa, Ha, log_v_fact)
        change = np.abs(new - logliks[active]) / np.maximum(np.abs(new), 1e-300)
        logliks[active] = new
        n_iter[active] = iteration
        elapsed = time.perf_counter() - start
        trace_rows.extend((int(k), iteration, elapsed, float(v)) for k, v in zip(active, new))
        done = change < tol
        converged[active[done]] = True
        active = active[~done]

    best = int(np.argmax(logliks))
    W_best, H_best = normalize_factors(W[best], H[best])
    trace = pd.DataFrame(trace_rows, columns=["restart", "iteration", "seconds", "loglik"])
    return NMFResult(
        W=W_best,
        H=H_best,
        loglik=float(logliks[best]),
        logliks=logliks,
        n_iter=n_iter,
        converged=converged,
        best_restart=best,
        trace=trace,
        method=method,
        gene_names=gene_names,
        sample_names=sample_names,
    )
