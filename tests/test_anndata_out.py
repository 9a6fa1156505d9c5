"""Results back into AnnData: read back with anndata, every cell and gene of the input is
there, fitted ones carry H, W, memberships and calls, the others missing values; the
input's annotations and embeddings are kept; the file is written atomically."""

import json
import warnings

import anndata
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from moonlight import call_memberships, fit_nmf, moonlighting_genes, normalize_columns
from moonlight.anndata_out import moonlight_anndata, write_moonlight_h5ad
from moonlight.modules import normalize_rows
from moonlight.prefilter import select_genes_and_cells
from moonlight.singlecell import read_single_cell

GENES = ["Actb", "NA", "Actb", "007", "Cd3e", "Ms4a1"]       # "Actb" repeats
CELLS = ["c1", "c2", "TRUE", "c4", "c5"]
PARAMETERS = {"ranks": [2, 3], "fit": {"seed": 0, "tol": None},
              "top_genes": 2000, "matrix": "counts"}


@pytest.fixture
def source(tmp_path):
    """An .h5ad as a scanpy user has it: log-normalized X, counts in a layer, a UMAP,
    a cluster column with its colours, duplicated gene symbols."""
    counts = np.array([[5, 0, 3, 1, 0, 2], [4, 1, 0, 0, 2, 0], [0, 0, 0, 0, 0, 0],
                       [6, 2, 1, 3, 0, 0], [1, 0, 2, 0, 4, 1]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Variable names are not unique")
        adata = anndata.AnnData(
            X=sparse.csr_matrix(np.log1p(counts)),
            obs=pd.DataFrame({"leiden": pd.Categorical(["0", "1", "1", "0", "1"])},
                             index=pd.Index(CELLS, dtype=object)),
            var=pd.DataFrame({"gene_ids": [f"ENSG{i}" for i in range(6)]},
                             index=pd.Index(GENES, dtype=object)))
        adata.layers["counts"] = sparse.csr_matrix(counts)
        adata.obsm["X_umap"] = np.arange(10.0).reshape(5, 2)
        adata.uns["leiden_colors"] = ["#1f77b4", "#ff7f0e"]
        adata.write_h5ad(tmp_path / "pbmc.h5ad")
    return tmp_path / "pbmc.h5ad"


def results():
    """Hand-made results on a subset: genes Actb, Actb-1, Cd3e; cells c1, c4, c5."""
    W = pd.DataFrame([[0.5, 0.1], [0.2, 0.3], [0.3, 0.6]], index=["Actb", "Actb-1", "Cd3e"],
                     columns=["M1", "M2"])
    H = pd.DataFrame([[3.0, 1.0, 0.0], [1.0, 3.0, 2.0]], index=["M1", "M2"],
                     columns=["c1", "c4", "c5"])
    memberships = pd.DataFrame({"gene": ["Actb", "Actb-1", "Actb-1", "Cd3e"],
                                "module": ["M1", "M2", "M1", "M2"],
                                "share": [0.8, 0.7, 0.3, 0.75]})
    moonlighting = pd.DataFrame({"gene": ["Actb-1"], "n_modules": [2]})
    return W, H, memberships, moonlighting


def test_written_h5ad_reads_back_with_every_result(tmp_path, source):
    read = read_single_cell(source, matrix="counts")
    assert read.genes == ["Actb", "NA", "Actb-1", "007", "Cd3e", "Ms4a1"]
    W, H, memberships, moonlighting = results()
    adata = moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes,
                              cells=read.cells, rule="smallest R within one SE",
                              parameters=PARAMETERS, source=source, matrix="counts")
    out = tmp_path / "results" / "pbmc" / "moonlight.h5ad"
    write_moonlight_h5ad(adata, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["moonlight.h5ad"]  # no temp left

    back = anndata.read_h5ad(out)
    assert list(back.obs_names) == CELLS and list(back.var_names) == read.genes
    assert back.X is None
    # usage: H^T for fitted cells, NaN for the others (c2, TRUE)
    usage = back.obsm["X_moonlight"]
    np.testing.assert_array_equal(usage[[0, 3, 4]], H.to_numpy().T)
    assert np.isnan(usage[[1, 2]]).all()
    np.testing.assert_allclose(back.obs["moonlight_M1"].to_numpy()[[0, 3, 4]],
                               [0.75, 0.25, 0.0])
    assert back.obs["moonlight_M2"].isna().tolist() == [False, True, True, False, False]
    # W for fitted genes, NaN for the others
    loadings = back.varm["moonlight_W"]
    np.testing.assert_array_equal(loadings[[0, 2, 4]], W.to_numpy())
    assert np.isnan(loadings[[1, 3, 5]]).all()
    var = back.var
    assert var["moonlight_fitted"].tolist() == [True, False, True, False, True, False]
    assert var["moonlight_module"].astype(object).where(var["moonlight_fitted"]).tolist()[
        ::2] == ["M1", "M2", "M2"]
    assert var["moonlight_module"].isna().tolist() == [False, True, False, True, False, True]
    assert var["moonlight_modules"].astype(object).tolist()[::2] == ["M1", "M2,M1", "M2"]
    assert var["moonlight_moonlighting"].tolist() == [False, False, True, False, False, False]
    # the input's annotations and embedding are kept
    assert var["gene_ids"].tolist() == [f"ENSG{i}" for i in range(6)]
    assert back.obs["leiden"].tolist() == ["0", "1", "1", "0", "1"]
    np.testing.assert_array_equal(back.obsm["X_umap"], np.arange(10.0).reshape(5, 2))
    assert list(back.uns["leiden_colors"]) == ["#1f77b4", "#ff7f0e"]
    # rank, rule and parameters
    info = back.uns["moonlight"]
    assert info["rank"] == 2 and list(info["modules"]) == ["M1", "M2"]
    assert info["rule"] == "smallest R within one SE" and info["matrix"] == "counts"
    assert info["genes_fitted"] == 3 and info["cells_fitted"] == 3
    assert json.loads(info["parameters_json"]) == PARAMETERS
    assert info["parameters"]["top_genes"] == 2000
    assert list(info["parameters"]["ranks"]) == [2, 3]


def test_same_results_same_bytes(tmp_path, source):
    read = read_single_cell(source, matrix="counts")
    for name in ("a.h5ad", "b.h5ad"):
        adata = moonlight_anndata(*results(), genes=read.genes, cells=read.cells, rule="r",
                                  parameters=PARAMETERS, source=source, matrix="counts")
        write_moonlight_h5ad(adata, tmp_path / name)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()


def test_without_a_source_names_are_the_readers(tmp_path, source):
    read = read_single_cell(source, matrix="counts")
    adata = moonlight_anndata(*results(), genes=read.genes,
                              cells=read.cells, rule="r", parameters={})
    write_moonlight_h5ad(adata, tmp_path / "m.h5ad")
    back = anndata.read_h5ad(tmp_path / "m.h5ad")
    assert list(back.var_names) == read.genes and list(back.obs_names) == CELLS
    assert list(back.obsm.keys()) == ["X_moonlight"]
    assert list(back.var.columns) == ["moonlight_fitted", "moonlight_module",
                                      "moonlight_modules", "moonlight_moonlighting"]


def test_results_that_do_not_match_the_input_are_refused(source):
    read = read_single_cell(source, matrix="counts")
    W, H, memberships, moonlighting = results()
    common = dict(genes=read.genes, cells=read.cells, rule="r", parameters={})
    with pytest.raises(ValueError, match="fitted gene 'Gapdh' is not among the input's 6"):
        moonlight_anndata(W.rename(index={"Cd3e": "Gapdh"}), H, memberships, moonlighting,
                          **common)
    with pytest.raises(ValueError, match="fitted cell 'c9'"):
        moonlight_anndata(W, H.rename(columns={"c5": "c9"}), memberships, moonlighting,
                          **common)
    with pytest.raises(ValueError, match="H's modules"):
        moonlight_anndata(W, H.rename(index={"M2": "M3"}), memberships, moonlighting,
                          **common)
    with pytest.raises(ValueError, match="'NA' has a membership or a call but was not"):
        moonlight_anndata(W, H, memberships, pd.DataFrame({"gene": ["NA"]}), **common)
    with pytest.raises(ValueError, match="5 cells x 6 genes .* but 5 cells x 7 genes"):
        moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes + ["x"],
                          cells=read.cells, rule="r", parameters={}, source=source)
    with pytest.raises(ValueError, match=r"parameters.fit: key 'a/b' holds a '/'"):
        moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes,
                          cells=read.cells, rule="r", parameters={"fit": {"a/b": 1}})


def test_read_select_fit_write_keeps_every_name_aligned(tmp_path):
    """The chain a workflow runs, small enough to fit densely: the written W and usage
    are the fit's, row for row, under the input's names."""
    rng = np.random.default_rng(3)
    W_true = np.zeros((44, 3))
    W_true[:12, 0], W_true[12:24, 1], W_true[24:36, 2] = 1.0, 1.0, 1.0
    W_true[5, 1] = 1.0                                      # g05: in modules 1 and 2
    W_true[36:] = 0.3                                       # background: follow depth
    H_true = rng.gamma(1.0, 30.0, size=(3, 60))
    counts = rng.poisson(W_true @ H_true).astype(np.float32)
    counts[:, 7] = 0                                        # an empty cell
    genes = [f"g{i:02d}" for i in range(44)]
    cells = [f"cell{j}" for j in range(60)]
    anndata.AnnData(X=sparse.csr_matrix(counts.T), obs=pd.DataFrame(index=cells),
                    var=pd.DataFrame(index=genes)).write_h5ad(tmp_path / "in.h5ad")

    read = read_single_cell(tmp_path / "in.h5ad")
    kept = select_genes_and_cells(read.counts, read.genes, read.cells, top_genes=36)
    assert kept.genes == genes[:36]                         # the background dropped
    V = pd.DataFrame(kept.counts.toarray(), index=kept.genes, columns=kept.cells)
    fit = fit_nmf(V, 3, restarts=2, seed=0)
    W, H = normalize_columns(fit.W_frame()), fit.H_frame()
    memberships = call_memberships(normalize_rows(W), 0.1)
    moonlighting = moonlighting_genes(memberships)
    adata = moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes,
                              cells=read.cells, rule="r", parameters={}, source=tmp_path
                              / "in.h5ad")
    write_moonlight_h5ad(adata, tmp_path / "out.h5ad")
    back = anndata.read_h5ad(tmp_path / "out.h5ad")

    fitted = back.var["moonlight_fitted"].to_numpy()
    assert fitted.sum() == 36 and list(back.var_names[fitted]) == kept.genes
    np.testing.assert_array_equal(back.varm["moonlight_W"][fitted], W.to_numpy())
    used = ~np.isnan(back.obsm["X_moonlight"][:, 0])
    assert list(back.obs_names[used]) == kept.cells and not used[7]
    np.testing.assert_array_equal(back.obsm["X_moonlight"][used], H.to_numpy().T)
    assert list(moonlighting["gene"]) == ["g05"]              # the planted one
    assert list(back.var_names[back.var["moonlight_moonlighting"].to_numpy()]) == ["g05"]


def test_annotations_and_the_embedding_travel_with_the_results(tmp_path, source):
    from moonlight.anndata_out import h5ad_obsm_keys, usage_on_embedding
    read = read_single_cell(source, matrix="counts")
    W, H, memberships, moonlighting = results()
    tests = pd.DataFrame({"module": ["M1", "M2"], "covariate": ["leiden", "leiden"],
                          "kind": ["categorical"] * 2, "statistic": [0.4, 0.1],
                          "p": [0.01, 0.5], "q": [0.02, 0.5]})
    usage = pd.DataFrame({"covariate": ["leiden"] * 2, "group": ["0", "1"],
                          "module": ["M1", "M1"], "n": [2, 1], "mean_usage": [0.6, 0.4],
                          "fraction_on_top": [1.0, 0.0]})
    adata = moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes,
                              cells=read.cells, rule="r", parameters=PARAMETERS,
                              source=source, matrix="counts",
                              annotations={"tests": tests, "usage_by_group": usage})
    write_moonlight_h5ad(adata, tmp_path / "out.h5ad")
    back = anndata.read_h5ad(tmp_path / "out.h5ad")
    stored = back.uns["moonlight"]["annotations"]
    pd.testing.assert_frame_equal(stored["tests"].reset_index(drop=True), tests,
                                  check_dtype=False)
    assert stored["usage_by_group"]["group"].tolist() == ["0", "1"]   # strings stay strings
    assert h5ad_obsm_keys(tmp_path / "out.h5ad") == ["X_moonlight", "X_umap"]
    key, coords, shares = usage_on_embedding(back)
    assert key == "X_umap" and coords.shape == (5, 2) and list(shares.columns) == ["M1", "M2"]
    np.testing.assert_allclose(shares.iloc[[0, 3, 4]].sum(axis=1), 1.0)
    assert shares.iloc[[1, 2]].isna().all().all()                     # cells not fitted


def test_batch_factors_travel_with_the_results(tmp_path, source):
    read = read_single_cell(source, matrix="counts")
    W, H, memberships, moonlighting = results()
    beta = pd.DataFrame([[1.5, 0.5], [1.0, 1.0], [0.8, 1.2]], index=W.index,
                        columns=["01", "2"])
    adata = moonlight_anndata(W, H, memberships, moonlighting, genes=read.genes,
                              cells=read.cells, rule="r", parameters=PARAMETERS,
                              source=source, matrix="counts", batch_factors=beta)
    write_moonlight_h5ad(adata, tmp_path / "out.h5ad")
    back = anndata.read_h5ad(tmp_path / "out.h5ad")
    assert list(back.uns["moonlight"]["batches"]) == ["01", "2"]     # labels as written
    stored = pd.DataFrame(back.varm["moonlight_batch_factors"], index=read.genes)
    np.testing.assert_allclose(stored.loc[list(W.index)].to_numpy(), beta.to_numpy())
    assert stored.drop(index=list(W.index)).isna().all().all()       # genes not fitted
