"""How much to trust a moonlighting call: a test of the second share against the threshold.

A gene whose row-normalized W weight (its *share*, :mod:`moonlight.modules`) exceeds
``threshold`` in two or more modules is a moonlighting *candidate*. This module asks, for
each candidate, whether its second share is really above the threshold, puts a number
on the answer and calls the candidate at a stated false discovery rate.

What a share is, in terms of a fit
----------------------------------
Let W (N x R) and H (R x M) be the fit and ``c_r = sum_g W_gr`` W's column sums (1 for
:func:`moonlight.fit_nmf`'s output, whose H carries the scale). moonlight's share of
gene i in module r is ``s_ir = (W_ir / c_r) / sum_k (W_ik / c_k)``: columns normalized
first, then the row. Write ``Ht_rj = c_r H_rj`` (H in the scale of column-normalized W),
so that ``W H = (W / c) Ht``. In these units gene i's row has coefficients
``b_r = W_ir / c_r`` and

    s_ir = b_r / sum_k b_k,

the gene's coefficient on module r relative to its total ``T = sum_k b_k``. It is *not*
the fraction of the gene's reads that come from module r, ``b_r ht_r / sum_k b_k ht_k``
with ``ht_r = sum_j Ht_rj``: a module with more total activity gives the gene more reads
for the same share, so a threshold on the share is a constraint on the coefficients
measured against ``Ht``, never against the unscaled H or the read fractions. (This is why
``Ht`` and not H enters every fit below; with W from ``fit_nmf``, ``c = 1`` and ``Ht = H``.)

The row model and the hypothesis
--------------------------------
Given the fitted H, gene i's counts are modelled with mean
``mu_j = sum_r b_r Ht_rj``, all R coefficients free and non-negative (the gene's total
free): ``v_j ~ NB(mu_j, alpha_i)`` with variance ``mu_j + alpha_i mu_j^2`` and a per-gene
dispersion ``alpha_i`` (0 = Poisson; ``overdispersion="negative_binomial"``, the
default), or ``v_j ~ Poisson(mu_j)`` with a quasi-likelihood allowance
(``"quasi_poisson"``). Refitting the Poisson row with H fixed is the W-update subproblem
of the NMF fit, so at a converged fit its maximizer is W's own row and its shares are
the reported ones. (The refit holds the other genes fixed; moving ``b_r`` by ``d`` would
change column r's sum by ``d`` and with it the normalized share by a factor
``1 + O(d)``; ``d`` is at most a confidence interval's width times the gene's loading in
the column, ignored here.)

For a candidate with top module r and second module s (by W's shares), the test is of

    H0: s_is <= t    against    H1: s_is unrestricted,     t = threshold.

*Profile likelihood of a share.* Fixing ``s_is = sigma`` means ``b_s = sigma T`` and
``b_l = (1 - sigma) T q_l`` with ``q`` on the simplex of the other R - 1 modules, so

    mu_j = sum_{l != s} a_l (sigma Ht_sj + (1 - sigma) Ht_lj),   a_l = T q_l >= 0:

a non-negative regression of the row on R - 1 fixed basis rows (solved by projected
Newton steps, :func:`_fit_rows`). Its maximum is ``l*(sigma)``; ``l^`` is the
unconstrained maximum at ``sigma^ = s^_is``. For a Poisson row the problem is concave
and ``l*`` is unimodal in sigma (the superlevel sets of a concave log likelihood are
convex, and their images under the linear-fractional map ``b -> b_s / sum b`` are
intervals), so the maximum over H0 is ``l*(t)`` when ``sigma^ > t`` and ``l^``
otherwise. (The negative-binomial likelihood in mu is not concave where ``v_j = 0``;
it is maximized by Fisher scoring from the Poisson solution, and unimodality is assumed
rather than proven. The tests and the calibration benchmark check its behaviour.)

*The statistic and its boundary distribution.* ``LR = 2 (l^ - l*(t))``. At the least
favourable null point, ``s_is = t`` inside the parameter space, the one-sided LR is
asymptotically ``1/2 chi2_0 + 1/2 chi2_1`` (Chernoff 1954; Self & Liang 1987), whose tail
is ``P(LR >= x) = 1/2 P(chi2_1 >= x) = Phi(-sqrt(x))``. Equivalently the signed root
``z = sign(sigma^ - t) sqrt(LR)`` is standard normal at the boundary, and

    p = Phi(-z):

1/2 for a gene estimated exactly at the threshold, uniform for a gene truly at it,
stochastically larger (conservative) for a gene truly below it.

*Overdispersion.* Sequencing counts vary more than Poisson, and a Poisson LR on
negative-binomial counts is inflated by about ``1 + alpha mu``. Two allowances:

* the dispersion ``alpha_i`` is estimated per gene by moments from the Poisson fit's
  residuals (the alpha with Pearson ``sum_j (v_j - mu_j)^2 / (mu_j (1 + alpha mu_j)) =
  M - k``, k = the fit's non-zero coefficients; 0 when the Poisson Pearson statistic is
  already at most M - k), the row is refitted as negative binomial and alpha estimated
  once more; every fit of the test then uses that alpha. Weighting the samples by
  ``1 / (mu_j + alpha mu_j^2)`` rather than ``1 / mu_j`` keeps the power a Poisson model
  would waste on the noisiest, deepest samples;
* whatever dispersion the row model leaves (``phi`` = the Pearson statistic of the
  unconstrained fit under its own variance, over M - k; column ``pearson_phi``) divides
  the statistic, quasi-likelihood style: ``statistic = LR / max(phi, 1)``. If
  ``Var v_j = phi V(mu_j)`` the quasi-likelihood ratio has the LR's limit. Misfit of the
  fitted H to the row shows up in phi (and alpha) too, which guards against an LR that
  grows with the counts. With ``"quasi_poisson"`` this is the only allowance.

*Selection and false discovery rate.* A gene is a candidate exactly when its estimated
second share is above t, i.e. when ``p < 1/2`` (up to the fit's convergence). Given that
selection a null p-value is at most uniform on (0, 1/2), so ``min(1, 2p)`` is a valid
p-value for a candidate; Benjamini-Hochberg over the candidates' selection-adjusted
p-values gives ``q``, and a candidate is *called* when ``q <= fdr``
(rows are independent given H, the setting in which BH controls the FDR).

*Confidence intervals.* For both the top and the second share, the profile interval
``{sigma : statistic(sigma) <= chi2_1(level)}`` (the LR against sigma, divided as
above), its ends found by
vectorized bisection (unimodality makes each end a single crossing).

Further conditions
------------------
* ``support``: the fraction of near-best restarts (see :mod:`moonlight.stability`),
  modules matched to the best restart's, that call the gene in the same set of modules.
  A call needs ``support >= min_support``.
* Robustness to the wrong rank. When the fit has too few modules (on sparse data the
  selection can fall one short), the genes of a module that was merged into others are
  split between them and, given that H, really are in two modules: the share test
  calls them with all the evidence in the world. At the next rank up they fall back
  into their own module. So a call must also *hold at the neighbouring rank above*:
  :func:`neighbour_fits` picks the fit at ``R + 1`` when it exists; there every
  candidate's second share is tested again, the p-values are Benjamini-Hochberg
  adjusted over the candidates, and the gene needs ``q <= neighbour_level`` (0.1: a
  confirmation, less strict than the call itself). The adjustment matters: a merged
  module can make hundreds of candidates, and a per-gene level would let a few of them
  through by chance. Modules of the neighbouring fit that one gene dominates
  (:func:`drop_private_modules`) are left out first: a fit with a module to spare often
  spends it on one deep gene's noise, and that gene would then look like a one-module
  gene. The rank below is no guard: at ``R - 1`` two true modules merge and a true
  moonlighter between them disappears, so requiring it there would drop real calls.
  On tables of the calibration benchmark fitted one rank short, the guard cut the
  false discovery rate of the calls from 0.80 to 0 (benchmarks/CALIBRATION.md).
* The earlier statistic ``lr`` (best two-module over best one-module fit, given H) and
  ``best_single``, ``best_pair`` stay as columns for continuity; they no longer decide.

Two modules, and clearly not the rest: the ceiling test
-------------------------------------------------------
A share above t in two modules does not make a gene moonlighting when it is above t in
every module: a housekeeping gene, expressed at one level in every source, has the flat
row ``b_r = b`` (whose mean ``b sum_r Ht_rj`` is the rank-1 profile, proportional to the
sample's depth) and shares 1/R each. On real data most genes are of that kind, and a
test of the second share alone calls them all. So a call also needs the gene's *rest
share*, ``rho_i = sum_{l not in {r, s}} s_il`` outside its two top modules, to be
clearly below a ceiling c (``modules.ceiling``):

    H0: s_is <= t  or  rho_i >= c      against      H1: s_is > t  and  rho_i < c.

*Profile of the rest share.* Fixing ``rho_i = sigma`` is again a non-negative
regression: with A the rest modules and B = {r, s}, one free coefficient ``c_al >= 0``
per pair (a, l) in A x B with basis row ``sigma Ht_a + (1 - sigma) Ht_l``. Any ``c >= 0``
gives the rest share exactly sigma, and every row with that share is reached
(``c_al = T p_a q_l``), so ``l*(sigma)`` is the profile likelihood of rho and the same
unimodality argument holds (rho is linear-fractional in b). The signed root
``z = sign(c - rho^) sqrt(2 (l^ - l*(c)) / max(phi, 1))`` gives ``rest_p = Phi(-z)``, small
when the rest share is clearly below c; with R = 2 there is no rest and ``rest_p = 0``.

*Intersection-union.* The null is a union, so the test that rejects when both parts
reject is level alpha (Berger 1982). The family is the candidates whose estimated rest
share is below the ceiling (``rest_p < 1/2``): a gene estimated above it (on real data,
most candidates: broad genes) can never be called, and keeping its p-value near 1 in the
family would only inflate Benjamini-Hochberg's m. As for the second share, a null
p-value given that selection is at most uniform on (0, 1/2), so each part is doubled:
``p = max(min(1, 2 p2), min(1, 2 rest_p))``, and Benjamini-Hochberg runs over these
p-values (``q`` is empty for the genes left out). The neighbour
guard at R + 1 keeps the second share's test alone: there a true module may split in
two, and with it a true moonlighter's rest share (on the exercise's table, a fit at
R = 5 puts each of its three moonlighting genes' rest shares above 0.1). A gene above
the ceiling with a significant excess is *broad* (:mod:`moonlight.classes`), never
moonlighting.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy
from scipy.stats import chi2, false_discovery_control, norm

from .config import default
from .modules import call_memberships, moonlighting_genes, normalize_rows
from .stability import align_restarts, near_best

__all__ = ["moonlighting_support", "moonlighting_confidence", "share_test",
           "benjamini_hochberg", "neighbour_fits", "drop_private_modules",
           "CONFIDENCE_COLUMNS", "CANDIDATE_COLUMNS", "OVERDISPERSION"]

#: Columns :func:`moonlighting_confidence` adds to the called genes.
CONFIDENCE_COLUMNS = ["support", "rest_share", "q"]

#: Columns of the candidate table, after :data:`moonlight.modules.MOONLIGHTING_COLUMNS`.
CANDIDATE_COLUMNS = [
    "top_module", "top_share", "top_share_low", "top_share_high",
    "second_module", "second_share", "second_share_low", "second_share_high",
    "dispersion", "pearson_phi", "lr_threshold", "statistic", "p", "rest_share",
    "rest_statistic", "rest_p", "q", "support",
    "neighbour_rank", "neighbour_p", "neighbour_q", "called",
]

#: Row models of :func:`share_test`: Poisson with a quasi-likelihood dispersion, or
#: negative binomial with a per-gene dispersion (module docstring).
OVERDISPERSION = ("quasi_poisson", "negative_binomial")

#: Floor on expected counts inside logarithms and Pearson residuals.
_TINY = 1e-300
#: The ends of a confidence interval are found to a bracket of 2^-_BISECTIONS (~1e-9).
_BISECTIONS = 30
#: Bytes of (rows x modules x samples) float64 work arrays per block of rows.
_BLOCK_BYTES = 2**27


# ---------------------------------------------------------------------------------------
# Non-negative Poisson / negative-binomial regression of rows on fixed basis rows


def _expand(c: NDArray, T: NDArray) -> NDArray:
    """Coefficients on the R modules, ``b_g = c_g T_g`` (G, R), from c (G, K), T (G, K, R)."""
    return np.einsum("gk,gkr->gr", c, T)


def _row_loglik(V: NDArray, Ht: NDArray, b: NDArray, alpha: NDArray) -> NDArray:
    """Log likelihood of each row, terms free of mu omitted, ``mu = b Ht``: Poisson
    ``sum_j v_j log mu_j - mu_j`` where ``alpha == 0``, else negative binomial
    ``sum_j v_j log mu_j - (v_j + 1/alpha) log(1 + alpha mu_j)``."""
    mu = b @ Ht
    ll = xlogy(V, np.maximum(mu, _TINY)).sum(axis=1)
    nb = alpha > 0
    a = np.where(nb, alpha, 1.0)[:, None]
    return ll - np.where(nb, ((V + 1.0 / a) * np.log1p(a * mu)).sum(axis=1), mu.sum(axis=1))


def _fit_rows(V: NDArray, Ht: NDArray, T: NDArray, c: NDArray, alpha: NDArray, *,
              max_iter: int = 200, tol: float = 1e-13) -> tuple[NDArray, NDArray]:
    """Maximize each row's log likelihood over ``c >= 0`` with ``mu = (c T) Ht``.

    Parameters
    ----------
    V : (G, M) counts; Ht : (R, M) module activities; T : (G, K, R) non-negative maps
        from each row's K free coefficients to its R module coefficients; c : (G, K)
        start (non-negative); alpha : (G,) negative-binomial dispersion of each row
        (0: Poisson).

    Returns
    -------
    c : (G, K) maximizer; loglik : (G,) its log likelihood (:func:`_row_loglik`).

    Projected Newton (Bertsekas 1982): coordinates at zero with a non-positive gradient
    stay fixed, the others take a Newton step (gradient
    ``sum_j (v_j - mu_j) / (mu_j (1 + alpha mu_j)) B_kj`` with ``B = T Ht``; curvature
    ``sum_j w_j B_kj B_lj``, ``w_j = v_j / mu_j^2`` for a Poisson row, its exact and
    concave Hessian, and the Fisher weight ``1 / (mu_j (1 + alpha mu_j))`` for a negative
    binomial row), projected on ``c >= 0`` and halved until the log likelihood does not
    drop. A Poisson row whose Newton step fails takes an EM step
    (``c_k <- c_k sum_j (v_j / mu_j) B_kj / sum_j B_kj``, never decreasing). A row stops
    when its gain falls below ``tol * max(1, |log L|)``.
    """
    c = c.copy()
    n_rows, K = c.shape
    lin = T @ Ht.sum(axis=1)  # (G, K): sum_j B_kj
    ll = _row_loglik(V, Ht, _expand(c, T), alpha)
    active = np.ones(n_rows, dtype=bool)
    diag = np.arange(K)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Vi, Ti, ci, lli, ai = V[idx], T[idx], c[idx], ll[idx], alpha[idx]
        mu = np.maximum(_expand(ci, Ti) @ Ht, _TINY)
        var = mu * (1.0 + ai[:, None] * mu)
        # Gradient and curvature in the module coordinates, then mapped through T.
        grad = np.einsum("gkr,gr->gk", Ti, ((Vi - mu) / var) @ Ht.T)
        nb = ai[:, None] > 0
        weight = np.where(nb, 1.0, Vi / mu) / np.where(nb, var, mu)
        curv_b = (weight[:, None, :] * Ht[None]) @ Ht.T  # (g, R, R)
        curv = np.einsum("gkr,grs,gls->gkl", Ti, curv_b, Ti)
        free = (ci > 0) | (grad > 0)
        A = np.where(free[:, :, None] & free[:, None, :], curv, 0.0)
        ridge = 1e-12 * np.abs(A[:, diag, diag]).max(axis=1, keepdims=True) + 1e-300
        A[:, diag, diag] += np.where(free, ridge, 1.0)
        d = np.linalg.solve(A, (grad * free)[..., None])[..., 0]
        # Step halving until the log likelihood does not drop (vectorized over rows).
        step = np.ones(idx.size)
        new_c = np.maximum(ci + d, 0.0)
        new_ll = _row_loglik(Vi, Ht, _expand(new_c, Ti), ai)
        worse = ~(new_ll >= lli)
        for _ in range(40):
            if not worse.any():
                break
            step[worse] *= 0.5
            new_c[worse] = np.maximum(ci[worse] + step[worse, None] * d[worse], 0.0)
            new_ll[worse] = _row_loglik(Vi[worse], Ht, _expand(new_c[worse], Ti[worse]),
                                        ai[worse])
            worse = ~(new_ll >= lli)
        em_rows = np.flatnonzero(worse & (ai == 0))
        if em_rows.size:  # EM fallback: a multiplicative step never lowers a Poisson log L
            cw, lw = ci[em_rows], lin[idx][em_rows]
            em = cw * (grad[em_rows] + lw) / np.maximum(lw, _TINY)
            em_ll = _row_loglik(Vi[em_rows], Ht, _expand(em, Ti[em_rows]), ai[em_rows])
            better = em_ll >= lli[em_rows]
            new_c[em_rows] = np.where(better[:, None], em, cw)
            new_ll[em_rows] = np.where(better, em_ll, lli[em_rows])
        stuck = worse & (ai > 0)  # no ascent step found: a (local) maximum
        new_c[stuck], new_ll[stuck] = ci[stuck], lli[stuck]
        gain = new_ll - lli
        c[idx], ll[idx] = new_c, new_ll
        active[idx] = gain > tol * np.maximum(1.0, np.abs(new_ll))
    return c, ll


def _others(module: NDArray[np.int64], n_modules: int) -> NDArray[np.int64]:
    """(G, R - 1): every module except ``module[g]``, in order."""
    grid = np.broadcast_to(np.arange(n_modules), (len(module), n_modules))
    return grid[grid != module[:, None]].reshape(len(module), n_modules - 1)


def _set_share_map(inside: NDArray[np.int64], outside: NDArray[np.int64], sigma: NDArray,
                   n_modules: int) -> NDArray:
    """(G, A B, R) maps T with ``b = c T`` that hold the total share of the A modules
    ``inside`` at ``sigma``: one free coefficient per pair (a, l) of an inside and an
    ``outside`` module, whose basis row is ``sigma e_a + (1 - sigma) e_l``.

    Any ``c >= 0`` gives ``sum_a b_a = sigma sum c`` and ``sum_l b_l = (1 - sigma) sum c``,
    so the inside share is exactly sigma; every row with that share is reached (take
    ``c_al = T p_a q_l`` with p, q the row's relative weights within each set). With one
    inside module (:func:`_share_map`) there are R - 1 pairs.
    """
    rows, n_in = inside.shape
    n_out = outside.shape[1]
    T = np.zeros((rows, n_in * n_out, n_modules))
    g, k = np.arange(rows)[:, None], np.arange(n_in * n_out)[None, :]
    T[g, k, np.repeat(inside, n_out, axis=1)] = sigma[:, None]
    T[g, k, np.tile(outside, (1, n_in))] += (1.0 - sigma)[:, None]
    return T


def _set_share_start(b: NDArray, inside: NDArray[np.int64], outside: NDArray[np.int64]
                     ) -> NDArray:
    """Start of the set-share profile fit from module coefficients b: ``c_al = T p_a q_l``
    (each set keeps its relative weights, uniform where a set is all zero)."""
    def relative(idx: NDArray[np.int64]) -> NDArray:
        part = np.take_along_axis(b, idx, axis=1)
        norm_ = part.sum(axis=1, keepdims=True)
        return np.where(norm_ > 0, part / np.where(norm_ > 0, norm_, 1.0),
                        1.0 / idx.shape[1])
    total = b.sum(axis=1)
    pairs = relative(inside)[:, :, None] * relative(outside)[:, None, :]
    return total[:, None] * pairs.reshape(len(b), -1)


def _share_map(module: NDArray[np.int64], sigma: NDArray, n_modules: int) -> NDArray:
    """(G, R - 1, R) maps T with ``b = a T``: ``b_module = sigma sum(a)``,
    ``b_l = (1 - sigma) a_l`` for the other modules (module docstring): the set-share map
    of the one module."""
    return _set_share_map(module[:, None], _others(module, n_modules), sigma, n_modules)


def _share_start(b: NDArray, module: NDArray[np.int64]) -> NDArray:
    """Start of the profile fit from module coefficients b: the other modules keep their
    relative weights and the row its total (the set-share start of the one module)."""
    return _set_share_start(b, module[:, None], _others(module, b.shape[1]))


def _profile(V: NDArray, Ht: NDArray, module: NDArray[np.int64], sigma: NDArray,
             start: NDArray, alpha: NDArray) -> tuple[NDArray, NDArray]:
    """``l*(sigma)`` per row (share of ``module`` fixed at ``sigma``) and the fitted free
    coefficients (a warm start for the next call). At ``sigma = 1`` every free
    coefficient multiplies the same basis row, the module's own."""
    T = _share_map(module, sigma, Ht.shape[0])
    a, ll = _fit_rows(V, Ht, T, start, alpha)
    return ll, a


# ---------------------------------------------------------------------------------------
# The share test


def _pearson(V: NDArray, mu: NDArray, alpha: NDArray | float) -> NDArray:
    """Pearson ``X^2 = sum_j (v_j - mu_j)^2 / (mu_j (1 + alpha mu_j))`` per row."""
    mu = np.maximum(mu, _TINY)
    alpha = np.asarray(alpha, dtype=np.float64)
    return ((V - mu) ** 2 / (mu * (1.0 + alpha[..., None] * mu))).sum(axis=-1)


def _nb_dispersion(V: NDArray, mu: NDArray, df: NDArray) -> NDArray:
    """Moment estimate of each row's negative-binomial dispersion: the alpha >= 0 with
    Pearson ``X^2(alpha) = df`` (0 when the Poisson X^2 is already at most df). X^2 falls
    monotonically in alpha, so 60 bisection steps on log alpha in [1e-8, 1e4] suffice."""
    alpha = np.zeros(len(V))
    over = _pearson(V, mu, 0.0) > df
    if not over.any():
        return alpha
    lo = np.full(over.sum(), np.log(1e-8))
    hi = np.full(over.sum(), np.log(1e4))
    Vo, mo, dfo = V[over], mu[over], df[over]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = _pearson(Vo, mo, np.exp(mid)) > dfo
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    alpha[over] = np.exp(0.5 * (lo + hi))
    return alpha


def _excess(V: NDArray, Ht: NDArray, module: NDArray[np.int64], sigma: NDArray,
            warm: NDArray, alpha: NDArray, ll_hat: NDArray, scale: NDArray,
            critical: float) -> tuple[NDArray, NDArray]:
    """How far each share ``sigma`` lies outside its row's profile interval (the scaled
    profile deviance minus the critical value: positive outside), and the profile fits'
    coefficients (warm starts for the next share)."""
    ll, warm = _profile(V, Ht, module, sigma, warm, alpha)
    return 2.0 * (ll_hat - ll) / scale - critical, warm


def _interval_ends(V: NDArray, Ht: NDArray, module: NDArray[np.int64], inside: NDArray,
                   far: NDArray, alpha: NDArray, ll_hat: NDArray, scale: NDArray,
                   critical: float, start: NDArray) -> NDArray:
    """End of a profile confidence interval between ``inside`` (the fitted share, where
    the excess is ``-critical``) and ``far`` (0 or 1), for many rows at once: ``far``
    itself when it is inside, otherwise the one crossing (the profile is unimodal) by
    the Illinois variant of regula falsi. It keeps a bracket like bisection, so it
    cannot fail, and takes about a third of bisection's profile fits to a bracket of
    ``2^-_BISECTIONS`` (the fits dominate call_modules on single-cell data)."""
    f_hi, warm = _excess(V, Ht, module, far, start, alpha, ll_hat, scale, critical)
    lo, hi = inside.copy(), far.copy()  # lo inside the interval, hi outside
    f_lo = np.full(lo.shape, -critical)
    side = np.zeros(lo.shape, dtype=np.int8)  # which end moved last: -1 lo, +1 hi
    active = np.flatnonzero(f_hi > 0)
    out = f_hi > 0
    for _ in range(3 * _BISECTIONS):
        if active.size == 0:
            break
        a, b, fa, fb = lo[active], hi[active], f_lo[active], f_hi[active]
        x = b - fb * (b - a) / (fb - fa)
        bad = ~((x - np.minimum(a, b)) * (np.maximum(a, b) - x) > 0)
        x = np.where(bad, 0.5 * (a + b), x)
        fx, warm[active] = _excess(V[active], Ht, module[active], x, warm[active],
                                   alpha[active], ll_hat[active], scale[active], critical)
        outside = fx > 0
        moved = np.where(outside, 1, -1).astype(np.int8)
        again = side[active] == moved  # the same end twice: halve the other's excess
        hi[active] = np.where(outside, x, b)
        f_hi[active] = np.where(outside, fx, np.where(again, 0.5 * fb, fb))
        lo[active] = np.where(outside, a, x)
        f_lo[active] = np.where(outside, np.where(again, 0.5 * fa, fa), fx)
        side[active] = moved
        done = (np.abs(hi[active] - lo[active]) <= 2.0 ** -_BISECTIONS) | (fx == 0)
        active = active[~done]
    return np.where(out, 0.5 * (lo + hi), far)


def _rest_test(V: NDArray, Ht: NDArray, b_hat: NDArray, ll_hat: NDArray, alpha: NDArray,
               scale: NDArray, order: NDArray[np.int64], ceiling: float
               ) -> dict[str, NDArray]:
    """The ceiling test of the share outside each row's two top modules (module
    docstring): the rest share, its scaled profile statistic at ``ceiling`` and
    ``rest_p``, small when the rest share is clearly below the ceiling."""
    n_rows, n_modules = b_hat.shape
    shares = b_hat / np.maximum(b_hat.sum(axis=1, keepdims=True), _TINY)
    if n_modules < 3:  # nothing outside the two: the ceiling holds by construction
        return {"rest_share": np.zeros(n_rows), "rest_statistic": np.full(n_rows, np.inf),
                "rest_p": np.zeros(n_rows)}
    pair, rest = order[:, :2], order[:, 2:]
    s_rest = np.take_along_axis(shares, rest, axis=1).sum(axis=1)
    sigma = np.full(n_rows, ceiling)
    _, ll_c = _fit_rows(V, Ht, _set_share_map(rest, pair, sigma, n_modules),
                        _set_share_start(b_hat, rest, pair), alpha)
    statistic = np.maximum(2.0 * (ll_hat - ll_c), 0.0) / scale
    z = np.sign(ceiling - s_rest) * np.sqrt(statistic)
    return {"rest_share": s_rest, "rest_statistic": statistic, "rest_p": norm.sf(z)}


def _test_block(V: NDArray, Ht: NDArray, b0: NDArray, order: NDArray[np.int64],
                threshold: float, ceiling: float | None, critical: float | None,
                overdispersion: str) -> dict[str, NDArray]:
    """The share test, with ``ceiling`` the rest test, and with ``critical`` both
    intervals, for one block of rows (``order``: each row's modules by W's shares)."""
    top, second = order[:, 0], order[:, 1]
    n_rows, n_modules = b0.shape
    eye = np.broadcast_to(np.eye(n_modules), (n_rows, n_modules, n_modules))
    alpha = np.zeros(n_rows)
    b_hat, ll_hat = _fit_rows(V, Ht, eye, b0, alpha)
    df = np.maximum(V.shape[1] - (b_hat > 0).sum(axis=1), 1).astype(np.float64)
    if overdispersion == "negative_binomial":
        # Dispersion from the Poisson fit's residuals, refit, re-estimate once.
        for _ in range(2):
            alpha = _nb_dispersion(V, b_hat @ Ht, df)
            b_hat, ll_hat = _fit_rows(V, Ht, eye, b_hat, alpha)
    phi = _pearson(V, b_hat @ Ht, alpha) / df
    scale = np.maximum(phi, 1.0)
    shares = b_hat / np.maximum(b_hat.sum(axis=1, keepdims=True), _TINY)
    rows = np.arange(n_rows)
    s_top, s_second = shares[rows, top], shares[rows, second]
    ll_null, _ = _profile(V, Ht, second, np.full(n_rows, threshold),
                          _share_start(b_hat, second), alpha)
    lr = np.maximum(2.0 * (ll_hat - ll_null), 0.0)
    statistic = lr / scale
    z = np.sign(s_second - threshold) * np.sqrt(statistic)
    out = {"top_share": s_top, "second_share": s_second, "dispersion": alpha,
           "pearson_phi": phi, "lr_threshold": lr, "statistic": statistic,
           "p": norm.sf(z)}
    if ceiling is not None:
        out.update(_rest_test(V, Ht, b_hat, ll_hat, alpha, scale, order, ceiling))
    if critical is not None:
        # Four searches per row (top/second x lower/upper end), run as one batch.
        module = np.concatenate([top, top, second, second])
        inside = np.concatenate([s_top, s_top, s_second, s_second])
        far = np.concatenate([np.zeros(n_rows), np.ones(n_rows)] * 2)
        start = np.concatenate([_share_start(b_hat, top)] * 2
                               + [_share_start(b_hat, second)] * 2)
        ends = _interval_ends(np.tile(V, (4, 1)), Ht, module, inside, far,
                              np.tile(alpha, 4), np.tile(ll_hat, 4), np.tile(scale, 4),
                              critical, start)
        ends = ends.reshape(4, n_rows)
        out.update(top_share_low=ends[0], top_share_high=ends[1],
                   second_share_low=ends[2], second_share_high=ends[3])
    return out


def share_test(counts: pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame, *,
               threshold: float, ceiling: float | None = None, level: float | None = 0.95,
               overdispersion: str = "negative_binomial") -> pd.DataFrame:
    """Test, per gene, whether its second share is above ``threshold`` and, with
    ``ceiling``, whether its share outside its two top modules is below the ceiling
    (module docstring).

    Parameters
    ----------
    counts : DataFrame (genes x samples)
        Count rows of the genes to test (a subset of W's genes, any order).
    W : DataFrame (genes x modules), H : DataFrame (modules x samples)
        A fit with at least two modules; samples of H in the order of ``counts``.
    threshold : float
        The membership threshold t on the share, in [0, 1).
    ceiling : float or None
        The ceiling c on the rest share (``modules.ceiling``), in (0, 1]; None skips
        the rest test.
    level : float or None
        Confidence level of the profile intervals of both shares; None skips them.
    overdispersion : {"negative_binomial", "quasi_poisson"}
        Row model (module docstring).

    Returns
    -------
    DataFrame indexed by gene: ``top_module``, ``second_module`` (by W's shares),
    ``top_share``, ``second_share`` (of the row refit given H), with ``level`` also
    ``top_share_low``/``_high`` and ``second_share_low``/``_high``; ``dispersion``
    (the row's negative-binomial alpha, 0 for ``"quasi_poisson"``), ``pearson_phi``,
    ``lr_threshold`` (``2 (l^ - l*(t))``, also for a share at or below t), ``statistic``
    (``lr_threshold / max(pearson_phi, 1)``) and ``p``; with ``ceiling`` also
    ``rest_share`` (of the row refit), ``rest_statistic`` and ``rest_p`` (the p-value
    of "rest share >= ceiling"; 0 when R = 2, where there is no rest).
    """
    if ceiling is not None and not 0 < ceiling <= 1:
        raise ValueError(f"ceiling must be in (0, 1], got {ceiling}")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if level is not None and not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if overdispersion not in OVERDISPERSION:
        raise ValueError(f"overdispersion must be one of {OVERDISPERSION}, "
                         f"got {overdispersion!r}")
    if W.shape[1] < 2:
        raise ValueError("the share test needs a fit with at least two modules")
    if list(H.index) != list(W.columns):
        raise ValueError("H's rows must be W's modules, in the same order")
    missing = counts.index.difference(W.index)
    if len(missing):
        raise ValueError(f"counts has genes that W lacks, e.g. {list(missing[:3])}")
    if list(counts.columns) != list(H.columns):
        raise ValueError("counts and H must have the same samples in the same order")
    scale = W.sum(axis=0).to_numpy(dtype=np.float64)
    Ht = H.to_numpy(dtype=np.float64) * scale[:, None]
    b0 = W.loc[counts.index].to_numpy(dtype=np.float64) / scale
    V = counts.to_numpy(dtype=np.float64)
    if not np.isfinite(V).all() or (V < 0).any():
        raise ValueError("counts must be finite and non-negative")
    # Shares from the whole W: column sums run over every gene, not only these rows.
    order = np.argsort(-normalize_rows(W).loc[counts.index].to_numpy(), axis=1,
                       kind="stable")
    top, second = order[:, 0], order[:, 1]
    critical = None if level is None else float(chi2.ppf(level, 1))
    n_genes, (n_modules, n_samples) = len(V), Ht.shape
    # The rest test's maps hold 2 (R - 2) free coefficients per row.
    width = max(4 * n_modules, 2 * n_modules * max(n_modules - 2, 1))
    block = max(1, _BLOCK_BYTES // (8 * width * max(n_samples, 1)))
    parts = [_test_block(V[i:i + block], Ht, b0[i:i + block], order[i:i + block],
                         threshold, ceiling, critical, overdispersion)
             for i in range(0, n_genes, block)]
    empty = ["top_share", "second_share", "dispersion", "pearson_phi", "lr_threshold",
             "statistic", "p"]
    if ceiling is not None:
        empty += ["rest_share", "rest_statistic", "rest_p"]
    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts \
        else {key: np.empty(0) for key in empty}
    names = np.asarray(W.columns, dtype=object)
    out = pd.DataFrame({"top_module": names[top], "second_module": names[second]},
                       index=pd.Index(counts.index, name="gene"))
    order_cols = ["top_share", "top_share_low", "top_share_high", "second_share",
                  "second_share_low", "second_share_high", "dispersion", "pearson_phi",
                  "lr_threshold", "statistic", "p", "rest_share", "rest_statistic",
                  "rest_p"]
    for key in order_cols:
        if key in columns:
            out[key] = columns[key]
    return out


def benjamini_hochberg(p: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values): ``q_(i) = min_{j >= i} p_(j) m / j``
    over the sorted p-values, capped at 1 (:func:`scipy.stats.false_discovery_control`)."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must be in [0, 1]")
    return np.asarray(false_discovery_control(p, method="bh"), dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Support across restarts, the single-vs-pair statistic, neighbouring ranks


def _module_sets(W: pd.DataFrame, threshold: float) -> dict[str, frozenset[str]]:
    members = call_memberships(normalize_rows(W), threshold)
    return {g: frozenset(m) for g, m in members.groupby("gene", sort=False)["module"]}


def moonlighting_support(Ws: list[pd.DataFrame], logliks: ArrayLike, genes: list[str], *,
                         threshold: float, margin: float) -> pd.Series:
    """Fraction of near-best restarts calling each gene in the same modules as the best.

    ``Ws`` are every restart's W (genes x modules, same genes); modules of each restart
    are matched to the best restart's before the calls are compared.
    """
    chosen = near_best(logliks, margin)
    arrays = align_restarts([np.asarray(Ws[k], float) for k in chosen], reference=0)
    ref = Ws[chosen[0]]
    sets = [_module_sets(pd.DataFrame(A, index=ref.index, columns=ref.columns), threshold)
            for A in arrays]
    return pd.Series(
        [float(np.mean([s[g] == sets[0][g] for s in sets])) for g in genes],
        index=pd.Index(genes, name="gene"), name="support", dtype=float,
    )


def drop_private_modules(W: pd.DataFrame, H: pd.DataFrame, *, max_gene_share: float = 0.5
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """W and H without the modules that one gene dominates (that gene holds more than
    ``max_gene_share`` of the module's column of W).

    A fit with a module to spare often spends it on a single high-count gene's noise;
    such a *private* module says nothing about the other modules, and a gene tested
    against it would look like a one-module gene. At least two modules are kept.
    """
    column = W / W.sum(axis=0)
    private = column.max(axis=0) > max_gene_share
    if (~private).sum() < 2:
        return W, H
    keep = list(W.columns[~private.to_numpy()])
    return W[keep], H.loc[keep]


def neighbour_fits(fits: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]], rank: int
                   ) -> dict[int, tuple[pd.DataFrame, pd.DataFrame]]:
    """The fits a call at ``rank`` must also hold at: the one at ``rank + 1``, if fitted.

    ``fits`` maps every fitted rank to its ``(W, H)``; see the module docstring for why
    the rank below is not used.
    """
    return {rank + 1: fits[rank + 1]} if rank + 1 in fits else {}


# ---------------------------------------------------------------------------------------
# The calls


def _moonlighting_q(tests: pd.DataFrame, ceiling: float) -> NDArray[np.float64]:
    """Benjamini-Hochberg q-values of the intersection-union test of "in two modules and
    clearly not the rest" (module docstring): ``max(min(1, 2 p2), min(1, 2 rest_p))``
    over the candidates whose estimated rest share is below the ceiling, each p-value
    doubled for the selection by its own estimate; NaN for the others (estimated above
    the ceiling: never called, and left out of the family)."""
    p2 = np.minimum(2.0 * tests["p"].to_numpy(dtype=np.float64), 1.0)
    p_rest = np.minimum(2.0 * tests["rest_p"].to_numpy(dtype=np.float64), 1.0)
    below = tests["rest_share"].to_numpy(dtype=np.float64) < ceiling
    q = np.full(len(tests), np.nan)
    q[below] = benjamini_hochberg(np.maximum(p2, p_rest)[below])
    return q


def moonlighting_confidence(
    counts: pd.DataFrame,
    W: pd.DataFrame,
    H: pd.DataFrame,
    Ws: list[pd.DataFrame],
    logliks: ArrayLike,
    *,
    threshold: float,
    ceiling: float,
    margin: float,
    fdr: float = default("modules.fdr"),
    min_support: float = default("modules.min_support"),
    level: float = default("modules.level"),
    overdispersion: str = default("modules.overdispersion"),
    neighbours: Mapping[int, tuple[pd.DataFrame, pd.DataFrame]] | None = None,
    neighbour_level: float = 0.1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Moonlighting candidates, their share test, and the calls at a false discovery rate.

    Parameters
    ----------
    counts : DataFrame (genes x samples)
        The fitted table (at least W's genes; H's samples in order).
    W, H : DataFrame
        The selected (best) fit: W genes x modules, H modules x samples.
    Ws, logliks
        Every restart's W at that rank and its log likelihood (for ``support``).
    threshold : float
        ``modules.threshold``: membership above this share.
    ceiling : float
        ``modules.ceiling``: a call's share outside its two modules must be clearly
        below this. H0 is "second share <= threshold or rest share >= ceiling".
    margin : float
        Near-best restarts are within this of the best log likelihood.
    fdr : float
        Benjamini-Hochberg level: a candidate needs ``q <= fdr``, q adjusting the
        intersection-union p-value ``max(min(1, 2 p), rest_p)``.
    min_support : float
        A call also needs ``support >= min_support``.
    level : float
        Confidence level of the share intervals.
    overdispersion : {"negative_binomial", "quasi_poisson"}
        Row model of the share test (:func:`share_test`).
    neighbours : mapping rank -> (W, H), optional
        Fits at which every call must also hold (:func:`neighbour_fits` gives the
        workflow's choice, the rank above): there the candidates' second-share tests,
        Benjamini-Hochberg adjusted over the candidates, must give the gene
        ``q <= neighbour_level``.
    neighbour_level : float
        FDR level of the confirmation at the neighbouring ranks.

    Returns
    -------
    called : DataFrame
        The called genes: ``gene``, ``n_modules``, ``modules``, ``weights`` (of
        :func:`moonlight.modules.moonlighting_genes`) and :data:`CONFIDENCE_COLUMNS`.
    candidates : DataFrame
        Every candidate: the same four columns and :data:`CANDIDATE_COLUMNS`
        (``neighbour_rank``, ``neighbour_p``, ``neighbour_q``: the neighbouring rank
        with the largest q and the gene's p and q there, empty without neighbours;
        ``called``: the call).
    """
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr}")
    if not 0 <= min_support <= 1:
        raise ValueError(f"min_support must be in [0, 1], got {min_support}")
    if not 0 < neighbour_level < 1:
        raise ValueError(f"neighbour_level must be in (0, 1), got {neighbour_level}")
    members = call_memberships(normalize_rows(W), threshold)
    candidates = moonlighting_genes(members)
    genes = list(candidates["gene"])
    table = pd.DataFrame(index=pd.Index(genes, name="gene"))
    if genes:
        rows = counts.loc[genes, list(H.columns)]
        table = share_test(rows, W, H, threshold=threshold, ceiling=ceiling, level=level,
                           overdispersion=overdispersion)
        table["q"] = _moonlighting_q(table, ceiling)
        table["support"] = moonlighting_support(Ws, logliks, genes, threshold=threshold,
                                                margin=margin).to_numpy()
        table["neighbour_rank"] = pd.array([pd.NA] * len(genes), dtype="Int64")
        table["neighbour_p"] = np.nan
        table["neighbour_q"] = np.nan
        for rank, fit_n in sorted((neighbours or {}).items()):
            W_n, H_n = drop_private_modules(*fit_n)
            # The second share only: at R + 1 a true module may split in two, and a
            # moonlighting gene's rest share with it (module docstring).
            p_n = share_test(counts.loc[genes, list(H_n.columns)], W_n, H_n,
                             threshold=threshold, level=None,
                             overdispersion=overdispersion)["p"].to_numpy()
            q_n = benjamini_hochberg(p_n)
            worse = ~(q_n <= table["neighbour_q"].to_numpy())  # NaN counts as worse
            table.loc[worse, "neighbour_p"] = p_n[worse]
            table.loc[worse, "neighbour_q"] = q_n[worse]
            table.loc[worse, "neighbour_rank"] = rank
        holds = ~(table["neighbour_q"] > neighbour_level)  # no neighbour: holds
        table["called"] = (table["q"] <= fdr) & (table["support"] >= min_support) & holds
    else:
        for key in CANDIDATE_COLUMNS:
            table[key] = pd.Series(dtype=object if key in {"top_module", "second_module"}
                                   else bool if key == "called" else float)
    candidates = pd.concat([candidates.reset_index(drop=True),
                            table[CANDIDATE_COLUMNS].reset_index(drop=True)], axis=1)
    called = candidates.loc[candidates["called"].astype(bool),
                            list(candidates.columns[:4]) + CONFIDENCE_COLUMNS]
    return called.reset_index(drop=True), candidates
