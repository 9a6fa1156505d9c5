"""How reproducible the modules of one rank are across random restarts.

Every restart's W is kept (:attr:`moonlight.NMFResult.W_restarts`). The *near-best* restarts are those whose
log likelihood is within ``margin`` of the best one (at least the two best, so that there
is always something to compare). Over them:

* ``matched_cosine``: each near-best restart's W columns are matched one-to-one to the
  best restart's by the Hungarian algorithm on cosine similarity
  (:func:`scipy.optimize.linear_sum_assignment`); the mean matched cosine, averaged over
  restarts. 1.0 when every near-best restart finds the same modules (in any order).
* ``cophenetic``: Brunet et al.'s (2004) cophenetic correlation of the gene consensus
  matrix: C_ij = fraction of near-best restarts in which genes i and j share their top
  module (argmax of row-normalized W); the correlation between 1 - C and the cophenetic
  distances of its average-linkage tree. 1.0 for a perfectly crisp consensus. C is
  N x N, so tables with more than :data:`COPHENETIC_MAX_GENES` genes are scored on that
  many evenly spaced genes (a 20,000-gene table otherwise needed 16 GB in the fit job).
  :func:`near_best_consensus` returns the same matrix, gene names on both axes, as an
  output (R's NMF package draws it as ``consensusmap``; see
  :func:`moonlight.plots.plot_consensus_map`).

A rank whose restarts land on different, equally good solutions is not identified by the
data; :func:`moonlight.selection.rank_table` only selects ranks above a stability floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # the fit engines are not loaded for the type alone
    from .nmf import NMFResult

__all__ = ["cosine_similarity", "near_best", "match_columns", "align_restarts",
           "consensus_matrix", "cophenetic_genes", "COPHENETIC_MAX_GENES",
           "cophenetic_correlation", "near_best_consensus", "stability_summary",
           "restarts_W_frame",
           "read_restarts_W", "STABILITY_COLUMNS"]

STABILITY_COLUMNS = ["rank", "n_restarts", "n_near_best", "matched_cosine", "cophenetic"]

#: Genes the cophenetic correlation is computed on at most (evenly spaced, first and last
#: included): its consensus matrix, distances and tree take about 5 x 8 x n^2 bytes,
#: 160 MB at 2,000 genes.
COPHENETIC_MAX_GENES = 2000


def near_best(logliks: ArrayLike, margin: float, *, at_least: int = 2) -> NDArray[np.int64]:
    """Restarts within ``margin`` of the best log likelihood, best first (at least
    ``at_least`` of them when there are that many)."""
    logliks = np.asarray(logliks, dtype=np.float64)
    order = np.argsort(-logliks, kind="stable")
    close = int((logliks >= logliks.max() - margin).sum())
    return order[: max(close, min(at_least, len(order)))]


def cosine_similarity(A: ArrayLike, B: ArrayLike) -> NDArray[np.float64]:
    """Cosine similarity of every column of A (N x R1) with every column of B (N x R2),
    shape (R1, R2); an all-zero column has similarity 0 with everything."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    A = A / np.maximum(np.linalg.norm(A, axis=0), 1e-300)
    B = B / np.maximum(np.linalg.norm(B, axis=0), 1e-300)
    return A.T @ B


def match_columns(W_ref: ArrayLike, W: ArrayLike) -> tuple[NDArray[np.int64], NDArray]:
    """Permutation ``p`` such that ``W[:, p]`` best matches ``W_ref`` column by column
    (Hungarian on cosine similarity), and the matched cosines."""
    similarity = cosine_similarity(W_ref, W)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(similarity, maximize=True)
    perm = cols[np.argsort(rows)]
    return perm, similarity[np.arange(len(perm)), perm]


def align_restarts(Ws: list[NDArray], reference: int) -> list[NDArray]:
    """Every W with its columns permuted to match ``Ws[reference]``."""
    return [W[:, match_columns(Ws[reference], W)[0]] for W in Ws]


def consensus_matrix(Ws: list[NDArray]) -> NDArray[np.float64]:
    """Fraction of the W's in which genes i and j share their top module."""
    n_genes = Ws[0].shape[0]
    C = np.zeros((n_genes, n_genes))
    for W in Ws:
        top = np.asarray(W).argmax(axis=1)
        C += top[:, None] == top[None, :]
    return C / len(Ws)


def cophenetic_correlation(C: ArrayLike) -> float:
    """Brunet's cophenetic correlation of a consensus matrix (1.0 if it is all 0/1)."""
    from scipy.cluster.hierarchy import cophenet, linkage
    from scipy.spatial.distance import squareform

    D = 1.0 - np.asarray(C, dtype=np.float64)
    np.fill_diagonal(D, 0.0)
    condensed = squareform(D, checks=False)
    if np.ptp(condensed) == 0 or np.all((condensed == 0) | (condensed == 1)):
        return 1.0
    return float(cophenet(linkage(condensed, method="average"), condensed)[0])


def cophenetic_genes(n_genes: int) -> NDArray[np.int64]:
    """Rows the cophenetic correlation uses: all, or :data:`COPHENETIC_MAX_GENES` evenly
    spaced ones."""
    if n_genes <= COPHENETIC_MAX_GENES:
        return np.arange(n_genes)
    return np.unique(np.linspace(0, n_genes - 1, COPHENETIC_MAX_GENES).round().astype(np.int64))


def _bounded_consensus(Ws: Sequence[ArrayLike], chosen: NDArray[np.int64]
                       ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Rows of :func:`cophenetic_genes` and the consensus of restarts ``chosen`` on them."""
    rows = cophenetic_genes(np.shape(Ws[chosen[0]])[0])
    return rows, consensus_matrix([np.asarray(Ws[k])[rows] for k in chosen])


def near_best_consensus(Ws: Sequence[pd.DataFrame | NDArray], logliks: ArrayLike, *,
                        margin: float, genes: Sequence[str] | None = None) -> pd.DataFrame:
    """The gene consensus matrix of the near-best restarts, gene names on both axes.

    Parameters
    ----------
    Ws : sequence of DataFrame or ndarray, each (genes x modules)
        Every restart's W (:func:`read_restarts_W` or
        :meth:`moonlight.NMFResult.W_restart_frames`); same genes in the same order.
    logliks : array-like of shape (restarts,)
        Their log likelihoods; the restarts within ``margin`` of the best are used
        (:func:`near_best`).
    margin : float
        As in :func:`stability_summary` (the config's ``selection.margin``).
    genes : sequence of str, optional
        Gene names when ``Ws`` are arrays; by default the index of ``Ws[0]``.

    Returns
    -------
    DataFrame (n x n), symmetric
        ``C[i, j]`` = fraction of the near-best restarts in which genes i and j have the
        same top module (argmax of their column-normalized W row), a multiple of
        1 / ``n_near_best``; 1 on the diagonal. Genes in table order. At most :data:`COPHENETIC_MAX_GENES` genes:
        a larger table is represented by that many evenly spaced genes, first and last
        included (:func:`cophenetic_genes`), the genes its cophenetic correlation uses.
    """
    if genes is None:
        genes = Ws[0].index if isinstance(Ws[0], pd.DataFrame) else range(np.shape(Ws[0])[0])
    genes = pd.Index(genes, name="gene")
    if len(genes) != np.shape(Ws[0])[0]:
        raise ValueError(f"{len(genes)} gene name(s) for a W of {np.shape(Ws[0])[0]} rows")
    rows, C = _bounded_consensus(Ws, near_best(logliks, margin))
    return pd.DataFrame(C, index=genes[rows], columns=genes[rows].rename(None))


def stability_summary(Ws: list[NDArray], logliks: ArrayLike, *, margin: float,
                      rank: int | None = None) -> dict[str, float]:
    """``rank``, ``n_restarts``, ``n_near_best``, ``matched_cosine``, ``cophenetic``
    (on at most :data:`COPHENETIC_MAX_GENES` genes)."""
    chosen = near_best(logliks, margin)
    ref = np.asarray(Ws[chosen[0]])
    cosines = [match_columns(ref, Ws[k])[1].mean() for k in chosen[1:]]
    return {
        "rank": int(rank if rank is not None else ref.shape[1]),
        "n_restarts": len(Ws),
        "n_near_best": len(chosen),
        "matched_cosine": float(np.mean(cosines)) if cosines else 1.0,
        "cophenetic": cophenetic_correlation(_bounded_consensus(Ws, chosen)[1]),
    }


def restarts_W_frame(fit: NMFResult) -> pd.DataFrame:
    """Every restart's W in one long table: ``restart``, ``loglik``, ``gene``, M1..MR."""
    frames = []
    for k, W in enumerate(fit.W_restart_frames()):
        frame = W.rename_axis("gene").reset_index()
        frame.insert(0, "loglik", fit.logliks[k])
        frame.insert(0, "restart", k)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_restarts_W(table: pd.DataFrame) -> tuple[list[pd.DataFrame], NDArray[np.float64]]:
    """Inverse of :func:`restarts_W_frame`: the W's (genes x modules) and log likelihoods."""
    Ws, logliks = [], []
    for _, part in table.groupby("restart", sort=True):
        logliks.append(float(part["loglik"].iat[0]))
        Ws.append(part.drop(columns=["restart", "loglik"]).set_index("gene"))
    return Ws, np.asarray(logliks)
