"""The share test: is a gene's second share above the membership threshold, and is its
share outside its two top modules below the ceiling? Statistics, p-values and profile
intervals per gene, given the fit (derivation: docs/methods.md, "The share test,
derived")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .config import default
from .counts import ROW_BLOCK_ENTRIES, Counts
from .dispersion import nb_dispersion, pearson
from .intervals import interval_ends, share_standard_errors, wald_guess
from .modules import counted_modules, normalize_rows
from .rowmodel import TINY, fit_rows, profile, set_share_map, set_share_start, share_start

__all__ = ["share_test", "share_test_rows", "OVERDISPERSION"]

#: Row models of :func:`share_test`: Poisson with a quasi-likelihood dispersion, or
#: negative binomial with a per-gene dispersion.
OVERDISPERSION = ("quasi_poisson", "negative_binomial")


def _rest_test(V: NDArray, Ht: NDArray, b_hat: NDArray, ll_hat: NDArray, alpha: NDArray,
               scale: NDArray, order: NDArray[np.int64], ceiling: float,
               offset: NDArray | None, capped: NDArray[np.bool_],
               n_background: int = 0) -> dict[str, NDArray]:
    """The ceiling test of the share outside each row's two top modules (module
    docstring): the rest share, its scaled profile statistic at ``ceiling`` and
    ``rest_p``, small when the rest share is clearly below the ceiling (``capped``:
    as for :func:`moonlight.rowmodel.fit_rows`). The last ``n_background`` modules of
    ``order`` are background: free in the fit at the ceiling and in no rest share."""
    n_rows, n_modules = b_hat.shape
    shares = b_hat / np.maximum(b_hat.sum(axis=1, keepdims=True), TINY)
    if n_modules - n_background < 3:  # nothing outside the two: the ceiling holds
        return {"rest_share": np.zeros(n_rows), "rest_statistic": np.full(n_rows, np.inf),
                "rest_p": np.zeros(n_rows)}
    last = n_modules - n_background
    pair, rest, background = order[:, :2], order[:, 2:last], order[:, last:]
    s_rest = np.take_along_axis(shares, rest, axis=1).sum(axis=1)
    sigma = np.full(n_rows, ceiling)
    T = set_share_map(rest, pair, sigma, n_modules)
    start = set_share_start(b_hat, rest, pair)
    if n_background:  # one free coefficient per background module, on its own row
        own = np.zeros((n_rows, n_background, n_modules))
        np.put_along_axis(own, background[:, :, None], 1.0, axis=2)
        T = np.concatenate([T, own], axis=1)
        start = np.concatenate([start, np.take_along_axis(b_hat, background, axis=1)],
                               axis=1)
    _, ll_c = fit_rows(V, Ht, T, start, alpha, offset=offset, capped=capped)
    statistic = np.maximum(2.0 * (ll_hat - ll_c), 0.0) / scale
    z = np.sign(ceiling - s_rest) * np.sqrt(statistic)
    from scipy.stats import norm

    return {"rest_share": s_rest, "rest_statistic": statistic, "rest_p": norm.sf(z)}


def _test_block(V: NDArray, Ht: NDArray, b0: NDArray, order: NDArray[np.int64],
                threshold: float, ceiling: float | None, critical: float | None,
                overdispersion: str, offset: NDArray | None = None,
                n_background: int = 0) -> dict[str, NDArray]:
    """The share test, with ``ceiling`` the rest test, and with ``critical`` both
    intervals, for one block of rows (``order``: each row's modules by W's shares, its
    ``n_background`` background modules last; ``offset``: the rows' known factors of
    their means, or None). ``fits_at_cap``: a
    row any of whose test fits stopped at its iteration cap; ``interval_fits_at_cap``:
    the same of its intervals' profile fits."""
    from scipy.stats import norm

    top, second = order[:, 0], order[:, 1]
    n_rows, n_modules = b0.shape
    eye = np.broadcast_to(np.eye(n_modules), (n_rows, n_modules, n_modules))
    alpha = np.zeros(n_rows)

    capped = np.zeros(n_rows, dtype=np.bool_)  # the final free fit's, then the others'
    b_hat, ll_hat = fit_rows(V, Ht, eye, b0, alpha, offset=offset, capped=capped)
    df = np.maximum(V.shape[1] - (b_hat > 0).sum(axis=1), 1).astype(np.float64)
    if overdispersion == "negative_binomial":
        # Dispersion from the Poisson fit's residuals, refit, re-estimate once.
        for _ in range(2):
            alpha = nb_dispersion(V, Ht, b_hat, df, offset=offset)
            capped[:] = False
            b_hat, ll_hat = fit_rows(V, Ht, eye, b_hat, alpha, offset=offset,
                                     capped=capped)
    phi = pearson(V, Ht, b_hat, alpha, offset=offset) / df
    scale = np.maximum(phi, 1.0)
    shares = b_hat / np.maximum(b_hat.sum(axis=1, keepdims=True), TINY)
    rows = np.arange(n_rows)
    s_top, s_second = shares[rows, top], shares[rows, second]
    ll_null, _ = profile(V, Ht, second, np.full(n_rows, threshold),
                         share_start(b_hat, second), alpha, offset, capped)
    lr = np.maximum(2.0 * (ll_hat - ll_null), 0.0)
    statistic = lr / scale
    z = np.sign(s_second - threshold) * np.sqrt(statistic)
    out = {"top_share": s_top, "second_share": s_second, "dispersion": alpha,
           "pearson_phi": phi, "lr_threshold": lr, "statistic": statistic,
           "p": norm.sf(z)}
    if ceiling is not None:
        out.update(_rest_test(V, Ht, b_hat, ll_hat, alpha, scale, order, ceiling, offset,
                              capped, n_background))
    if critical is not None:
        # Only rows that can be called: with a ceiling, those estimated below it.
        rows_ = np.flatnonzero(np.ones(n_rows, dtype=bool) if ceiling is None
                               else out["rest_share"] < ceiling)
        out.update(_intervals(V[rows_], Ht, b_hat[rows_], top[rows_], second[rows_],
                              s_top[rows_], s_second[rows_], alpha[rows_], ll_hat[rows_],
                              scale[rows_], critical,
                              None if offset is None else offset[rows_], rows_, n_rows))
    out["fits_at_cap"] = capped
    return out


def _intervals(V: NDArray, Ht: NDArray, b_hat: NDArray, top: NDArray[np.int64],
               second: NDArray[np.int64], s_top: NDArray, s_second: NDArray,
               alpha: NDArray, ll_hat: NDArray, scale: NDArray, critical: float,
               offset: NDArray | None, rows: NDArray[np.int64], n_rows: int
               ) -> dict[str, NDArray]:
    """Profile intervals of the top and second shares of the given rows (the block's
    ``rows``), NaN in the block's other rows; ``interval_fits_at_cap`` as in
    :func:`_test_block`. Every row's searches are its own, so a row's ends do not depend
    on which other rows are searched."""
    keys = ["top_share_low", "top_share_high", "second_share_low", "second_share_high"]
    out = {key: np.full(n_rows, np.nan) for key in keys}
    out["interval_fits_at_cap"] = np.zeros(n_rows, dtype=np.bool_)
    n = len(rows)
    if n == 0:
        return out
    # Four searches per row (top/second x lower/upper end), run as one batch.
    module = np.concatenate([top, top, second, second])
    inside = np.concatenate([s_top, s_top, s_second, s_second])
    far = np.concatenate([np.zeros(n), np.ones(n)] * 2)
    start = np.concatenate([share_start(b_hat, top)] * 2
                           + [share_start(b_hat, second)] * 2)
    se_top, se_second = share_standard_errors(V, Ht, b_hat, alpha, [top, second], offset)
    guess = wald_guess(inside, far, np.concatenate([se_top, se_top, se_second, se_second]),
                       np.tile(scale, 4), critical)
    ends_capped = np.zeros(4 * n, dtype=np.bool_)
    ends = interval_ends(np.tile(V, (4, 1)), Ht, module, inside, far,
                         np.tile(alpha, 4), np.tile(ll_hat, 4), np.tile(scale, 4),
                         critical, start, None if offset is None else np.tile(offset, (4, 1)),
                         ends_capped, guess)
    ends = ends.reshape(4, n)
    for k, key in enumerate(keys):
        out[key][rows] = ends[k]
    out["interval_fits_at_cap"][rows] = ends_capped.reshape(4, n).any(axis=0)
    return out


def share_test(counts: pd.DataFrame, W: pd.DataFrame, H: pd.DataFrame, *,
               threshold: float, ceiling: float | None = default("modules.ceiling"),
               level: float | None = default("modules.level"),
               overdispersion: str = default("modules.overdispersion"),
               offsets: pd.DataFrame | None = None,
               background: Sequence[str] = ()) -> pd.DataFrame:
    """Test, per gene, whether its second share is above ``threshold`` and, with
    ``ceiling``, whether its share outside its two top modules is below the ceiling
    (docs/methods.md, "The share test, derived").

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
        the rest test. Left out, the schema's default.
    level : float or None
        Confidence level of the profile intervals of both shares; None skips them.
        With ``ceiling`` only the rows that can be called get them, those whose rest
        share is estimated below the ceiling (NaN in the others: a gene above the
        ceiling is never called, and its four interval searches cost most of the test).
    overdispersion : {"negative_binomial", "quasi_poisson"}
        Row model (docs/methods.md, "The share test, derived").
    offsets : DataFrame (genes x samples), optional
        A known factor of every mean (at least ``counts``' genes and samples): with known
        batches, each gene's batch factor per sample (:func:`moonlight.batches.offsets`),
        so a row's mean is ``o_j (b H)_j``.
    background : sequence of str
        Modules (labels of W's columns) that are neither a gene's two top modules nor
        part of its rest: a gene's pair is its two top modules among the others, and
        in the fit at the ceiling a background module's coefficient is free (the
        modules :func:`moonlight.technical.mark_background` marks). At least two modules
        must be left. A gene whose top module is a background module is tested as if
        there were none (:func:`moonlight.modules.calling_shares`).

    Returns
    -------
    DataFrame indexed by gene: ``top_module``, ``second_module`` (by W's shares),
    ``top_share``, ``second_share`` (of the row refit given H), with ``level`` also
    ``top_share_low``/``_high`` and ``second_share_low``/``_high``; ``dispersion``
    (the row's negative-binomial alpha, 0 for ``"quasi_poisson"``), ``pearson_phi``,
    ``lr_threshold`` (``2 (l^ - l*(t))``, also for a share at or below t), ``statistic``
    (``lr_threshold / max(pearson_phi, 1)``) and ``p``; with ``ceiling`` also
    ``rest_share`` (of the row refit), ``rest_statistic`` and ``rest_p`` (the p-value
    of "rest share >= ceiling"; 0 when R = 2, where there is no rest); ``fits_at_cap``:
    True where a row fit of the gene's tests (the free fit, the profile at the
    threshold, the fit at the ceiling) stopped at its iteration cap, so that a
    statistic may be off; with ``level`` also ``interval_fits_at_cap``, the same of the
    intervals' profile fits (an interval end may be off).
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
    unknown = set(background) - set(W.columns)
    if unknown:
        raise ValueError(f"background modules not in W: {sorted(map(str, unknown))}")
    is_background = W.columns.isin(list(background))
    if counted_modules(W.columns, background) < 2:
        raise ValueError("the share test needs two modules outside the background")
    # Shares from the whole W: column sums run over every gene, not only these rows.
    shares = normalize_rows(W).loc[counts.index].to_numpy()
    if is_background.any():
        own = is_background[shares.argmax(axis=1)]
        if own.any():  # a gene of a background module is tested as if there were none
            settings = dict(threshold=threshold, ceiling=ceiling, level=level,
                            overdispersion=overdispersion, offsets=offsets)
            parts = [share_test(counts.loc[own], W, H, **settings),
                     share_test(counts.loc[~own], W, H, background=background, **settings)]
            return pd.concat(parts).loc[counts.index]
        shares = np.where(is_background, -1.0, shares)  # sorted last, in column order
    order = np.argsort(-shares, axis=1, kind="stable")
    top, second = order[:, 0], order[:, 1]
    from scipy.stats import chi2

    critical = None if level is None else float(chi2.ppf(level, 1))
    n_genes, n_samples = V.shape
    # Rows are tested in blocks of ROW_BLOCK_ENTRIES entries, the blocks the rows are
    # read in: row fits hold O(modules^2) each (moonlight._row_kernels), so a block's
    # memory is its count rows, four copies of them in the interval searches.
    block = max(1, ROW_BLOCK_ENTRIES // max(n_samples, 1))
    O = None if offsets is None else \
        offsets.loc[counts.index, counts.columns].to_numpy(dtype=np.float64)
    parts = [_test_block(V[i:i + block], Ht, b0[i:i + block], order[i:i + block],
                         threshold, ceiling, critical, overdispersion,
                         None if O is None else O[i:i + block], int(is_background.sum()))
             for i in range(0, n_genes, block)]
    empty = ["top_share", "second_share", "dispersion", "pearson_phi", "lr_threshold",
             "statistic", "p"]
    if ceiling is not None:
        empty += ["rest_share", "rest_statistic", "rest_p"]
    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]} if parts \
        else {key: np.empty(0) for key in empty} | {"fits_at_cap": np.empty(0, bool)}
    if critical is not None and not parts:
        columns["interval_fits_at_cap"] = np.empty(0, bool)
    names = np.asarray(W.columns, dtype=object)
    out = pd.DataFrame({"top_module": names[top], "second_module": names[second]},
                       index=pd.Index(counts.index, name="gene"))
    order_cols = ["top_share", "top_share_low", "top_share_high", "second_share",
                  "second_share_low", "second_share_high", "dispersion", "pearson_phi",
                  "lr_threshold", "statistic", "p", "rest_share", "rest_statistic",
                  "rest_p", "fits_at_cap", "interval_fits_at_cap"]
    for key in order_cols:
        if key in columns:
            out[key] = columns[key]
    return out


def share_test_rows(counts: Counts, genes: Sequence[str], W: pd.DataFrame, H: pd.DataFrame,
                    *, limit: int = ROW_BLOCK_ENTRIES, **settings: Any) -> pd.DataFrame:
    """:func:`share_test` of ``genes`` (labels of W's index), their rows read from
    ``counts`` in dense blocks of at most about ``limit`` entries
    (:meth:`moonlight.counts.Counts.row_blocks`), so that sparse counts are never
    densified whole, whatever the number of genes: the same table as one call on all
    the rows, because every row is fitted on its own. ``settings`` are
    :func:`share_test`'s keywords."""
    samples = [str(s) for s in H.columns]
    labels = list(genes)
    names = [str(g) for g in labels]
    # one dense block at a time: the generator, not a list of every block
    blocks = counts.row_blocks(names, limit) if names else \
        iter([pd.DataFrame(np.empty((0, len(samples))), columns=samples)])
    parts, done = [], 0
    for rows in blocks:
        rows = rows if list(rows.columns) == samples else rows[samples]
        if names != labels or samples != list(H.columns):  # W's and H's labels, as given
            rows = rows.set_axis(labels[done:done + len(rows)], axis=0).set_axis(
                H.columns, axis=1)
        done += len(rows)
        parts.append(share_test(rows, W, H, **settings))
    return pd.concat(parts)
