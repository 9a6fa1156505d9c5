"""The one restart driver: every fit of moonlight (the fits of :func:`moonlight.fit_nmf`,
the training fits of cross-validation) draws its starts and runs its restarts here.

One seed scheme: restart ``k`` starts from child ``k`` of ``SeedSequence(seed)`` (as
``SeedSequence(seed).spawn(n)[k]`` gives it), so a restart's start, and with it the
restart's result, does not depend on which other restarts run beside it: the workflow can
split the restarts of one rank over jobs (``fit.restarts_per_job``) and get the bytes of
one job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import engines, progress
from .starts import random_start, svd_start

__all__ = ["RestartRuns", "restart_seed", "start_drawer", "run_restarts", "normalize_factors"]

Start = tuple[NDArray[np.float64], NDArray[np.float64]]


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


def restart_seed(seed: int | Iterable[int], k: int) -> np.random.SeedSequence:
    """Child ``k`` of ``SeedSequence(seed)``, without spawning the ``k`` before it."""
    root = np.random.SeedSequence(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k),
                                  pool_size=root.pool_size)


def start_drawer(seed: int | Iterable[int], rank: int, column_totals: NDArray[np.float64],
                 n_genes: int, svd_source: object | None = None) -> Callable[[int], Start]:
    """``k -> (W, H)``: restart ``k``'s start, random (:func:`moonlight.starts.random_start`)
    or, when ``svd_source`` is given, from its randomized SVD
    (:func:`moonlight.starts.svd_start`; a matrix or an operator with ``@`` and ``.T``)."""
    def starts(k: int) -> Start:
        child = restart_seed(seed, k)
        if svd_source is not None:
            return svd_start(svd_source, column_totals, rank, child)
        return random_start(column_totals, n_genes, rank, child)

    return starts


@dataclass(frozen=True)
class RestartRuns:
    """What the restarts of one fit gave, in the order of ``ids``.

    Attributes
    ----------
    ids : (n,) int
        The restarts run.
    logliks, n_iter, converged, kkt, stopped : (n,) arrays
        Each restart's final log likelihood, sweeps, convergence flag, KKT residual and
        whether racing stopped it early.
    W : (n, N, R) float64
        Each restart's W, columns summing to one, modules in canonical order
        (:func:`normalize_factors`).
    H : (n, R, M) float64 or None
        Each restart's H on the same scale and order; only with ``keep_H``.
    best : int
        Position of the best restart (the highest log likelihood; the first on ties).
    W_best, H_best : arrays
        The best restart's factors as the engine returned them (its dtype, its scale).
    """

    ids: NDArray[np.int64]
    logliks: NDArray[np.float64]
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]
    kkt: NDArray[np.float64]
    stopped: NDArray[np.bool_]
    W: NDArray[np.float64]
    H: NDArray[np.float64] | None
    best: int
    W_best: NDArray
    H_best: NDArray


def run_restarts(method: str, problem: engines.Problem, starts: Callable[[int], Start],
                 ids: Iterable[int], options: engines.Options, *, keep_H: bool = False,
                 trace_rows: list[tuple[int, int, float, float]] | None = None
                 ) -> RestartRuns:
    """Run restarts ``ids`` of ``problem`` through engine ``method``
    (:func:`moonlight.engines.fit_restarts`) and collect them; ``trace_rows`` (if given)
    receives ``(restart, sweep, seconds, loglik)`` rows."""
    ids = np.asarray(list(ids), dtype=np.int64)
    n = ids.size
    n_genes, n_samples = problem.shape
    logliks, kkt = np.empty(n), np.empty(n)
    n_iter = np.zeros(n, dtype=np.int64)
    converged, stopped = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    W = H = None
    best = -1
    W_best = H_best = None
    for k, fit in enumerate(engines.fit_restarts(method, problem, starts, ids.tolist(),
                                                 options, time.perf_counter(),
                                                 [] if trace_rows is None else trace_rows)):
        logliks[k], n_iter[k], converged[k], kkt[k] = (fit.loglik, fit.n_iter,
                                                       fit.converged, fit.kkt)
        stopped[k] = fit.stopped
        Wk, Hk = normalize_factors(fit.W.astype(np.float64), fit.H.astype(np.float64))
        if W is None:
            W = np.empty((n, n_genes, Wk.shape[1]))
            H = np.empty((n, Wk.shape[1], n_samples)) if keep_H else None
        W[k] = Wk
        if keep_H:
            H[k] = Hk
        if best < 0 or logliks[k] > logliks[best]:
            best, W_best, H_best = k, fit.W, fit.H
        progress.show(f"restart {k + 1} of {n}: {fit.n_iter} sweeps, log L {fit.loglik:.10g}"
                      f" (best {logliks[best]:.10g})")
    progress.settle()
    return RestartRuns(ids=ids, logliks=logliks, n_iter=n_iter, converged=converged,
                       kkt=kkt, stopped=stopped, W=W, H=H, best=best, W_best=W_best,
                       H_best=H_best)
