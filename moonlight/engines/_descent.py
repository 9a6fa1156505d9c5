"""Extrapolated coordinate descent: the loop every coordinate-descent engine runs.

One iteration is one sweep (all of H, then all of W) from the point ``Y``; the data
layout (a dense product, the product at a sparse matrix's nonzeros, W held fixed) is the
engine's :class:`Sweeps`. Between sweeps, the extrapolation of Ang & Gillis (2019): the
next sweep starts from ``Y = X_k + beta (X_k - X_{k-1})`` and its result is kept only if
log L did not decrease, so the recorded log likelihood never decreases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from .. import _kernels
from . import _common
from ._common import (BETA_BAR_GROW, BETA_GROW, BETA_MAX, BETA_SHRINK, BETA_START, EPS,
                      Options, RestartFit)

__all__ = ["Sweeps", "descend", "run_restarts"]


class Sweeps(Protocol):
    """A data layout the descent can sweep: it owns the product of the point being swept.

    ``moves_W`` is False when W is held fixed (projection): then only H is swept and
    extrapolated, and W is never rescaled or floored.
    """

    moves_W: bool

    def loglik(self, W: NDArray, H: NDArray) -> float:
        """Recompute the product at (W, H) exactly; return ``sum [V log WH - WH]``."""

    def reset(self, W: NDArray, H: NDArray) -> None:
        """Recompute the product at (W, H) (no logarithms)."""

    def sweep(self, W: NDArray, H: NDArray) -> tuple[int, float]:
        """One sweep from (W, H), whose product is current, updating W, H and the product
        in place (columns of W rescaled to sum to one after it, WH unchanged). Returns
        the number of entries that moved and ``sum [V log WH - WH]`` on the product the
        sweep kept up to date."""

    def kkt(self, W: NDArray, H: NDArray) -> float:
        """Largest scaled KKT violation at (W, H), whose exact product the sweeps hold."""


def descend(sweeps: Sweeps, W_out: NDArray, H_out: NDArray, log_v_fact: float,
            options: Options, restart: int, start: float,
            trace_rows: list[tuple[int, int, float, float]]) -> tuple[float, int, bool]:
    """Run extrapolated sweeps from (W_out, H_out) until convergence; update them in place.

    Returns the final log likelihood (recomputed exactly from the final factors, whose
    exact product ``sweeps`` then holds), the sweeps run and the convergence flag. Trace
    rows ``(restart, iteration, seconds since start, log L)`` go to ``trace_rows``.
    """
    tol, max_iter, check_every = options.tol, options.max_iter, options.check_every
    moves_W = sweeps.moves_W
    W, H = W_out.copy(), H_out.copy()
    # log L = sum [V log WH - WH] - sum log V!
    loglik = sweeps.loglik(W, H) - log_v_fact
    trace_rows.append((restart, 0, time.perf_counter() - start, loglik))
    # X_k = (W, H) with log L `loglik`; X_{k-1} = (W_prev, H_prev); Y = (W_y, H_y)
    W_prev, H_prev = W.copy(), H.copy()
    W_y, H_y = W.copy(), H.copy()
    beta, beta_bar = BETA_START, 1.0
    extrapolated = False  # Y differs from X_k
    iteration = 0
    converged = False
    checked = loglik
    while iteration < max_iter:
        # one sweep from Y: all of H, then all of W (the product follows in place)
        moved, swept = sweeps.sweep(W_y, H_y)
        iteration += 1
        # log L from the product the sweep kept up to date step by step: it started
        # exact at Y (recomputed below whenever Y changes), so it differs from W_y @ H_y
        # by the rounding of 2R updates per entry, ~1e-15 relative, far below any tol;
        # the log L returned is recomputed exactly at the end
        loglik_y = swept - log_v_fact
        accepted = loglik_y >= loglik
        if accepted:
            # X_{k-1} <- X_k, X_k <- sweep(Y)
            W_prev, W, W_y = W, W_y, W_prev
            H_prev, H, H_y = H, H_y, H_prev
            loglik = loglik_y
            if _common.CCD_EXTRAPOLATE and iteration > options.plain_sweeps:
                # Y <- max(eps, X_k + beta (X_k - X_{k-1})), and its product
                beta = min(beta_bar, beta * BETA_GROW)
                beta_bar = min(BETA_MAX, beta_bar * BETA_BAR_GROW)
                if moves_W:
                    _kernels.extrapolate(W, W_prev, beta, EPS, W_y)
                else:
                    W_y[...] = W
                _kernels.extrapolate(H, H_prev, beta, EPS, H_y)
                sweeps.reset(W_y, H_y)
                extrapolated = True
            else:
                W_y[...], H_y[...] = W, H
                sweeps.reset(W_y, H_y)
        else:
            # discard sweep(Y); the next sweep starts from X_k (product recomputed)
            W_y[...], H_y[...] = W, H
            sweeps.reset(W_y, H_y)
            if not extrapolated:
                # a sweep from X_k itself cannot lower log L except by roundoff: no
                # further progress is possible at this precision
                converged = True
                break
            beta_bar = beta
            beta = beta / BETA_SHRINK
            extrapolated = False
            continue  # a wasted sweep says nothing about convergence
        if iteration % check_every == 0 or iteration == max_iter or not moved:
            trace_rows.append((restart, iteration, time.perf_counter() - start, loglik))
            change = abs(loglik - checked) / max(abs(loglik), 1e-300)  # relative_change
            checked = loglik
            if change < tol or not moved:
                converged = True
                break
    W_out[...] = W
    H_out[...] = H
    # exact product and log L at X_k (also for the KKT measure)
    loglik = sweeps.loglik(W, H) - log_v_fact
    return float(loglik), iteration, converged


def run_restarts(sweeps: Sweeps, log_v_fact: float, dtype: np.dtype,
                 starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Iterable[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]], measure_kkt: bool
                 ) -> Iterator[RestartFit]:
    """Fit each restart from its start, one after another, on the same ``sweeps`` (its
    buffers serve every restart); yield each as it finishes.

    ``starts(k)`` gives restart k's (W0, H0) in float64; they are cast to ``dtype``.
    ``measure_kkt=False`` (held-out entries) reports the KKT violation as NaN.
    """
    for k in restart_ids:
        W0, H0 = starts(k)
        W = np.array(W0, dtype=dtype, order="C")  # a copy: the fit writes into it
        H = np.array(H0, dtype=dtype, order="C")
        loglik, n_iter, converged = descend(sweeps, W, H, log_v_fact, options, int(k),
                                            start, trace_rows)
        kkt = sweeps.kkt(W, H) if measure_kkt else float("nan")
        yield RestartFit(int(k), W, H, loglik, n_iter, converged, kkt)
