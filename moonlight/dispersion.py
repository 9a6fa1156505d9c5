"""A count row's overdispersion: Pearson's statistic and the moment estimate of its
negative-binomial dispersion (used by :mod:`moonlight.share_test`), under the row
model of :func:`moonlight.rowmodel.fit_rows`: ``mu = (b Ht) * offset``.

Both run as compiled loops, one row at a time, the means computed in the pass
(:mod:`moonlight._dispersion_kernels`), on the threads
:func:`moonlight.rowmodel.fitting_threads` grants: a row's value depends on that row
alone, not on the rows beside it or the thread count.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .threads import numba_threads
from .rowmodel import TINY, row_threads

__all__ = ["pearson", "nb_dispersion", "ALPHA_RANGE"]

#: The dispersions :func:`nb_dispersion` can return, besides 0.
ALPHA_RANGE = (1e-8, 1e4)


def _per_row(values: NDArray | float, n_rows: int) -> NDArray:
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, dtype=np.float64),
                                                (n_rows,)))


def _model(V: NDArray, Ht: NDArray, b: NDArray, offset: NDArray | None) -> tuple:
    """The kernels' row arguments: V, Ht transposed, b, the offset and whether given."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if V.ndim != 2 or b.shape != (V.shape[0], Ht.shape[0]) or Ht.shape[1] != V.shape[1]:
        raise ValueError(f"rows {V.shape}, coefficients {b.shape} and module activities "
                         f"{Ht.shape} do not fit mu = b Ht")
    Hs = np.ascontiguousarray(np.asarray(Ht, dtype=np.float64).T)
    o = np.zeros((V.shape[0], 1)) if offset is None \
        else np.ascontiguousarray(offset, dtype=np.float64)
    return V, Hs, b, o, offset is not None


def pearson(V: NDArray, Ht: NDArray, b: NDArray, alpha: NDArray | float, *,
            offset: NDArray | None = None) -> NDArray:
    """Pearson ``X^2 = sum_j (v_j - mu_j)^2 / (mu_j (1 + alpha mu_j))`` of each row of V
    (G, M), with ``mu = (b Ht) * offset`` floored at ``rowmodel.TINY`` (b: (G, R); Ht:
    (R, M); offset: (G, M) or None) and dispersions alpha (a number or one per row)."""
    from . import _dispersion_kernels  # here, not above: importing this module loads no numba

    args = _model(V, Ht, b, offset)
    with numba_threads(row_threads(len(args[0]))):
        return _dispersion_kernels.pearson_rows(*args, _per_row(alpha, len(args[0])),
                                                TINY)


def nb_dispersion(V: NDArray, Ht: NDArray, b: NDArray, df: NDArray | float, *,
                  offset: NDArray | None = None) -> NDArray:
    """Moment estimate of each row's negative-binomial dispersion (arguments as
    :func:`pearson`): the alpha >= 0 with Pearson ``X^2(alpha) = df``, 0 when the
    Poisson X^2 is already at most df, held to :data:`ALPHA_RANGE` otherwise. X^2 falls
    monotonically (and convexly) in alpha, so Newton steps on log alpha inside a
    bracket that each pass narrows find the root to machine precision in a handful of
    passes over the row."""
    from . import _dispersion_kernels  # here, not above: importing this module loads no numba

    args = _model(V, Ht, b, offset)
    with numba_threads(row_threads(len(args[0]))):
        return _dispersion_kernels.dispersion_rows(*args, _per_row(df, len(args[0])),
                                                   *ALPHA_RANGE, TINY)
