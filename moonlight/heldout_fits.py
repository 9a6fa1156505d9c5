"""Fits with held-out data: the training fits of cross-validation.

:func:`fit_masked` fits the entries of a dense V where a mask is true (the ``entries``
and dense ``blocks`` designs), :func:`fit_blocks` the nonzeros of a sparse V outside
held-out blocks (the sparse ``blocks`` design), and the ``samples`` design fits the
training samples with nothing held out. All run their restarts through the one restart
driver (:mod:`moonlight.restarts`): restart r of a fit seeded ``seed`` starts from child
r of ``SeedSequence(seed)``, with column totals estimated from the training entries.

``init="svd"`` starts from an SVD of the training entries with every held-out entry
filled by the rank-1 fit of the training entries (:class:`_FilledTraining`): read as
zeros, held-out blocks would be a low-rank pattern of their own for the SVD to find.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from . import engines
from .batches import Batches, batch_problem
from .config import default
from .engines.sparse_ccd import Blocks, SparseProblem
from .engines._common import EPS
from .likelihood import log_factorial_sum, rank_one
from .restarts import run_restarts, start_drawer
from .starts import INITS, SVD_PLAIN_SWEEPS

#: Starts of the training fits: those of :func:`moonlight.fit_nmf`, and ``"mixed"``,
#: restart 0 from the SVD start and every other restart random.
TRAINING_INITS: tuple[str, ...] = (*INITS, "mixed")
#: The starts that need the SVD of the training entries.
SVD_INITS: tuple[str, ...] = ("svd", "mixed")

__all__ = ["fit_masked", "fit_blocks", "fit_samples", "fit_split", "split_blocks", "block_sizes"]


def fit_masked(
    V: ArrayLike,
    mask: ArrayLike,
    rank: int,
    *,
    restarts: int = default("selection.restarts"),
    seed: int | Iterable[int] = 0,
    tol: float = default("selection.tol"),
    max_iter: int = default("selection.max_iter"),
    check_every: int = default("selection.check_every"),
    init: str = "random",
    batches: Batches | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.int64], NDArray[np.bool_]]:
    """Fit ``V ~ Poisson(W H)`` on the entries where ``mask`` is true.

    The engine is the coordinate descent of :mod:`moonlight.engines.ccd` with the mask
    passed to its kernels: every gradient, curvature and likelihood sum runs over
    the training entries only.

    Parameters
    ----------
    V : array (N, M)
        Counts; values where ``mask`` is false are never read (they may be anything,
        even NaN).
    mask : bool array (N, M)
        True on training entries.
    rank, restarts, tol, max_iter, check_every
        As in :func:`moonlight.fit_nmf` (convergence on the training log likelihood;
        iterations are sweeps).
    seed : int or sequence of int
        Entropy of ``SeedSequence``; restart r starts from its child r.
    init : {"random", "svd", "mixed"}
        Starts as in :func:`moonlight.fit_nmf`; ``"svd"`` factorizes the training
        entries with the held-out ones filled by the rank-1 fit of the training entries
        (:func:`_filled_dense`); ``"mixed"``: restart 0 from that SVD start, every other
        restart random (the start it has under ``"random"``).
    batches : Batches, optional
        The samples' known batches: fit the batch model (:mod:`moonlight.batches`) on the
        training entries instead, by its engine (:mod:`moonlight.engines.batch_mu`,
        iterations are its multiplicative updates).

    Returns
    -------
    W : (restarts, N, R), H : (restarts, R, M), train_loglik : (restarts,),
    n_iter : (restarts,), converged : (restarts,)
        Every restart's factors (W columns summing to one), training log likelihood,
        iterations and convergence flag.
    """
    mask = np.asarray(mask, dtype=bool)
    V = np.asarray(V, dtype=np.float64)
    if V.shape != mask.shape:
        raise ValueError(f"V has shape {V.shape} but mask has shape {mask.shape}")
    MV = np.where(mask, V, 0.0)
    if (MV < 0).any() or not np.isfinite(MV).all():
        raise ValueError("training entries of V must be finite and non-negative")
    weights = mask.astype(np.float64)
    n_genes = V.shape[0]
    log_v_fact = log_factorial_sum(MV)

    # Starts as in moonlight.nmf, with column totals estimated from the training entries.
    observed = np.maximum(weights.sum(axis=0), 1.0)
    column_totals = MV.sum(axis=0) * n_genes / observed
    problem = (engines.ccd.DenseProblem(MV, weights, log_v_fact) if batches is None
               else batch_problem(MV, batches, weights, log_v_fact))
    training = _filled_dense(MV, weights) if init in SVD_INITS else None
    return _fit_restarts(problem, column_totals, rank, restarts=restarts, seed=seed,
                         tol=tol, max_iter=max_iter, check_every=check_every, init=init,
                         training=training)


def _filled_dense(MV: NDArray[np.float64], weights: NDArray[np.float64]
                  ) -> NDArray[np.float64]:
    """The training entries with every held-out entry replaced by the rank-1 Poisson fit
    of the training entries (see :class:`_FilledTraining`, the sparse form)."""
    rows, cols = MV.sum(axis=1), MV.sum(axis=0)
    b = np.ones(MV.shape[1])
    for _ in range(5):
        a = rows / np.maximum(weights @ b, 1e-300)
        b = cols / np.maximum(a @ weights, 1e-300)
    return np.where(weights > 0, MV, np.outer(a, b))


def _check_settings(shape: tuple[int, int], rank: int, *, restarts: int, tol: float,
                    max_iter: int, check_every: int, init: str) -> None:
    """ValueError naming the first setting of a training fit that is out of range."""
    if init not in TRAINING_INITS:
        raise ValueError(f"init must be one of {TRAINING_INITS}, got {init!r}")
    if not 1 <= rank <= min(shape):
        raise ValueError(f"rank must be between 1 and {min(shape)}, got {rank}")
    if restarts < 1 or max_iter < 1 or check_every < 1 or not tol > 0:
        raise ValueError("restarts, max_iter and check_every must be >= 1 and tol > 0")


def _fit_restarts(problem: engines.Problem, column_totals: NDArray[np.float64], rank: int,
                  *, restarts: int, seed: int | Iterable[int], tol: float, max_iter: int,
                  check_every: int, init: str = "random",
                  training: NDArray | sp.sparray | None = None,
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                             NDArray[np.int64], NDArray[np.bool_]]:
    """Every restart of a fit with held-out entries (see :func:`fit_masked`).

    ``training`` is the matrix (or :class:`_FilledTraining` operator) an ``"svd"`` start
    factorizes: V with its held-out entries filled by their rank-1 estimate (V itself
    when nothing is held out, the samples design)."""
    _check_settings(problem.shape, rank, restarts=restarts, tol=tol, max_iter=max_iter,
                    check_every=check_every, init=init)
    n_genes = problem.shape[0]
    # "mixed": restart 0 from the SVD start, the others random (the starts of their ids)
    kinds = [("svd", range(1)), ("random", range(1, restarts))] if init == "mixed" \
        else [(init, range(restarts))]
    runs = []
    for kind, ids in kinds:
        if len(ids):
            starts = start_drawer(seed, rank, column_totals, n_genes,
                                  training if kind == "svd" else None)
            options = engines.Options(
                tol=tol, max_iter=max_iter, check_every=check_every,
                plain_sweeps=SVD_PLAIN_SWEEPS if kind == "svd" else 0)
            runs.append(run_restarts("ccd", problem, starts, ids, options, keep_H=True))
    return tuple(np.concatenate([getattr(r, name) for r in runs])
                 for name in ("W", "H", "logliks", "n_iter", "converged"))


def split_blocks(problem: SparseProblem, blocks: Blocks
                  ) -> tuple[SparseProblem, SparseProblem]:
    """The training and the held-out nonzeros of a sparse V, as two problems in V's
    orientation (``log_v_fact`` of the training part set; the held-out values unread)."""
    n_compressed = problem.indptr.size - 1
    compressed = np.repeat(np.arange(n_compressed), np.diff(problem.indptr))
    if problem.transposed:
        held = blocks.heldout(compressed, problem.indices)
    else:
        held = blocks.heldout(problem.indices, compressed)
    parts = []
    for keep in (~held, held):
        indptr = np.zeros(n_compressed + 1, dtype=problem.indptr.dtype)
        np.cumsum(np.bincount(compressed[keep], minlength=n_compressed), out=indptr[1:])
        parts.append(SparseProblem(indptr, problem.indices[keep], problem.data[keep],
                                   problem.shape, problem.transposed, 0.0, blocks))
    train, heldout = parts
    if (train.data < 0).any() or not np.isfinite(train.data).all():
        raise ValueError("training entries of V must be finite and non-negative")
    train.log_v_fact = log_factorial_sum(train.data)
    return train, heldout


def block_sizes(blocks: Blocks) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Training entries per sample and held-out entries in total, from group sizes."""
    K, f = blocks.folds, blocks.fold
    genes_per_group = np.bincount(blocks.gene_group, minlength=K)
    held_genes = genes_per_group[(f - blocks.sample_group) % K]  # per sample
    return genes_per_group.sum() - held_genes, held_genes


def fit_split(train: SparseProblem, rank: int, **kwargs
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                          NDArray[np.int64], NDArray[np.bool_]]:
    n_genes = train.shape[0]
    observed = np.maximum(block_sizes(train.blocks)[0].astype(np.float64), 1.0)
    column_totals = train.column_totals() * n_genes / observed
    training = _filled_training(train) if kwargs.get("init") in SVD_INITS else None
    return _fit_restarts(train, column_totals, rank, training=training, **kwargs)


class _FilledTraining:
    """The training entries of a block-held-out sparse V with every held-out entry
    replaced by its rank-1 estimate ``a_i b_j``, as the linear operator an ``"svd"`` start
    needs (``@`` with thin dense matrices, ``.T``); never formed.

    Why fill: read as zeros, the held-out blocks are themselves a strong low-rank pattern
    (gene group g is empty on sample group s), so the leading singular vectors of the
    training matrix pick them up, and a start built on them has programs that live on
    held-out blocks, where no training entry constrains their scale. Masked fits from
    such starts end in optima that predict held-out blocks with absurd means (the
    20,000-cell benchmark of ``docs/scale.md``). Filled with the rank-1 estimate, the
    blocks carry no pattern of their own.
    """

    def __init__(self, train: sp.sparray, blocks: Blocks, a: NDArray, b: NDArray,
                 transposed: bool = False) -> None:
        self.train, self.blocks, self.a, self.b = train, blocks, a, b
        self.transposed = transposed
        self.shape = train.shape

    @property
    def T(self) -> _FilledTraining:
        return _FilledTraining(self.train.T, self.blocks, self.b, self.a, not self.transposed)

    def __matmul__(self, X: NDArray) -> NDArray[np.float64]:
        blocks, K = self.blocks, self.blocks.folds
        rows, cols = ((blocks.sample_group, blocks.gene_group) if self.transposed
                      else (blocks.gene_group, blocks.sample_group))
        out = np.asarray(self.train @ X, dtype=np.float64)
        # row i's held-out columns are the column group (fold - group(i)) mod K
        grouped = np.zeros((K, X.shape[1]))
        np.add.at(grouped, cols, self.b[:, None] * X)
        return out + self.a[:, None] * grouped[(blocks.fold - rows) % K]


def _filled_training(train: SparseProblem) -> _FilledTraining:
    """:class:`_FilledTraining` of a training problem, with ``a_i b_j`` the rank-1
    Poisson fit of the training entries (alternating closed-form updates)."""
    blocks, K = train.blocks, train.blocks.folds
    layout = sp.csr_array if train.transposed else sp.csc_array
    matrix = layout((train.data, train.indices, train.indptr), shape=train.shape)
    rows, cols = train.row_totals(), train.column_totals()
    a = np.maximum(rows, 0.0)
    b = np.ones(train.shape[1])
    for _ in range(5):
        # the training columns of gene i are all but sample group (fold - g_i) mod K
        b_groups = np.bincount(blocks.sample_group, weights=b, minlength=K)
        a = rows / np.maximum(b.sum() - b_groups[(blocks.fold - blocks.gene_group) % K],
                              1e-300)
        a_groups = np.bincount(blocks.gene_group, weights=a, minlength=K)
        b = cols / np.maximum(a.sum() - a_groups[(blocks.fold - blocks.sample_group) % K],
                              1e-300)
    return _FilledTraining(matrix, blocks, a, b)


def _as_sparse_problem(V: sp.spmatrix | sp.sparray | pd.DataFrame) -> SparseProblem:
    if isinstance(V, pd.DataFrame):
        V = sp.csc_array(V.sparse.to_coo())
    return SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)


def fit_blocks(
    V: sp.spmatrix | sp.sparray,
    blocks: Blocks,
    rank: int,
    *,
    restarts: int = default("selection.restarts"),
    seed: int | Iterable[int] = 0,
    tol: float = default("selection.tol"),
    max_iter: int = default("selection.max_iter"),
    check_every: int = default("selection.check_every"),
    init: str = "random",
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.int64], NDArray[np.bool_]]:
    """Fit a sparse ``V ~ Poisson(W H)`` on the entries outside the held-out blocks.

    The sparse engine (:mod:`moonlight.engines.sparse_ccd`) sees the training nonzeros
    and the block labels only; no N x M array is formed, and the held-out values are
    never read. Parameters and returns are those of :func:`fit_masked`, with the
    held-out entries given by ``blocks`` (:func:`block_groups` and a fold).
    """
    train, _ = split_blocks(_as_sparse_problem(V), blocks)
    return fit_split(train, rank, restarts=restarts, seed=seed, tol=tol,
                      max_iter=max_iter, check_every=check_every, init=init)


def fit_samples(V: NDArray | sp.sparray, rank: int, batches: Batches | None = None,
                **settings) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                     NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    """Every restart of an ordinary fit (nothing held out) of the training samples (of
    the batch model, with ``batches``).

    Rank 1 without batches has its optimum in closed form
    (:func:`moonlight.likelihood.rank_one`): one "restart" that took no sweep, W and H
    floored at the engines' ``EPS`` as a fitted factor is, so that a gene without a
    training count still gives held-out counts a finite likelihood.
    """
    if rank == 1 and batches is None:
        _check_settings(V.shape, rank, **{k: v for k, v in settings.items() if k != "seed"})
        w, h, loglik = rank_one(V)
        return (np.maximum(w, EPS)[None, :, None], np.maximum(h, EPS)[None, None, :],
                np.array([loglik]), np.zeros(1, dtype=np.int64), np.ones(1, dtype=bool))
    if sp.issparse(V):
        problem = SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)
        problem.log_v_fact = log_factorial_sum(problem.data)
        totals = problem.column_totals()
    else:
        problem = engines.ccd.DenseProblem(V, None, log_factorial_sum(V))
        totals = V.sum(axis=0)
    if batches is not None:
        problem = batch_problem(V, batches, None, problem.log_v_fact)
    return _fit_restarts(problem, totals, rank, training=V, **settings)
