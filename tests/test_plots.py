"""Every figure: written as a PNG, byte-deterministic, from one module to 2,000 genes and
500 samples; labels only while they fit."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from moonlight import plots, rank_table
from moonlight.modules import normalize_rows
from moonlight.stability import near_best_consensus

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _W(n_genes, n_modules, seed=0):
    """Block-structured W: each gene mostly in one module, a few in two."""
    rng = np.random.default_rng(seed)
    W = rng.random((n_genes, n_modules)) * 0.02
    top = np.arange(n_genes) % n_modules
    W[np.arange(n_genes), top] += rng.random(n_genes) + 0.5
    if n_modules > 1:
        W[: n_genes // 20, (top[: n_genes // 20] + 1) % n_modules] += 0.8
    genes = [f"gene{i:04d}" for i in range(n_genes)]
    return pd.DataFrame(W, index=genes, columns=[f"M{r + 1}" for r in range(n_modules)])


def _H(n_modules, n_samples, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.random((n_modules, n_samples)) * 1000,
                        index=[f"M{r + 1}" for r in range(n_modules)],
                        columns=[f"S{j + 1}" for j in range(n_samples)])


def _all_figures(W, H, out, tag, title="t"):
    """Draw every W/H figure of one fit; return their paths."""
    W_norm = normalize_rows(W)
    called = list(W_norm.index[(W_norm > 0.1).sum(axis=1) >= 2])
    Ws = [W.to_numpy(), W.to_numpy()[:, ::-1]] if W.shape[1] > 1 else [W.to_numpy()] * 2
    C = near_best_consensus(Ws, [0.0, 0.0], margin=1.0, genes=list(W.index))
    paths = {name: out / f"{tag}_{name}.png" for name in
             ("histogram", "heatmap", "usage", "consensus")}
    plots.plot_weight_histogram(W_norm, 0.1, paths["histogram"], title=title,
                                moonlighting=called)
    plots.plot_module_heatmap(W_norm, paths["heatmap"], title=title, moonlighting=called)
    plots.plot_usage_heatmap(H, paths["usage"], title=title)
    plots.plot_consensus_map(C, W_norm.idxmax(axis=1), paths["consensus"], title=title,
                             moonlighting=called)
    return paths


def _is_png(path):
    data = path.read_bytes()
    return data.startswith(PNG_SIGNATURE) and imread(path).shape[0] > 100


@pytest.mark.parametrize("n_genes, n_modules, n_samples",
                         [(2000, 8, 500), (30, 1, 12), (120, 3, 1)])
def test_figures_are_written_at_every_size(tmp_path, n_genes, n_modules, n_samples):
    paths = _all_figures(_W(n_genes, n_modules), _H(n_modules, n_samples), tmp_path, "t")
    assert all(_is_png(p) for p in paths.values())


def test_figures_are_byte_deterministic_without_time_stamps(tmp_path):
    W, H = _W(300, 4), _H(4, 80)
    first = {k: p.read_bytes() for k, p in _all_figures(W, H, tmp_path, "a").items()}
    second = {k: p.read_bytes() for k, p in _all_figures(W, H, tmp_path, "b").items()}
    assert first == second
    for data in first.values():
        assert b"Software" not in data and b"Creation Time" not in data


def _png_height(path):
    return imread(path).shape[0]


def test_gene_labels_while_legible_then_module_bands(tmp_path):
    """Labelled heat maps grow one label row per gene; past MAX_LABELLED_INCHES /
    LABEL_ROW_INCHES genes they stop growing (bands, no names)."""
    limit = int(plots.MAX_LABELLED_INCHES / plots.LABEL_ROW_INCHES)
    heights = {}
    for n in (60, limit, limit + 1, 2000):
        path = tmp_path / f"W{n}.png"
        plots.plot_module_heatmap(normalize_rows(_W(n, 3)), path)
        heights[n] = _png_height(path)
    dpi_row = plots.LABEL_ROW_INCHES * 120
    assert heights[limit] - heights[60] == pytest.approx((limit - 60) * dpi_row, abs=2)
    assert heights[limit + 1] == heights[2000] < heights[limit]


def test_binned_rows_are_means_of_consecutive_rows():
    values = np.arange(14.0).reshape(7, 2)
    binned = plots._binned(values, 3)  # step ceil(7 / 3) = 3: rows 0-2, 3-5, 6
    np.testing.assert_allclose(binned, [[2, 3], [8, 9], [12, 13]])
    np.testing.assert_array_equal(plots._binned(values, 7), values)
    both = plots._binned(np.arange(16.0).reshape(4, 4), 2, 2)
    np.testing.assert_allclose(both, [[2.5, 4.5], [10.5, 12.5]])


def test_dendrogram_of_a_deep_tree(tmp_path):
    """2,000 genes in nested groups: a tree deeper than Python's recursion limit."""
    n = 2000
    # 1 - C = 1 - min(i, j) / n: each gene joins the tree of all later genes, a chain.
    values = np.minimum.outer(np.arange(n), np.arange(n)) / n
    np.fill_diagonal(values, 1.0)
    C = pd.DataFrame(values, index=[f"g{i}" for i in range(n)],
                     columns=[f"g{i}" for i in range(n)])
    plots.plot_consensus_map(C, pd.Series("M1", index=C.index), tmp_path / "deep.png")
    assert _is_png(tmp_path / "deep.png")


def test_consensus_map_needs_every_gene_module(tmp_path):
    C = pd.DataFrame(np.eye(3), index=list("abc"), columns=list("abc"))
    with pytest.raises(ValueError, match="no entry for 1 gene"):
        plots.plot_consensus_map(C, pd.Series(["M1", "M2"], index=["a", "b"]),
                                 tmp_path / "c.png")


def test_rank_selection_with_far_ranks_and_with_one_rank(tmp_path):
    ranks = np.arange(2, 9)
    restarts = pd.DataFrame({"rank": ranks, "loglik": -1e6 / ranks ** 3})
    cv = pd.DataFrame({"rank": ranks, "cv_loglik": -1e6 / ranks ** 3 - 10 * ranks,
                       "cv_se": 5.0})
    stability = pd.DataFrame({"rank": ranks, "n_near_best": 3, "matched_cosine": 0.99,
                              "cophenetic": 1.0})
    table = rank_table(restarts, 500, 50, cv=cv, stability=stability, min_stability=0.9)
    plots.plot_rank_selection(table, tmp_path / "far.png", title="t", min_stability=0.9)
    one = rank_table(pd.DataFrame({"rank": [1], "loglik": [-100.0]}), 10, 5)
    plots.plot_rank_selection(one, tmp_path / "one.png")
    assert _is_png(tmp_path / "far.png") and _is_png(tmp_path / "one.png")


def test_usage_heatmap_of_many_samples_orders_by_dominant_module(tmp_path, monkeypatch):
    """Beyond USAGE_MAX_CLUSTERED samples no tree is built (its distances would take
    8 M^2 / 2 bytes: 37 GB at 100,000 cells); samples are ordered by dominant module."""
    rng = np.random.default_rng(0)
    H = pd.DataFrame(rng.dirichlet(np.full(3, 0.2), size=50).T * 100,
                     index=["M1", "M2", "M3"], columns=[f"c{j}" for j in range(50)])
    monkeypatch.setattr(plots, "USAGE_MAX_CLUSTERED", 10)

    def no_tree(*args, **kwargs):
        raise AssertionError("clustered")

    monkeypatch.setattr(plots, "_cluster", no_tree)
    seen = {}
    original = plots._module_strip

    def strip(ax, dominant, colors):
        seen["d"] = list(dominant)
        original(ax, dominant, colors)

    monkeypatch.setattr(plots, "_module_strip", strip)
    plots.plot_usage_heatmap(H, tmp_path / "usage.png")
    assert _is_png(tmp_path / "usage.png")
    dominant = seen["d"]
    assert dominant == sorted(dominant)  # grouped by module, in module order
    assert len(dominant) == 50


def test_without_a_path_a_figure_is_returned_for_a_notebook(tmp_path):
    import matplotlib.pyplot as plt

    W, H = _W(60, 3), _H(3, 20)
    W_norm = normalize_rows(W)
    C = near_best_consensus([W.to_numpy()] * 2, [0.0, 0.0], margin=1.0, genes=list(W.index))
    figures = [plots.plot_weight_histogram(W_norm, 0.1), plots.plot_module_heatmap(W_norm),
               plots.plot_usage_heatmap(H), plots.plot_consensus_map(C, W_norm.idxmax(axis=1))]
    assert all(isinstance(f, plt.Figure) and f.axes for f in figures)
    # the same figure as the file the workflow writes
    figures[0].savefig(tmp_path / "returned.png", format="png", dpi=plots._DPI,
                       metadata=plots._PNG_METADATA)
    assert plots.plot_weight_histogram(W_norm, 0.1, tmp_path / "written.png") is None
    assert (tmp_path / "returned.png").read_bytes() == (tmp_path / "written.png").read_bytes()
    # into an axes of the caller's figure
    fig, (left, right) = plt.subplots(1, 2)
    assert plots.plot_weight_histogram(W_norm, 0.1, ax=right, title="mine") is fig
    assert right.get_title() == "mine" and not left.has_data()
    for f in [*figures, fig]:
        plt.close(f)


def test_the_module_sets_no_backend():
    import ast
    source = (Path(plots.__file__)).read_text()
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", "") == "use"]
    assert not calls


def test_usage_on_the_embedding_has_a_panel_per_module_and_greys_unfitted_cells():
    import pandas as pd

    from moonlight.anndata_out import embedding_key
    from moonlight.plots import plot_usage_embedding
    rng = np.random.default_rng(0)
    shares = pd.DataFrame(rng.dirichlet([1, 1, 1], size=50), columns=["M1", "M2", "M3"])
    shares.iloc[:5] = np.nan                          # cells the selection dropped
    fig = plot_usage_embedding(rng.normal(size=(50, 2)), shares)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["M1", "M2", "M3"]
    grey, coloured = panels[0].collections[:2]
    assert len(grey.get_offsets()) == 5 and len(coloured.get_offsets()) == 45
    assert embedding_key(["X_pca", "X_tsne", "X_umap"]) == "X_umap"
    assert embedding_key(["X_pca"]) is None
