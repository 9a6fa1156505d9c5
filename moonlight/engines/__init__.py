"""The fit engines behind :func:`moonlight.fit_nmf`, cross-validation and projection.

One internal interface, :func:`fit_restarts`: given a prepared problem (the data as an
engine needs it), a function that returns restart k's random start, the restart numbers
and the stopping rule, it yields one :class:`RestartFit` per restart. The public API
(:mod:`moonlight.nmf`) validates input, draws starts and keeps the best restart; the
engines only fit. :func:`fit_H` fits H with W held fixed (projection of new samples).

Engines, one module each:

* :mod:`~moonlight.engines.ccd` -- dense cyclic coordinate descent (default for dense V);
* :mod:`~moonlight.engines.sparse_ccd` -- the same steps over the nonzeros of a sparse V;
* :mod:`~moonlight.engines.mu` -- multiplicative updates, plain ("mu") and extrapolated
  ("emu"), dense only;
* :mod:`~moonlight.engines.batch_mu` -- multiplicative updates of the known-batch model
  (per-gene, per-batch factors), dense or sparse; a
  :class:`~moonlight.engines.batch_mu.BatchProblem` runs it whatever the method.

Below them: :mod:`~moonlight.engines._common` (constants, settings, result),
:mod:`~moonlight.engines._descent` (the extrapolated sweep loop both ccd engines run),
:mod:`moonlight.likelihood` (log L evaluators) and :mod:`moonlight._kernels` (loops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from numpy.typing import NDArray

from . import batch_mu, ccd, mu, sparse_ccd
from ._common import EPS, Options, RestartFit

__all__ = ["EPS", "Options", "RestartFit", "fit_restarts", "fit_H", "METHODS"]

#: Names of the engines :func:`fit_restarts` runs.
METHODS: tuple[str, ...] = ("ccd", "emu", "mu")

#: The data an engine fits: dense (:class:`~moonlight.engines.ccd.DenseProblem`),
#: sparse (:class:`~moonlight.engines.sparse_ccd.SparseProblem`), or with known batches
#: (:class:`~moonlight.engines.batch_mu.BatchProblem`).
Problem = ccd.DenseProblem | sparse_ccd.SparseProblem | batch_mu.BatchProblem


def fit_restarts(method: str, problem: Problem,
                 starts: Callable[[int], tuple[NDArray, NDArray]],
                 restart_ids: Sequence[int], options: Options, start: float,
                 trace_rows: list[tuple[int, int, float, float]]) -> Iterator[RestartFit]:
    """Fit every restart in ``restart_ids``; yield them in that order.

    Parameters
    ----------
    method : {"ccd", "emu", "mu"}
        The algorithm.
    problem : DenseProblem, SparseProblem or BatchProblem
        The data (see the engine modules); a sparse problem runs the sparse ccd engine,
        and only "ccd" takes one; a batch problem runs the batch engine (any method).
    starts : callable
        ``starts(k) -> (W0 (N, R), H0 (R, M))``, restart k's start in float64.
    restart_ids : sequence of int
        Restart numbers to fit (they label the trace rows and the results).
    options : Options
        Stopping rule.
    start : float
        ``time.perf_counter()`` at the start of the fit (trace times are relative to it).
    trace_rows : list
        Receives ``(restart, iteration, seconds, loglik)`` rows.
    """
    if isinstance(problem, batch_mu.BatchProblem):
        return batch_mu.fit_restarts(problem, starts, restart_ids, options, start,
                                     trace_rows)
    if isinstance(problem, sparse_ccd.SparseProblem):
        if method != "ccd":
            raise ValueError(f"method {method!r} needs a dense V; a sparse V is fitted by "
                             "method='ccd'")
        return sparse_ccd.fit_restarts(problem, starts, restart_ids, options, start,
                                       trace_rows)
    if method == "ccd":
        return ccd.fit_restarts(problem, starts, restart_ids, options, start, trace_rows)
    if method in ("mu", "emu"):
        return mu.fit_restarts(problem, starts, restart_ids, options, start, trace_rows,
                               extrapolate=method == "emu")
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def fit_H(problem: Problem, W: NDArray, H: NDArray, options: Options,
          trace_rows: list[tuple[int, int, float, float]]) -> tuple[float, int, bool]:
    """Fit H (R, M) in place with W (N, R) fixed by coordinate descent; returns log L,
    sweeps and the convergence flag (trace rows as in :func:`fit_restarts`)."""
    engine = sparse_ccd if isinstance(problem, sparse_ccd.SparseProblem) else ccd
    return engine.fit_H(problem, W, H, options, trace_rows)
