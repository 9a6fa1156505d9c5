"""moonlight's results as AnnData, where single-cell users look for them.

``results/<name>/moonlight.h5ad`` holds every cell and gene of the input (those the
selection dropped before the fit included, with missing values), and:

``obsm["X_moonlight"]`` (cells x modules)
    H^T: module usage, the counts of each cell that the fit attributes to each module
    (W's columns sum to one, so a cell's row sums to its fitted total over the fitted
    genes); NaN for cells not fitted.
``obs["moonlight_M1"] .. obs["moonlight_MR"]``
    The same usage as a share of the cell's total (rows of H^T summing to one): columns
    that ``scanpy.pl.embedding(adata, basis="umap", color="moonlight_M1")`` can colour by
    (scanpy colours by ``obs`` columns and genes, not by ``obsm`` columns); NaN for cells
    not fitted.
``varm["moonlight_W"]`` (genes x modules)
    W with columns summing to one (``results/<name>/W.tsv``); NaN for genes not fitted.
``varm["moonlight_batch_factors"]`` (genes x batches)
    With known batches (``batch:``): every gene's factor per batch
    (``batch_factors.tsv``; the batches named in ``uns["moonlight"]["batches"]``); NaN for
    genes not fitted.
``var`` columns
    ``moonlight_fitted`` (bool), ``moonlight_module`` (top module, categorical),
    ``moonlight_modules`` (every module the gene belongs to, comma-joined by decreasing
    weight), ``moonlight_moonlighting`` (bool: a called moonlighting gene),
    ``moonlight_class`` (specific, moonlighting, broad or unassigned: moonlight.classes);
    missing / False for genes not fitted.
``uns["moonlight"]``
    ``rank``, ``modules``, ``rule`` (in words), ``parameters`` (dict, and the same as
    JSON text in ``parameters_json``), ``matrix`` (the input matrix fitted),
    ``genes_fitted``, ``cells_fitted``, a ``description`` of each field above, and, when
    the data set's cells are annotated (``annotations:``), ``annotations`` with the
    module tests (``tests``: annotations.tsv) and the usage by group
    (``usage_by_group``).

With the input ``.h5ad`` as ``source``, its ``obs``, ``var``, ``obsm`` (embeddings such as
``X_umap``), ``varm`` and ``uns`` (colours of categories) are kept, so the file plots
as the input does; its count matrices are not copied (``X`` is empty), which keeps the
file small: add the annotations to your own object by name
(``adata.obsm["X_moonlight"] = result[adata.obs_names].obsm["X_moonlight"]``).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .classes import GENE_CLASSES
from .io import atomic_path
from .singlecell import unique_gene_names

__all__ = ["moonlight_anndata", "write_moonlight_h5ad", "embedding_key", "h5ad_obsm_keys",
           "usage_on_embedding", "OBSM_KEY", "VARM_KEY", "UNS_KEY", "EMBEDDINGS"]

#: The embeddings of an input's ``obsm`` that module usage is drawn on, in this order of
#: preference.
EMBEDDINGS = ("X_umap", "X_tsne")

OBSM_KEY = "X_moonlight"
VARM_KEY = "moonlight_W"
BATCH_KEY = "moonlight_batch_factors"
UNS_KEY = "moonlight"

_DESCRIPTION = {
    "obsm": {OBSM_KEY: "H^T, cells x modules: counts of each cell attributed to each "
                       "module (W columns sum to one); NaN for cells not fitted"},
    "obs": {"moonlight_<module>": "module usage as a share of the cell's fitted total"},
    "varm": {VARM_KEY: "W, genes x modules, columns summing to one; NaN for genes not "
                       "fitted",
             BATCH_KEY: "with batch: every gene's factor per known batch (uns batches), "
                        "averaging to one over the cells; NaN for genes not fitted"},
    "var": {
        "moonlight_fitted": "the gene was fitted (kept by the gene selection)",
        "moonlight_module": "the module with the gene's largest row-normalized weight",
        "moonlight_modules": "every module the gene belongs to, by decreasing weight",
        "moonlight_moonlighting": "the gene is a called moonlighting gene",
        "moonlight_class": "the gene's class: specific (one module), moonlighting (two, "
                           "clearly not the rest), broad (beyond two modules, or both of "
                           "two: every module, e.g. housekeeping) or unassigned (too "
                           "little signal)",
    },
}


def _check_keys(value: Any, where: str = "parameters") -> None:
    """HDF5 (and so .h5ad) takes a '/' in a key for a path: refuse it up front."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "/" in str(key):
                raise ValueError(f"{where}: key {key!r} holds a '/', which .h5ad cannot store")
            _check_keys(item, f"{where}.{key}")


def _positions(names: pd.Index, universe: list[str], what: str) -> np.ndarray:
    """Positions of ``names`` in ``universe``; every name must be there."""
    where = pd.Index(universe, dtype=object).get_indexer(names)
    if (where < 0).any():
        raise ValueError(f"{what} {names[np.argmax(where < 0)]!r} is not among the input's "
                         f"{len(universe)} names")
    return where


def _source_frames(source: str | os.PathLike[str], matrix: str, n_cells: int,
                   n_genes: int) -> dict[str, Any]:
    """obs, var, obsm, varm and uns of the input .h5ad (its matrices left on disk)."""
    import anndata

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(Variable|Observation) names are not unique")
        adata = anndata.read_h5ad(source, backed="r")
    try:
        raw = matrix == "raw"
        var = (adata.raw.var if raw else adata.var).copy()
        if (adata.n_obs, len(var)) != (n_cells, n_genes):
            raise ValueError(f"{source}: {adata.n_obs} cells x {len(var)} genes "
                             f"({'raw' if raw else 'var'}), but {n_cells} cells x "
                             f"{n_genes} genes were given")
        parts = {
            "obs": adata.obs.copy(),
            "var": var,
            "obsm": {key: adata.obsm[key] for key in adata.obsm.keys()},
            # raw has its own genes: the varm of adata.var (e.g. PCs) does not fit them
            "varm": {} if raw else {key: adata.varm[key] for key in adata.varm.keys()},
            "uns": dict(adata.uns),
        }
    finally:
        adata.file.close()
    names, _ = unique_gene_names([str(name) for name in parts["var"].index])
    parts["var"].index = pd.Index(names, dtype=object)
    parts["obs"].index = pd.Index([str(name) for name in parts["obs"].index], dtype=object)
    return parts


def moonlight_anndata(
    W: pd.DataFrame,
    H: pd.DataFrame,
    memberships: pd.DataFrame,
    moonlighting: pd.DataFrame,
    *,
    genes: list[str],
    cells: list[str],
    rule: str,
    parameters: dict[str, Any],
    source: str | os.PathLike[str] | None = None,
    matrix: str = "X",
    annotations: dict[str, pd.DataFrame] | None = None,
    batch_factors: pd.DataFrame | None = None,
) -> Any:
    """An AnnData of the input's cells and genes with moonlight's results.

    Parameters
    ----------
    W : DataFrame of shape (N', R)
        Fitted genes x modules, columns summing to one (``W.tsv``); index a subset of
        ``genes``.
    H : DataFrame of shape (R, M')
        Modules x fitted cells (``H.tsv``); columns a subset of ``cells``, index W's
        columns.
    memberships : DataFrame
        ``gene``, ``module``, ``share`` (``modules.tsv``).
    moonlighting : DataFrame
        The called moonlighting genes, column ``gene`` (``moonlighting.tsv``).
    genes, cells : list of str
        Every gene and cell of the input, in its order, named as in moonlight's tables
        (:attr:`moonlight.singlecell.SingleCellRead.genes` and ``cells``).
    rule : str
        The rank rule in words (``uns["moonlight"]["rule"]``).
    parameters : dict
        The parameters of the run (``uns["moonlight"]["parameters"]``): plain values,
        lists and dicts.
    source : path-like, optional
        The input ``.h5ad``: its obs, var, obsm, varm and uns are kept (see the module
        docstring), and it must have ``len(cells)`` cells and ``len(genes)`` genes. Its
        ``var_names`` made unique (as the reader made them) name the genes, so a run with
        ``gene_ids`` keeps the input's symbols as names. Without it, the names are
        ``genes`` and ``cells``.
    matrix : str
        The input's matrix that was fitted (``"raw"`` takes genes from ``raw.var``).
    annotations : dict of DataFrame, optional
        The modules against the cells' annotations (:func:`moonlight.annotations.
        annotate_modules`): ``{"tests": ..., "usage_by_group": ...}``, stored as
        ``uns["moonlight"]["annotations"]``.
    batch_factors : DataFrame (fitted genes x batches), optional
        With known batches: ``varm["moonlight_batch_factors"]`` and
        ``uns["moonlight"]["batches"]`` (``batch_factors.tsv``).

    Returns
    -------
    anndata.AnnData
        ``X`` empty; contents as in the module docstring.

    Raises
    ------
    ValueError
        For results that do not match the input (a gene or cell not in it, modules of W
        and H that differ, a membership of a gene not fitted).
    """
    import anndata

    _check_keys(parameters)
    modules = [str(m) for m in W.columns]
    if [str(m) for m in H.index] != modules:
        raise ValueError(f"H's modules {list(H.index)} are not W's {modules}")
    gene_at = _positions(W.index, genes, "fitted gene")
    cell_at = _positions(H.columns, cells, "fitted cell")
    unknown = set(memberships["gene"]) - set(W.index)
    unknown |= set(moonlighting["gene"]) - set(W.index)
    if unknown:
        raise ValueError(f"gene {sorted(unknown)[0]!r} has a membership or a call but was "
                         "not fitted")
    n_genes, n_cells, rank = len(genes), len(cells), len(modules)

    if source is not None:
        parts = _source_frames(source, matrix, n_cells, n_genes)
    else:
        parts = {"obs": pd.DataFrame(index=pd.Index(cells, dtype=object)),
                 "var": pd.DataFrame(index=pd.Index(genes, dtype=object)),
                 "obsm": {}, "varm": {}, "uns": {}}
    obs, var = parts["obs"], parts["var"]

    usage = np.full((n_cells, rank), np.nan)
    usage[cell_at] = H.to_numpy(dtype=np.float64).T
    share = usage / usage.sum(axis=1, keepdims=True)
    for r, module in enumerate(modules):
        obs[f"moonlight_{module}"] = share[:, r]
    loadings = np.full((n_genes, rank), np.nan)
    loadings[gene_at] = W.to_numpy(dtype=np.float64)

    ordered = memberships.sort_values("share", ascending=False, kind="stable")
    joined = ordered.groupby("gene", sort=False)["module"].agg(",".join)
    top = ordered.drop_duplicates("gene").set_index("gene")["module"]
    fitted = np.zeros(n_genes, dtype=bool)
    fitted[gene_at] = True
    by_gene = pd.Index(genes, dtype=object)
    var["moonlight_fitted"] = fitted
    var["moonlight_module"] = pd.Categorical(top.reindex(by_gene).to_numpy(),
                                             categories=modules)
    memberships_of = joined.reindex(by_gene).to_numpy()
    var["moonlight_modules"] = pd.Categorical(  # categorical: missing values write in
        memberships_of, categories=sorted(set(joined)))  # every anndata version
    var["moonlight_moonlighting"] = by_gene.isin(list(moonlighting["gene"]))
    if "class" in memberships:
        klass = memberships.drop_duplicates("gene").set_index("gene")["class"]
        var["moonlight_class"] = pd.Categorical(klass.reindex(by_gene).to_numpy(),
                                                categories=list(GENE_CLASSES))

    obsm = {**parts["obsm"], OBSM_KEY: usage}
    varm = {**parts["varm"], VARM_KEY: loadings}
    if batch_factors is not None:
        factors = np.full((n_genes, batch_factors.shape[1]), np.nan)
        factors[_positions(batch_factors.index, genes, "gene with batch factors")] = \
            batch_factors.to_numpy(dtype=np.float64)
        varm[BATCH_KEY] = factors
    uns = {**parts["uns"], UNS_KEY: {
        "rank": rank,
        "modules": modules,
        "rule": rule,
        "parameters": parameters,
        # the same as JSON: anndata before 0.11 drops None values of uns when writing
        "parameters_json": json.dumps(parameters, sort_keys=True),
        "matrix": matrix,
        "genes_fitted": int(fitted.sum()),
        "cells_fitted": int(len(cell_at)),
        "description": copy.deepcopy(_DESCRIPTION),
    }}
    if annotations:
        uns[UNS_KEY]["annotations"] = {name: _plain_frame(frame)
                                       for name, frame in annotations.items()}
    if batch_factors is not None:
        uns[UNS_KEY]["batches"] = [str(b) for b in batch_factors.columns]
    return anndata.AnnData(obs=obs, var=var, obsm=obsm, varm=varm, uns=uns)


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as AnnData writes it in ``uns``: a plain index, text columns as strings."""
    frame = frame.reset_index(drop=True)
    for column in frame.columns[frame.dtypes == object]:
        frame[column] = frame[column].astype(str)
    return frame


def h5ad_obsm_keys(path: str | os.PathLike[str]) -> list[str]:
    """The ``obsm`` keys of an ``.h5ad`` file, read without loading it (h5py); none for
    a file without an ``obsm`` group (an old-format file keeps it as one dataset).

    Raises
    ------
    OSError
        A file that is not HDF5."""
    import h5py

    with h5py.File(path, "r") as handle:
        obsm = handle.get("obsm")
        return list(obsm.keys()) if isinstance(obsm, h5py.Group) else []


def embedding_key(keys: list[str]) -> str | None:
    """The embedding to draw module usage on: the first of :data:`EMBEDDINGS` in
    ``keys``, or None."""
    return next((key for key in EMBEDDINGS if key in keys), None)


def usage_on_embedding(adata: Any) -> tuple[str, NDArray[np.float64], pd.DataFrame] | None:
    """The embedding of :func:`moonlight_anndata`'s output (its key and the cells' first
    two coordinates) and the module usage shares (``obs["moonlight_<module>"]``), for
    :func:`moonlight.plots.plot_usage_embedding`; None without an embedding."""
    key = embedding_key(list(adata.obsm.keys()))
    if key is None:
        return None
    coords = np.asarray(adata.obsm[key], dtype=np.float64)[:, :2]
    modules = adata.uns[UNS_KEY]["modules"]
    shares = adata.obs[[f"moonlight_{m}" for m in modules]].set_axis(list(modules), axis=1)
    return key, coords, shares


def write_moonlight_h5ad(adata: Any, path: str | os.PathLike[str]) -> None:
    """Write an AnnData (:func:`moonlight_anndata`) to ``path`` atomically: to a
    temporary file beside it, renamed over ``path`` only once complete."""
    with atomic_path(Path(path)) as tmp:
        adata.write_h5ad(tmp)
