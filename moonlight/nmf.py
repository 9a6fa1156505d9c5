"""Poisson NMF: fit ``V ~ Poisson(W H)`` by maximum likelihood -- the public API.

Maximizing the Poisson log likelihood is minimizing the generalized Kullback-Leibler
divergence D(V || WH). This module validates the input, draws the random starts, runs
the restarts through an engine of :mod:`moonlight.engines` and keeps the best:

``method="ccd"`` (default)
    Cyclic coordinate descent with provable-descent steps, compiled, extrapolated
    between sweeps; monotone (:mod:`moonlight.engines.ccd`).

``method="emu"``, ``method="mu"``
    Multiplicative updates, extrapolated or plain (Lee & Seung 2001), the reference
    (:mod:`moonlight.engines.mu`).

Each restart draws its start from its own child of ``SeedSequence(seed)``, so a
restart's result does not depend on how many others run beside it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import engines
from .engines import EPS, Options
from .likelihood import log_factorial_sum_chunked

__all__ = ["NMFResult", "fit_nmf", "normalize_factors", "METHODS"]

Method = Literal["ccd", "emu", "mu"]
METHODS: tuple[str, ...] = engines.METHODS
DEFAULT_METHOD: str = "ccd"

#: Iterations between convergence checks when ``check_every`` is not given. A check
#: costs about one product WH; one CCD sweep costs several, one MU iteration two.
DEFAULT_CHECK_EVERY: dict[str, int] = {"ccd": 1, "emu": 10, "mu": 10}

#: Convergence tolerance when ``tol`` is not given (relative change of log L per check).
DEFAULT_TOL: dict[str, float] = {"ccd": 1e-10, "emu": 1e-9, "mu": 1e-9}


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
        Iterations each restart ran (CCD: full sweeps over W and H).
    converged : ndarray of shape (restarts,)
        True where the restart stopped on the tolerance rather than the iteration cap.
    best_restart : int
        Index of the restart kept as W and H.
    trace : DataFrame
        One row per convergence check: ``restart``, ``iteration``, ``seconds`` (wall time
        since the fit began) and ``loglik``; rows sorted by restart, then iteration.
        Iteration 0 is the random start. For ``"ccd"`` and ``"emu"`` a sweep whose
        result was rejected by the extrapolation test is counted in ``iteration`` but
        gets no row, so ``loglik`` never decreases along a restart's rows.
        For ``"ccd"`` a row's ``loglik`` is evaluated on the product the sweep keeps up to
        date, within about 1e-15 (relative) of the exact value; :attr:`loglik` and
        :attr:`logliks` are recomputed exactly from the final factors.
    method : str
        The algorithm used.
    gene_names, sample_names : list of str, optional
        Row and column labels when V was a DataFrame.
    kkt : ndarray of shape (restarts,), optional
        Largest scaled KKT violation of every restart's final factors (see
        :func:`moonlight._kernels.kkt_violation`): 0 at a stationary point. A small
        relative change of log L alone is not evidence of convergence; this is.
    W_restarts : ndarray of shape (restarts, N, R), optional
        Every restart's final W, normalized like ``W`` (columns summing to one, modules
        in canonical order), for stability and support across restarts.
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
    kkt: NDArray[np.float64] | None = field(default=None)
    W_restarts: NDArray[np.float64] | None = field(default=None)

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

    def W_restart_frames(self) -> list[pd.DataFrame]:
        """Every restart's W as a DataFrame (genes x modules), in restart order."""
        if self.W_restarts is None:
            raise ValueError("this result does not carry every restart's W")
        return [
            pd.DataFrame(W, index=self.gene_names, columns=self.module_labels())
            for W in self.W_restarts
        ]

    def H_frame(self) -> pd.DataFrame:
        """H as a DataFrame (modules x samples)."""
        return pd.DataFrame(self.H, index=self.module_labels(), columns=self.sample_names)

    def restarts_frame(self) -> pd.DataFrame:
        """One row per restart: ``restart``, ``loglik``, ``n_iter``, ``converged``, ``best``,
        ``kkt``."""
        n = len(self.logliks)
        kkt = self.kkt if self.kkt is not None else np.full(n, np.nan)
        return pd.DataFrame(
            {
                "restart": np.arange(n),
                "loglik": self.logliks,
                "n_iter": self.n_iter,
                "converged": self.converged,
                "best": np.arange(n) == self.best_restart,
                "kkt": kkt,
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


def _validate(V: ArrayLike, rank: int, restarts: int, tol: float | None, max_iter: int,
              method: str) -> NDArray[np.float64]:
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
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return V


def _initial_factor(
    column_totals: NDArray[np.float64], n_genes: int, rank: int, child: np.random.SeedSequence
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Random start of one restart from its own seed stream.

    W columns are uniform random then normalized to sum to one; H is uniform random scaled
    so each sample's expected total matches its observed total on average.
    """
    rng = np.random.default_rng(child)
    w = rng.random((n_genes, rank))
    W = w / w.sum(axis=0)
    H = rng.random((rank, column_totals.size)) * (2.0 * column_totals / rank)
    return W, H


def _initial_factors(
    V: NDArray[np.float64], rank: int, restarts: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Random starts of all restarts, stacked: W (K, N, R) and H (K, R, M)."""
    n_genes, n_samples = V.shape
    column_totals = V.sum(axis=0, dtype=np.float64)
    W = np.empty((restarts, n_genes, rank))
    H = np.empty((restarts, rank, n_samples))
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(restarts)):
        W[k], H[k] = _initial_factor(column_totals, n_genes, rank, child)
    return W, H


def fit_nmf(
    V: ArrayLike | pd.DataFrame,
    rank: int,
    *,
    restarts: int = 10,
    seed: int = 0,
    tol: float | None = None,
    max_iter: int = 20000,
    check_every: int | None = None,
    method: Method = "ccd",
    dtype: DTypeLike = np.float64,
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
    tol : float, optional
        A restart has converged when the relative change of its log likelihood between
        two checks, ``|L_t - L_{t-check}| / |L_t|``, falls below ``tol``. Default 1e-10
        for ``"ccd"`` (checked every sweep; 1e-9 stops some restarts of the exercise
        table early on a slow crawl), 1e-9 for ``"mu"`` and ``"emu"``.
    max_iter : int
        Iteration cap per restart (CCD: sweeps); a restart stopped by it has
        ``converged = False``.
    check_every : int, optional
        Iterations between convergence checks; default 1 for ``"ccd"``, 10 for ``"mu"``.
        ``check_every=1`` records log L after every iteration in ``trace``.
    method : {"ccd", "emu", "mu"}
        ``"ccd"`` (default): cyclic coordinate descent with provable-descent Newton-type
        steps, compiled,
        with extrapolation between sweeps. ``"emu"``: extrapolated MU.
        ``"mu"``: Lee & Seung multiplicative updates (the plain reference).
    dtype : {float64, float32}
        Working precision of V, WH, W and H. float32 halves memory; sums are still
        accumulated in float64. Returned factors are float64.

    Returns
    -------
    NMFResult
        Best W (columns summing to one) and H, every restart's log likelihood, iteration
        counts, convergence flags, KKT violations and a convergence trace.
    """
    gene_names = sample_names = None
    if isinstance(V, pd.DataFrame):
        gene_names = [str(g) for g in V.index]
        sample_names = [str(s) for s in V.columns]
    V = _validate(V, rank, restarts, tol, max_iter, method)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    if check_every is None:
        check_every = DEFAULT_CHECK_EVERY[method]
    if tol is None:
        tol = DEFAULT_TOL[method]
    if check_every < 1:
        raise ValueError(f"check_every must be at least 1, got {check_every}")
    log_v_fact = log_factorial_sum_chunked(V)
    column_totals = V.sum(axis=0)
    V = np.ascontiguousarray(V, dtype=dtype)
    n_genes, n_samples = V.shape
    children = np.random.SeedSequence(seed).spawn(restarts)

    def starts(k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _initial_factor(column_totals, n_genes, rank, children[k])

    logliks = np.empty(restarts)
    n_iter = np.zeros(restarts, dtype=np.int64)
    converged = np.zeros(restarts, dtype=bool)
    kkt = np.empty(restarts)
    W_restarts = np.empty((restarts, n_genes, rank))
    trace_rows: list[tuple[int, int, float, float]] = []
    best = -1
    W_best = H_best = None
    start = time.perf_counter()
    problem = engines.ccd.DenseProblem(V, None, log_v_fact)
    options = Options(tol=tol, max_iter=max_iter, check_every=check_every)
    for k, fit in enumerate(engines.fit_restarts(method, problem, starts, range(restarts),
                                                 options, start, trace_rows)):
        logliks[k], n_iter[k], converged[k], kkt[k] = (fit.loglik, fit.n_iter,
                                                       fit.converged, fit.kkt)
        W_restarts[k] = normalize_factors(fit.W.astype(np.float64),
                                          fit.H.astype(np.float64))[0]
        if best < 0 or logliks[k] > logliks[best]:
            best, W_best, H_best = k, fit.W, fit.H

    W_out, H_out = normalize_factors(W_best.astype(np.float64), H_best.astype(np.float64))
    trace = pd.DataFrame(trace_rows, columns=["restart", "iteration", "seconds", "loglik"])
    trace = trace.sort_values(["restart", "iteration"], kind="stable").reset_index(drop=True)
    return NMFResult(
        W=W_out,
        H=H_out,
        loglik=float(logliks[best]),
        logliks=logliks,
        n_iter=n_iter,
        converged=converged,
        best_restart=best,
        trace=trace,
        method=method,
        gene_names=gene_names,
        sample_names=sample_names,
        kkt=kkt,
        W_restarts=W_restarts,
    )
