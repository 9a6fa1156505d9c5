"""Extrapolated coordinate descent: the loop every coordinate-descent engine runs.

One iteration is one sweep (all of H, then all of W) from the point ``Y``; the data
layout (a dense product, the product at a sparse matrix's nonzeros, W held fixed) is the
engine's :class:`Sweeps`. Between sweeps, the extrapolation of Ang & Gillis (2019): the
next sweep starts from ``Y = X_k + beta (X_k - X_{k-1})`` and its result is kept only if
log L did not decrease, so the recorded log likelihood never decreases.

Stopping rules
--------------
A restart stops at the first of:

* *no progress possible*: a sweep from X_k itself (not extrapolated) lowered log L
  (roundoff), or no coordinate moved;
* the *relative rule* (default, ``Options.tol``): ``|L_t - L_{t-c}| / |L_t| < tol`` at a
  check (every ``c = check_every`` sweeps);
* or, instead of it, the *gain rule* (``Options.gain_tol``, in nats): the pace estimate
  of the log L still to gain, ``(max_iter - t) (L_t - L_{t-w}) / w`` with ``w =``
  :data:`~moonlight.engines._common.PACE_WINDOW`, is below ``gain_tol``. It is an
  **estimate, not a bound**: it is what the restart would still gain if it kept its mean
  pace of the last w sweeps for every sweep it has left. Measured on the exercise table
  (R = 2..7 x 10 restarts, every sweep): the gain still to come after sweep t never
  exceeded 9,780 times the mean gain per sweep of the 100 sweeps before t, about half
  the budget ``max_iter - t`` gives;
* the *cap* ``max_iter`` (``converged = False``);
* the *race* (``Options.race_margin``, :func:`run_restarts`): stopped, ``stopped =
  True``.

Why an estimate and not a bound. With W fixed the objective ``f(H) = sum_ij [(WH)_ij -
V_ij log (WH)_ij]`` is convex and separates over the columns h of H; with ``z = W h``
and v the column of V, Lagrange duality (``u`` the multiplier of ``z = W h``, ``a = 1 -
u``) gives the dual problem ``max sum_i v_i (1 - log v_i + log a_i)`` over ``a >= 0``
with ``W^T a <= W^T 1``. At a point h the scaled ratios ``a = s v / z``, ``s = min_r
(sum_i W_ir) / (sum_i W_ir v_i / z_i)``, are dual feasible, and the duality gap

    G(h) = sum_i z_i - sum_i v_i - (sum_i v_i) log s

bounds what a full minimization over the column could still gain in log L (the same
for the rows of W with H fixed). It is a bound, but first-order in the gradient and
scaled by the counts: on the exercise table (6.0 million counts) the sum of both blocks'
gaps was 3.5 + 0.7 nats at the point where today's rule stopped R = 4 restart 0 with
2.4e-6 nats still to gain, and 59 + 14 nats 50 sweeps earlier (2.5e-2 to gain): six
orders of magnitude loose, too loose to stop on. Geometric extrapolation of the recent
gains (a ratio from two windows) was tried and refused: restarts crawl along plateaus
and then gain again, and it stopped restarts up to 236 nats short of their end (R = 7;
windows of 5 to 20 sweeps, 1e-4 to 1e-2 nats). And no rule can save much here: even
an oracle stopping every restart the moment it is within 0.01 nats of its end saves
6 % of the sweeps of the exercise table (0.1 nats: 14 %). The gain rule, safe against
those plateaus, runs longer than the relative rule there (``gain_tol = 1``: 8 % more
sweeps; today's rule stops some non-best restarts up to 18.5 nats short). So the
relative rule stays the default, and the gain rule is an option whose tolerance means
nats at every table size (1e-10 relative is 2.6e-6 nats per sweep on the exercise
table, 0.02 on a 20,000 x 1,000 table).

Racing (:func:`run_restarts`): a stated, validated rule; not a bound either (the problem
is not jointly convex: no computable bound on where a restart will end exists), and the
same plateaus make it costly to make safe.
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
                      PACE_WINDOW, RACE_SLACK, Options, RestartFit)

__all__ = ["Sweeps", "descend", "pace_estimate", "race_floor", "run_restarts"]


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


def pace_estimate(history: list[float], max_iter: int) -> float:
    """Log L still to gain if the restart kept, for every sweep it has left, its mean
    gain per sweep over the last :data:`PACE_WINDOW` sweeps: ``(max_iter - t) (L_t -
    L_{t-w}) / w`` with ``history[t] = L_t`` (``t = len(history) - 1``); inf before
    ``t = w``. An estimate, not a bound (module docstring)."""
    t = len(history) - 1
    if t < PACE_WINDOW:
        return float("inf")
    return (max_iter - t) * (history[t] - history[t - PACE_WINDOW]) / PACE_WINDOW


def race_floor(finished: list[float], margin: float) -> float | None:
    """The log L a racing restart must be able to reach to keep running:
    ``min(second best, best - margin)`` of the restarts that ran to the end; None (no
    race) before two have.

    A restart that ends below it is never one of :func:`moonlight.stability.near_best`'s
    restarts, whatever the others do (``near_best(..., margin)``: the best only rises,
    and the two best are at least the two best finished), so racing it leaves the best
    restart and the near-best set unchanged when the pace rule holds.
    """
    if len(finished) < 2:
        return None
    best, second = sorted(finished, reverse=True)[:2]
    return min(second, best - margin)


def descend(sweeps: Sweeps, W_out: NDArray, H_out: NDArray, log_v_fact: float,
            options: Options, restart: int, start: float,
            trace_rows: list[tuple[int, int, float, float]]) -> tuple[float, int, bool]:
    """Run extrapolated sweeps from (W_out, H_out) until convergence; update them in place.

    Returns the final log likelihood (recomputed exactly from the final factors, whose
    exact product ``sweeps`` then holds), the sweeps run and the convergence flag. Trace
    rows ``(restart, iteration, seconds since start, log L)`` go to ``trace_rows``.
    """
    loglik, iteration, converged, _ = _descend(sweeps, W_out, H_out, log_v_fact, options,
                                               restart, start, trace_rows, None)
    return loglik, iteration, converged


def _descend(sweeps: Sweeps, W_out: NDArray, H_out: NDArray, log_v_fact: float,
             options: Options, restart: int, start: float,
             trace_rows: list[tuple[int, int, float, float]], floor: float | None
             ) -> tuple[float, int, bool, bool]:
    """:func:`descend`, racing against ``floor`` (a log L; None: no race): stops when
    ``L_t +`` :func:`pace_estimate` ``< floor``. Returns log L, sweeps, converged and
    stopped (by the race)."""
    tol, max_iter, check_every = options.tol, options.max_iter, options.check_every
    gain_tol = options.gain_tol
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
    converged = stopped = False
    checked = loglik
    # log L of X_k after every iteration (history[t] = L_t), for the pace estimate
    track = gain_tol is not None or floor is not None
    history = [loglik]
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
            if track:
                history.append(loglik)
            continue  # a wasted sweep says nothing about convergence
        if track:
            history.append(loglik)
        if iteration % check_every == 0 or iteration == max_iter or not moved:
            trace_rows.append((restart, iteration, time.perf_counter() - start, loglik))
            if gain_tol is None:
                change = abs(loglik - checked) / max(abs(loglik), 1e-300)  # relative_change
                done = change < tol
            else:
                to_gain = pace_estimate(history, max_iter)
                done = to_gain < gain_tol
            checked = loglik
            if done or not moved:
                converged = True
                break
            if (floor is not None
                    and loglik + RACE_SLACK * pace_estimate(history, max_iter) < floor):
                stopped = True
                break
    W_out[...] = W
    H_out[...] = H
    # exact product and log L at X_k (also for the KKT measure)
    loglik = sweeps.loglik(W, H) - log_v_fact
    return float(loglik), iteration, converged, stopped


def run_restarts(sweeps: Sweeps, log_v_fact: float, dtype: np.dtype,
                 starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Iterable[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]], measure_kkt: bool
                 ) -> Iterator[RestartFit]:
    """Fit each restart from its start, one after another, on the same ``sweeps`` (its
    buffers serve every restart); yield each as it finishes.

    ``starts(k)`` gives restart k's (W0, H0) in float64; they are cast to ``dtype``.
    ``measure_kkt=False`` (held-out entries) reports the KKT violation as NaN.

    Racing (``options.race_margin`` not None): once two restarts of this call have run
    to their own stop, each later restart races against :func:`race_floor` of those
    finished so far; it stops (``stopped=True``) at a check where even
    :data:`~moonlight.engines._common.RACE_SLACK` times its pace estimate,
    ``L_t + RACE_SLACK x`` :func:`pace_estimate`, could not lift it to the floor.

    A stopped restart's recorded log L is below the floor, so it is never one of
    :func:`moonlight.stability.near_best`'s restarts (the best only rises; the two best
    are at least the two best finished): stability and moonlighting support use only
    restarts that ran to the end, always. They are the restarts the unraced fit uses
    when the stopped restarts would also have ended below the floor; that is what the
    rule below must make sure of.

    That is a stated rule, validated, not a bound. With slack 1 it failed: on the
    exercise table it saved 7.6 % of the sweeps and kept every answer, but restarts at
    ranks above the true one crawl for thousands of sweeps and then gain 10 to 40
    times faster (planted 100 x 60, R = 7: a restart stopped 15.6 nats below the floor
    at 1.5e-4... 8.8e-4 nats per sweep went on to end 3 nats above it), and on fresh
    planted data it changed the near-best set of 7 of 134 fits and lost the best
    restart of one (100 x 60, seeds 300-326). Slack 30 is the smallest that lost
    nothing on 40 x 20 planted tables (seeds 0-59 to choose it, 100-199 to check it,
    and benchmarks/racing.py on fresh 100 x 60 seeds), and it saves 0.1-0.2 % of the
    sweeps there: racing is an option, off by default (benchmarks/RACING.md).

    The race depends on the order of ``restart_ids`` and on which restarts run in one
    call; :func:`moonlight.fit_nmf` therefore races only when one call runs every
    restart.
    """
    finished: list[float] = []
    for k in restart_ids:
        W0, H0 = starts(k)
        W = np.array(W0, dtype=dtype, order="C")  # a copy: the fit writes into it
        H = np.array(H0, dtype=dtype, order="C")
        floor = (None if options.race_margin is None
                 else race_floor(finished, options.race_margin))
        loglik, n_iter, converged, stopped = _descend(sweeps, W, H, log_v_fact, options,
                                                      int(k), start, trace_rows, floor)
        if not stopped:
            finished.append(loglik)
        kkt = sweeps.kkt(W, H) if measure_kkt else float("nan")
        yield RestartFit(int(k), W, H, loglik, n_iter, converged, kkt, stopped)
