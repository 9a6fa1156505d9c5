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
    * *One training start is a randomized SVD* of the training samples, the others are
      random (``init="mixed"``): a fold whose training fit stops in an optimum that
      merges two programs scores the true rank as if it were one lower, and from random
      starts alone that happened in 3 of 5 folds at the true rank of the same 20,000
      cells.

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

Where the parts live: the partitions in :mod:`moonlight.folds`, the training fits (and
their seeds: restart r of fold k starts from child r of ``SeedSequence([seed, rank,
k])``) in :mod:`moonlight.heldout_fits`, and here each design as a :class:`FoldDesign`
(prepare V, partition it, fit and score one fold) behind :func:`cross_validate`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from . import progress
from .batches import Batches, batch_problem, offsets
from .config import default, fold_settings
from .engines.batch_mu import batch_factors
from .engines.sparse_ccd import Blocks, SparseProblem, block_sum
from .folds import block_fold_labels, block_groups, fold_labels, gene_halves, sample_folds
from .heldout_fits import block_sizes, fit_blocks, fit_masked, fit_samples, fit_split, split_blocks
from .likelihood import poisson_loglik, sparse_data_terms
from .projection import project

__all__ = ["cross_validate", "cv_summary", "heldout_loglik", "heldout_loglik_blocks",
           "with_background", "FoldDesign", "CV_COLUMNS", "DESIGNS",
           # the folds and the fits with held-out data, from their own modules
           "fold_labels", "block_groups", "block_fold_labels", "sample_folds", "gene_halves",
           "fit_masked", "fit_blocks"]

#: Fold designs of :func:`cross_validate`.
DESIGNS: tuple[str, ...] = ("entries", "blocks", "samples")

CV_COLUMNS = ["rank", "fold", "train_loglik", "heldout_loglik", "n_heldout", "n_iter",
              "converged"]


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


def _loglik(V: NDArray | sp.sparray, W: NDArray, H: NDArray) -> float:
    """``sum [V log WH - WH - log V!]`` of a dense or sparse V; a sparse V's product is
    formed at its nonzeros only."""
    if sp.issparse(V):
        problem = SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)
        return (sparse_data_terms(problem.indptr, problem.indices, problem.data,
                                  problem.transposed, W, H) - block_sum(W, H, None))
    return poisson_loglik(V, W @ H)


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
    init: str | None = default("selection.init"),
    batches: Batches | None = None,
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
        As in :func:`fit_masked`; rank 1 takes one restart, its optimum being unique
        (the log likelihood is concave in the logs of W and H).
    background : float
        Weight of the rank-1 background in the held-out scoring, in [0, 1).
    init : {"random", "svd", "mixed"}, optional
        Starts of the training fits (:mod:`moonlight.starts`; ``"mixed"``: restart 0
        from the SVD start, the others random). Default: "mixed" under the samples
        design, whose training fits are ordinary fits of the training samples, and
        "random" under the others, whose masked fits were measured with it. Why mixed
        (``docs/scale.md``): on a 20,000-cell matrix (true R = 10) all three random
        starts of a fold stopped in an optimum that merges two programs in 3 of 5 folds
        at R = 10, and the rule chose 9; on the 10x cells of five lines all three SVD
        starts (jittered copies of one start) stopped in a worse optimum in one fold at
        the true R = 5. With one SVD start among random ones, every fold of both reached
        the better optimum.
    batches : Batches, optional
        The samples' known batches (:mod:`moonlight.batches`): every training fit is of
        the batch model, and held-out counts are scored under its means
        ``beta_{i,b(j)} (W H)_ij`` (the rank-1 background likewise), the factors in
        closed form from the training entries. Designs ``entries`` and ``samples``
        (where every fold must leave each batch a training sample).

    Returns
    -------
    DataFrame
        One row per fold, columns :data:`CV_COLUMNS`.
    """
    sparse = sp.issparse(V) or (isinstance(V, pd.DataFrame) and V.shape[1] > 0 and all(
        isinstance(t, pd.SparseDtype) for t in V.dtypes))
    design, init = fold_settings(design, init, sparse)
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    if sparse and design == "entries":
        raise ValueError("design='entries' would hold out an N x M mask of a sparse V; "
                         "use design='samples' or 'blocks'")
    if not 0 <= background < 1:
        raise ValueError(f"background must be in [0, 1), got {background}")
    if batches is not None and design == "blocks":
        raise ValueError("design='blocks' does not take batches; use 'entries' or "
                         "'samples'")
    if batches is not None and len(batches) != V.shape[1]:
        raise ValueError(f"batches has {len(batches)} labels for {V.shape[1]} samples")
    # Rank 1 has one optimum: its log likelihood is concave in the logs of W and H (and
    # of the batch factors), so every start ends there; one start is enough, and it is
    # the rank-1 background itself (same seed), not fitted again.
    settings = dict(restarts=1 if rank == 1 else restarts, tol=tol, max_iter=max_iter,
                    check_every=check_every, init=init)
    if isinstance(V, pd.DataFrame):
        V = sp.csc_array(V.sparse.to_coo()) if sparse else V.to_numpy(dtype=np.float64)
    chosen = _DESIGNS[design, sparse]
    data = chosen.prepare(V)
    # the partition depends on (shape, folds, seed, design) only: made once, every fold
    partition = chosen.partition(data.shape, folds, seed)
    rows = []
    for k in range(folds):
        with progress.step(f"fold {k + 1} of {folds}"):
            rows.append(chosen.fold(data, rank, k, partition, seed=seed,
                                    background=background, settings=settings,
                                    **({} if batches is None else {"batches": batches})))
    return pd.DataFrame(rows, columns=CV_COLUMNS)


# The designs behind one interface (FoldDesign): each prepares V, partitions it, and per
# fold fits the training part (restarts, the best by training log L; with a background
# weight also rank 1) and scores the held-out part.


def _held_out_samples(V: NDArray | sp.csc_array, rank: int, k: int,
                      partition: tuple[NDArray[np.int64], NDArray[np.bool_]], *, seed: int,
                      background: float, settings: dict, batches: Batches | None = None
                      ) -> dict:
    """Design ``samples``: fold k's samples held out; W from the other samples, each
    held-out sample's H from one half of the genes, scored on the other half
    (``partition``: the samples' folds and the genes' first half)."""
    labels, first = partition
    test = labels == k
    if batches is not None:
        return _held_out_samples_batches(V, rank, k, test, first, seed=seed,
                                         background=background, settings=settings,
                                         batches=batches)
    train = V[:, ~test]
    W, _, ll, n_iter, converged = fit_samples(train, rank, seed=[seed, rank, k], **settings)
    best = int(np.argmax(ll))
    W1 = None
    if background > 0:
        W1 = W[0] if rank == 1 else \
            fit_samples(train, 1, seed=[seed, 1, k], **{**settings, "restarts": 1})[0][0]
    heldout = _heldout_samples(V[:, test], first, W[best], W1, background)
    return _fold_row(rank, k, ll[best], heldout, V.shape[0] * int(test.sum()), n_iter[best],
                     converged[best])


def _held_out_samples_batches(V: NDArray | sp.csc_array, rank: int, k: int,
                              test: NDArray[np.bool_], first: NDArray[np.bool_], *,
                              seed: int, background: float, settings: dict,
                              batches: Batches) -> dict:
    """Design ``samples`` with known batches: the batch model fitted to the training
    samples; a test sample of batch b is then a sample of the plain model with gene
    loadings ``beta_{i,b} W_ir``, so each batch's test samples are scored as above with
    those loadings (the rank-1 background with its own factors)."""
    missing = batches.missing_from(np.flatnonzero(~test))
    if missing:
        raise ValueError(f"cross-validation fold {k + 1} holds out every sample of "
                         f"batch(es) {missing}; their factors cannot be fitted: use fewer "
                         "folds (selection.folds) or design 'entries'")
    train, within = V[:, ~test], batches.subset(np.flatnonzero(~test))
    training = batch_problem(train, within)  # the factors of both fits, in closed form

    def loadings(r: int, restarts: int) -> tuple[NDArray, NDArray, float, int, bool]:
        W, H, ll, n_iter, converged = fit_samples(train, r, batches=within,
                                                  seed=[seed, r, k],
                                                  **{**settings, "restarts": restarts})
        best = int(np.argmax(ll))
        beta, Wb = batch_factors(training, W[best], H[best])
        return Wb, beta, ll[best], n_iter[best], converged[best]

    W, beta, ll, n_iter, converged = loadings(rank, settings["restarts"])
    W1 = beta1 = None
    if background > 0:
        W1, beta1 = (W, beta) if rank == 1 else loadings(1, 1)[:2]
    V_test, test_codes = V[:, test], batches.codes[test]
    heldout = 0.0
    for b in np.unique(test_codes):
        cols = np.flatnonzero(test_codes == b)
        heldout += _heldout_samples(V_test[:, cols], first, W * beta[:, [b]],
                                    None if W1 is None else W1 * beta1[:, [b]], background)
    return _fold_row(rank, k, ll, heldout, V.shape[0] * int(test.sum()), n_iter, converged)


def _held_out_sparse_blocks(problem: SparseProblem, rank: int, k: int,
                            partition: tuple[NDArray[np.int64], NDArray[np.int64], int], *,
                            seed: int, background: float, settings: dict) -> dict:
    """Design ``blocks`` on sparse V: fold k's gene-group x sample-group blocks held out,
    the training nonzeros fitted by the sparse engine (``partition``: the gene groups,
    the sample groups and the number of folds)."""
    genes, samples, folds = partition
    blocks = Blocks(genes, samples, folds, k)
    train, held = split_blocks(problem, blocks)
    W, H, ll, n_iter, converged = fit_split(train, rank, seed=[seed, rank, k], **settings)
    best = int(np.argmax(ll))
    Ws, Hs = W[best], H[best]
    if background > 0:
        W1, H1 = (W, H) if rank == 1 else \
            fit_split(train, 1, seed=[seed, 1, k], **{**settings, "restarts": 1})[:2]
        Ws, Hs = with_background(Ws, Hs, W1[0], H1[0], background)
    return _fold_row(rank, k, ll[best], heldout_loglik_blocks(held, Ws, Hs),
                     int(block_sizes(blocks)[1].sum()), n_iter[best], converged[best])


def _held_out_masked(V: NDArray[np.float64], rank: int, k: int,
                     partition: NDArray[np.int64], *, seed: int, background: float,
                     settings: dict, batches: Batches | None = None) -> dict:
    """Designs ``entries`` and ``blocks`` on dense V: fold k's entries masked out of
    the fit (:func:`fit_masked`) and scored (``partition``: every entry's fold); with
    ``batches``, under the batch model's means."""
    heldout = partition == k
    W, H, ll, n_iter, converged = fit_masked(V, ~heldout, rank, seed=[seed, rank, k],
                                             batches=batches, **settings)
    best = int(np.argmax(ll))
    if background > 0:
        W1, H1 = (W, H) if rank == 1 else \
            fit_masked(V, ~heldout, 1, seed=[seed, 1, k], batches=batches,
                       **{**settings, "restarts": 1})[:2]
    if batches is None:
        Ws, Hs = W[best], H[best]
        if background > 0:
            Ws, Hs = with_background(Ws, Hs, W1[0], H1[0], background)
        mean = Ws @ Hs
    else:
        training = batch_problem(np.where(heldout, 0.0, V), batches,
                                 (~heldout).astype(np.float64))

        def means(Wf: NDArray, Hf: NDArray) -> NDArray:
            beta, Wb = batch_factors(training, Wf, Hf)
            return offsets(beta, batches) * (Wb @ Hf)

        mean = means(W[best], H[best])
        if background > 0:
            mean = (1.0 - background) * mean + background * means(W1[0], H1[0])
    return _fold_row(rank, k, ll[best], heldout_loglik(V, mean, heldout),
                     int(heldout.sum()), n_iter[best], converged[best])


@dataclass(frozen=True)
class FoldDesign:
    """One fold design of :func:`cross_validate`.

    Attributes
    ----------
    prepare : V -> data
        V (a float64 array or a CSC array) as the design's folds read it.
    partition : (shape, folds, seed) -> partition
        What every fold holds out, made once.
    fold : (data, rank, k, partition, *, seed, background, settings) -> dict
        Fold k's row of :data:`CV_COLUMNS`.
    """

    prepare: Callable[[Any], Any]
    partition: Callable[[tuple[int, int], int, int], Any]
    fold: Callable[..., dict]


def _samples_partition(shape: tuple[int, int], folds: int, seed: int
                       ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    return sample_folds(shape[1], folds, seed), gene_halves(shape[0], seed)


def _blocks_partition(shape: tuple[int, int], folds: int, seed: int
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
    return (*block_groups(shape, folds, seed), folds)


def _dense(V: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(V, dtype=np.float64)


def _sparse_problem(V: sp.sparray) -> SparseProblem:
    return SparseProblem.from_matrix(V, np.dtype(np.float64), 0.0)


#: (design, V is sparse) -> its FoldDesign. A sparse V has no ``entries`` design: it
#: would hold out an N x M mask.
_DESIGNS: dict[tuple[str, bool], FoldDesign] = {
    ("entries", False): FoldDesign(_dense, fold_labels, _held_out_masked),
    ("blocks", False): FoldDesign(_dense, block_fold_labels, _held_out_masked),
    ("blocks", True): FoldDesign(_sparse_problem, _blocks_partition, _held_out_sparse_blocks),
    ("samples", False): FoldDesign(_dense, _samples_partition, _held_out_samples),
    ("samples", True): FoldDesign(lambda V: sp.csc_array(V, dtype=np.float64),
                                  _samples_partition, _held_out_samples),
}


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
