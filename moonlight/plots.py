"""Every figure of the workflow, one function each; each writes a PNG and returns nothing.

Matplotlib runs on the non-interactive Agg backend, so figures render without a display
(on a cluster node, in CI). File writes are atomic.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402

__all__ = ["plot_rank_selection", "plot_weight_histogram", "plot_module_heatmap"]

# Fixed metadata keeps PNG bytes identical between runs (no creation time stamp).
_PNG_METADATA = {"Software": None}


def _save(fig: plt.Figure, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, metadata=_PNG_METADATA)
    plt.close(fig)


def plot_rank_selection(table: pd.DataFrame, path: str | os.PathLike[str], *, title: str = "",
                        min_stability: float | None = None) -> None:
    """Every rank-selection criterion against R, the selected R marked.

    ``table`` is the output of :func:`moonlight.selection.rank_table`. Panels: held-out
    log likelihood with one-standard-error bars and the one-SE line of the best stable
    rank (when cross-validated); stability (mean matched cosine, cophenetic correlation)
    with its floor (when given); best in-sample log likelihood; BIC and AIC.
    """
    has_cv = "cv_loglik" in table
    has_stab = "matched_cosine" in table
    n_panels = 2 + has_cv + has_stab
    fig, axes = plt.subplots(n_panels, 1, figsize=(5.5, 2.6 * n_panels + 0.6), sharex=True)
    chosen = table.loc[table["selected"], "rank"].iat[0]
    axes = list(axes)
    if has_cv:
        ax = axes.pop(0)
        pool = table[table["stable"]] if "stable" in table and table["stable"].any() else table
        best = pool.loc[pool["cv_loglik"].idxmax()]
        # Differences from the best on a symmetric log scale: the ranks near the best,
        # where the rule acts, stay visible beside the far worse small ranks.
        ax.errorbar(table["rank"], table["cv_loglik"] - best["cv_loglik"],
                    yerr=table["cv_se"], fmt="o-", color="C3", capsize=3)
        ax.axhline(-best["cv_se"], color="C3", linestyle="--", alpha=0.6, label="best - 1 SE")
        ax.set_yscale("symlog", linthresh=max(float(best["cv_se"]), 1.0))
        ax.set_ylabel("held-out log L\nminus best stable")
        ax.legend(loc="lower right")
    if has_stab:
        ax = axes.pop(0)
        ax.plot(table["rank"], table["matched_cosine"], "o-", color="C4",
                label="matched cosine")
        ax.plot(table["rank"], table["cophenetic"], "s--", color="C5", alpha=0.8,
                label="cophenetic")
        if min_stability is not None:
            ax.axhline(min_stability, color="C4", linestyle=":", label="stability floor")
        ax.set_ylabel("stability")
        ax.legend(loc="lower left", fontsize=8)
    top, bottom = axes
    top.plot(table["rank"], table["loglik"], "o-", color="C0")
    top.set_ylabel("best log likelihood")
    bottom.plot(table["rank"], table["bic"] - table["bic"].min(), "o-", color="C1",
                label="BIC")
    bottom.plot(table["rank"], table["aic"] - table["aic"].min(), "s--", color="C2",
                alpha=0.7, label="AIC")
    bottom.set_yscale("symlog", linthresh=10.0)
    bottom.set_ylabel("criterion minus its\nminimum (lower is better)")
    bottom.set_xlabel("rank R (number of modules)")
    bottom.legend()
    for ax in fig.axes:
        ax.axvline(chosen, color="grey", linestyle=":")
    top.legend([f"selected R = {chosen}"], loc="lower right", handlelength=0)
    bottom.set_xticks(table["rank"])
    rule = "held-out likelihood, one-SE rule" if has_cv else "BIC"
    fig.suptitle(f"{title}: rank selection by {rule}" if title else f"Rank selection by {rule}")
    fig.tight_layout()
    _save(fig, path)


def plot_weight_histogram(
    W_normalized: pd.DataFrame, threshold: float, path: str | os.PathLike[str], *, title: str = ""
) -> None:
    """Histogram of every entry of row-normalized W, the membership threshold marked."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.hist(W_normalized.to_numpy().ravel(), bins=np.linspace(0, 1, 51), color="C0")
    ax.axvline(threshold, color="C3", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("row-normalized W weight")
    ax.set_ylabel("number of (gene, module) entries")
    ax.legend()
    ax.set_title(title or "Row-normalized W")
    fig.tight_layout()
    _save(fig, path)


def plot_module_heatmap(
    W_normalized: pd.DataFrame, path: str | os.PathLike[str], *, title: str = ""
) -> None:
    """Row-normalized W as a heat map, genes sorted by their top module."""
    order = np.lexsort((-W_normalized.max(axis=1).to_numpy(), W_normalized.to_numpy().argmax(axis=1)))
    data = W_normalized.iloc[order]
    height = max(4.0, min(0.12 * len(data), 30.0))
    fig, ax = plt.subplots(figsize=(2.5 + 0.5 * data.shape[1], height))
    image = ax.imshow(data.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1,
                      interpolation="nearest")
    ax.set_xticks(range(data.shape[1]), data.columns)
    if len(data) <= 150:
        ax.set_yticks(range(len(data)), data.index, fontsize=6)
    else:
        ax.set_yticks([])
    ax.set_xlabel("module")
    fig.colorbar(image, ax=ax, label="row-normalized W")
    ax.set_title(title or "Gene modules")
    fig.tight_layout()
    _save(fig, path)
