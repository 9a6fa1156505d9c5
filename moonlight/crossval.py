"""Held-out likelihood of Poisson NMF by K-fold cross-validation.

Three designs of the folds; each scores every entry of V exactly once over the K folds.

``design="entries"`` (default for a dense V)
    The entries of V are split at random into K folds of (nearly) equal size. For fold
    k, W and H are fitted to the other entries only, by the coordinate-descent engine
    (:mod:`moonlight.engines.ccd`) with a 0/1 mask M (1 on training entries) passed to
    its kernels: the gradient of ``W_ir`` becomes ``sum_j M_ij H_rj - sum_j H_rj M_ij
    V_ij / WH_ij``, and likewise for H and for the likelihood, so a held-out entry drops
    out of every sum. Its value has no effect on the fit, not even in the last bit: the
    engine only ever sees ``where(M, V, 0)``.

``design="samples"`` (default for a sparse V; available for a dense one)
    Bi-cross-validation (Owen & Perry 2009, "Bi-cross-validation of the SVD and the
    nonnegative matrix factorization", Ann. Appl. Stat. 3): the samples are split at
    random into K folds, and the genes once into two random halves A and B. For fold k,
    W is fitted to the other samples with nothing held out (an ordinary fit, every
    restart, the best kept); then, with W fixed, the test samples' H is fitted to their
    genes in A (:func:`moonlight.projection.project`) and scores their genes in B, and
    the other way round. Every entry is scored once over the K folds; every score is a
    prediction of counts the fitted parameters never saw.

    * *No N x M array, no mask:* the training fit is an ordinary fit of a column subset
      (the sparse engine over its nonzeros), the projections are fits of H alone.
    * *Every parameter the score uses is identified by training data.* This is why it
      replaced "blocks" as the sparse default. Under a block hold-out, a program whose
      sample weights sit on one sample group s and whose gene weights on the genes of
      the group g held out against s contributes to no training entry on (g, s): its
      scale there is not determined by any training count, and masked fits stop in
      optima that use such programs, predicting held-out blocks with absurd means. On
      the simulated 20,000-cell matrix of ``docs/scale.md`` (true R = 10), 2 of 3 folds
      at R = 10 did so (held-out log L -1.4e10 and -1.9e10 against -1.35e7), with
      random and with SVD starts alike; on 500 x 4,000 matrices of the same generator,
      1 to 3 of 3 folds per rank. The samples design on the same 20,000 cells peaks at
      R = 10 in every fold (R = 9 and 11: 5.4 and 3.3 million units lower).
    * The cost: a test sample's H comes from half its genes, so held-out values are
      noisier than under scattered entries; the training fits see (K - 1)/K of the
      samples.

``design="blocks"`` (available for dense and sparse V; not a default)
    A Latin-square block design. Genes are split at random into K groups of (nearly)
    equal size, and so are samples; fold f holds out every block (gene group g, sample
    group s) with ``(g + s) mod K == f``. Why this design:

    * *It never needs an N x M array.* Scattered held-out entries include zeros of V, so
      their list (or mask) has N M / K entries: for 2,000 genes x 100,000 cells, 40
      million per fold, more than the nonzeros of the whole matrix. A block design is
      described by two group labels (N + M numbers), and everything the fit needs about
      it is separable per block: the constant part of a gradient, ``sum_i m_ij W_ir``,
      is the sum of W over the genes outside one gene group, and the held-out part of
      ``sum (WH)_ij`` is ``sum_blocks sum_r (sum_{i in g} W_ir)(sum_{j in s} H_rj)``.
      Training and scoring then touch the nonzeros and O((N + M) R) numbers only
      (:mod:`moonlight.engines.sparse_ccd`).
    * *Every gene and every sample keeps most of its data in every fold.* In fold f, a
      gene loses exactly one sample group (1/K of its samples) and a sample one gene
      group, so W's rows and H's columns stay estimable from training entries, and each
      held-out entry is predicted from its own gene's and sample's other entries -- the
      same question the entry design asks. Holding out whole samples or whole genes
      instead would leave their factors undetermined (bi-cross-validation, Owen & Perry
      2009, has to refit them from a second split).
    * *Every entry is held out exactly once* (the K blocks of a row of the square go to K
      different folds), so ``cv_loglik`` sums the same N M terms as in the entry design.

    The cost: entries of one block share a gene group and a sample group, so fold values
    vary more than with scattered entries (``cv_se`` is larger). The same design on a
    dense V (a 0/1 mask built from the labels) and on the same V stored sparse gives the
    same folds and the same optimum, so the same selection.

The fold is scored by the Poisson log likelihood of its held-out entries under the
fitted WH. A rank that overfits the training entries predicts held-out ones worse, so
unlike the in-sample log likelihood the held-out one has a maximum in R.

Per rank the workflow reports ``cv_loglik`` = the sum over folds (each entry scored once)
and ``cv_se`` = ``sqrt(K) * sd(fold values)``, the standard error of that sum.

The start of restart r of fold k is drawn from child r of ``SeedSequence([seed, rank,
k])`` by the restart driver of :func:`moonlight.fit_nmf` (:mod:`moonlight.restarts`;
column totals estimated from the training entries), so results do not depend on how many
other restarts run.
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
from .engines.sparse_ccd import Blocks, SparseProblem, block_sum
from .likelihood import log_factorial_sum, poisson_loglik, sparse_data_terms
from .config import default
from .projection import project
from .restarts import run_restarts, start_drawer
from .starts import INITS, SVD_PLAIN_SWEEPS

__all__ = ["fold_labels", "block_groups", "block_fold_labels", "fit_masked", "fit_blocks",
           "heldout_loglik", "heldout_loglik_blocks", "cross_validate", "cv_summary",
           "with_background", "sample_folds", "gene_halves", "CV_COLUMNS", "DESIGNS"]

#: Fold designs of :func:`cross_validate`.
DESIGNS: tuple[str, ...] = ("entries", "blocks", "samples")

CV_COLUMNS = ["rank", "fold", "train_loglik", "heldout_loglik", "n_heldout", "n_iter",
              "converged"]


def fold_labels(shape: tuple[int, int], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold (0..K-1) of every entry: a uniformly random balanced partition of the entries.

    Sizes differ by at most one; the same ``(shape, folds, seed)`` gives the same labels.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    n = shape[0] * shape[1]
    if folds > n:
        raise ValueError(f"cannot split {n} entries into {folds} folds")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1EC7]))
    labels = np.empty(n, dtype=np.int64)
    labels[rng.permutation(n)] = np.arange(n) % folds
    return labels.reshape(shape)


def _balanced_labels(n: int, folds: int, rng: np.random.Generator) -> NDArray[np.int64]:
    labels = np.empty(n, dtype=np.int64)
    labels[rng.permutation(n)] = np.arange(n) % folds
    return labels


def block_groups(shape: tuple[int, int], folds: int, seed: int
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Gene group (N,) and sample group (M,) of the Latin-square block design.

    Each is a uniformly random balanced partition into ``folds`` groups (sizes differ by
    at most one); entry (i, j) is held out in fold ``(gene_group[i] + sample_group[j])
    mod folds``. The same ``(shape, folds, seed)`` gives the same groups.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if folds > min(shape):
        raise ValueError(f"the block design needs folds <= min(N, M) = {min(shape)}, "
                         f"got {folds}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB10C5]))
    genes = _balanced_labels(shape[0], folds, rng)
    return genes, _balanced_labels(shape[1], folds, rng)


def block_fold_labels(shape: tuple[int, int], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold of every entry under the block design, as an (N, M) array (dense V only)."""
    genes, samples = block_groups(shape, folds, seed)
    return (genes[:, None] + samples[None, :]) % folds


def fit_masked(
    V: ArrayLike,
    mask: ArrayLike,
    rank: int,
    *,
    restarts: int = 3,
    seed: int | Iterable[int] = 0,
    tol: float = 1e-8,
    max_iter: int = 2000,
    check_every: int = 1,
    init: str = "random",
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
    init : {"random", "svd"}
        Starts as in :func:`moonlight.fit_nmf`; ``"svd"`` factorizes the training
        entries with the held-out ones filled by the rank-1 fit of the training entries
        (:func:`_filled_dense`).

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
    problem = engines.ccd.DenseProblem(MV, weights, log_v_fact)
    training = _filled_dense(MV, weights) if init == "svd" else None
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
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    n_genes, n_samples = problem.shape
    if not 1 <= rank <= min(n_genes, n_samples):
        raise ValueError(f"rank must be between 1 and {min(n_genes, n_samples)}, got {rank}")
    if restarts < 1 or max_iter < 1 or check_every < 1 or not tol > 0:
        raise ValueError("restarts, max_iter and check_every must be >= 1 and tol > 0")
    starts = start_drawer(seed, rank, column_totals, n_genes,
                          training if init == "svd" else None)
    options = engines.Options(tol=tol, max_iter=max_iter, check_every=check_every,
                              plain_sweeps=SVD_PLAIN_SWEEPS if init == "svd" else 0)
    runs = run_restarts("ccd", problem, starts, range(restarts), options, keep_H=True)
    return runs.W, runs.H, runs.logliks, runs.n_iter, runs.converged


def _split_blocks(problem: SparseProblem, blocks: Blocks
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


def _block_sizes(blocks: Blocks) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Training entries per sample and held-out entries in total, from group sizes."""
    K, f = blocks.folds, blocks.fold
    genes_per_group = np.bincount(blocks.gene_group, minlength=K)
    held_genes = genes_per_group[(f - blocks.sample_group) % K]  # per sample
    return genes_per_group.sum() - held_genes, held_genes


def _fit_split(train: SparseProblem, rank: int, **kwargs
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                          NDArray[np.int64], NDArray[np.bool_]]:
    n_genes = train.shape[0]
    observed = np.maximum(_block_sizes(train.blocks)[0].astype(np.float64), 1.0)
    column_totals = train.column_totals() * n_genes / observed
    training = _filled_training(train) if kwargs.get("init") == "svd" else None
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
    restarts: int = 3,
    seed: int | Iterable[int] = 0,
    tol: float = 1e-8,
    max_iter: int = 2000,
    check_every: int = 1,
    init: str = "random",
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
           NDArray[np.int64], NDArray[np.bool_]]:
    """Fit a sparse ``V ~ Poisson(W H)`` on the entries outside the held-out blocks.

    The sparse engine (:mod:`moonlight.engines.sparse_ccd`) sees the training nonzeros
    and the block labels only; no N x M array is formed, and the held-out values are
    never read. Parameters and returns are those of :func:`fit_masked`, with the
    held-out entries given by ``blocks`` (:func:`block_groups` and a fold).
    """
    train, _ = _split_blocks(_as_sparse_problem(V), blocks)
    return _fit_split(train, rank, restarts=restarts, seed=seed, tol=tol,
                      max_iter=max_iter, check_every=check_every, init=init)


def heldout_loglik(V: ArrayLike, WH: ArrayLike, heldout: ArrayLike) -> float:
    """Full Poisson log likelihood ``sum[V log WH - WH - log V!]`` over held-out entries."""
    heldout = np.asarray(heldout, dtype=bool)
    v = np.asarray(V, dtype=np.float64)[heldout]
    mu = np.asarray(WH, dtype=np.float64)[heldout]
    return poisson_loglik(v, mu)


def heldout_loglik_blocks(heldout: SparseProblem, W: NDArray, H: NDArray) -> float:
    """:func:`heldout_loglik` over held-out blocks: the nonzeros' terms plus the
    separable ``-sum (WH)`` over the blocks (the zeros add nothing else)."""
    return (sparse_data_terms(heldout.indptr, heldout.indices, heldout.data,
                              heldout.transposed, W, H)
            - block_sum(W, H, heldout.blocks, heldout=True))


def sample_folds(n_samples: int, folds: int, seed: int) -> NDArray[np.int64]:
    """Fold (0..K-1) of every sample under the ``"samples"`` design: a uniformly random
    balanced partition (sizes differ by at most one), fixed by ``(n_samples, folds,
    seed)``."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if folds > n_samples:
        raise ValueError(f"cannot split {n_samples} samples into {folds} folds")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3F1E5]))
    return _balanced_labels(n_samples, folds, rng)


def gene_halves(n_genes: int, seed: int) -> NDArray[np.bool_]:
    """The ``"samples"`` design's split of the genes into two random halves (True: the
    first), fixed by ``(n_genes, seed)``."""
    if n_genes < 2:
        raise ValueError(f"the samples design needs at least 2 genes, got {n_genes}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E4E5]))
    return _balanced_labels(n_genes, 2, rng) == 0


def _loglik(V: NDArray | sp.sparray, W: NDArray, H: NDArray) -> float:
    """``sum [V log WH - WH - log V!]`` of a dense or sparse V; a sparse V's product is
    formed at its nonzeros only."""
    if sp.issparse(V):
        problem = SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)
        return (sparse_data_terms(problem.indptr, problem.indices, problem.data,
                                  problem.transposed, W, H) - block_sum(W, H, None))
    return poisson_loglik(V, W @ H)


def _fit_samples(V: NDArray | sp.sparray, rank: int, **settings
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64],
                            NDArray[np.int64], NDArray[np.bool_]]:
    """Every restart of an ordinary fit (nothing held out) of the training samples."""
    if sp.issparse(V):
        problem = SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)
        problem.log_v_fact = log_factorial_sum(problem.data)
        totals = problem.column_totals()
    else:
        problem = engines.ccd.DenseProblem(V, None, log_factorial_sum(V))
        totals = V.sum(axis=0)
    return _fit_restarts(problem, totals, rank, training=V, **settings)


def _heldout_samples(V_test: NDArray | sp.sparray, first: NDArray[np.bool_], W: NDArray,
                     W1: NDArray | None, background: float) -> float:
    """Held-out log L of the test samples under the ``"samples"`` design: each half of the
    genes is predicted from H fitted to the other half (W fixed), so every entry of the
    test samples is scored once."""
    halves = (V_test[first], V_test[~first])
    total = 0.0
    for fitted, (seen, scored) in ((first, halves), (~first, halves[::-1])):
        Hs = project(seen, W[fitted]).H
        Ws = W[~fitted]
        if W1 is not None:
            H1 = project(seen, W1[fitted]).H
            Ws, Hs = with_background(Ws, Hs, W1[~fitted], H1, background)
        total += _loglik(scored, Ws, Hs)
    return total


def cross_validate(
    V: ArrayLike | pd.DataFrame | sp.spmatrix | sp.sparray,
    rank: int,
    *,
    folds: int = default("selection.folds"),
    seed: int = default("selection.seed"),
    restarts: int = default("selection.restarts"),
    tol: float = default("selection.tol"),
    max_iter: int = default("selection.max_iter"),
    check_every: int = default("selection.check_every"),
    design: str | None = default("selection.design"),
    background: float = default("selection.background"),
    init: str = default("fit.init"),
) -> pd.DataFrame:
    """K-fold held-out log likelihood of one rank.

    The partition depends on ``(shape, folds, seed, design)`` only, so every rank is
    scored on the same folds (differences between ranks are paired). In each fold the
    restart with the best *training* log likelihood is scored on the held-out entries,
    under ``(1 - background) W H + background W1 H1`` with W1 H1 the rank-1 fit of the
    same training entries (one restart, seed ``[seed, 1, k]``: the same for every rank).

    Why the background: on sparse tables the maximum-likelihood factors put exact zeros
    (the engine's floor) where the truth is small, and every held-out count that lands
    on one costs ~37 nats under W H alone; a few dozen of them outweigh the true rank's
    whole gain over rank 1, and the rule picks R = 1. Under the mixture an entry costs at
    most ``log(1 / background)`` more than under the rank-1 fit
    (``benchmarks/CALIBRATION.md``). The mixture is itself a rank R + 1 factorization,
    ``[(1 - b) W, b W1] [H; H1]``, so the sparse path scores it like any fit, never
    forming an N x M array. ``background=0`` scores W H alone.

    Parameters
    ----------
    V : array, DataFrame or scipy.sparse matrix/array of shape (N, M)
        Counts, genes x samples.
    design : {"entries", "blocks", "samples"}, optional
        Fold design (module docstring). Default: "entries" for a dense V (scattered
        entries, as always), "samples" for a sparse V, which "entries" would densify.
    folds, seed, restarts, tol, max_iter, check_every
        As in :func:`fit_masked`.
    background : float
        Weight of the rank-1 background in the held-out scoring, in [0, 1).

    Returns
    -------
    DataFrame
        One row per fold, columns :data:`CV_COLUMNS`.
    """
    sparse = sp.issparse(V) or (isinstance(V, pd.DataFrame) and V.shape[1] > 0 and all(
        isinstance(t, pd.SparseDtype) for t in V.dtypes))
    if design is None:
        design = "samples" if sparse else "entries"
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    if sparse and design == "entries":
        raise ValueError("design='entries' would hold out an N x M mask of a sparse V; "
                         "use design='samples' or 'blocks'")
    if not 0 <= background < 1:
        raise ValueError(f"background must be in [0, 1), got {background}")
    settings = dict(restarts=restarts, tol=tol, max_iter=max_iter, check_every=check_every,
                    init=init)
    # The partition depends on (shape, folds, seed, design) only: made once, used by
    # every fold.
    if design == "samples":
        if isinstance(V, pd.DataFrame) and sparse:
            V = sp.csc_array(V.sparse.to_coo())
        V = sp.csc_array(V, dtype=np.float64) if sparse else np.asarray(V, dtype=np.float64)
        run = _held_out_samples
        partition = (sample_folds(V.shape[1], folds, seed), gene_halves(V.shape[0], seed))
    elif sparse:
        V, run = _as_sparse_problem(V), _held_out_sparse_blocks
        partition = (*block_groups(V.shape, folds, seed), folds)
    else:
        V, run = np.asarray(V, dtype=np.float64), _held_out_masked
        partition = (fold_labels if design == "entries" else block_fold_labels)(
            V.shape, folds, seed)
    rows = [run(V, rank, k, partition, seed=seed, background=background, settings=settings)
            for k in range(folds)]
    return pd.DataFrame(rows, columns=CV_COLUMNS)


# One function per design, one fold each: fit the training part (restarts, the best by
# training log L; with a background weight also rank 1), score the held-out part.


def _held_out_samples(V: NDArray | sp.csc_array, rank: int, k: int,
                      partition: tuple[NDArray[np.int64], NDArray[np.bool_]], *, seed: int,
                      background: float, settings: dict) -> dict:
    """Design ``samples``: fold k's samples held out; W from the other samples, each
    held-out sample's H from one half of the genes, scored on the other half
    (``partition``: the samples' folds and the genes' first half)."""
    labels, first = partition
    test = labels == k
    train = V[:, ~test]
    W, _, ll, n_iter, converged = _fit_samples(train, rank, seed=[seed, rank, k], **settings)
    best = int(np.argmax(ll))
    W1 = None
    if background > 0:
        W1 = _fit_samples(train, 1, seed=[seed, 1, k], **{**settings, "restarts": 1})[0][0]
    heldout = _heldout_samples(V[:, test], first, W[best], W1, background)
    return _fold_row(rank, k, ll[best], heldout, V.shape[0] * int(test.sum()), n_iter[best],
                     converged[best])


def _held_out_sparse_blocks(problem: SparseProblem, rank: int, k: int,
                            partition: tuple[NDArray[np.int64], NDArray[np.int64], int], *,
                            seed: int, background: float, settings: dict) -> dict:
    """Design ``blocks`` on sparse V: fold k's gene-group x sample-group blocks held out,
    the training nonzeros fitted by the sparse engine (``partition``: the gene groups,
    the sample groups and the number of folds)."""
    genes, samples, folds = partition
    blocks = Blocks(genes, samples, folds, k)
    train, held = _split_blocks(problem, blocks)
    W, H, ll, n_iter, converged = _fit_split(train, rank, seed=[seed, rank, k], **settings)
    best = int(np.argmax(ll))
    Ws, Hs = W[best], H[best]
    if background > 0:
        W1, H1, *_ = _fit_split(train, 1, seed=[seed, 1, k], **{**settings, "restarts": 1})
        Ws, Hs = with_background(Ws, Hs, W1[0], H1[0], background)
    return _fold_row(rank, k, ll[best], heldout_loglik_blocks(held, Ws, Hs),
                     int(_block_sizes(blocks)[1].sum()), n_iter[best], converged[best])


def _held_out_masked(V: NDArray[np.float64], rank: int, k: int,
                     partition: NDArray[np.int64], *, seed: int, background: float,
                     settings: dict) -> dict:
    """Designs ``entries`` and ``blocks`` on dense V: fold k's entries masked out of
    the fit (:func:`fit_masked`) and scored (``partition``: every entry's fold)."""
    heldout = partition == k
    W, H, ll, n_iter, converged = fit_masked(V, ~heldout, rank, seed=[seed, rank, k],
                                             **settings)
    best = int(np.argmax(ll))
    Ws, Hs = W[best], H[best]
    if background > 0:
        W1, H1, *_ = fit_masked(V, ~heldout, 1, seed=[seed, 1, k],
                                **{**settings, "restarts": 1})
        Ws, Hs = with_background(Ws, Hs, W1[0], H1[0], background)
    return _fold_row(rank, k, ll[best], heldout_loglik(V, Ws @ Hs, heldout),
                     int(heldout.sum()), n_iter[best], converged[best])


def with_background(W: NDArray, H: NDArray, W1: NDArray, H1: NDArray, weight: float
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(1 - weight) W H + weight W1 H1`` as one factorization ``[(1 - w) W, w W1]
    [H; H1]`` (rank R + 1), so dense and sparse scoring treat it like any fit."""
    return (np.hstack([(1.0 - weight) * W, weight * W1]), np.vstack([H, H1]))


def _fold_row(rank: int, fold: int, train: float, heldout: float, n_heldout: int,
              n_iter: int, converged: bool) -> dict:
    return {"rank": rank, "fold": fold, "train_loglik": float(train),
            "heldout_loglik": float(heldout), "n_heldout": int(n_heldout),
            "n_iter": int(n_iter), "converged": bool(converged)}


def cv_summary(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Per rank: ``cv_loglik`` (sum over folds) and ``cv_se`` (``sqrt(K)`` x sd over folds)."""
    grouped = per_fold.groupby("rank")["heldout_loglik"]
    k = grouped.size()
    return pd.DataFrame({
        "cv_loglik": grouped.sum(),
        "cv_se": np.sqrt(k) * grouped.std(ddof=1).fillna(0.0),
    }).reset_index()
