"""A single-cell matrix through the whole workflow: read from .h5ad (a counts layer under
a log-normalized X), fitted sparse end to end, results written back into AnnData; and
the same counts as a dense table give the same rank, modules and calls."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import moonlight as ml
from moonlight.io import read_tsv
from moonlight.technical import read_covariates
from test_workflow import SMALL_CONFIG, make_workdir, snakemake

pytestmark = pytest.mark.workflow

anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def single_cell_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sc")
    sim = ml.simulate(seed=4, n_genes=40, n_samples=150, n_modules=3, module_size=(8, 20),
                      n_moonlighting=2, depth=(2000, 4000))
    counts = sim.counts.copy()
    counts.index = ["NA", "007", *counts.index[2:]]  # names a parser would mangle
    V = counts.to_numpy()
    cells = [f"AAAC{j:04d}-1" for j in range(V.shape[1])]
    rng = np.random.default_rng(1)
    # Technical annotations: an RNA input that follows module M2's usage, a null plate.
    usage = sim.H.loc["M2"].to_numpy()
    obs = pd.DataFrame({"rna_input": usage + rng.normal(0, 0.05, len(cells)),
                        "plate": pd.Categorical(rng.choice(["p1", "p2", "p3"], len(cells)))},
                       index=cells)
    adata = anndata.AnnData(X=sparse.csr_matrix(np.log1p(V.T)), obs=obs,
                            var=pd.DataFrame(index=list(counts.index)))
    adata.layers["counts"] = sparse.csr_matrix(V.T)
    adata.obsm["X_umap"] = np.random.default_rng(0).normal(size=(len(cells), 2))
    adata.write_h5ad(folder / "cells.h5ad")
    table = counts.copy()
    table.columns = cells
    table.rename_axis("gene").to_csv(folder / "cells.tsv", sep="\t")
    workdir = make_workdir(
        tmp_path_factory.mktemp("work"),
        simulation={**SMALL_CONFIG["simulation"], "seeds": []},
        data={"sc": {"path": str(folder / "cells.h5ad"), "matrix": "counts",
                     "technical": ["rna_input", "plate"], "annotations": ["plate"]},
              "bulk": str(folder / "cells.tsv"),
              # the workflow's gene selection (and analyse()'s, test below)
              "top": {"path": str(folder / "cells.h5ad"), "matrix": "counts",
                      "keep_top_genes": 25, "min_counts_per_cell": 10}},
        selection={**SMALL_CONFIG["selection"], "design": "samples"},
        ranks=[2, 3, 4], restarts=3,
    )
    snakemake(workdir)
    return workdir, counts, sim


def test_the_single_cell_matrix_is_fitted_sparse_and_recovers_the_truth(single_cell_run):
    workdir, counts, sim = single_cell_run
    results = workdir / "results" / "sc"
    assert (results / "counts.npz").is_file() and not (results / "counts.tsv").exists()
    selection = read_tsv(results / "rank_selection.tsv", index_col=None)
    assert selection.loc[selection["selected"], "rank"].tolist() == [3]
    assert read_tsv(results / "W.tsv").index.tolist() == list(counts.index)
    planted = [counts.index[list(sim.counts.index).index(g)] for g in sim.moonlighting]
    called = read_tsv(results / "moonlighting.tsv", index_col=None)["gene"]
    assert sorted(called) == sorted(planted)
    qc = read_tsv(results / "qc.tsv", index_col=None).set_index("check")
    assert "layers/counts" in qc.loc["format", "detail"]


def test_results_are_written_back_into_anndata(single_cell_run):
    workdir, counts, _ = single_cell_run
    adata = anndata.read_h5ad(workdir / "results" / "sc" / "moonlight.h5ad")
    assert adata.shape == (150, 40) and list(adata.var_names[:2]) == ["NA", "007"]
    assert adata.obsm["X_moonlight"].shape == (150, 3) and "X_umap" in adata.obsm
    # the modules against the cells' annotations, and their usage on the embedding
    tests = adata.uns["moonlight"]["annotations"]["tests"]
    assert set(tests["covariate"]) == {"plate"} and len(tests) == 3
    assert (workdir / "results" / "sc" / "usage_embedding.png").stat().st_size > 10_000
    assert not (workdir / "results" / "bulk" / "usage_embedding.png").exists()
    W = read_tsv(workdir / "results" / "sc" / "W.tsv")
    np.testing.assert_allclose(adata.varm["moonlight_W"], W.to_numpy())
    assert adata.uns["moonlight"]["rank"] == 3
    called = set(read_tsv(workdir / "results" / "sc" / "moonlighting.tsv", index_col=None)["gene"])
    assert set(adata.var_names[adata.var["moonlight_moonlighting"].to_numpy()]) == called
    assert set(adata.var_names[adata.var["moonlight_class"] == "moonlighting"]) == called


def test_a_module_that_follows_a_technical_column_is_flagged(single_cell_run):
    workdir, _, sim = single_cell_run
    results = workdir / "results" / "sc"
    assoc = read_tsv(results / "module_covariates.tsv", index_col=None)
    assert set(assoc["covariate"]) == {"log_depth", "rna_input", "plate"}
    flagged = assoc[assoc["technical"]]
    # Exactly one module follows rna_input (the fitted twin of M2); the plate is noise.
    assert list(flagged["covariate"]) == ["rna_input"] and flagged["rho"].iat[0] > 0.9
    assert (assoc.loc[assoc["covariate"] == "plate", "q"] > 0.05).all()
    qc = read_tsv(results / "qc.tsv", index_col=None)
    warnings = qc.loc[qc["check"] == "warning"]
    assert "technical_module" in set(warnings["value"])
    assert "rna_input" in warnings.loc[warnings["value"] == "technical_module",
                                       "detail"].iat[0]
    # A table has no obs: read depth alone.
    bulk = read_tsv(workdir / "results" / "bulk" / "module_covariates.tsv", index_col=None)
    assert set(bulk["covariate"]) == {"log_depth"}


def test_sparse_and_dense_give_the_same_answer(single_cell_run):
    workdir, _, _ = single_cell_run
    sc, bulk = workdir / "results" / "sc", workdir / "results" / "bulk"
    for name in ("modules.tsv", "moonlighting.tsv"):
        a, b = read_tsv(sc / name, index_col=None), read_tsv(bulk / name, index_col=None)
        assert a[["gene"] + (["module"] if "module" in a else [])].equals(
            b[["gene"] + (["module"] if "module" in b else [])]), name
    rank_sc = read_tsv(sc / "rank_selection.tsv", index_col=None)
    rank_bulk = read_tsv(bulk / "rank_selection.tsv", index_col=None)
    assert rank_sc["selected"].tolist() == rank_bulk["selected"].tolist()
    np.testing.assert_allclose(rank_sc["loglik"], rank_bulk["loglik"], rtol=1e-9)
    # held-out samples: the training fits and the projections stop on
    # relative changes, and sparse and dense sums round differently (3e-8 seen at R = 4)
    np.testing.assert_allclose(rank_sc["cv_loglik"], rank_bulk["cv_loglik"], rtol=1e-7)


def test_analyse_gives_the_workflows_answer_on_the_single_cell_matrix(single_cell_run):
    """One path: analyse() on the counts the workflow fitted (its gene and cell
    selection done) and the same technical columns returns the workflow's rank, W,
    modules, classes and calls."""
    from moonlight.counts import load_counts
    from moonlight.pipeline import analyse

    workdir, _, _ = single_cell_run
    results = workdir / "results" / "sc"
    result = analyse(load_counts(results / "counts.npz"), ranks=[2, 3, 4], restarts=3,
                     fit={"max_iter": SMALL_CONFIG["fit"]["max_iter"]},
                     selection={"design": "samples"},
                     covariates=read_covariates(results / "covariates.tsv"))
    assert result.rank == 3
    pd.testing.assert_frame_equal(result.W, read_tsv(results / "W.tsv"), check_names=False)
    for frame, name in [(result.memberships, "modules.tsv"),
                        (result.moonlighting, "moonlighting.tsv"),
                        (result.calls.classes, "gene_classes.tsv"),
                        (result.calls.associations, "module_covariates.tsv")]:
        pd.testing.assert_frame_equal(frame.reset_index(drop=True),
                                      read_tsv(results / name, index_col=None),
                                      check_dtype=False, check_exact=False, rtol=1e-9)
    # the QC record after the data step's rows: the workflow's read.tsv, and analyse()'s
    # own pass of the prepared counts through the same step (which keeps them whole)
    read_rows = len(read_tsv(results / "read.tsv", index_col=None))
    qc = read_tsv(results / "qc.tsv", index_col=None).iloc[read_rows:]
    from moonlight.prepare import prepare_counts
    own = pd.DataFrame(prepare_counts(load_counts(results / "counts.npz"), ranks=[2]).record)
    assert set(own["check"]) >= {"genes_kept", "samples_kept"}
    pd.testing.assert_frame_equal(result.qc.iloc[:len(own)], own[result.qc.columns])
    pd.testing.assert_frame_equal(result.qc.iloc[len(own):].reset_index(drop=True),
                                  qc.reset_index(drop=True))


def test_analyse_selects_genes_as_the_workflow_does(single_cell_run):
    """keep_top_genes and min_counts_per_cell through analyse(select=...) keep the genes
    and cells the workflow kept and give its rank, W and calls."""
    from moonlight.counts import Counts, load_counts
    from moonlight.pipeline import analyse
    from moonlight.singlecell import read_single_cell

    workdir, _, _ = single_cell_run
    results = workdir / "results" / "top"
    import yaml
    spec = yaml.safe_load((workdir / "config.yaml").read_text())["data"]["top"]
    read = read_single_cell(spec["path"], matrix="counts")
    result = analyse(Counts(read.counts, read.genes, read.cells), ranks=[2, 3, 4],
                     restarts=3, fit={"max_iter": SMALL_CONFIG["fit"]["max_iter"]},
                     selection={"design": "samples"},
                     select={"keep_top_genes": 25, "min_counts_per_cell": 10})
    fitted = load_counts(results / "counts.npz")
    assert len(fitted.genes) == 25
    assert list(result.W.index) == list(fitted.genes)
    selection = read_tsv(results / "rank_selection.tsv", index_col=None)
    assert result.rank == int(selection.loc[selection["selected"], "rank"].iat[0])
    pd.testing.assert_frame_equal(result.W, read_tsv(results / "W.tsv"), check_names=False)
    assert (result.moonlighting["gene"].tolist()
            == read_tsv(results / "moonlighting.tsv", index_col=None)["gene"].tolist())
