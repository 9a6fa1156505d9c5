"""One class per gene: specific, moonlighting, broad or unassigned.

The exercise calls a gene *moonlighting* when it is active in two modules. On real data
most genes are active in every module (housekeeping genes, genes every source expresses
within a factor of two), and a gene active everywhere is not moonlighting. So every gene
of a fit gets exactly one class, from its shares (row-normalized, column-normalized W;
:mod:`moonlight.modules`) ``s_1 >= s_2 >= ...`` and the tests below, with t =
``modules.threshold`` and c = ``modules.ceiling``:

``moonlighting``
    In two modules and clearly not the rest: the call of
    :func:`moonlight.confidence.moonlighting_confidence` (second share significantly
    above t *and* rest share ``rho = 1 - s_1 - s_2`` significantly below c, at the false
    discovery rate ``modules.fdr``; restart support and the rank guard). Every called
    gene, and only those: the call tests the shares of the gene's row refitted given H,
    so a called gene's W row may put more than c outside its two modules (the
    ``rest_share`` column, from W), and it is still moonlighting.
``broad``
    Active beyond two modules: ``rho > c`` and the rest share's excess over the ceiling
    is significant (the same profile test of rho as the ceiling test, one-sided the
    other way, doubled for the selection ``rho^ > c``, Benjamini-Hochberg over the genes
    with ``rho^ > c``, ``q <= fdr``); in a fit of two modules, a gene the call's test
    confirms in both (below).
``specific``
    One module: ``s_2 <= t`` and ``rho <= c``, and the gene's row is explained by its
    modules significantly better than by the flat, rank-1 profile (:func:`flat_deviance`;
    ``q <= fdr``).
``unassigned``
    Too little signal to tell: a candidate in two modules whose call is not confirmed,
    a gene above the ceiling whose excess is not significant, or a one-module gene that
    its flat profile explains as well.

With two modules (besides background ones) there is no rest: a gene in both is in every
module, so a gene the call's test confirms there (``confirmed`` of the candidates) is
*broad*, and no gene is moonlighting, as no gene can be clearly out of a module
(:data:`moonlight.confidence.MIN_CALLING_MODULES`). At R = 1 every gene is specific.

Background modules (:func:`moonlight.technical.mark_background`) are left out of the
shares (:func:`moonlight.modules.calling_shares`): ``s_1``, ``s_2`` and rho run over the
other modules, each still a share of the whole row, but for a gene whose top module is a
background module, which keeps its row and is never moonlighting.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import xlogy

from .modules import calling_shares
from .multiple_testing import benjamini_hochberg
from .rowmodel import TINY
from .share_test import share_test

__all__ = ["GENE_CLASSES", "CLASS_COLUMNS", "flat_deviance", "broad_p", "broad_test",
           "rest_shares", "gene_classes", "class_counts"]

#: The classes, in the order tables and figures list them.
GENE_CLASSES = ("specific", "moonlighting", "broad", "unassigned")

#: Columns of :func:`gene_classes`.
CLASS_COLUMNS = ["gene", "class", "top_module", "top_share", "second_module",
                 "second_share", "rest_share", "signal_statistic", "signal_q",
                 "broad_statistic", "broad_q", "moonlighting_q"]


def flat_deviance(counts: pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame,
                  offsets: pd.DataFrame | None = None) -> pd.DataFrame:
    """How much better each gene's fitted row explains its counts than the flat profile.

    The fitted mean is ``mu_j = (W H)_ij``; the flat one is the rank-1 profile
    ``f_j = (sum_j v_ij / sum_j d_j) d_j`` with ``d_j = sum_i (W H)_ij``, the row a gene
    with the same coefficient on every column-normalized module would have. The Poisson
    deviance difference ``LR = 2 sum_j [v_j log(mu_j / f_j) - mu_j + f_j]`` is divided by
    the quasi-Poisson dispersion of the fitted row (Pearson ``X^2 / (M - R)``, at least
    1) and referred to chi-squared with R - 1 degrees of freedom (the flat row is the
    fitted row with its R coefficients tied).

    Parameters
    ----------
    counts : DataFrame (genes x samples)
        Rows of the genes to test (any subset of W's genes), H's samples in order.
    W : DataFrame (genes x modules), H : DataFrame (modules x samples)
        The fit (any column scale of W).
    offsets : DataFrame (genes x samples), optional
        Known factors of every mean (batch factors, :mod:`moonlight.batches`): the
        fitted mean is ``o_j (W H)_ij`` and the flat one ``o_j d_j`` scaled to the row's
        total.

    Returns
    -------
    DataFrame indexed by gene: ``signal_lr``, ``signal_phi``, ``signal_statistic``,
    ``signal_p``.
    """
    Wm = W.to_numpy(dtype=np.float64)
    Hm = H.to_numpy(dtype=np.float64)
    depth = Wm.sum(axis=0) @ Hm  # d_j: the model's total per sample
    V = counts.to_numpy(dtype=np.float64)
    mu = W.loc[counts.index].to_numpy(dtype=np.float64) @ Hm
    if offsets is None:
        flat = V.sum(axis=1, keepdims=True) / depth.sum() * depth[None, :]
    else:
        O = offsets.loc[counts.index, counts.columns].to_numpy(dtype=np.float64)
        mu, shape = mu * O, O * depth[None, :]
        flat = V.sum(axis=1, keepdims=True) / shape.sum(axis=1, keepdims=True) * shape
    mu, flat = np.maximum(mu, TINY), np.maximum(flat, TINY)
    lr = np.maximum(2.0 * (xlogy(V, mu) - xlogy(V, flat) - mu + flat).sum(axis=1), 0.0)
    n_modules, n_samples = Hm.shape
    phi = ((V - mu) ** 2 / mu).sum(axis=1) / max(n_samples - n_modules, 1)
    statistic = lr / np.maximum(phi, 1.0)
    from scipy.stats import chi2

    p = chi2.sf(statistic, max(n_modules - 1, 1)) if n_modules > 1 \
        else np.ones(len(V))
    return pd.DataFrame({"signal_lr": lr, "signal_phi": phi,
                         "signal_statistic": statistic, "signal_p": p},
                        index=pd.Index(counts.index, name="gene"))


def broad_p(tests: pd.DataFrame, ceiling: float) -> pd.DataFrame:
    """Whether each gene's rest share is significantly above the ceiling, from the rest
    test of :func:`moonlight.confidence.share_test` (columns ``rest_share`` and
    ``rest_statistic``, indexed by gene), one-sided the other way:
    ``p = Phi(-sign(rho^ - c) sqrt(statistic))``, doubled (capped at 1) because the genes
    tested are those with ``rho^ > c``.

    Returns
    -------
    DataFrame indexed by gene: ``rest_share``, ``broad_statistic``, ``broad_p``.
    """
    rho = tests["rest_share"].to_numpy(dtype=np.float64)
    statistic = tests["rest_statistic"].to_numpy(dtype=np.float64)
    from scipy.stats import norm

    p = np.minimum(2.0 * norm.sf(np.sign(rho - ceiling) * np.sqrt(statistic)), 1.0)
    return pd.DataFrame({"rest_share": rho, "broad_statistic": statistic, "broad_p": p},
                        index=tests.index)


def broad_test(counts: pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame, *, threshold: float,
               ceiling: float, overdispersion: str, offsets: pd.DataFrame | None = None,
               background: Sequence[str] = ()) -> pd.DataFrame:
    """:func:`broad_p` of the rest test of ``counts``' rows (genes not already tested as
    moonlighting candidates; ``offsets`` as in :func:`flat_deviance`; ``background`` as
    in :func:`moonlight.share_test.share_test`)."""
    return broad_p(share_test(counts, W, H, threshold=threshold, ceiling=ceiling,
                              level=None, overdispersion=overdispersion, offsets=offsets,
                              background=background),
                   ceiling)


def _sorted_shares(W_normalized: pd.DataFrame, background: Sequence[str] = ()
                   ) -> tuple[NDArray, NDArray, NDArray]:
    """Each gene's module order by share, its top and second shares, its rest share
    (background modules left out: :func:`moonlight.modules.calling_shares`)."""
    shares = calling_shares(W_normalized, background)
    values = shares.to_numpy(dtype=np.float64)
    order = np.argsort(-values, axis=1, kind="stable")
    ranked = np.take_along_axis(values, order, axis=1)
    top = ranked[:, 0]
    second = ranked[:, 1] if values.shape[1] > 1 else np.zeros(len(values))
    # Rows sum to one unless background shares were zeroed; 1.0 keeps the bytes of
    # ``1 - s_1 - s_2`` where nothing is left out.
    whole = 1.0 if shares is W_normalized else values.sum(axis=1)
    rest = np.clip(whole - top - second, 0.0, 1.0) if values.shape[1] > 2 \
        else np.zeros(len(values))
    return order, np.stack([top, second], axis=1), rest


def rest_shares(W_normalized: pd.DataFrame, background: Sequence[str] = ()) -> NDArray:
    """Each gene's share outside its two top modules (0 with two modules or fewer),
    background modules left out."""
    return _sorted_shares(W_normalized, background)[2]


def gene_classes(W_normalized: pd.DataFrame, candidates: pd.DataFrame,
                 signal: pd.DataFrame, broad: pd.DataFrame, *, threshold: float,
                 ceiling: float, fdr: float, background: Sequence[str] = ()) -> pd.DataFrame:
    """The class of every gene of a fit (module docstring) with its statistics.

    Parameters
    ----------
    W_normalized : DataFrame (genes x modules)
        Row-normalized W (:func:`moonlight.modules.normalize_rows`).
    candidates : DataFrame
        The candidate table of :func:`moonlight.confidence.moonlighting_confidence`
        (``gene``, ``q``, ``confirmed``, ``called``).
    signal : DataFrame
        :func:`flat_deviance` of every gene (indexed by gene).
    broad : DataFrame
        :func:`broad_test` of the genes whose rest share is above ``ceiling``.
    threshold, ceiling, fdr : float
        ``modules.threshold``, ``modules.ceiling``, ``modules.fdr``.
    background : sequence of str
        Modules left out of the shares (module docstring).

    Returns
    -------
    DataFrame with :data:`CLASS_COLUMNS`, one row per gene in W's order. ``signal_q`` is
    the Benjamini-Hochberg q over every gene, ``broad_q`` over the genes tested broad,
    ``moonlighting_q`` the candidate's q (NaN where a test does not apply).
    """
    genes = W_normalized.index
    modules = np.asarray(W_normalized.columns, dtype=object)
    order, top_two, rest = _sorted_shares(W_normalized, background)
    n_modules = len(modules)
    out = pd.DataFrame({"gene": genes.astype(str)}, index=genes)
    out["top_module"] = modules[order[:, 0]]
    out["top_share"] = top_two[:, 0]
    out["second_module"] = modules[order[:, 1]] if n_modules > 1 else ""
    out["second_share"] = top_two[:, 1]
    out["rest_share"] = rest
    sig = signal.reindex(genes)
    out["signal_statistic"] = sig["signal_statistic"].to_numpy()
    out["signal_q"] = benjamini_hochberg(sig["signal_p"].fillna(1.0).to_numpy())
    wide = broad.reindex(genes)
    tested = wide["broad_p"].notna().to_numpy()
    out["broad_statistic"] = wide["broad_statistic"].to_numpy()
    out["broad_q"] = np.nan
    out.loc[tested, "broad_q"] = benjamini_hochberg(wide["broad_p"].to_numpy()[tested])
    cand = candidates.set_index("gene") if len(candidates) else \
        pd.DataFrame(columns=["q", "confirmed", "called"])
    out["moonlighting_q"] = pd.to_numeric(cand["q"], errors="coerce").reindex(genes) \
        .to_numpy(dtype=np.float64)
    called, confirmed = (cand[key].reindex(genes).astype("boolean").fillna(False)
                         .to_numpy(dtype=bool) for key in ("called", "confirmed"))

    above = rest > ceiling
    one = ~(top_two[:, 1] > threshold) & ~above  # a NaN second share counts as <= t
    klass = np.full(len(genes), "unassigned", dtype=object)
    if n_modules == 1:
        klass[:] = "specific"
    else:
        klass[one & (out["signal_q"].to_numpy() <= fdr)] = "specific"
        klass[above & (out["broad_q"].fillna(1.0).to_numpy() <= fdr)] = "broad"
        # the call decides: it tests the rest share of the gene's row refitted given H,
        # which can sit below the ceiling where W's joint-fit share does not
        klass[called] = "moonlighting"
        # confirmed in both of two modules (no third to be out of): in every module
        klass[confirmed & ~called] = "broad"
    out["class"] = klass
    return out[CLASS_COLUMNS].reset_index(drop=True)


def class_counts(classes: pd.DataFrame) -> pd.Series:
    """Genes per class, every class listed (0 where none)."""
    return classes["class"].value_counts().reindex(list(GENE_CLASSES), fill_value=0) \
        .rename("n_genes")
