"""Multiplicative updates: ``method="mu"`` (the plain reference) and ``"emu"``.

``"mu"``: Lee & Seung's multiplicative updates (2001)::

    H_rj <- H_rj * sum_i W_ir V_ij / (WH)_ij  /  sum_i W_ir
    W_ir <- W_ir * sum_j H_rj V_ij / (WH)_ij  /  sum_j H_rj

``"emu"``: the same steps with the extrapolation of Ang & Gillis (2019) and an acceptance
test (monotone). Kept for comparison: on the exercise table it trails "ccd" at R>=5.

Restarts run together as stacked 3-D arrays (restart, ., .), so small tables pay numpy's
per-call overhead once per iteration rather than once per restart. On big tables the
stack is cut into chunks that keep the stacked N x M temporaries under
:data:`MU_MEMORY_BUDGET` bytes; restarts do not interact, so chunking does not change
results. Dense V only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from .. import _kernels
from ..likelihood import stacked_loglik
from ._common import (BETA_BAR_GROW, BETA_GROW, BETA_MAX, BETA_SHRINK, BETA_START, EPS,
                      Options, RestartFit, relative_change)
from .ccd import DenseProblem

__all__ = ["fit_restarts", "MU_MEMORY_BUDGET"]

#: Bytes of stacked (restart, N, M) temporaries the MU engine may hold at once.
MU_MEMORY_BUDGET = 256 * 2**20


def multiplicative_update(V: NDArray, W: NDArray, H: NDArray) -> None:
    """One Lee-Seung KL step on stacked factors W (K, N, R) and H (K, R, M), in place."""
    # H <- H * W^T (V / WH) / W^T 1
    ratio = V / (W @ H)
    H *= (W.transpose(0, 2, 1) @ ratio) / W.sum(axis=1)[:, :, None]
    np.maximum(H, EPS, out=H)
    # W <- W * (V / WH) H^T / 1 H^T
    ratio = V / (W @ H)
    W *= (ratio @ H.transpose(0, 2, 1)) / H.sum(axis=2)[:, None, :]
    np.maximum(W, EPS, out=W)


def _chunk_size(n_genes: int, n_samples: int, itemsize: int, restarts: int) -> int:
    """Restarts stacked at once so that ~3 stacked N x M temporaries fit the budget."""
    per_restart = 3 * n_genes * n_samples * itemsize
    return int(min(restarts, max(1, MU_MEMORY_BUDGET // per_restart)))


def _fit_mu(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float, options: Options,
            restart_ids: NDArray[np.int64], start: float,
            trace_rows: list[tuple[int, int, float, float]]
            ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Run MU on stacked restarts W (K, N, R), H (K, R, M) in place until each converges.

    Returns the final log likelihood, iteration count and convergence flag per restart.
    """
    tol, max_iter, check_every = options.tol, options.max_iter, options.check_every
    K = W.shape[0]
    logliks = stacked_loglik(V, W, H, log_v_fact)
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=bool)
    trace_rows.extend((int(restart_ids[k]), 0, 0.0, float(logliks[k])) for k in range(K))
    active = np.arange(K)
    iteration = 0
    while active.size and iteration < max_iter:
        steps = min(check_every, max_iter - iteration)
        Wa, Ha = W[active], H[active]
        for _ in range(steps):
            multiplicative_update(V, Wa, Ha)
        iteration += steps
        W[active], H[active] = Wa, Ha
        new = stacked_loglik(V, Wa, Ha, log_v_fact)
        change = relative_change(new, logliks[active])
        logliks[active] = new
        n_iter[active] = iteration
        elapsed = time.perf_counter() - start
        trace_rows.extend(
            (int(restart_ids[k]), iteration, elapsed, float(v)) for k, v in zip(active, new)
        )
        done = change < tol
        converged[active[done]] = True
        active = active[~done]
    return logliks, n_iter, converged


def _fit_emu(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float, options: Options,
             restart_ids: NDArray[np.int64], start: float,
             trace_rows: list[tuple[int, int, float, float]]
             ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Extrapolated MU (Ang & Gillis 2019) on stacked restarts, in place; monotone.

    Each iteration applies one MU step to ``Y = max(eps, X_k + beta (X_k - X_{k-1}))``.
    The result becomes ``X_{k+1}`` only if its log L is at least that of ``X_k``
    (then ``beta <- min(beta_bar, 1.05 beta)``, ``beta_bar <- min(1, 1.01 beta_bar)``);
    otherwise it is discarded, ``beta_bar <- beta``, ``beta <- beta / 1.5`` and the next
    step starts from ``X_k`` itself. Each restart keeps its own beta.
    """
    tol, max_iter, check_every = options.tol, options.max_iter, options.check_every
    K = W.shape[0]
    logliks = stacked_loglik(V, W, H, log_v_fact)
    checked = logliks.copy()
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=bool)
    trace_rows.extend((int(restart_ids[k]), 0, 0.0, float(logliks[k])) for k in range(K))
    W_prev, H_prev = W.copy(), H.copy()
    W_y, H_y = W.copy(), H.copy()
    beta = np.full(K, BETA_START)
    beta_bar = np.ones(K)
    extrapolated = np.zeros(K, dtype=bool)  # Y differs from X_k
    active = np.arange(K)
    iteration = 0
    while active.size and iteration < max_iter:
        Wy, Hy = W_y[active], H_y[active]
        multiplicative_update(V, Wy, Hy)
        new = stacked_loglik(V, Wy, Hy, log_v_fact)
        iteration += 1
        ok = new >= logliks[active]
        acc, rej = active[ok], active[~ok]
        # accepted: X_{k-1} <- X_k, X_k <- MU(Y), Y <- X_k + beta (X_k - X_{k-1})
        W_prev[acc], H_prev[acc] = W[acc], H[acc]
        W[acc], H[acc] = Wy[ok], Hy[ok]
        logliks[acc] = new[ok]
        beta[acc] = np.minimum(beta_bar[acc], beta[acc] * BETA_GROW)
        beta_bar[acc] = np.minimum(BETA_MAX, beta_bar[acc] * BETA_BAR_GROW)
        b = beta[acc][:, None, None]
        W_y[acc] = np.maximum(W[acc] + b * (W[acc] - W_prev[acc]), EPS)
        H_y[acc] = np.maximum(H[acc] + b * (H[acc] - H_prev[acc]), EPS)
        extrapolated[acc] = True
        # rejected: Y <- X_k. A step from X_k itself fails only by roundoff: stop there.
        stuck = rej[~extrapolated[rej]]
        beta_bar[rej] = beta[rej]
        beta[rej] = beta[rej] / BETA_SHRINK
        W_y[rej], H_y[rej] = W[rej], H[rej]
        extrapolated[rej] = False
        n_iter[active] = iteration
        if stuck.size:
            converged[stuck] = True
            active = active[~np.isin(active, stuck)]
        if iteration % check_every == 0 or iteration == max_iter:
            elapsed = time.perf_counter() - start
            trace_rows.extend((int(restart_ids[k]), iteration, elapsed, float(logliks[k]))
                              for k in active)
            change = relative_change(logliks[active], checked[active])
            checked[active] = logliks[active]
            done = change < tol
            converged[active[done]] = True
            active = active[~done]
    return logliks, n_iter, converged


def _kkt(V: NDArray, W: NDArray, H: NDArray) -> float:
    """KKT violation of one restart's factors (computes its own WH)."""
    WH = np.empty_like(V)
    _kernels.product(W, H, WH, float(np.finfo(V.dtype).tiny))
    return float(_kernels.kkt_violation(V, W, H, WH))


def fit_restarts(problem: DenseProblem, starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Sequence[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]], *, extrapolate: bool
                 ) -> Iterator[RestartFit]:
    """Fit the restarts in stacked chunks (``extrapolate``: "emu", else "mu"); yield each
    restart, in the order given, as its chunk finishes."""
    V = problem.V
    if problem.mask is not None:
        raise ValueError("the multiplicative-update engines do not take a mask")
    n_genes, n_samples = V.shape
    ids_all = np.asarray(list(restart_ids), dtype=np.int64)
    chunk = _chunk_size(n_genes, n_samples, V.dtype.itemsize, ids_all.size)
    engine = _fit_emu if extrapolate else _fit_mu
    for lo in range(0, ids_all.size, chunk):
        ids = ids_all[lo:lo + chunk]
        starts_k = [starts(int(k)) for k in ids]
        rank = starts_k[0][0].shape[1]
        W = np.empty((ids.size, n_genes, rank), dtype=V.dtype)
        H = np.empty((ids.size, rank, n_samples), dtype=V.dtype)
        for c, (W0, H0) in enumerate(starts_k):
            W[c], H[c] = W0, H0
        logliks, n_iter, converged = engine(V, W, H, problem.log_v_fact, options, ids,
                                            start, trace_rows)
        for c, k in enumerate(ids):
            yield RestartFit(int(k), W[c].copy(), H[c].copy(), float(logliks[c]),
                             int(n_iter[c]), bool(converged[c]), _kkt(V, W[c], H[c]))
        del W, H
