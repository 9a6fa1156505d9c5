"""What every fit engine shares: the entry floor, the extrapolation constants, the
convergence statistic, the settings an engine receives and the result it returns.

It sits below the engines (they import it; it imports none of them), so the public API
(:mod:`moonlight.nmf`) and the engines never import each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["EPS", "CCD_EXTRAPOLATE", "BETA_START", "BETA_GROW", "BETA_BAR_GROW",
           "BETA_SHRINK", "BETA_MAX", "PACE_WINDOW", "RACE_SLACK", "Options", "RestartFit",
           "relative_change"]

#: Floor applied to every factor entry after an update. Multiplicative updates can never
#: move an entry away from exactly zero; a tiny positive floor lets it recover.
EPS = 1e-16

#: Extrapolation (Ang & Gillis 2019) for "ccd" and "emu": the next sweep starts from
#: Y = X_k + beta (X_k - X_{k-1}); its result is kept only if log L did not decrease.
#: On success beta <- min(beta_bar, BETA_GROW beta), beta_bar <- min(1, BETA_BAR_GROW
#: beta_bar); on failure beta_bar <- beta, beta <- beta / BETA_SHRINK. BETA_START 0.3
#: rather than 0.5: from a random start the first sweeps change a lot, and a long step
#: along them overshoots (5,000 x 200, R=10: scikit-learn's log L reached in 16 sweeps
#: instead of 19; the w09 sweep and its optima unchanged). 0 disables extrapolation for
#: good (beta only grows by factors): the w09 sweep then takes 12x longer.
CCD_EXTRAPOLATE = True
BETA_START = 0.3
BETA_GROW = 1.05
BETA_BAR_GROW = 1.01
BETA_SHRINK = 1.5
BETA_MAX = 1.0

#: Sweeps over which the recent pace of a restart (its mean gain in log L per sweep) is
#: measured, for the gain rule (``Options.gain_tol``) and for racing
#: (``Options.race_margin``); see :mod:`moonlight.engines._descent`. On the exercise
#: table (R = 2..7 x 10 restarts, 65,976 sweeps) the log L a restart still gained after
#: sweep t was at most 9,780 times its mean gain over the 100 sweeps before t (357 x 50
#: sweeps = 17,850 over 50, 36.8 x 200 = 7,360 over 200): 100 leaves the remaining
#: sweep budget (max_iter - t, about 19,000 there) twice that.
PACE_WINDOW = 100

#: Racing stops a restart only when even RACE_SLACK times its pace estimate could not
#: lift it to the race's floor (see :func:`moonlight.engines._descent.run_restarts`):
#: 1 lost near-best restarts (and once the best) on planted data; 30 is the smallest
#: that lost none on the planted tables it was checked on.
RACE_SLACK = 30.0


@dataclass(frozen=True)
class Options:
    """Stopping rule of one restart.

    Attributes
    ----------
    tol : float
        Converged when the relative change of log L between two checks is below it.
    max_iter : int
        Cap on iterations (coordinate descent: full sweeps).
    check_every : int
        Iterations between convergence checks (and trace rows).
    plain_sweeps : int
        Coordinate descent: sweeps before extrapolation begins (0: from the first
        sweep, as always before this option). A start near an optimum (``init="svd"``)
        wants plain sweeps first: its first sweeps still change a lot, and the
        extrapolated points they give are accepted (log L rose) yet worse than the plain
        sweep would have been (2,000 x 10,000, R = 10: scikit-learn's log L after 10
        plain sweeps, 31 extrapolated ones).

    gain_tol : float or None
        Coordinate descent: converged when the pace estimate of the log L still to
        gain, ``(max_iter - t) x`` the mean gain per sweep over the last
        :data:`PACE_WINDOW` sweeps, is below ``gain_tol`` nats; then ``tol`` is not
        used. None: the relative rule ``tol``. See :mod:`moonlight.engines._descent`.
    race_margin : float or None
        Coordinate descent, several restarts: race them. Once two restarts have run to
        the end, a later restart stops when even at its recent pace for every sweep it
        has left it could not reach ``min(second best, best - race_margin)`` of the
        finished restarts (:func:`moonlight.engines._descent.run_restarts`). None: no
        racing (every restart runs to its own stop).
    threads : int
        Coordinate descent: threads that share each cache-blocked half-sweep (rows of
        W, columns of H side by side): every sparse sweep, dense ones on tables of
        :data:`moonlight.engines.ccd.BLOCKED_MIN_BYTES` or more. Rows are independent,
        so the result is the same bytes for every thread count. The other kernels and
        engines run on one thread whatever it says.
    """

    tol: float
    max_iter: int
    check_every: int
    plain_sweeps: int = 0
    gain_tol: float | None = None
    race_margin: float | None = None
    threads: int = 1


@dataclass
class RestartFit:
    """One restart as an engine returns it.

    Attributes
    ----------
    restart : int
        The restart's number (its seed stream is child ``restart`` of the fit's seed).
    W : ndarray of shape (N, R), H : ndarray of shape (R, M)
        Final factors in the working dtype, not normalized.
    loglik : float
        Full Poisson log likelihood at (W, H), over the entries the fit saw.
    n_iter : int
        Iterations run.
    converged : bool
        Stopped on the tolerance (or when no progress was possible), not the cap nor
        the race.
    kkt : float
        Largest scaled KKT violation (NaN when the engine does not measure it, e.g. for
        a fit with held-out entries).
    stopped : bool
        Stopped by the race (``Options.race_margin``) before its own stop: W, H and
        log L are where it was then, not an optimum.
    """

    restart: int
    W: NDArray
    H: NDArray
    loglik: float
    n_iter: int
    converged: bool
    kkt: float
    stopped: bool = False


def relative_change(new: NDArray | float, old: NDArray | float) -> NDArray | float:
    """Convergence statistic ``|L_t - L_{t-check}| / |L_t|``."""
    return np.abs(new - old) / np.maximum(np.abs(new), 1e-300)
