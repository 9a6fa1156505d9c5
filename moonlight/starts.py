"""Starting points of the restarts of a Poisson NMF fit: random, or from a randomized SVD.

``init="random"`` (the default of :func:`moonlight.fit_nmf`): :func:`random_start`, uniform
random factors scaled to the data's sample totals.

``init="svd"``: :func:`svd_start`, NNDSVDa (Boutsidis & Gallopoulos 2008, "SVD based
initialization: a head start for nonnegative matrix factorization", Pattern Recognition
41) on a randomized truncated SVD (Halko, Martinsson & Tropp 2011) drawn from the
restart's own seed stream, then jittered by restart-seeded multiplicative noise:

* **Why an SVD start.** The rank-R SVD is the best rank-R fit in least squares; the
  NNDSVD split of each singular pair into its dominant non-negative part keeps most of
  that fit, so the start sits near a good optimum and a restart needs fewer sweeps (and
  falls less often into an optimum that merges two programs) than from a random point.
* **Why randomized, per restart.** The range finder only multiplies V by thin dense
  matrices (``V @ X``, ``V.T @ Q``), so a scipy.sparse V is never densified: a pass costs
  O(nnz (R + p)) time and O((N + M)(R + p)) memory. Each restart draws its own Gaussian
  test matrix from its own child of ``SeedSequence(seed)``, so a restart's start does not
  depend on the other restarts (``restart_ids=`` fan-out gives the same bytes).
* **Why the jitter.** With power iterations the randomized SVD converges to the same
  subspace whatever the test matrix, so without it the restarts would start at nearly
  the same point, and the restarts' agreement (the rank rule's stability, the support of
  moonlighting calls) would only repeat one start. Every entry of W and H is multiplied
  by ``exp(SVD_JITTER z)``, ``z`` standard normal from the restart's stream: restarts
  start apart, in the neighbourhood of the SVD start. They are still less independent
  than random starts (benchmarks/RESULTS.md, section 4: on a 20,000-cell matrix all
  three svd restarts reached one optimum at R = 10 and 11, at R = 9 they ended in three).
* **Why plain sweeps first.** From a start near an optimum the first coordinate-descent
  sweeps still change a lot, and extrapolating along them lands on points that raise
  log L (so the acceptance test keeps them) yet less than the plain sweep would have:
  on the 2,000 x 10,000 benchmark matrix, extrapolating from the first sweep took 31
  sweeps to reach scikit-learn's log L, plain sweeps 10. :func:`moonlight.fit_nmf` runs
  ``SVD_PLAIN_SWEEPS`` plain sweeps before extrapolating for these starts. (From random
  starts extrapolation helps from the first sweep: delayed, a restart of that matrix
  ended in an optimum 4.5 million log-likelihood units lower.)

Scaling conventions are those of the random start: every column of W sums to one and H
carries the scale; the SVD start's overall scale is set so that ``sum WH = sum V`` (which
every maximum of the Poisson likelihood satisfies). Entries are floored at the engines'
``EPS``, never exactly zero.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .engines import EPS

__all__ = ["INITS", "SVD_OVERSAMPLE", "SVD_POWER_ITERATIONS", "SVD_JITTER", "SVD_FILL",
           "SVD_PLAIN_SWEEPS", "random_start", "svd_start", "randomized_svd", "nndsvd",
           "svd_matrix"]

#: Names of the starts :func:`moonlight.fit_nmf` accepts as ``init``.
INITS: tuple[str, ...] = ("random", "svd")

#: Extra columns of the randomized range finder beyond R (Halko et al. recommend 5-10).
SVD_OVERSAMPLE = 10

#: Power iterations of the range finder (each is two more passes over V); one is enough
#: for a start that the fit refines (not varied in the benchmarks).
SVD_POWER_ITERATIONS = 1

#: Coordinate-descent sweeps without extrapolation from an SVD start (see the module
#: docstring; 3: 21 sweeps to scikit-learn's log L, 5: 9-12, 10 and 20: 10).
SVD_PLAIN_SWEEPS = 10

#: Value given to the entries NNDSVD leaves at zero, as a multiple of the mean of V
#: (NNDSVDa: 1).
SVD_FILL = 1.0

#: Standard deviation of the log-normal multiplicative jitter of the SVD start
#: (see the module docstring).
SVD_JITTER = 0.3


def random_start(
    column_totals: NDArray[np.float64], n_genes: int, rank: int, child: np.random.SeedSequence
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Random start of one restart from its own seed stream.

    W columns are uniform random then normalized to sum to one; H is uniform random
    scaled so each sample's expected total matches its observed total on average.

    Parameters
    ----------
    column_totals : ndarray of shape (M,)
        Sample totals ``sum_i V_ij``.
    n_genes : int
        N.
    rank : int
        R.
    child : SeedSequence
        The restart's seed stream.

    Returns
    -------
    W : ndarray of shape (N, R)
    H : ndarray of shape (R, M)
    """
    rng = np.random.default_rng(child)
    w = rng.random((n_genes, rank))
    W = w / w.sum(axis=0)
    H = rng.random((rank, column_totals.size)) * (2.0 * column_totals / rank)
    return W, H


def randomized_svd(
    V: NDArray[np.float64] | sp.sparray | sp.spmatrix, rank: int, rng: np.random.Generator,
    oversample: int = SVD_OVERSAMPLE, power_iterations: int = SVD_POWER_ITERATIONS,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Rank-R truncated SVD of V by a randomized range finder (Halko et al. 2011, alg. 4.4).

    Parameters
    ----------
    V : ndarray or scipy.sparse matrix of shape (N, M), float64
        Only products ``V @ X`` and ``V.T @ X`` with thin dense X are formed.
    rank : int
        R, at most ``min(N, M)``.
    rng : Generator
        Draws the Gaussian test matrix.
    oversample, power_iterations : int
        Extra columns beyond R; passes of ``Q <- orth(V orth(V^T Q))``.

    Returns
    -------
    U : ndarray of shape (N, R)
        Left singular vectors (orthonormal columns).
    s : ndarray of shape (R,)
        Singular values, decreasing.
    Vt : ndarray of shape (R, M)
        Right singular vectors (orthonormal rows).
    """
    n_genes, n_samples = V.shape
    width = min(rank + oversample, n_genes, n_samples)
    omega = rng.standard_normal((n_samples, width))
    # Q: orthonormal basis of range(V omega), refined by power iterations
    Q = np.linalg.qr(np.asarray(V @ omega))[0]
    for _ in range(power_iterations):
        Z = np.linalg.qr(np.asarray(V.T @ Q))[0]
        Q = np.linalg.qr(np.asarray(V @ Z))[0]
    # V ~ Q B with B = Q^T V (width x M), computed as (V^T Q)^T; SVD of the small B
    B = np.asarray(V.T @ Q).T
    Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
    return Q @ Ub[:, :rank], s[:rank], Vt[:rank]


def nndsvd(
    U: NDArray[np.float64], s: NDArray[np.float64], Vt: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Non-negative double SVD (Boutsidis & Gallopoulos 2008): W (N, R), H (R, M).

    The first singular pair is non-negative up to sign for a non-negative matrix:
    ``W_:1 = sqrt(s_1) |u_1|``, ``H_1: = sqrt(s_1) |v_1|``. Every further pair (u, v)
    is split into positive parts (u+, v+) and negative parts (u-, v-); the side with the
    larger ``||u+|| ||v+||`` (or ``||u-|| ||v-||``), say m, gives
    ``W_:r = sqrt(s_r m) u+/||u+||`` and ``H_r: = sqrt(s_r m) v+/||v+||``. The result is
    invariant to the sign of each singular pair. Entries may be exactly zero (NNDSVDa
    fills them; see :func:`svd_start`).
    """
    x, y = U, Vt.T  # (N, R), (M, R)
    xp, xn = np.maximum(x, 0.0), np.maximum(-x, 0.0)
    yp, yn = np.maximum(y, 0.0), np.maximum(-y, 0.0)
    nxp, nxn = np.linalg.norm(xp, axis=0), np.linalg.norm(xn, axis=0)
    nyp, nyn = np.linalg.norm(yp, axis=0), np.linalg.norm(yn, axis=0)
    mp, mn = nxp * nyp, nxn * nyn
    positive = mp >= mn
    positive[0] = True  # the first pair: |u_1|, |v_1| below
    u = np.where(positive, xp / np.maximum(nxp, 1e-300), xn / np.maximum(nxn, 1e-300))
    v = np.where(positive, yp / np.maximum(nyp, 1e-300), yn / np.maximum(nyn, 1e-300))
    scale = np.sqrt(s * np.where(positive, mp, mn))
    # the first pair: |u_1| and |v_1| have norm one
    u[:, 0] = np.abs(x[:, 0])
    v[:, 0] = np.abs(y[:, 0])
    scale[0] = np.sqrt(s[0])
    return u * scale, (v * scale).T


def svd_start(
    V: NDArray[np.float64] | sp.sparray | sp.spmatrix, column_totals: NDArray[np.float64],
    rank: int, child: np.random.SeedSequence,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """SVD-based start of one restart from its own seed stream (see the module docstring).

    Parameters
    ----------
    V : ndarray or scipy.sparse matrix of shape (N, M), float64
        The counts; a sparse V is only multiplied by thin dense matrices.
    column_totals : ndarray of shape (M,)
        Sample totals ``sum_i V_ij``.
    rank : int
        R.
    child : SeedSequence
        The restart's seed stream: draws the range finder's test matrix, then the jitter.

    Returns
    -------
    W : ndarray of shape (N, R)
        Columns summing to one, entries at least ``EPS``.
    H : ndarray of shape (R, M)
        Entries at least ``EPS``; ``sum WH = sum V`` before the floor.
    """
    rng = np.random.default_rng(child)
    n_genes, n_samples = V.shape
    W, H = nndsvd(*randomized_svd(V, rank, rng))
    # NNDSVDa: entries the split left at (numerically) zero get the mean of V
    total = float(column_totals.sum())
    mean = SVD_FILL * total / (n_genes * n_samples)
    W[W < EPS] = mean
    H[H < EPS] = mean
    W *= np.exp(SVD_JITTER * rng.standard_normal(W.shape))
    H *= np.exp(SVD_JITTER * rng.standard_normal(H.shape))
    # conventions of the random start: columns of W sum to one, H carries the scale;
    # then sum WH = sum_r (sum_i W_ir)(sum_j H_rj) = sum_j H_rj is set to sum V
    scale = W.sum(axis=0)
    W /= scale
    H *= scale[:, None]
    H *= total / H.sum()
    return np.maximum(W, EPS), np.maximum(H, EPS)


def svd_matrix(V: NDArray | sp.sparray | sp.spmatrix) -> NDArray[np.float64] | sp.sparray:
    """V as :func:`svd_start` reads it: float64, sparse V in CSC or CSR (no copy when it
    already is one of float64)."""
    if sp.issparse(V):
        if V.format not in ("csc", "csr"):
            V = V.tocsc()
        if V.dtype != np.float64:
            V = V.astype(np.float64)
        return V
    return np.asarray(V, dtype=np.float64)
