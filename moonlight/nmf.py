"""Poisson NMF: fit ``V ~ Poisson(W H)`` by maximum likelihood.

Maximizing the Poisson log likelihood is minimizing the generalized Kullback-Leibler
divergence D(V || WH). Three engines:

``method="ccd"`` (default)
    Cyclic coordinate descent (Hsieh & Dhillon 2011; Hien & Gillis 2021), compiled with
    numba (:mod:`moonlight._kernels`): one step per entry and sweep, a Newton step when
    the entry grows and the minimizer of a curvature upper bound when it shrinks, so
    each 1-D step provably does not increase the 1-D objective and needs no trial
    evaluation. The product WH is kept in memory and updated in place. Between
    sweeps, the extrapolation of Ang & Gillis (2019): the next sweep starts from
    ``Y = X_k + beta (X_k - X_{k-1})`` and its result is kept only if log L did not
    decrease, so the recorded log likelihood never decreases. Entries are floored at
    ``EPS`` (never frozen at 0), so an entry that touched the floor can grow again.
    Restarts run one after another, so memory is that of one restart: V, one N x M
    product and O(N R + R M + N + M) scratch.

``method="emu"``
    The same MU steps with the extrapolation of Ang & Gillis (2019) and an acceptance
    test (monotone). Kept for comparison: on the exercise table it trails "ccd" at R>=5.

``method="mu"``
    Lee & Seung's multiplicative updates (2001), the plain reference::

        H_rj <- H_rj * sum_i W_ir V_ij / (WH)_ij  /  sum_i W_ir
        W_ir <- W_ir * sum_j H_rj V_ij / (WH)_ij  /  sum_j H_rj

    Restarts run together as stacked 3-D arrays (restart, ., .), so small tables pay
    numpy's per-call overhead once per iteration rather than once per restart. On big
    tables the stack is cut into chunks that keep the stacked N x M temporaries under
    ``MU_MEMORY_BUDGET`` bytes; restarts do not interact, so chunking does not change
    results.

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
from scipy.special import xlogy

from . import _kernels
from .likelihood import log_factorial_sum

__all__ = ["NMFResult", "fit_nmf", "normalize_factors", "METHODS"]

Method = Literal["ccd", "emu", "mu"]
METHODS: tuple[str, ...] = ("ccd", "emu", "mu")
DEFAULT_METHOD: str = "ccd"

#: Floor applied to every factor entry after an update. Multiplicative updates can never
#: move an entry away from exactly zero; a tiny positive floor lets it recover.
EPS = 1e-16

#: Iterations between convergence checks when ``check_every`` is not given. A check
#: costs about one product WH; one CCD sweep costs several, one MU iteration two.
DEFAULT_CHECK_EVERY: dict[str, int] = {"ccd": 1, "emu": 10, "mu": 10}

#: Convergence tolerance when ``tol`` is not given (relative change of log L per check).
DEFAULT_TOL: dict[str, float] = {"ccd": 1e-10, "emu": 1e-9, "mu": 1e-9}

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

#: Bytes the CCD engine may spend on transposed copies of V and WH (and of a mask): with
#: them the W sweep vectorizes like the H sweep. Larger tables sweep W row by row, which
#: needs no copy (20,000 x 1,000 at R=20 must fit in 4x the bytes of V + 300 MB).
TRANSPOSE_MEMORY_BUDGET = 256 * 2**20

#: Entries of WH whose logarithms are taken at once when log L is evaluated (8 MB).
LOG_BLOCK = 2**20

#: Bytes of stacked (restart, N, M) temporaries the MU engine may hold at once.
MU_MEMORY_BUDGET = 256 * 2**20


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


# ----------------------------------------------------------------------------------------
# Multiplicative updates (reference engine)
# ----------------------------------------------------------------------------------------


def _multiplicative_update(V: NDArray, W: NDArray, H: NDArray) -> None:
    """One Lee-Seung KL step on stacked factors W (K, N, R) and H (K, R, M), in place."""
    # H <- H * W^T (V / WH) / W^T 1
    ratio = V / (W @ H)
    H *= (W.transpose(0, 2, 1) @ ratio) / W.sum(axis=1)[:, :, None]
    np.maximum(H, EPS, out=H)
    # W <- W * (V / WH) H^T / 1 H^T
    ratio = V / (W @ H)
    W *= (ratio @ H.transpose(0, 2, 1)) / H.sum(axis=2)[:, None, :]
    np.maximum(W, EPS, out=W)


def _stacked_loglik(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float
                    ) -> NDArray[np.float64]:
    """Log likelihood of each stacked restart, shape (K,)."""
    WH = W @ H
    return (xlogy(V, WH).sum(axis=(1, 2), dtype=np.float64)
            - WH.sum(axis=(1, 2), dtype=np.float64) - log_v_fact)


def _mu_chunk_size(n_genes: int, n_samples: int, itemsize: int, restarts: int) -> int:
    """Restarts stacked at once so that ~3 stacked N x M temporaries fit the budget."""
    per_restart = 3 * n_genes * n_samples * itemsize
    return int(min(restarts, max(1, MU_MEMORY_BUDGET // per_restart)))


def _fit_mu(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float, tol: float,
            max_iter: int, check_every: int, restart_ids: NDArray[np.int64], start: float,
            trace_rows: list[tuple[int, int, float, float]]
            ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Run MU on stacked restarts W (K, N, R), H (K, R, M) in place until each converges.

    Returns the final log likelihood, iteration count and convergence flag per restart.
    """
    K = W.shape[0]
    logliks = _stacked_loglik(V, W, H, log_v_fact)
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=bool)
    trace_rows.extend((int(restart_ids[k]), 0, 0.0, float(logliks[k])) for k in range(K))
    active = np.arange(K)
    iteration = 0
    while active.size and iteration < max_iter:
        steps = min(check_every, max_iter - iteration)
        Wa, Ha = W[active], H[active]
        for _ in range(steps):
            _multiplicative_update(V, Wa, Ha)
        iteration += steps
        W[active], H[active] = Wa, Ha
        new = _stacked_loglik(V, Wa, Ha, log_v_fact)
        change = _relative_change(new, logliks[active])
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


def _fit_emu(V: NDArray, W: NDArray, H: NDArray, log_v_fact: float, tol: float,
             max_iter: int, check_every: int, restart_ids: NDArray[np.int64], start: float,
             trace_rows: list[tuple[int, int, float, float]]
             ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Extrapolated MU (Ang & Gillis 2019) on stacked restarts, in place; monotone.

    Each iteration applies one MU step to ``Y = max(eps, X_k + beta (X_k - X_{k-1}))``.
    The result becomes ``X_{k+1}`` only if its log L is at least that of ``X_k``
    (then ``beta <- min(beta_bar, 1.05 beta)``, ``beta_bar <- min(1, 1.01 beta_bar)``);
    otherwise it is discarded, ``beta_bar <- beta``, ``beta <- beta / 1.5`` and the next
    step starts from ``X_k`` itself. Each restart keeps its own beta.
    """
    K = W.shape[0]
    logliks = _stacked_loglik(V, W, H, log_v_fact)
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
        _multiplicative_update(V, Wy, Hy)
        new = _stacked_loglik(V, Wy, Hy, log_v_fact)
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
            change = _relative_change(logliks[active], checked[active])
            checked[active] = logliks[active]
            done = change < tol
            converged[active[done]] = True
            active = active[~done]
    return logliks, n_iter, converged


# ----------------------------------------------------------------------------------------
# Cyclic coordinate descent (default engine)
# ----------------------------------------------------------------------------------------


def _relative_change(new: NDArray | float, old: NDArray | float) -> NDArray | float:
    """Convergence statistic ``|L_t - L_{t-check}| / |L_t|``."""
    return np.abs(new - old) / np.maximum(np.abs(new), 1e-300)


class _LogLikelihood:
    """``sum_ij m_ij [V log WH - WH]`` of a product ``WH`` (:meth:`terms`), or of
    ``W @ H`` recomputed into ``WH`` in place (call).

    Logarithms are taken by numpy (SIMD) over blocks of rows into one reusable float64
    buffer of at most :data:`LOG_BLOCK` entries, so no N x M temporary is made; the
    terms are summed by a compiled loop in a fixed order (deterministic bytes).
    """

    def __init__(self, V: NDArray, mask: NDArray | None) -> None:
        self.V, self.mask = V, mask
        self.rows = max(1, min(V.shape[0], LOG_BLOCK // V.shape[1]))
        self.buffer = np.empty((self.rows, V.shape[1]))
        self.tiny = float(np.finfo(V.dtype).tiny)

    def __call__(self, W: NDArray, H: NDArray, WH: NDArray) -> float:
        _kernels.product(W, H, WH, self.tiny)
        return self.terms(WH)

    def terms(self, WH: NDArray) -> float:
        total = 0.0
        for lo in range(0, self.V.shape[0], self.rows):
            hi = min(lo + self.rows, self.V.shape[0])
            logs = np.log(WH[lo:hi], out=self.buffer[: hi - lo], dtype=np.float64)
            mask = None if self.mask is None else self.mask[lo:hi]
            total += _kernels.loglik_terms(self.V[lo:hi], WH[lo:hi], logs, mask)
        return total


def _transposed_layout(V: NDArray, masked: bool) -> bool:
    """Whether the W sweep may use transposed copies of V, WH (and the mask)."""
    return (3 if masked else 2) * V.nbytes <= TRANSPOSE_MEMORY_BUDGET


def _fit_ccd_restart(V: NDArray, W_out: NDArray, H_out: NDArray, log_v_fact: float, tol: float,
                     max_iter: int, check_every: int, restart: int, start: float,
                     trace_rows: list[tuple[int, int, float, float]],
                     mask: NDArray | None = None) -> tuple[float, int, bool, float]:
    """Run CCD on one restart, W (N, R) and H (R, M) C-contiguous, updated in place.

    One iteration is a sweep over all of H, then all of W (the order of MU). ``mask``
    (0/1 weights, V zero where 0) restricts the fit to the entries of weight 1; it is
    what cross-validation uses. Returns the final log likelihood, iterations run,
    convergence flag and KKT violation (NaN for a masked fit).
    """
    W, H = W_out.copy(), H_out.copy()
    tiny = float(np.finfo(V.dtype).tiny)
    # One N x M buffer: the product at the point being swept (Y), updated in place.
    WH = np.empty_like(V)
    # log L = sum [V log WH - WH] - sum log V!
    product_loglik = _LogLikelihood(V, mask)
    if _transposed_layout(V, mask is not None):
        # V^T ~ H^T W^T: the H kernel on the transposed problem sweeps W with its inner
        # loop running over genes, which vectorizes (the row kernel's does not)
        Vt = np.ascontiguousarray(V.T)
        WHt = np.empty_like(Vt)
        mask_t = None if mask is None else np.ascontiguousarray(mask.T)
        swept_loglik = _LogLikelihood(Vt, mask_t)

        def sweep_W(W_y: NDArray, H_y: NDArray) -> tuple[int, float]:
            WHt[...] = WH.T
            # W^T and H^T are views: the kernel writes W through W_y.T
            moved = _kernels.update_H_cols(Vt, WHt, H_y.T, W_y.T, EPS, tiny, mask_t)
            return moved, swept_loglik.terms(WHt)
    else:
        def sweep_W(W_y: NDArray, H_y: NDArray) -> tuple[int, float]:
            moved = _kernels.update_W_rows(V, WH, W_y, H_y, EPS, tiny, mask)
            return moved, product_loglik.terms(WH)

    loglik = product_loglik(W, H, WH) - log_v_fact
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
        # one sweep from Y: all of H, then all of W (WH follows the H sweep in place)
        moved = _kernels.update_H_cols(V, WH, W_y, H_y, EPS, tiny, mask)
        moved_W, swept = sweep_W(W_y, H_y)
        moved += moved_W
        iteration += 1
        _kernels.rescale_columns(W_y, H_y)  # leaves the product unchanged
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
            if CCD_EXTRAPOLATE:
                # Y <- max(eps, X_k + beta (X_k - X_{k-1})), and its product
                beta = min(beta_bar, beta * BETA_GROW)
                beta_bar = min(BETA_MAX, beta_bar * BETA_BAR_GROW)
                _kernels.extrapolate(W, W_prev, beta, EPS, W_y)
                _kernels.extrapolate(H, H_prev, beta, EPS, H_y)
                _kernels.product(W_y, H_y, WH, tiny)
                extrapolated = True
            else:
                W_y[...], H_y[...] = W, H
                _kernels.product(W_y, H_y, WH, tiny)
        else:
            # discard sweep(Y); the next sweep starts from X_k (product recomputed)
            W_y[...], H_y[...] = W, H
            _kernels.product(W_y, H_y, WH, tiny)
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
            change = abs(loglik - checked) / max(abs(loglik), 1e-300)  # _relative_change
            checked = loglik
            if change < tol or not moved:
                converged = True
                break
    W_out[...] = W
    H_out[...] = H
    # exact product and log L at X_k (also for the KKT measure)
    loglik = product_loglik(W, H, WH) - log_v_fact
    if mask is not None:
        return float(loglik), iteration, converged, float("nan")
    kkt = _kernels.kkt_violation(V, W, H, WH)
    return float(loglik), iteration, converged, float(kkt)


def _log_factorial_sum_chunked(V: NDArray[np.float64], block: int = 2**20) -> float:
    """``sum_ij log V_ij!`` over blocks of rows, so no full-size temporary is made."""
    rows = max(1, block // V.shape[1])
    return float(sum(log_factorial_sum(V[i:i + rows]) for i in range(0, V.shape[0], rows)))


def _kkt(V: NDArray, W: NDArray, H: NDArray) -> float:
    """KKT violation of one restart's factors (computes its own WH)."""
    WH = np.empty_like(V)
    _kernels.product(W, H, WH, float(np.finfo(V.dtype).tiny))
    return float(_kernels.kkt_violation(V, W, H, WH))


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
    log_v_fact = _log_factorial_sum_chunked(V)
    column_totals = V.sum(axis=0)
    V = np.ascontiguousarray(V, dtype=dtype)
    n_genes, n_samples = V.shape
    children = np.random.SeedSequence(seed).spawn(restarts)

    logliks = np.empty(restarts)
    n_iter = np.zeros(restarts, dtype=np.int64)
    converged = np.zeros(restarts, dtype=bool)
    kkt = np.empty(restarts)
    W_restarts = np.empty((restarts, n_genes, rank))
    trace_rows: list[tuple[int, int, float, float]] = []
    best = -1
    W_best = H_best = None
    start = time.perf_counter()

    if method == "ccd":
        for k, child in enumerate(children):
            W0, H0 = _initial_factor(column_totals, n_genes, rank, child)
            W = np.ascontiguousarray(W0, dtype=dtype)
            H = np.ascontiguousarray(H0, dtype=dtype)
            logliks[k], n_iter[k], converged[k], kkt[k] = _fit_ccd_restart(
                V, W, H, log_v_fact, tol, max_iter, check_every, k, start, trace_rows
            )
            W_restarts[k] = normalize_factors(W.astype(np.float64), H.astype(np.float64))[0]
            if best < 0 or logliks[k] > logliks[best]:
                best, W_best, H_best = k, W, H
    else:
        chunk = _mu_chunk_size(n_genes, n_samples, dtype.itemsize, restarts)
        for lo in range(0, restarts, chunk):
            ids = np.arange(lo, min(lo + chunk, restarts))
            W = np.empty((ids.size, n_genes, rank), dtype=dtype)
            H = np.empty((ids.size, rank, n_samples), dtype=dtype)
            for c, k in enumerate(ids):
                W[c], H[c] = _initial_factor(column_totals, n_genes, rank, children[k])
            engine = _fit_mu if method == "mu" else _fit_emu
            ll, it, conv = engine(V, W, H, log_v_fact, tol, max_iter, check_every, ids,
                                   start, trace_rows)
            logliks[ids], n_iter[ids], converged[ids] = ll, it, conv
            for c, k in enumerate(ids):
                kkt[k] = _kkt(V, W[c], H[c])
                W_restarts[k] = normalize_factors(W[c].astype(np.float64),
                                                  H[c].astype(np.float64))[0]
                if best < 0 or logliks[k] > logliks[best]:
                    best, W_best, H_best = int(k), W[c].copy(), H[c].copy()
            del W, H

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
