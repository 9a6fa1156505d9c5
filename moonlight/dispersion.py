"""A count row's overdispersion: Pearson's statistic and the moment estimate of its
negative-binomial dispersion (used by :mod:`moonlight.share_test`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .rowmodel import TINY

__all__ = ["pearson", "nb_dispersion"]


def pearson(V: NDArray, mu: NDArray, alpha: NDArray | float) -> NDArray:
    """Pearson ``X^2 = sum_j (v_j - mu_j)^2 / (mu_j (1 + alpha mu_j))`` per row."""
    mu = np.maximum(mu, TINY)
    alpha = np.asarray(alpha, dtype=np.float64)
    return ((V - mu) ** 2 / (mu * (1.0 + alpha[..., None] * mu))).sum(axis=-1)


def nb_dispersion(V: NDArray, mu: NDArray, df: NDArray) -> NDArray:
    """Moment estimate of each row's negative-binomial dispersion: the alpha >= 0 with
    Pearson ``X^2(alpha) = df`` (0 when the Poisson X^2 is already at most df). X^2 falls
    monotonically in alpha, so 60 bisection steps on log alpha in [1e-8, 1e4] suffice."""
    alpha = np.zeros(len(V))
    over = pearson(V, mu, 0.0) > df
    if not over.any():
        return alpha
    lo = np.full(over.sum(), np.log(1e-8))
    hi = np.full(over.sum(), np.log(1e4))
    Vo, mo, dfo = V[over], mu[over], df[over]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = pearson(Vo, mo, np.exp(mid)) > dfo
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    alpha[over] = np.exp(0.5 * (lo + hi))
    return alpha
