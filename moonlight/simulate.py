"""The generative model behind Poisson NMF, to make data with a known answer.

* Genes are split into R modules whose sizes are drawn uniformly from
  ``module_size = (lo, hi)`` under the constraint that they add up to N.
* ``n_moonlighting`` genes are also added to a second module, chosen at random
  among the others.
* Column r of W is a Dirichlet(``w_concentration``) distribution over the genes in
  module r and zero elsewhere, so every column sums to one. A moonlighting gene is
  only visible as one if it carries real weight in both modules: W is redrawn until
  each moonlighting gene's smaller row-normalized weight is at least
  ``moonlighting_min_share`` (0 accepts the first draw, i.e. plain Dirichlet; with
  Dirichlet(1) about one planted gene in five otherwise sits below 0.1 in one of its
  two modules and cannot be told from a single-module gene). With many moonlighting
  genes no whole draw may pass; then the genes that fall short are redrawn alone.
* ``moonlighting_shares`` plants given shares instead (for calibration): planted gene k
  gets exactly the row-normalized share ``moonlighting_shares[k]`` in its second module
  and ``1 - moonlighting_shares[k]`` in its first. Columns are drawn as above over each
  module's *primary* members; then the mass ``P_r`` the primary members of column r keep
  is solved so that every column still sums to one: with ``gamma_i`` the Dirichlet
  weight of planted gene i within its first module p(i) and ``rho_i = share/(1-share)``,
  gene i's second-module weight is ``rho_i P_p(i) gamma_i``, so
  ``P_r + sum_{i: second(i)=r} rho_i gamma_i P_p(i) = 1`` for every r, a linear system
  ``(I + A) P = 1`` (solved exactly).
* ``n_broad`` *broad* genes (housekeeping-like) are added after the N module genes, in
  every module: column r gives them a mass ``m = n_broad / (N + n_broad)``, split among
  them in proportion to ``u_ir ~ Uniform(0.5, 1)`` (each broad gene's loadings within a
  factor of about two across modules), and the module genes keep ``1 - m`` of every
  column. The same factor in every column leaves every module gene's shares exactly as
  drawn (planted shares included). The broad genes' draws come from their own stream
  (``default_rng([seed, 1])``), so ``n_broad = 0`` gives the data sets it always gave.
* Column j of H is Dirichlet(``h_concentration``) over the R modules.
* Sample j has read depth ``C_j ~ Uniform(depth)`` and, with ``noise="poisson"``,
  ``V_ij ~ Poisson(mu_ij)``, ``mu_ij = C_j (W H)_ij``; since WH's columns sum to one,
  ``E[sum_i V_ij] = C_j``.
* A plate (batch) effect, a technical axis: with ``plates = P > 1`` sample j is on
  plate ``j mod P`` and gene i's mean on plate p is multiplied by
  ``exp(plate_sd z_ip - plate_sd^2 / 2)``, z standard normal (mean factor 1), drawn from
  its own stream (``default_rng([seed, 2])``), so ``plate_sd = 0`` changes nothing.
* Depth-dependent detection, a second technical axis: with ``dropout_mid = d > 0``
  every count is lost (set to 0) with probability ``2^(-mu_ij / d)``, half of them
  where the expected count is d, so shallow samples and lowly expressed genes lose more
  (as low RNA input or capture does); from its own stream (``default_rng([seed, 3])``).
* An additive technical program, a third technical axis (the mitochondrial or ribosomal
  fraction, or RNA content, of real cells): with ``axis_share = s > 0`` sample j takes a
  share ``a_j ~ Uniform(0, s)`` of its expected counts from a profile ``w_axis`` over
  every gene, ``mu_ij = C_j ((1 - a_j) (W H)_ij + a_j w_axis_i)``, where ``w_axis`` is
  the genes' mean loading over the modules times ``exp(z_i)``, z standard normal, scaled
  to sum to one: every expressed gene gets a share of it, as every gene gets a share of a
  real mitochondrial module, and the noise makes it a profile of its own (without it
  the profile is a mixture of the modules', which H absorbs). W, H and the planted shares stay the modules'
  own; ``axis`` holds the ``a_j``. From its own stream (``default_rng([seed, 4])``).
* With ``noise="negative_binomial"`` the counts are overdispersed, as real sequencing
  counts are: ``V_ij ~ Poisson(mu_ij G_ij)`` with independent
  ``G_ij ~ Gamma(shape=1/dispersion, scale=dispersion)`` (mean 1), a gamma-Poisson
  mixture, i.e. negative binomial with mean ``mu`` and variance
  ``mu + dispersion * mu^2``. (The Poisson draws of a seed are unchanged by this option.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .config import default
from .recovery import planted_kinds

__all__ = ["Simulation", "simulate", "sample_module_sizes", "NOISE_MODELS"]

NOISE_MODELS: tuple[str, ...] = ("poisson", "negative_binomial")


@dataclass(frozen=True)
class Simulation:
    """A simulated data set and the truth it was drawn from.

    Attributes
    ----------
    counts : DataFrame (N genes x M samples) of int64
        The observed count matrix V.
    W : DataFrame (N x R)
        True gene loadings; columns sum to one.
    H : DataFrame (R x M)
        True module mixtures per sample; columns sum to one.
    depth : Series (M,)
        Read depth C_j of each sample.
    membership : DataFrame (N x R) of bool
        True where a gene belongs to a module.
    plate : Series (M,) of str
        Each sample's plate (batch), ``plate1 .. plateP`` (``plate1`` for every sample
        when ``plates = 1``): the known batches of ``fit_nmf(batches=...)``.
    plate_factors : DataFrame (N x P)
        Each gene's mean factor on each plate (all ones without a plate effect).
    axis : Series (M,)
        Each sample's share of the technical program, ``a_j`` (zeros without one).
    """

    counts: pd.DataFrame
    W: pd.DataFrame
    H: pd.DataFrame
    depth: pd.Series
    membership: pd.DataFrame
    plate: pd.Series
    plate_factors: pd.DataFrame
    axis: pd.Series

    @property
    def batch_model_W(self) -> pd.DataFrame:
        """W as the known-batch model (:mod:`moonlight.batches`) identifies it: a gene's
        plate factors are averaged to one over the samples there, so its row carries
        their mean; columns renormalized to sum to one. Equal to :attr:`W` without a
        plate effect."""
        codes = self.plate.map({p: k for k, p in enumerate(self.plate_factors.columns)})
        mean = self.plate_factors.to_numpy()[:, codes.to_numpy()].mean(axis=1)
        W = self.W.mul(mean, axis=0)
        return W / W.sum(axis=0)

    @property
    def moonlighting(self) -> list[str]:
        """Genes planted in exactly two modules of three or more
        (:func:`moonlight.recovery.planted_kinds`)."""
        return list(planted_kinds(self.membership)[0])

    @property
    def broad(self) -> list[str]:
        """Genes planted in three or more modules, or in both of two: in every module
        (:func:`moonlight.recovery.planted_kinds`)."""
        return list(planted_kinds(self.membership)[1])

    @property
    def second_share(self) -> pd.Series:
        """True second-largest row-normalized weight of every gene (0 for a gene in
        one module): the quantity a moonlighting call is about."""
        shares = self.W.div(self.W.sum(axis=1), axis=0).to_numpy()
        if shares.shape[1] < 2:
            return pd.Series(0.0, index=self.W.index, name="second_share")
        second = np.sort(shares, axis=1)[:, -2]
        return pd.Series(second, index=self.W.index, name="second_share")


def sample_module_sizes(
    n_genes: int,
    n_modules: int,
    size_range: tuple[int, int],
    rng: np.random.Generator,
    *,
    max_tries: int = 10_000,
) -> NDArray[np.int64]:
    """Draw R module sizes in ``[lo, hi]`` that add up to ``n_genes``.

    Each gene above the minimum ``R * lo`` goes to a module uniformly at random; draws
    with a module above ``hi`` are rejected.
    """
    lo, hi = size_range
    if not 1 <= lo <= hi:
        raise ValueError(f"module_size must satisfy 1 <= lo <= hi, got {size_range}")
    if not n_modules * lo <= n_genes <= n_modules * hi:
        raise ValueError(
            f"{n_genes} genes cannot be split into {n_modules} modules of {lo}..{hi} genes "
            f"(need {n_modules * lo} <= n_genes <= {n_modules * hi})"
        )
    extra = n_genes - n_modules * lo
    for _ in range(max_tries):
        sizes = lo + rng.multinomial(extra, np.full(n_modules, 1.0 / n_modules))
        if sizes.max() <= hi:
            return sizes.astype(np.int64)
    raise RuntimeError(
        f"could not draw {n_modules} module sizes in {lo}..{hi} summing to {n_genes} "
        f"in {max_tries} tries; widen module_size"
    )


def _draw_loadings(
    membership: NDArray[np.bool_],
    moonlighters: NDArray[np.int64],
    concentration: float,
    min_share: float,
    rng: np.random.Generator,
    *,
    max_tries: int = 10_000,
) -> NDArray[np.float64]:
    """W with Dirichlet columns over each module's members, redrawn until every
    moonlighting gene's smaller row-normalized weight is at least ``min_share``.

    The whole of W is redrawn up to ``max_tries`` times. With many moonlighting genes
    no whole draw may pass (each gene passes with probability p, all of k with p^k);
    then only the moonlighting genes that fail are redrawn (their rows of the last
    draw's Gammas, the columns normalized again), until every one passes.
    """
    for _ in range(max_tries):
        # Dirichlet over each column's members = independent Gammas normalized per column.
        gamma = rng.gamma(concentration, size=membership.shape) * membership
        W = gamma / gamma.sum(axis=0)
        if moonlighters.size == 0:
            return W
        failing = _below(W, moonlighters, min_share)
        if failing.size == 0:
            return W
    for _ in range(max_tries):
        gamma[failing] = rng.gamma(concentration, size=(failing.size, membership.shape[1])) \
            * membership[failing]
        W = gamma / gamma.sum(axis=0)
        failing = _below(W, moonlighters, min_share)
        if failing.size == 0:
            return W
    raise RuntimeError(
        f"no draw of W in {max_tries} tries gave every moonlighting gene a share of at "
        f"least {min_share}, nor {max_tries} redraws of the genes that fell short; lower "
        "moonlighting_min_share"
    )


def _below(W: NDArray[np.float64], moonlighters: NDArray[np.int64], min_share: float
           ) -> NDArray[np.int64]:
    """The moonlighting genes whose smaller row-normalized weight is under ``min_share``."""
    rows = W[moonlighters]
    smaller = np.sort(rows, axis=1)[:, -2] / rows.sum(axis=1)
    return moonlighters[smaller < min_share]


def _plant_shares(
    membership: NDArray[np.bool_],
    moonlighters: NDArray[np.int64],
    second: NDArray[np.int64],
    shares: NDArray[np.float64],
    concentration: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """W with Dirichlet columns over primary members and planted gene k holding exactly
    the share ``shares[k]`` of its row in module ``second[k]`` (module docstring)."""
    primary = membership.copy()
    primary[moonlighters, second] = False
    gamma = rng.gamma(concentration, size=membership.shape) * primary
    gamma /= gamma.sum(axis=0)
    first = gamma[moonlighters].argmax(axis=1)  # the only non-zero entry of each row
    rho = shares / (1.0 - shares)
    n_modules = membership.shape[1]
    A = np.zeros((n_modules, n_modules))
    np.add.at(A, (second, first), rho * gamma[moonlighters, first])
    mass = np.linalg.solve(np.eye(n_modules) + A, np.ones(n_modules))
    if not (mass > 0).all():
        raise RuntimeError("planted shares leave no weight for some module's own genes; "
                           "plant fewer or smaller shares")
    W = gamma * mass
    W[moonlighters, second] = rho * W[moonlighters, first]
    return W


def _add_broad(W: NDArray, membership: NDArray, n_broad: int, rng: np.random.Generator
               ) -> tuple[NDArray, NDArray]:
    """W and membership with ``n_broad`` broad genes appended (module docstring)."""
    mass = n_broad / (len(W) + n_broad)
    u = rng.uniform(0.5, 1.0, size=(n_broad, W.shape[1]))
    broad = mass * u / u.sum(axis=0)
    return (np.vstack([(1.0 - mass) * W, broad]),
            np.vstack([membership, np.ones((n_broad, W.shape[1]), dtype=bool)]))


def simulate(
    *,
    n_genes: int = default("simulation.n_genes"),
    n_samples: int = default("simulation.n_samples"),
    n_modules: int = default("simulation.n_modules"),
    module_size: tuple[int, int] = tuple(default("simulation.module_size")),
    n_moonlighting: int = default("simulation.n_moonlighting"),
    moonlighting_min_share: float = default("simulation.moonlighting_min_share"),
    moonlighting_shares: Sequence[float] | None = None,
    w_concentration: float = default("simulation.w_concentration"),
    h_concentration: float = default("simulation.h_concentration"),
    depth: tuple[float, float] = tuple(default("simulation.depth")),
    noise: str = default("simulation.noise"),
    dispersion: float = default("simulation.dispersion"),
    n_broad: int = default("simulation.n_broad"),
    plates: int = default("simulation.plates"),
    plate_sd: float = default("simulation.plate_sd"),
    dropout_mid: float = default("simulation.dropout_mid"),
    axis_share: float = default("simulation.axis_share"),
    seed: int = 0,
) -> Simulation:
    """Simulate counts ``V ~ Poisson(C * W H)`` with planted modules and moonlighting genes.

    Parameters are those of the module docstring; every draw comes from
    ``numpy.random.default_rng(seed)``, so a seed fixes the data set byte for byte.
    """
    if n_modules < 2 and n_moonlighting > 0:
        raise ValueError("moonlighting genes need at least two modules")
    if not 0 <= n_moonlighting <= n_genes:
        raise ValueError(f"n_moonlighting must be in 0..{n_genes}, got {n_moonlighting}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    if not 0 < depth[0] <= depth[1]:
        raise ValueError(f"depth must satisfy 0 < low <= high, got {depth}")
    if not 0 <= moonlighting_min_share <= 0.5:
        raise ValueError(
            f"moonlighting_min_share must be in [0, 0.5], got {moonlighting_min_share}"
        )
    if moonlighting_shares is not None:
        planted = np.asarray(moonlighting_shares, dtype=np.float64)
        if planted.shape != (n_moonlighting,):
            raise ValueError(f"moonlighting_shares needs one share per planted gene "
                             f"({n_moonlighting}), got {len(planted)}")
        if not ((planted > 0) & (planted <= 0.5)).all():
            raise ValueError(f"moonlighting_shares must be in (0, 0.5], got {list(planted)}")
        if n_moonlighting and planted.min() < moonlighting_min_share:
            raise ValueError(f"moonlighting_shares below moonlighting_min_share "
                             f"({moonlighting_min_share}); set moonlighting_min_share: 0")
    if w_concentration <= 0 or h_concentration <= 0:
        raise ValueError("Dirichlet concentrations must be positive")
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}")
    if noise == "negative_binomial" and not dispersion > 0:
        raise ValueError(f"negative_binomial noise needs dispersion > 0, got {dispersion}")
    if dispersion < 0:
        raise ValueError(f"dispersion must be non-negative, got {dispersion}")
    if n_broad < 0:
        raise ValueError(f"n_broad must be non-negative, got {n_broad}")
    if dropout_mid < 0:
        raise ValueError(f"dropout_mid must be non-negative, got {dropout_mid}")
    if plates < 1 or plate_sd < 0:
        raise ValueError(f"plates must be >= 1 and plate_sd >= 0, got {plates}, {plate_sd}")
    if not 0 <= axis_share <= 0.5:
        raise ValueError(f"axis_share must be in [0, 0.5], got {axis_share}")
    rng = np.random.default_rng(seed)

    sizes = sample_module_sizes(n_genes, n_modules, module_size, rng)
    primary = rng.permutation(np.repeat(np.arange(n_modules), sizes))
    membership = np.zeros((n_genes, n_modules), dtype=bool)
    membership[np.arange(n_genes), primary] = True
    moonlighters = rng.choice(n_genes, size=n_moonlighting, replace=False)
    # A second module uniformly among the other R - 1: shift the primary by 1..R-1.
    second = (primary[moonlighters] + rng.integers(1, n_modules, size=n_moonlighting)) % max(
        n_modules, 1
    )
    membership[moonlighters, second] = True

    if moonlighting_shares is None:
        W = _draw_loadings(membership, moonlighters, w_concentration,
                           moonlighting_min_share, rng)
    else:
        W = _plant_shares(membership, moonlighters, second, planted, w_concentration, rng)
    if n_broad:
        W, membership = _add_broad(W, membership, n_broad, np.random.default_rng([seed, 1]))
    H = rng.dirichlet(np.full(n_modules, h_concentration), size=n_samples).T
    C = rng.uniform(depth[0], depth[1], size=n_samples)
    mu = C * (W @ H)
    axis = np.zeros(n_samples)
    if axis_share > 0:
        axis_rng = np.random.default_rng([seed, 4])
        axis = axis_rng.uniform(0.0, axis_share, size=n_samples)
        profile = W.mean(axis=1) * np.exp(axis_rng.standard_normal(len(W)))
        profile /= profile.sum()
        mu = C * ((1.0 - axis) * (W @ H) + axis * profile[:, None])
    factor = np.ones((len(W), plates))
    if plates > 1 and plate_sd > 0:
        z = np.random.default_rng([seed, 2]).standard_normal((len(W), plates))
        factor = np.exp(plate_sd * z - plate_sd**2 / 2)
        mu = mu * factor[:, np.arange(n_samples) % plates]
    if noise == "negative_binomial":
        mu = mu * rng.gamma(1.0 / dispersion, dispersion, size=mu.shape)
    V = rng.poisson(mu)
    if dropout_mid > 0:
        lost = np.random.default_rng([seed, 3]).random(V.shape) < 2.0 ** (-mu / dropout_mid)
        V[lost] = 0

    width = len(str(len(W)))
    genes = [f"gene{i + 1:0{width}d}" for i in range(len(W))]
    samples = [f"sample{j + 1:0{len(str(n_samples))}d}" for j in range(n_samples)]
    modules = [f"M{r + 1}" for r in range(n_modules)]
    return Simulation(
        counts=pd.DataFrame(V.astype(np.int64), index=genes, columns=samples),
        W=pd.DataFrame(W, index=genes, columns=modules),
        H=pd.DataFrame(H, index=modules, columns=samples),
        depth=pd.Series(C, index=samples, name="depth"),
        membership=pd.DataFrame(membership, index=genes, columns=modules),
        plate=pd.Series([f"plate{p + 1}" for p in np.arange(n_samples) % plates],
                        index=samples, name="plate"),
        plate_factors=pd.DataFrame(factor, index=genes,
                                   columns=[f"plate{p + 1}" for p in range(plates)]),
        axis=pd.Series(axis, index=samples, name="axis"),
    )
