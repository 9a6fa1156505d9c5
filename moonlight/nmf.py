"""Poisson NMF: fit ``V ~ Poisson(W H)`` by maximum likelihood -- the public API.

Maximizing the Poisson log likelihood is minimizing the generalized Kullback-Leibler
divergence D(V || WH). This module validates the input, draws the starts
(:mod:`moonlight.starts`: random, or from a randomized SVD), runs the restarts through an
engine of :mod:`moonlight.engines` and keeps the best:

``method="ccd"`` (default)
    Cyclic coordinate descent with provable-descent steps, compiled, extrapolated
    between sweeps; monotone (:mod:`moonlight.engines.ccd`). A scipy.sparse V runs the
    same steps over its nonzeros only (:mod:`moonlight.engines.sparse_ccd`).

``method="emu"``, ``method="mu"``
    Multiplicative updates, extrapolated or plain (Lee & Seung 2001), the reference
    (:mod:`moonlight.engines.mu`).

``batches=`` (any method)
    The known-batch model ``V_ij ~ Poisson(beta_{i,b(j)} (W H)_ij)`` (:mod:`moonlight.
    batches`), fitted by its multiplicative updates (:mod:`moonlight.engines.batch_mu`).

Each restart draws its start from its own child of ``SeedSequence(seed)``
(:mod:`moonlight.restarts`, the one restart driver), so a
restart's result does not depend on how many others run beside it: ``restart_ids=``
runs a subset, and :func:`combine_results` joins subsets into the full run's bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import engines
from .config import default
from .restarts import normalize_factors, run_restarts, start_drawer
from .starts import INITS, SVD_PLAIN_SWEEPS, svd_matrix
from .engines import Options
from .threads import thread_count
from .batches import Batches, batch_problem
from .counts import dense_values, refuse_path
from .engines.batch_mu import batch_factors
from .likelihood import log_factorial_sum, log_factorial_sum_chunked

__all__ = ["NMFResult", "combine_results", "fit_nmf", "normalize_factors", "METHODS"]

Method = Literal["ccd", "emu", "mu"]
Init = Literal["random", "svd"]
METHODS: tuple[str, ...] = engines.METHODS

#: Iterations between convergence checks when ``check_every`` is not given. A check
#: costs about one product WH; one CCD sweep costs several, one MU iteration two.
DEFAULT_CHECK_EVERY: dict[str, int] = {"ccd": 1, "emu": 10, "mu": 10}

#: Convergence tolerance when ``tol`` is not given (relative change of log L per check).
DEFAULT_TOL: dict[str, float] = {"ccd": 1e-10, "emu": 1e-9, "mu": 1e-9}

#: Near-best margin racing keeps clear of when ``race_margin`` is not given: the
#: workflow's ``selection.margin`` default (nats).
DEFAULT_RACE_MARGIN: float = default("selection.margin")


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
        Final log likelihood of every restart, in restart order (the order of
        :attr:`restart_ids`; every per-restart array follows it).
    n_iter : ndarray of shape (restarts,)
        Iterations each restart ran (CCD: full sweeps over W and H).
    converged : ndarray of shape (restarts,)
        True where the restart stopped on the tolerance rather than the iteration cap
        or the race.
    best_restart : int
        Number of the restart kept as W and H (for a fit of all restarts, also its
        index in the per-restart arrays).
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
        Row and column labels: a DataFrame's, or ``genes=`` / ``samples=``.
    kkt : ndarray of shape (restarts,), optional
        Largest scaled KKT violation of every restart's final factors (see
        :func:`moonlight._kernels.kkt_violation`): 0 at a stationary point. A small
        relative change of log L alone is not evidence of convergence; this is.
    W_restarts : ndarray of shape (restarts, N, R), optional
        Every restart's final W, normalized like ``W`` (columns summing to one, modules
        in canonical order), for stability and support across restarts.
    restart_ids : ndarray of shape (restarts,), optional
        Numbers of the restarts this result holds, increasing; None means all of
        ``0..restarts-1`` (see ``fit_nmf(restart_ids=...)`` and :func:`combine_results`).
    stopped : ndarray of shape (restarts,), optional
        True where the race stopped the restart before its own stop (``fit_nmf(race=
        True)``): its log L, W and iteration count are where it stood then, below the
        log L of every restart :func:`moonlight.stability.near_best` uses. None means
        no restart was stopped.
    batch_factors : ndarray of shape (N, K), optional
        With ``fit_nmf(batches=...)``: the best restart's factor of every gene in every
        batch (averaging to one over the samples); ``batch_names`` name the columns.
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
    restart_ids: NDArray[np.int64] | None = field(default=None)
    stopped: NDArray[np.bool_] | None = field(default=None)
    batch_factors: NDArray[np.float64] | None = field(default=None)
    batch_names: list[str] | None = field(default=None)

    def batch_frame(self) -> pd.DataFrame | None:
        """The batch factors as a DataFrame (genes x batches); None without batches."""
        if self.batch_factors is None:
            return None
        return pd.DataFrame(self.batch_factors, index=self.gene_names,
                            columns=self.batch_names)

    def restart_numbers(self) -> NDArray[np.int64]:
        """Numbers of the restarts held, in the order of the per-restart arrays."""
        if self.restart_ids is None:
            return np.arange(len(self.logliks), dtype=np.int64)
        return np.asarray(self.restart_ids, dtype=np.int64)

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

    def stopped_flags(self) -> NDArray[np.bool_]:
        """Whether the race stopped each restart (all False without racing)."""
        if self.stopped is None:
            return np.zeros(len(self.logliks), dtype=bool)
        return np.asarray(self.stopped, dtype=bool)

    def restarts_frame(self) -> pd.DataFrame:
        """One row per restart: ``restart``, ``loglik``, ``n_iter``, ``converged``, ``best``,
        ``kkt``, ``stopped`` (by the race: its log L is where it stood, not an optimum)."""
        n = len(self.logliks)
        kkt = self.kkt if self.kkt is not None else np.full(n, np.nan)
        ids = self.restart_numbers()
        return pd.DataFrame(
            {
                "restart": ids,
                "loglik": self.logliks,
                "n_iter": self.n_iter,
                "converged": self.converged,
                "best": ids == self.best_restart,
                "kkt": kkt,
                "stopped": self.stopped_flags(),
            }
        )


def _check_totals(row_totals: NDArray, column_totals: NDArray) -> None:
    zero_rows = np.flatnonzero(row_totals == 0)
    zero_cols = np.flatnonzero(column_totals == 0)
    if zero_rows.size or zero_cols.size:
        raise ValueError(
            f"V has {zero_rows.size} all-zero row(s) and {zero_cols.size} all-zero column(s); "
            "they carry no information: drop them first (moonlight.drop_empty)"
        )


def _validate_dense(V: ArrayLike) -> NDArray[np.float64]:
    V = dense_values(V, "V")
    if V.ndim != 2:
        raise ValueError(f"V must be a 2-D matrix (genes x samples), got {V.ndim} dimension(s)")
    n_genes, n_samples = V.shape
    if n_genes == 0 or n_samples == 0:
        raise ValueError(f"V is empty (shape {V.shape})")
    if not np.isfinite(V).all():
        raise ValueError("V contains NaN or infinite values")
    if (V < 0).any():
        raise ValueError("V contains negative values; counts must be non-negative")
    _check_totals(V.sum(axis=1), V.sum(axis=0))
    return V


def _validate_sparse(V: sp.spmatrix | sp.sparray, dtype: np.dtype
                     ) -> engines.sparse_ccd.SparseProblem:
    if V.ndim != 2:
        raise ValueError(f"V must be a 2-D matrix (genes x samples), got {V.ndim} dimension(s)")
    if V.shape[0] == 0 or V.shape[1] == 0:
        raise ValueError(f"V is empty (shape {V.shape})")
    if V.dtype.kind not in "biuf":
        raise ValueError(f"V must hold numbers, got dtype {V.dtype}")
    problem = engines.sparse_ccd.SparseProblem.from_matrix(V, dtype, 0.0)
    data = problem.data
    if not np.isfinite(data).all():
        raise ValueError("V contains NaN or infinite values")
    if (data < 0).any():
        raise ValueError("V contains negative values; counts must be non-negative")
    _check_totals(problem.row_totals(), problem.column_totals())
    problem.log_v_fact = log_factorial_sum(data)
    return problem


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate_seed(seed: object) -> None:
    """The seed must be a non-negative integer: ``None`` would make the fit
    irreproducible without a word, so it is refused."""
    if seed is None:
        raise TypeError("seed must be a non-negative integer, got None: moonlight fits are "
                        "reproducible by design (same seed, same bytes); pass e.g. seed=0")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _validate_stopping(tol: float | None, gain_tol: float | None, race: bool,
                       race_margin: float | None, method: str, ids: NDArray[np.int64],
                       restarts: int) -> None:
    """The gain rule (ccd only) and racing: one stopping tolerance; a ccd race only when
    this call runs every restart (a race depends on which restarts run side by side)."""
    if gain_tol is not None:
        if isinstance(gain_tol, bool) or not isinstance(gain_tol, (int, float, np.number)):
            raise TypeError(f"gain_tol must be a number of nats, got {gain_tol!r}")
        if not gain_tol > 0:
            raise ValueError(f"gain_tol must be positive (nats), got {gain_tol}")
        if tol is not None:
            raise ValueError("give tol (relative change) or gain_tol (nats), not both")
    if not isinstance(race, (bool, np.bool_)):
        raise TypeError(f"race must be True or False, got {race!r}")
    if race_margin is not None and not race_margin >= 0:
        raise ValueError(f"race_margin must be non-negative (nats), got {race_margin}")
    if method != "ccd" and gain_tol is not None:
        raise ValueError(f"gain_tol needs method='ccd', got method={method!r}")
    if race and method == "ccd" and ids.size != restarts:
        raise ValueError(
            f"race=True needs every restart in one call (got restarts {ids.tolist()} of "
            f"{restarts}): a race depends on which restarts run side by side, so fits of "
            "parts would not combine into the one-call result; pass race=False")


def _validate_options(shape: tuple[int, int], rank: int, restarts: int, tol: float | None,
                      max_iter: int, method: str) -> None:
    n_genes, n_samples = shape
    for name, value in (("restarts", restarts), ("max_iter", max_iter)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an integer, got {value!r}")
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


def _names(given: Sequence[str] | None, n: int, what: str) -> list[str] | None:
    if given is None:
        return None
    if isinstance(given, str):
        raise TypeError(f"{what} must be a sequence of names, not one string")
    names = [str(g) for g in given]
    if len(names) != n:
        raise ValueError(f"{what} has {len(names)} names but V has {n}")
    return names


def _restart_ids(restart_ids: Iterable[int] | None, restarts: int) -> NDArray[np.int64]:
    if restart_ids is None:
        return np.arange(restarts, dtype=np.int64)
    ids = np.array(sorted(int(k) for k in restart_ids), dtype=np.int64)
    if ids.size == 0:
        raise ValueError("restart_ids is empty")
    if ids[0] < 0 or ids[-1] >= restarts or np.any(np.diff(ids) == 0):
        raise ValueError(f"restart_ids must be distinct restarts in 0..{restarts - 1}, "
                         f"got {ids.tolist()}")
    return ids


def _initial_factors(
    V: NDArray[np.float64] | sp.sparray | sp.spmatrix, rank: int, restarts: int, seed: int,
    init: str = "random",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Starts of all restarts, stacked: W (K, N, R) and H (K, R, M), as ``fit_nmf`` draws
    them (``init`` as there)."""
    n_genes, n_samples = V.shape
    column_totals = np.asarray(V.sum(axis=0, dtype=np.float64)).ravel()
    starts = start_drawer(seed, rank, column_totals, n_genes,
                          svd_matrix(V) if init == "svd" else None)
    W = np.empty((restarts, n_genes, rank))
    H = np.empty((restarts, rank, n_samples))
    for k in range(restarts):
        W[k], H[k] = starts(k)
    return W, H


def _checked_input(V: ArrayLike | pd.DataFrame | sp.spmatrix | sp.sparray,
                   genes: Sequence[str] | None, samples: Sequence[str] | None,
                   dtype: np.dtype
                   ) -> tuple[NDArray | sp.sparray, engines.Problem | None,
                              list[str] | None, list[str] | None]:
    """V checked (a dense array, or for sparse V its engine problem) and the gene and
    sample names (a DataFrame's index and columns, or ``genes``/``samples``)."""
    refuse_path(V, "fit_nmf()")
    gene_names = sample_names = None
    if isinstance(V, pd.DataFrame):
        if genes is not None or samples is not None:
            raise ValueError("V is a DataFrame: its index and columns name the genes and "
                             "samples; do not pass genes= or samples=")
        gene_names = [str(g) for g in V.index]
        sample_names = [str(s) for s in V.columns]
        if V.shape[1] and all(isinstance(t, pd.SparseDtype) for t in V.dtypes):
            V = sp.csc_array(V.sparse.to_coo())
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype}")
    problem = None
    if sp.issparse(V):
        problem = _validate_sparse(V, dtype)
        shape = problem.shape
    else:
        V = _validate_dense(V)
        shape = V.shape
    if genes is not None:
        gene_names = _names(genes, shape[0], "genes")
    if samples is not None:
        sample_names = _names(samples, shape[1], "samples")
    return V, problem, gene_names, sample_names


def fit_nmf(
    V: ArrayLike | pd.DataFrame | sp.spmatrix | sp.sparray,
    rank: int,
    *,
    restarts: int = default("restarts"),
    seed: int = default("fit.seed"),
    tol: float | None = default("fit.tol"),
    max_iter: int = default("fit.max_iter"),
    check_every: int | None = default("fit.check_every"),
    method: Method = default("fit.method"),
    dtype: DTypeLike = np.float64,
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    restart_ids: Iterable[int] | None = None,
    init: Init = default("fit.init"),
    gain_tol: float | None = default("fit.gain_tol"),
    race: bool = default("fit.race"),
    race_margin: float | None = None,
    threads: int = default("fit.threads"),
    batches: Batches | Sequence[object] | None = None,
) -> NMFResult:
    """Fit ``V ~ Poisson(W H)`` from several starts and keep the best.

    Parameters
    ----------
    V : array, DataFrame or scipy.sparse matrix/array of shape (N, M)
        Non-negative counts, genes x samples, with no all-zero row or column. A sparse V
        (CSC or CSR, arrays or matrices; other formats are converted to CSC; a DataFrame
        whose columns all have a pandas sparse dtype) is fitted by the sparse engine
        (:mod:`moonlight.engines.sparse_ccd`) without ever forming a dense N x M array:
        same steps, same optimum as the dense engine. A canonical CSC/CSR matrix of the
        working dtype is used without a copy.
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
        table early on a slow crawl, and every looser value tried moved genes, and
        from 1e-8 calls, on real data: ``benchmarks/RACING.md``), 1e-9 for ``"mu"`` and
        ``"emu"``.
    max_iter : int
        Iteration cap per restart (CCD: sweeps); a restart stopped by it has
        ``converged = False``.
    check_every : int, optional
        Iterations between convergence checks; default 1 for ``"ccd"``, 10 for ``"mu"``.
        ``check_every=1`` records log L after every iteration in ``trace``.
    method : {"ccd", "emu", "mu"}
        ``"ccd"`` (default): cyclic coordinate descent with provable-descent Newton-type
        steps, compiled, with extrapolation between sweeps (dense or sparse V).
        ``"emu"``: extrapolated MU. ``"mu"``: Lee & Seung multiplicative updates (the
        plain reference). The MU engines need a dense V.
    dtype : {float64, float32}
        Working precision of V, WH, W and H. float32 halves memory; sums are still
        accumulated in float64. Returned factors are float64.
    genes, samples : sequence of str, optional
        Names of V's rows and columns when V carries none (arrays, sparse matrices); a
        DataFrame's index and columns are used otherwise (giving both is an error).
        They label :meth:`NMFResult.W_frame` and :meth:`NMFResult.H_frame`.
    restart_ids : iterable of int, optional
        Run only these restarts (numbers in ``0..restarts-1``; each starts from child k
        of ``SeedSequence(seed)`` as in the full run). Results of disjoint subsets
        combine with :func:`combine_results` into the bytes of the full run, so
        restarts can be fanned out over jobs.
    init : {"random", "svd"}
        How each restart starts (:mod:`moonlight.starts`), from its own child of
        ``SeedSequence(seed)`` either way. ``"random"`` (default): uniform random
        factors. ``"svd"``: NNDSVDa on a randomized truncated SVD of V drawn from the
        restart's stream, with a restart-seeded multiplicative jitter so restarts still
        differ; a sparse V is only multiplied by thin dense matrices, never densified.
        It starts near a good optimum, so ``"ccd"`` runs its first
        ``moonlight.starts.SVD_PLAIN_SWEEPS`` sweeps without extrapolation: fewer
        sweeps, and fewer restarts lost in optima that merge two programs on large,
        well-separated data.
    gain_tol : float, optional
        ``"ccd"`` only: stop a restart when the log L it would still gain at its mean
        pace of the last 100 sweeps, for every sweep it has left (``max_iter`` minus
        those run), is below ``gain_tol`` nats, instead of the relative rule ``tol``
        (give one of them). A stated estimate, not a bound, and not the default: on the
        exercise table (R = 2..7 x 10) it runs longer than ``tol=1e-10`` for every
        ``gain_tol`` up to 1 nat (0.01: 36 % more sweeps, 1: 8 % more; 10: 13 % fewer,
        restarts up to 3.9 nats short), because today's rule stops some restarts still
        climbing (up to 18.5 nats below where ``gain_tol=0.01`` takes them, at R = 6;
        the best restarts within 0.01). See :mod:`moonlight.engines._descent` for the
        bound that was too loose and the other measurements.
    race : bool
        Race the restarts (``"ccd"``, every restart in this call; the MU engines run
        their restarts side by side, stacked, so for them it has no effect). Once two
        have run to their own stop, a later restart stops as soon as, even gaining 30
        times its mean pace of the last 100 sweeps for every sweep it has left
        (``moonlight.engines._common.RACE_SLACK``), it could not reach ``min(second
        best, best - race_margin)`` of the finished restarts; it is marked in
        :attr:`NMFResult.stopped`. Its recorded log L is below that floor, so
        stability and support never use it. A stated rule, not a bound: when the stopped
        restart would also have ended below that floor, W, H, the best log L,
        stability and moonlighting support are those of the unraced fit (so on every
        planted table it was checked on); it saves 0.1-0.2 % of the sweeps there, and
        the slack that saved 7.6 % lost near-best restarts (see
        :func:`moonlight.engines._descent.run_restarts`). Default False: today's bytes.
    race_margin : float, optional
        The near-best margin racing keeps clear of, in nats: the ``margin`` the
        stability and support of this fit use (the workflow's ``selection.margin``).
        Default :data:`DEFAULT_RACE_MARGIN`.
    threads : int, default 1
        Threads that share each cache-blocked half-sweep of the ``"ccd"`` engine
        (sparse V always; dense V of ``moonlight.engines.ccd.BLOCKED_MIN_BYTES`` or
        more), each taking a fixed part of the rows. Rows are independent given the
        other factor, so every thread count gives the same bytes. The other kernels run
        on one thread.
    batches : Batches or sequence, optional
        Each sample's known batch (:class:`moonlight.batches.Batches`, or one label per
        sample): fit ``V_ij ~ Poisson(beta_{i,b(j)} (W H)_ij)`` with a factor per gene
        and batch (:mod:`moonlight.batches`), by the batch model's multiplicative
        updates (:mod:`moonlight.engines.batch_mu`; dense or sparse V, float64) whatever
        ``method`` says; ``tol`` and ``check_every`` default to those of ``"mu"``, and
        there is no race and no KKT residual (NaN). The factors are in
        :attr:`NMFResult.batch_factors`.

    Returns
    -------
    NMFResult
        Best W (columns summing to one) and H, every restart's log likelihood, iteration
        counts, convergence flags, KKT violations and a convergence trace.
    """
    dtype = np.dtype(dtype)
    V, problem, gene_names, sample_names = _checked_input(V, genes, samples, dtype)
    shape = problem.shape if problem is not None else V.shape
    _validate_options(shape, rank, restarts, tol, max_iter, method)
    _validate_seed(seed)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if batches is not None:
        batches = batches if isinstance(batches, Batches) else Batches.of(batches)
        if len(batches) != shape[1]:
            raise ValueError(f"batches has {len(batches)} labels for {shape[1]} samples")
        if dtype != np.dtype(np.float64):
            raise ValueError("the batch model fits in float64 only")
        method, race = "batch_mu", False
    if problem is not None and method not in ("ccd", "batch_mu"):
        raise ValueError(f"method {method!r} needs a dense V; a sparse V is fitted by "
                         "method='ccd'")
    n_genes, n_samples = shape
    column_totals = problem.column_totals() if problem is not None else None
    ids = _restart_ids(restart_ids, restarts)
    _validate_stopping(tol, gain_tol, race, race_margin, method, ids, restarts)
    if race_margin is None:
        race_margin = DEFAULT_RACE_MARGIN
    engine_defaults = "mu" if batches is not None else method
    if check_every is None:
        check_every = DEFAULT_CHECK_EVERY[engine_defaults]
    if tol is None:
        tol = DEFAULT_TOL[engine_defaults]
    if check_every < 1:
        raise ValueError(f"check_every must be at least 1, got {check_every}")
    # the SVD start reads V in float64 (a dense float32 fit keeps the float64 copy)
    V_start = svd_matrix(V) if init == "svd" else None
    if problem is None:
        log_v_fact = log_factorial_sum_chunked(V)
        column_totals = V.sum(axis=0)
        V = np.ascontiguousarray(V, dtype=dtype)
        problem = engines.ccd.DenseProblem(V, None, log_v_fact)
    if batches is not None:
        log_v_fact = (log_factorial_sum(problem.data)
                      if isinstance(problem, engines.sparse_ccd.SparseProblem)
                      else problem.log_v_fact)
        problem = batch_problem(V, batches, None, log_v_fact)
    starts = start_drawer(seed, rank, column_totals, n_genes, V_start)
    trace_rows: list[tuple[int, int, float, float]] = []
    options = Options(tol=tol, max_iter=max_iter, check_every=check_every,
                      plain_sweeps=SVD_PLAIN_SWEEPS if init == "svd" else 0,
                      gain_tol=gain_tol,
                      race_margin=race_margin if race and method == "ccd" else None,
                      threads=thread_count(threads))
    runs = run_restarts(method, problem, starts, ids, options, trace_rows=trace_rows)
    W_out, H_out = normalize_factors(runs.W_best.astype(np.float64),
                                     runs.H_best.astype(np.float64))
    trace = pd.DataFrame(trace_rows, columns=["restart", "iteration", "seconds", "loglik"])
    trace = trace.sort_values(["restart", "iteration"], kind="stable").reset_index(drop=True)
    return NMFResult(
        W=W_out,
        H=H_out,
        loglik=float(runs.logliks[runs.best]),
        logliks=runs.logliks,
        n_iter=runs.n_iter,
        converged=runs.converged,
        best_restart=int(ids[runs.best]),
        trace=trace,
        method=method,
        gene_names=gene_names,
        sample_names=sample_names,
        kkt=runs.kkt,
        W_restarts=runs.W,
        restart_ids=ids,
        stopped=runs.stopped if runs.stopped.any() else None,
        batch_factors=None if batches is None else batch_factors(problem, W_out, H_out)[0],
        batch_names=None if batches is None else batches.names,
    )


def combine_results(results: Sequence[NMFResult]) -> NMFResult:
    """One result from fits of disjoint sets of restarts of the same problem.

    The fits must differ only in ``restart_ids`` (same V, rank, seed and settings; this
    is checked where the results allow: shapes, method, names). The combined result is
    the one a single call with all those restarts returns, byte for byte, except the
    trace's ``seconds`` (each part's own wall clock): restarts sorted by number, the
    best the first restart of highest log likelihood, its W and H taken from the part
    that ran it.

    Parameters
    ----------
    results : sequence of NMFResult
        Fits by :func:`fit_nmf` with ``restart_ids``, e.g. restarts 0-4 and 5-9.

    Raises
    ------
    ValueError
        If the parts disagree on shape, method or names, repeat a restart, or lack
        every restart's W.
    """
    if not results:
        raise ValueError("combine_results needs at least one result")
    first = results[0]
    for r in results[1:]:
        if (r.W.shape != first.W.shape or r.H.shape != first.H.shape
                or r.method != first.method or r.gene_names != first.gene_names
                or r.sample_names != first.sample_names):
            raise ValueError("the results are not fits of one problem: shapes, method or "
                             "names differ")
    if any(r.W_restarts is None or r.kkt is None for r in results):
        raise ValueError("every result must carry kkt and W_restarts")
    ids = np.concatenate([r.restart_numbers() for r in results])
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if np.any(np.diff(ids) == 0):
        raise ValueError(f"restarts repeat across the results: {ids.tolist()}")
    logliks = np.concatenate([r.logliks for r in results])[order]
    best_pos = int(np.argmax(logliks))  # the first maximum, as fit_nmf keeps it
    best_id = int(ids[best_pos])
    owner = next(r for r in results if r.best_restart == best_id)
    stopped = np.concatenate([r.stopped_flags() for r in results])[order]
    trace = pd.concat([r.trace for r in results], ignore_index=True)
    trace = trace.sort_values(["restart", "iteration"], kind="stable").reset_index(drop=True)
    return NMFResult(
        W=owner.W,
        H=owner.H,
        loglik=float(logliks[best_pos]),
        logliks=logliks,
        n_iter=np.concatenate([r.n_iter for r in results])[order],
        converged=np.concatenate([r.converged for r in results])[order],
        best_restart=best_id,
        trace=trace,
        method=first.method,
        gene_names=first.gene_names,
        sample_names=first.sample_names,
        kkt=np.concatenate([r.kkt for r in results])[order],
        W_restarts=np.concatenate([r.W_restarts for r in results])[order],
        restart_ids=ids,
        stopped=stopped if stopped.any() else None,
        batch_factors=owner.batch_factors,
        batch_names=owner.batch_names,
    )
