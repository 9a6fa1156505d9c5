"""Every figure of the workflow, one function each.

Given a ``path``, a function writes the figure there as a PNG and closes it; without one
it returns the figure (a notebook shows it). :func:`plot_weight_histogram` can also draw
into an existing ``ax``. The module sets no backend: the workflow's scripts run on the
non-interactive Agg backend (``MPLBACKEND``, set by ``scripts/_checkout.py``), a notebook
on its own. File writes are atomic, and PNGs carry no time stamp or version, so the same
inputs give the same bytes.

The heat maps scale with the table: rows (genes, samples) are labelled only while each
row gets at least :data:`LABEL_ROW_INCHES` of height (6-point text that does not
overlap); beyond that the figure has a fixed height and shows module bands instead of
names. Clustering (usage heat map, consensus map) is average linkage, drawn as a
dendrogram.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray

from .config import default
from .io import atomic_path
from .selection import selected_rank

__all__ = ["plot_rank_selection", "plot_weight_histogram", "plot_module_heatmap",
           "plot_usage_heatmap", "plot_consensus_map", "plot_enrichment",
           "plot_usage_by_group", "plot_usage_embedding", "plot_batch_factors",
           "LABEL_ROW_INCHES", "MAX_LABELLED_INCHES"]

# Fixed metadata keeps PNG bytes identical between runs (no creation time stamp).
_PNG_METADATA = {"Software": None}
_DPI = 120

#: Height per row a row label needs (6-point text, 7.2 points per row).
LABEL_ROW_INCHES = 0.1
#: Tallest labelled heat map body; more rows than fit are drawn unlabelled, in
#: :data:`_BAND_INCHES`, with module bands (200 genes at most are named).
MAX_LABELLED_INCHES = 20.0
_BAND_INCHES = 8.0
_LABEL_FONTSIZE = 6
_MOONLIGHTING_COLOR = "#d62728"

#: Samples above which :func:`plot_usage_heatmap` orders samples by their dominant module
#: instead of clustering them: the tree needs all pairwise distances, 8 M^2 / 2 bytes
#: (1.6 GB at 20,000 cells, 37 GB at 100,000).
USAGE_MAX_CLUSTERED = 2000


def _finish(fig: plt.Figure, path: str | os.PathLike[str] | None) -> plt.Figure | None:
    """Write ``fig`` to ``path`` (atomically) and close it; without a path, return it."""
    if path is None:
        return fig
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    plt.close(fig)
    return None


def _labelled(n_rows: int) -> bool:
    """Whether ``n_rows`` row labels fit, without overlapping, in the tallest body."""
    return n_rows * LABEL_ROW_INCHES <= MAX_LABELLED_INCHES


def _body_inches(n_rows: int, minimum: float = 3.0) -> float:
    """Height of a heat map body: one label row per row while labelled, else fixed."""
    return max(minimum, n_rows * LABEL_ROW_INCHES) if _labelled(n_rows) else _BAND_INCHES


def _binned(values: NDArray[np.float64], max_rows: int, max_cols: int | None = None
            ) -> NDArray[np.float64]:
    """``values`` with runs of consecutive rows (and columns) averaged so that at most
    about ``max_rows`` rows (``max_cols`` columns) remain.

    A heat map with more rows than pixels would otherwise drop rows (nearest-neighbour
    resampling) or blur across columns (matplotlib's antialiasing); drawn with an
    ``extent`` that keeps the original row coordinates, each pixel row shows the mean of
    the rows it covers.
    """
    for axis, limit in ((0, max_rows), (1, max_cols)):
        n = values.shape[axis]
        if limit is not None and n > limit:
            step = -(-n // limit)
            starts = np.arange(0, n, step)
            counts = np.diff(np.r_[starts, n])
            sums = np.add.reduceat(values, starts, axis=axis)
            values = sums / (counts[:, None] if axis == 0 else counts[None, :])
    return values


def _heat(ax: plt.Axes, values: NDArray[np.float64], *, body_inches: float, cmap: str,
          square: bool = False) -> matplotlib.image.AxesImage:
    """``values`` as a heat map in row/column coordinates 0..n-1, rows averaged down to
    the pixels of ``body_inches`` (columns too when ``square``)."""
    pixels = int(body_inches * _DPI)
    n_rows, n_cols = values.shape
    shown = _binned(values, pixels, pixels if square else None)
    return ax.imshow(shown, aspect="auto", cmap=cmap, vmin=0, vmax=1,
                     interpolation="nearest",
                     extent=(-0.5, n_cols - 0.5, n_rows - 0.5, -0.5))


def _label_inches(labels: Iterable[object]) -> float:
    """Width of the longest row label at the label font size (about 0.6 em per char)."""
    longest = max((len(str(x)) for x in labels), default=0)
    return 0.15 + longest * _LABEL_FONTSIZE * 0.6 / 72


def _module_colors(modules: Sequence[object]) -> dict[object, tuple[float, ...]]:
    """A distinct colour per module, never the red that marks moonlighting genes: tab10
    without its red up to 9 modules, tab20 without its reds up to 18, then blue to
    orange along turbo."""
    n = len(modules)
    if n <= 9:
        colors = [plt.get_cmap("tab10")(k) for k in (0, 1, 2, 4, 5, 6, 7, 8, 9)[:n]]
    elif n <= 18:
        colors = [plt.get_cmap("tab20")(k) for k in range(20) if k not in (6, 7)][:n]
    else:
        colors = [plt.get_cmap("turbo")(x) for x in np.linspace(0.05, 0.8, n)]
    return dict(zip(modules, colors))


def _grid(widths: Sequence[float], heights: Sequence[float], *, left: float, right: float,
          top: float, bottom: float) -> tuple[plt.Figure, matplotlib.gridspec.GridSpec]:
    """A figure sized in inches: columns ``widths`` and rows ``heights`` plus margins."""
    fig_w = left + sum(widths) + right
    fig_h = top + sum(heights) + bottom
    fig = plt.figure(figsize=(fig_w, fig_h))
    grid = fig.add_gridspec(len(heights), len(widths), width_ratios=widths,
                            height_ratios=heights, left=left / fig_w,
                            right=1 - right / fig_w, top=1 - top / fig_h,
                            bottom=bottom / fig_h, wspace=0, hspace=0)
    return fig, grid


def _cluster(X: NDArray[np.float64], *, distances: bool = False
             ) -> tuple[NDArray[np.float64] | None, NDArray[np.int64]]:
    """Average-linkage tree of the rows of X (Euclidean), or of a condensed distance
    vector when ``distances``; and its leaf order. No tree for fewer than two rows."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    n = int(round((1 + np.sqrt(1 + 8 * len(X))) / 2)) if distances else len(X)
    if n < 2:
        return None, np.arange(n)
    Z = linkage(X, method="average") if distances else linkage(X, "average", "euclidean")
    return Z, leaves_list(Z)


def _draw_dendrogram(ax: plt.Axes, Z: NDArray[np.float64] | None, order: NDArray[np.int64],
                     *, side: str) -> None:
    """The tree of ``Z`` beside a heat map whose rows (``side="left"``) or columns
    (``side="top"``) are in ``order``: leaf k at coordinate k, root away from the map.

    Computed from the linkage without recursion (scipy's dendrogram recurses once per
    tree level and fails on deep trees of a few thousand leaves).
    """
    n = len(order)
    ax.set_axis_off()
    if Z is None:
        return
    position = np.empty(2 * n - 1)
    position[order] = np.arange(n)
    height = np.zeros(2 * n - 1)
    segments = np.empty((n - 1, 3, 2, 2))
    for k, (a, b, h, _) in enumerate(Z):
        a, b = int(a), int(b)
        position[n + k] = 0.5 * (position[a] + position[b])
        height[n + k] = h
        segments[k] = [[[position[a], height[a]], [position[a], h]],
                       [[position[a], h], [position[b], h]],
                       [[position[b], h], [position[b], height[b]]]]
    segments = segments.reshape(-1, 2, 2)
    top = max(float(height.max()), 1e-12) * 1.02
    if side == "left":
        segments = segments[:, :, ::-1]  # (height, leaf)
        ax.set_xlim(top, 0)
        ax.set_ylim(n - 0.5, -0.5)
    else:
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(0, top)
    ax.add_collection(LineCollection(segments, colors="0.25", linewidths=0.5))


def _module_strip(ax: plt.Axes, labels: Sequence[object], colors: dict[object, tuple],
                  *, vertical: bool = True) -> None:
    """One coloured cell per row (``vertical``) or column, by its module."""
    rgba = np.array([colors[x] for x in labels])[:, None, :]
    ax.imshow(rgba if vertical else rgba.transpose(1, 0, 2), aspect="auto",
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _band_ticks(ax: plt.Axes, labels: Sequence[object]) -> None:
    """Module names at the middle of each run of equal labels, on a strip's y axis."""
    labels = np.asarray([str(x) for x in labels])
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    big = (ends - starts) >= 0.02 * len(labels)  # name bands of at least 2% of the rows
    ax.set_yticks(0.5 * (starts + ends - 1)[big], labels[starts][big], fontsize=8)


def _row_labels(ax: plt.Axes, names: Sequence[object], highlight: Iterable[object] = (),
                *, right: bool = False) -> None:
    """Every row named (small font), ``highlight``-ed names in red."""
    ax.set_yticks(np.arange(len(names)), [str(x) for x in names], fontsize=_LABEL_FONTSIZE)
    if right:
        ax.yaxis.tick_right()
    marked = set(highlight)
    for tick, name in zip(ax.get_yticklabels(), names):
        if name in marked:
            tick.set_color(_MOONLIGHTING_COLOR)
            tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0, pad=1)


def _module_legend(fig: plt.Figure, colors: dict[object, tuple], *, extra: Sequence = (),
                   y: float = 0.0) -> None:
    """Module colours (and ``extra`` handles) in balanced rows along the bottom."""
    handles = [Patch(color=c, label=str(m)) for m, c in colors.items()] + list(extra)
    per_row = max(1, int(fig.get_figwidth() / 0.8))
    rows = -(-len(handles) // per_row)
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, y),
               ncol=-(-len(handles) // rows), fontsize=8, frameon=False,
               handlelength=1.2, columnspacing=1.0)


# ----------------------------------------------------------------------------------------
# Rank selection
# ----------------------------------------------------------------------------------------


def _zoomed(ax: plt.Axes, ranks: NDArray, delta: NDArray, focus: NDArray[np.bool_], *,
            err: NDArray | None = None, floor: float = 0.0, color: str) -> None:
    """``delta`` (<= 0, a log likelihood minus the best) on a linear axis zoomed on the
    ``focus`` ranks; ranks far below are drawn as a triangle on the bottom edge with
    their value written beside it, so that the differences near the best stay visible."""
    err = np.zeros_like(delta) if err is None else np.asarray(err, dtype=np.float64)
    low = min(float((delta - err)[focus].min()), -floor, -1.0)
    low -= 0.08 * -low
    high = max(float((delta + err)[focus].max()), 0.0) + 0.08 * -low
    inside = delta >= low
    shown = np.maximum(delta, low)
    ax.plot(ranks, shown, "-", color=color, alpha=0.7)
    ax.errorbar(ranks[inside], delta[inside], yerr=err[inside], fmt="o", color=color,
                capsize=3)
    ax.plot(ranks[~inside], shown[~inside], "v", color=color, markersize=8, clip_on=False)
    for r, d in zip(ranks[~inside], delta[~inside]):
        ax.annotate(f"{d:,.0f}".replace("-", "\u2212"), (r, low), xytext=(4, 4),
                    textcoords="offset points", fontsize=7, color=color, rotation=90,
                    va="bottom", ha="left")
    ax.set_ylim(low, high)
    ax.axhline(0.0, color="0.6", linewidth=0.8)


def plot_rank_selection(table: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                        title: str = "", min_stability: float | None = None
                        ) -> plt.Figure | None:
    """Every rank-selection criterion against R, the selected R marked.

    ``table`` is the output of :func:`moonlight.selection.rank_table`. Panels: held-out
    log likelihood minus that of the best stable rank, with one-standard-error bars and
    the one-SE band (when cross-validated); stability (mean matched cosine, cophenetic
    correlation) with its floor (when given); best in-sample log likelihood minus the
    largest; BIC and AIC minus their minimum. The two likelihood panels are linear and
    zoomed on the ranks from the selected one up, where the rule decides; a rank far
    below that window is a triangle on its bottom edge, labelled with its value.
    """
    table = table.sort_values("rank")
    ranks = table["rank"].to_numpy()
    has_cv = "cv_loglik" in table
    has_stab = "matched_cosine" in table
    n_panels = 2 + has_cv + has_stab
    fig, axes = plt.subplots(n_panels, 1, figsize=(5.5, 2.4 * n_panels + 0.7), sharex=True)
    axes = list(np.atleast_1d(axes))
    chosen = selected_rank(table)
    focus = ranks >= chosen
    if has_cv:
        ax = axes.pop(0)
        stable = table["stable"] if "stable" in table and table["stable"].any() else None
        pool = table[stable] if stable is not None else table
        best = pool.loc[pool["cv_loglik"].idxmax()]
        se = float(best["cv_se"])
        _zoomed(ax, ranks, (table["cv_loglik"] - best["cv_loglik"]).to_numpy(),
                focus | (ranks == best["rank"]), err=table["cv_se"].to_numpy(),
                floor=3 * se, color="C3")
        ax.axhspan(-se, 0.0, color="C3", alpha=0.12, label="within 1 SE of the best")
        ax.set_ylabel("held-out log L\nminus best stable")
    if has_stab:
        ax = axes.pop(0)
        ax.plot(ranks, table["matched_cosine"], "o-", color="C4", label="matched cosine")
        ax.plot(ranks, table["cophenetic"], "s--", color="C5", alpha=0.8, label="cophenetic")
        if min_stability is not None:
            ax.axhline(min_stability, color="C4", linestyle=":", label="stability floor")
        ax.set_ylabel("stability")
        ax.legend(loc="lower left", fontsize=8)
    top, bottom = axes
    # rank 1 of a table without structure has no fit of its own (held-out values only)
    fitted = table["loglik"].notna().to_numpy()
    loglik = table["loglik"].to_numpy()[fitted]
    _zoomed(top, ranks[fitted], loglik - loglik.max(), focus[fitted], color="C0")
    top.set_ylabel("in-sample log L\nminus the largest")
    bottom.plot(ranks, table["bic"] - table["bic"].min(), "o-", color="C1", label="BIC")
    bottom.plot(ranks, table["aic"] - table["aic"].min(), "s--", color="C2", alpha=0.7,
                label="AIC")
    bottom.set_yscale("symlog", linthresh=10.0)
    bottom.set_ylabel("criterion minus its\nminimum (lower is better)")
    bottom.set_xlabel("rank R (number of modules)")
    bottom.legend(fontsize=8)
    for ax in fig.axes:
        ax.axvline(chosen, color="grey", linestyle=":")
        if ax.get_yscale() == "linear":
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    fig.axes[0].legend(
        handles=[*fig.axes[0].get_legend_handles_labels()[0],
                 Line2D([], [], color="grey", linestyle=":", label=f"selected R = {chosen}")],
        loc="best", fontsize=8)
    bottom.set_xticks(ranks)
    bottom.set_xlim(ranks.min() - 0.5, ranks.max() + 0.5)
    rule = "held-out likelihood, one-SE rule" if has_cv else "BIC"
    fig.suptitle(f"{title}: rank selection by {rule}" if title else f"Rank selection by {rule}")
    fig.tight_layout()
    fig.align_ylabels()
    return _finish(fig, path)


# ----------------------------------------------------------------------------------------
# Row-normalized W
# ----------------------------------------------------------------------------------------


def plot_batch_factors(beta: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                       title: str = "") -> plt.Figure | None:
    """Every gene's batch factor (:mod:`moonlight.batches`), log2, one histogram per
    batch on shared bins: how much each batch moves genes on their own, beside the
    modules."""
    values = np.log2(np.maximum(beta.to_numpy(dtype=np.float64), 1e-300))
    finite = values[np.isfinite(values)]
    edge = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
    bins = np.linspace(-edge, edge, 41)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, batch in enumerate(beta.columns):
        ax.hist(values[:, k], bins=bins, histtype="step", linewidth=1.5, color=f"C{k % 10}",
                label=f"{batch} (median {np.median(values[:, k]):+.2f})")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("log2 batch factor of a gene (0: as in the average sample)")
    ax.set_ylabel("genes")
    ax.legend(fontsize=8)
    ax.set_title(title or "Batch factors")
    fig.tight_layout()
    return _finish(fig, path)


def plot_weight_histogram(
    W_normalized: pd.DataFrame, threshold: float, path: str | os.PathLike[str] | None = None,
    *, title: str = "", moonlighting: Iterable[str] | None = None,
    ax: plt.Axes | None = None,
) -> plt.Figure | None:
    """Histogram of every entry of row-normalized W (log scale), the membership threshold
    marked and the moonlighting region shaded.

    A gene in two modules has a share above ``threshold`` in both, so each of its shares
    lies between ``threshold`` and ``1 - threshold``: that band is shaded. Entries of the
    called ``moonlighting`` genes, when given, are stacked in red. Drawn into ``ax`` when
    given (its figure is returned, or written to ``path``), else on a figure of its own.
    """
    values = W_normalized.to_numpy()
    bins = np.linspace(0, 1, 51)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5.5, 4))
    else:
        fig = ax.figure
    if threshold < 0.5:
        ax.axvspan(threshold, 1 - threshold, color=_MOONLIGHTING_COLOR, alpha=0.08,
                   label=f"moonlighting shares ({threshold:g} to {1 - threshold:g})")
    if moonlighting is None:
        ax.hist(values.ravel(), bins=bins, color="C0")
    else:
        called = W_normalized.index.isin(list(moonlighting))
        ax.hist([values[~called].ravel(), values[called].ravel()], bins=bins, stacked=True,
                color=["C0", _MOONLIGHTING_COLOR],
                label=["other genes", f"called moonlighting genes ({int(called.sum())})"])
    ax.axvline(threshold, color=_MOONLIGHTING_COLOR, linestyle="--",
               label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("row-normalized W weight (a gene's share in a module)")
    ax.set_ylabel("number of (gene, module) entries")
    ax.legend(fontsize=8, loc="upper center")
    ax.set_title(title or "Row-normalized W")
    if own:
        fig.tight_layout()
    return _finish(fig, path)


def plot_module_heatmap(
    W_normalized: pd.DataFrame, path: str | os.PathLike[str] | None = None, *, title: str = "",
    moonlighting: Iterable[str] = ()
) -> plt.Figure | None:
    """Row-normalized W as a heat map, genes grouped by their top module.

    Genes are sorted by top module, then by decreasing top share. A strip on the left
    gives each gene's top module. Up to ``MAX_LABELLED_INCHES / LABEL_ROW_INCHES`` genes
    (200) every gene is named, ``moonlighting`` genes in red; beyond, the map has a fixed
    height, the strip names the module bands, and moonlighting genes are marked by red
    ticks on the right.
    """
    values = W_normalized.to_numpy()
    order = np.lexsort((-values.max(axis=1), values.argmax(axis=1)))
    data = W_normalized.iloc[order]
    modules = list(W_normalized.columns)
    top = [modules[k] for k in data.to_numpy().argmax(axis=1)]
    colors = _module_colors(modules)
    n = len(data)
    labelled = _labelled(n)
    called = data.index.isin(list(moonlighting))
    widths = [0.2, max(2.0, 0.5 * len(modules)), 0.12, 0.25]
    fig, grid = _grid(widths, [_body_inches(n)],
                      left=(_label_inches(data.index) if labelled else 0.6) + 0.1,
                      right=1.0, top=0.5, bottom=0.9)
    strip = fig.add_subplot(grid[0, 0])
    _module_strip(strip, top, colors)
    heat = fig.add_subplot(grid[0, 1], sharey=strip)
    image = _heat(heat, data.to_numpy(), body_inches=_body_inches(n), cmap="viridis")
    heat.set_xticks(range(len(modules)), [str(m) for m in modules],
                    rotation=90 if len(modules) > 12 else 0)
    heat.tick_params(axis="y", left=False, labelleft=False)
    heat.set_xlabel("module")
    if labelled:
        _row_labels(strip, list(data.index), data.index[called])
    else:
        _band_ticks(strip, top)
        strip.set_ylabel(f"{n} genes by top module")
        marks = fig.add_subplot(grid[0, 2], sharey=strip)
        marks.set_axis_off()
        rows = np.flatnonzero(called)
        marks.hlines(rows, 0, 1, color=_MOONLIGHTING_COLOR, linewidth=0.8)
        marks.set_xlim(0, 1)
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[0, 3]))
    colorbar.set_label("row-normalized W (share)")
    extra = [Patch(color=_MOONLIGHTING_COLOR, label=f"moonlighting ({int(called.sum())})")] \
        if called.any() else []
    _module_legend(fig, colors, extra=extra)
    heat.set_title(title or "Gene modules")
    return _finish(fig, path)


# ----------------------------------------------------------------------------------------
# Usage (H) and consensus
# ----------------------------------------------------------------------------------------


def plot_usage_heatmap(H: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                       title: str = "") -> plt.Figure | None:
    """Module usage per sample: samples x modules, samples clustered.

    Usage is H with each sample's column scaled to sum to one: as W's columns sum to one,
    ``H_rj / sum_r H_rj`` is the fraction of sample j's expected counts that module r
    accounts for. Samples are ordered by average-linkage clustering of their usage
    (Euclidean), drawn as a dendrogram on the left; beyond :data:`USAGE_MAX_CLUSTERED`
    samples (single-cell data) by dominant module and, within it, by its usage, with no
    tree. A strip gives each sample's dominant module. Samples are named while their labels fit (see the module docstring).
    """
    usage = (H / H.sum(axis=0)).T
    modules = list(usage.columns)
    values = usage.to_numpy()
    if len(usage) <= USAGE_MAX_CLUSTERED:
        Z, order = _cluster(values)
    else:  # by dominant module, then by its usage, highest first; no tree
        top = values.argmax(axis=1)
        Z, order = None, np.lexsort((-values[np.arange(len(values)), top], top))
    data = usage.iloc[order]
    dominant = [modules[k] for k in data.to_numpy().argmax(axis=1)]
    colors = _module_colors(modules)
    n = len(data)
    labelled = _labelled(n)
    widths = [1.0, 0.2, max(2.0, 0.5 * len(modules)), _label_inches(data.index)
              if labelled else 0.1, 0.25]
    fig, grid = _grid(widths, [_body_inches(n)], left=0.3, right=1.0, top=0.5, bottom=0.9)
    tree = fig.add_subplot(grid[0, 0])
    strip = fig.add_subplot(grid[0, 1])
    _module_strip(strip, dominant, colors)
    _draw_dendrogram(tree, Z, order, side="left")
    heat = fig.add_subplot(grid[0, 2], sharey=strip)
    image = _heat(heat, data.to_numpy(), body_inches=_body_inches(n), cmap="viridis")
    heat.set_xticks(range(len(modules)), [str(m) for m in modules],
                    rotation=90 if len(modules) > 12 else 0)
    heat.set_xlabel("module")
    if labelled:
        _row_labels(heat, list(data.index), right=True)
    else:
        heat.set_yticks([])
        tree.text(0.5, -0.01, f"{n} samples", transform=tree.transAxes, ha="center",
                  va="top", fontsize=9)
    strip.tick_params(axis="y", left=False, labelleft=False)
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[0, 4]))
    colorbar.set_label("usage (fraction of the sample's counts)")
    _module_legend(fig, colors)
    heat.set_title(title or "Module usage")
    return _finish(fig, path)


def plot_consensus_map(consensus: pd.DataFrame, modules: pd.Series,
                       path: str | os.PathLike[str] | None = None, *, title: str = "",
                       moonlighting: Iterable[str] = ()) -> plt.Figure | None:
    """The gene consensus matrix as R's NMF ``consensusmap`` draws it.

    Parameters
    ----------
    consensus : DataFrame (genes x genes)
        :func:`moonlight.stability.near_best_consensus`: the fraction of near-best
        restarts in which two genes share their top module.
    modules : Series
        Gene -> its module (e.g. ``W_normalized.idxmax(axis=1)``); must cover the genes
        of ``consensus``.
    path : path-like
        The PNG to write.
    title : str
        Title above the map.
    moonlighting : iterable of str
        Called moonlighting genes, named in red when genes are named.

    Notes
    -----
    Genes are ordered by average-linkage clustering of ``1 - consensus`` (the tree on
    top), with their module as coloured strips on the left and top. A crisp consensus is
    a block diagonal of ones; genes whose top module changes between restarts show as
    intermediate values.
    """
    missing = consensus.index.difference(modules.index)
    if len(missing):
        raise ValueError(f"modules has no entry for {len(missing)} gene(s) of the "
                         f"consensus matrix, e.g. {missing[0]!r}")
    C = consensus.to_numpy(dtype=np.float64)
    D = 1.0 - C
    np.fill_diagonal(D, 0.0)
    from scipy.spatial.distance import squareform

    Z, order = _cluster(squareform(D, checks=False), distances=True)
    genes = consensus.index[order]
    labels = modules.reindex(genes).to_numpy()
    names = list(dict.fromkeys(sorted(pd.unique(modules), key=str)))
    colors = _module_colors(names)
    n = len(genes)
    labelled = n * LABEL_ROW_INCHES <= 12.0
    side = max(5.0, n * LABEL_ROW_INCHES) if labelled else _BAND_INCHES
    right = _label_inches(genes) if labelled else 0.2
    fig, grid = _grid([0.2, side, right, 0.25], [1.0, 0.2, side],
                      left=0.3 if labelled else 0.7, right=1.0, top=0.5, bottom=0.8)
    tree = fig.add_subplot(grid[0, 1])
    _draw_dendrogram(tree, Z, order, side="top")
    top_strip = fig.add_subplot(grid[1, 1])
    _module_strip(top_strip, labels, colors, vertical=False)
    left_strip = fig.add_subplot(grid[2, 0])
    _module_strip(left_strip, labels, colors)
    heat = fig.add_subplot(grid[2, 1], sharey=left_strip)
    image = _heat(heat, C[np.ix_(order, order)], body_inches=side, cmap="RdYlBu_r",
                  square=True)
    heat.set_xticks([])
    if labelled:
        _row_labels(heat, list(genes), moonlighting, right=True)
        left_strip.tick_params(axis="y", left=False, labelleft=False)
    else:
        _band_ticks(left_strip, labels)
        heat.tick_params(axis="y", left=False, labelleft=False)
    colorbar = fig.colorbar(image, cax=fig.add_subplot(grid[2, 3]))
    colorbar.set_label("fraction of near-best restarts with the same top module")
    n_called = int(genes.isin(list(moonlighting)).sum())
    _module_legend(fig, colors, extra=[Patch(color=_MOONLIGHTING_COLOR,
                                             label=f"moonlighting ({n_called}), named in red")]
                   if labelled and n_called else [])
    tree.set_title(title or "Consensus map")
    return _finish(fig, path)


# ----------------------------------------------------------------------------------------
# Enrichment
# ----------------------------------------------------------------------------------------


def plot_enrichment(table: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                    test: str = "overlap", top: int = 5, title: str = "",
                    fdr: float = default("enrichment.fdr"),
                    ax: plt.Axes | None = None) -> plt.Figure | None:
    """Dot plot of each module's top gene sets (:func:`moonlight.enrichment.enrichment`).

    One row per (module, set) among each module's ``top`` sets by q of ``test``; the
    dot's size is the overlap, its colour ``-log10 q``; sets with q above ``fdr``
    (config ``enrichment.fdr``) are drawn hollow. Returns the figure when no ``path`` is
    given (or draws on ``ax``).
    """
    rows = table[table["test"] == test].groupby("module", sort=False).head(top)
    labels = [f"{m}: {s}" for m, s in zip(rows["module"], rows["set"])]
    height = max(1.6, 0.28 * len(rows) + 1.0)
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.5, height))
    ax = ax if ax is not None else fig.add_subplot(1, 1, 1)
    score = -np.log10(rows["q"].clip(lower=1e-300).to_numpy(dtype=np.float64))
    y = np.arange(len(rows))[::-1]
    significant = rows["q"].to_numpy() <= fdr
    sizes = 20 + 12 * np.sqrt(rows["overlap"].to_numpy(dtype=np.float64))
    dots = ax.scatter(rows["statistic"].to_numpy()[significant], y[significant],
                      s=sizes[significant], c=score[significant], cmap="viridis",
                      vmin=0, vmax=max(float(score.max()) if len(score) else 1.0, 1.3))
    ax.scatter(rows["statistic"].to_numpy()[~significant], y[~significant],
               s=sizes[~significant], facecolors="none", edgecolors="0.5")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("fold enrichment" if test == "overlap" else "area under the curve")
    fig.colorbar(dots, ax=ax, label="-log10 q", fraction=0.05)
    ax.set_title(title or f"Top gene sets per module ({test} test; hollow: q > {fdr:g})",
                 fontsize=9)
    if len(rows) == 0:
        ax.text(0.5, 0.5, "no gene set tested", ha="center", va="center",
                transform=ax.transAxes)
    fig.tight_layout()
    return _finish(fig, path)


def plot_usage_by_group(usage: pd.DataFrame, path: str | os.PathLike[str] | None = None, *,
                        title: str = "") -> plt.Figure | None:
    """Mean module usage per group of every categorical annotation
    (:func:`moonlight.annotations.usage_by_group`): one heatmap per column, groups x
    modules, each cell its mean usage share (written in the cell)."""
    columns = list(dict.fromkeys(usage["covariate"]))
    heights = [0.35 * usage.loc[usage["covariate"] == c, "group"].nunique() + 0.9
               for c in columns] or [1.0]
    modules = list(dict.fromkeys(usage["module"]))
    fig, axes = plt.subplots(len(heights), 1, squeeze=False,
                             figsize=(1.2 + 0.7 * max(len(modules), 2), sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights})
    for ax, column in zip(axes[:, 0], columns):
        part = usage[usage["covariate"] == column]
        matrix = part.pivot(index="group", columns="module", values="mean_usage")[modules]
        ax.imshow(matrix.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value < 0.5 else "black")
        ax.set_yticks(range(len(matrix)), [str(g) for g in matrix.index], fontsize=8)
        ax.set_xticks(range(len(modules)), modules, fontsize=8)
        ax.set_ylabel(column)
    if not columns:
        axes[0, 0].text(0.5, 0.5, "no categorical annotation", ha="center", va="center")
        axes[0, 0].set_axis_off()
    fig.suptitle(title or "Mean module usage by group", fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def plot_usage_embedding(coords: NDArray[np.float64], usage: pd.DataFrame,
                         path: str | os.PathLike[str] | None = None, *, basis: str = "umap",
                         title: str = "") -> plt.Figure | None:
    """Every module's usage share drawn on the cells' embedding (an ``obsm`` entry such
    as ``X_umap``): one panel per module, each cell a dot coloured by its share of that
    module (0 to 1, the same scale in every panel); cells that were not fitted are grey.

    Parameters
    ----------
    coords : ndarray of shape (M, 2)
        The cells' coordinates.
    usage : DataFrame of shape (M, R)
        Cells x modules usage shares (rows sum to one; NaN for a cell not fitted), in
        the order of ``coords``: :func:`moonlight.anndata_out.usage_on_embedding`.
    path : path-like, optional
        The PNG to write; None returns the figure.
    basis : str
        The embedding's name, for the axis labels.
    """
    modules = list(usage.columns)
    columns = min(4, max(1, len(modules)))
    rows = -(-len(modules) // columns) or 1
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(2.6 * columns + 0.8, 2.5 * rows + 0.5))
    size = float(np.clip(4000 / max(len(coords), 1), 0.5, 12))
    order = np.argsort(np.nan_to_num(usage.to_numpy(dtype=np.float64), nan=-1), axis=0)
    image = None
    for r, module in enumerate(modules):
        ax = axes[r // columns, r % columns]
        values = usage[module].to_numpy(dtype=np.float64)
        fitted = ~np.isnan(values)
        ax.scatter(coords[~fitted, 0], coords[~fitted, 1], s=size, c="0.85",
                   linewidths=0, rasterized=True)
        drawn = order[:, r][fitted[order[:, r]]]       # high shares drawn last, on top
        image = ax.scatter(coords[drawn, 0], coords[drawn, 1], s=size, c=values[drawn],
                           cmap="viridis", vmin=0, vmax=1, linewidths=0, rasterized=True)
        ax.set_title(str(module), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{basis} 1", fontsize=7)
        ax.set_ylabel(f"{basis} 2", fontsize=7)
    for r in range(len(modules), rows * columns):
        axes[r // columns, r % columns].set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="usage share")
    fig.suptitle(title or f"Module usage on the {basis} embedding", fontsize=9)
    return _finish(fig, path)
