"""Modules against technical axes: covariates from the counts, associations with numeric
and grouped covariates, the flag, the QC warning and the obs columns of an .h5ad."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import moonlight as ml
from moonlight.qc import technical_warning
from moonlight.technical import (library_covariates, majority_counts, mark_background,
                                 module_associations, own_mass, read_obs_columns,
                                 technical_modules, top_fractions)


def _own_genes(H):
    """W of ten genes per module, each gene in its module only: every module holds its
    own genes (:func:`moonlight.technical.own_mass` 1), so none is diffuse by its genes."""
    modules = list(H.index)
    values = np.kron(np.eye(len(modules)), np.ones((10, 1)))
    return pd.DataFrame(values, index=[f"g{i}" for i in range(len(values))], columns=modules)


def _usage(n=200, seed=0):
    rng = np.random.default_rng(seed)
    H = pd.DataFrame(rng.dirichlet(np.ones(3), size=n).T * 1000,
                     index=["M1", "M2", "M3"], columns=[f"s{j}" for j in range(n)])
    return H, rng


def test_library_covariates_are_the_same_dense_and_sparse():
    V = np.array([[0, 3, 10], [1, 0, 20], [0, 0, 5]], dtype=float)
    dense = library_covariates(V, ["a", "b", "c"])
    assert dense["log_depth"].to_numpy() == pytest.approx(np.log10([1, 3, 35]))
    assert dense.equals(library_covariates(sparse.csr_array(V), ["a", "b", "c"]))


def test_a_module_following_a_covariate_is_flagged_and_noise_is_not():
    H, rng = _usage()
    share = (H / H.sum()).loc["M2"].to_numpy()
    covariates = pd.DataFrame({"input": share + rng.normal(0, 0.02, share.size),
                               "noise": rng.normal(size=share.size),
                               "plate": rng.choice(["a", "b"], share.size)},
                              index=H.columns)
    table = module_associations(H, covariates, min_rho=0.5, fdr=0.05)
    assert len(table) == 9
    flagged = technical_modules(table)
    assert flagged[["module", "covariate"]].values.tolist() == [["M2", "input"]]
    assert flagged["rho"].iat[0] > 0.9
    assert table.loc[table["covariate"] == "plate", "kind"].eq("categorical").all()
    warning = technical_warning(table)
    assert warning.kind == "technical_module" and "M2 (input" in warning.message


def test_a_plate_effect_on_a_module_is_found_by_groups():
    H, rng = _usage(seed=3)
    plate = np.repeat(["p1", "p2"], 100)
    H.loc["M3", plate == "p2"] *= 8  # plate p2 uses M3 far more
    table = module_associations(H, pd.DataFrame({"plate": plate}, index=H.columns),
                                min_rho=0.5, fdr=0.05)
    row = table.set_index("module").loc["M3"]
    assert row["technical"] and row["rho"] > 0.5 and row["q"] < 1e-10
    assert technical_warning(table.assign(technical=False)) is None


def test_missing_samples_are_named():
    H, _ = _usage(n=5)
    with pytest.raises(ValueError, match="lack 1 sample"):
        module_associations(H, pd.DataFrame({"x": range(4)}, index=H.columns[:4]),
                            min_rho=0.5, fdr=0.05)


def test_obs_columns_are_read_for_the_kept_cells(tmp_path):
    anndata = pytest.importorskip("anndata")
    obs = pd.DataFrame({"rna": [1.0, 2.0, 3.0],
                        "plate": pd.Categorical(["007", "NA", "007"])},
                       index=["c1", "c2", "c3"])
    anndata.AnnData(X=sparse.csr_matrix(np.ones((3, 2))), obs=obs).write_h5ad(
        tmp_path / "x.h5ad")
    table = read_obs_columns(str(tmp_path / "x.h5ad"), ["plate", "rna"], ["c3", "c1"])
    assert list(table.index) == ["c3", "c1"] and list(table.columns) == ["plate", "rna"]
    assert list(table["plate"]) == ["007", "007"] and list(table["rna"]) == [3.0, 1.0]
    with pytest.raises(ValueError, match=r"x.h5ad: config key technical .*\['batch'\]"):
        read_obs_columns(str(tmp_path / "x.h5ad"), ["batch"], ["c1"])


def test_background_is_a_flagged_module_that_leads_almost_no_sample():
    H, rng = _usage(n=300, seed=5)
    H.loc["M3"] = H.loc["M3"] * 0.05  # M3: a small share of every sample
    share = (H / H.sum()).loc["M3"].to_numpy()
    fractions = top_fractions(H)
    assert fractions.sum() == pytest.approx(1.0) and fractions["M3"] < 0.05
    covariates = pd.DataFrame({"input": share + rng.normal(0, 0.002, share.size),
                               "lead": (H / H.sum()).loc["M1"].to_numpy()},
                              index=H.columns)
    table = module_associations(H, covariates, min_rho=0.5, fdr=0.05)
    assert not table["background"].any()
    marked = mark_background(table, _own_genes(H), H, top_max=0.05)
    flagged = technical_modules(marked).set_index("module")
    assert flagged["background"].to_dict() == {"M1": False, "M3": True}
    assert marked.loc[marked["module"] == "M3", "background"].all()
    assert not mark_background(table, _own_genes(H), H, top_max=0.0)["background"].any()
    with pytest.raises(ValueError, match="top_max"):
        mark_background(table, _own_genes(H), H, top_max=1.5)


def test_a_module_no_sample_and_no_gene_is_ruled_by_is_diffuse_and_background():
    """The batches benchmark's seed 905 at a plate SD of 1.5: a fifth module, the top of
    one sample in 96 and the main program of none, followed by no covariate, with 0.001
    of its W column on genes of its own and a share of 0.1 or more in 170 genes of the
    four true modules, of which 108 were called. It is diffuse and background, and the QC
    record names it; a flagged one is named by the technical warning instead. A module
    that holds its own genes is not diffuse, however few samples it leads."""
    from moonlight.qc import diffuse_warning
    rng = np.random.default_rng(905)
    sources = rng.dirichlet(np.ones(4), size=96).T * 0.8
    program = np.full(96, 0.2)
    program[0], sources[:, 0] = 0.4, 0.15
    H = pd.DataFrame(np.vstack([sources, program]), index=["M1", "M2", "M3", "M4", "M5"],
                     columns=[f"s{j}" for j in range(96)])
    W = _own_genes(H.iloc[:4]).assign(M5=0.0)
    W.loc[W.index[:30], "M5"] = 0.3  # a share in genes of M1, M2 and M3
    depth = pd.DataFrame({"depth": rng.normal(size=96)}, index=H.columns)
    associations = module_associations(H, depth, min_rho=0.5, fdr=0.05)
    table = mark_background(associations, W, H, top_max=0.05)
    assert set(table.loc[table["diffuse"], "module"]) == {"M5"}
    assert set(table.loc[table["background"], "module"]) == {"M5"}
    warning = diffuse_warning(table)
    assert warning.kind == "diffuse_module" and warning.message.startswith("module(s) M5 ")
    assert "left out of every gene's calls" in warning.message
    assert diffuse_warning(table.assign(technical=table["diffuse"])) is None
    assert diffuse_warning(table.drop(columns="diffuse")) is None  # an older run's table
    unmarked = mark_background(table, W, H, top_max=0.0)
    assert not unmarked["diffuse"].any() and not unmarked["background"].any()
    own = _own_genes(H)  # M5 with ten genes of its own: a source that leads one sample
    assert own_mass(own)["M5"] == pytest.approx(1.0) and own_mass(W)["M5"] == 0.0
    kept = mark_background(associations, own, H, top_max=0.05)
    assert not kept["diffuse"].any() and not kept["background"].any()


def test_own_mass_is_the_share_of_a_column_on_its_top_genes():
    W = pd.DataFrame([[0.6, 0.2], [0.3, 0.1], [0.1, 0.7]], index=["a", "b", "c"],
                     columns=["M1", "M2"])
    # top modules: a, b -> M1 (0.6 > 0.2, 0.3 > 0.1), c -> M2, on W's columns scaled to
    # one, whatever scale W has (scaled by 0.1, c's 0.07 is under its 0.3 in M1)
    expected = pd.Series([0.9, 0.7], index=["M1", "M2"])
    pd.testing.assert_series_equal(own_mass(W * [3.0, 0.1]), expected, check_names=False)


def test_background_is_also_a_flagged_module_that_rules_no_sample():
    """Seeds 522 and 559 of the calibration: samples that mix four sources evenly,
    and a technical program of up to 0.36 of each, top of exactly 5 % of them (the
    rule needed fewer) and more than half of none. Left in the calls, it made every
    gene of one source 'moonlighting' in it."""
    rng = np.random.default_rng(559)
    program = rng.uniform(0.0, 0.1, 100)
    sources = rng.dirichlet(np.ones(4), size=100).T * (1 - program)
    program[:5] = 0.36  # the top module of these five
    sources[:, :5] = 0.16
    H = pd.DataFrame(np.vstack([sources, program]), index=["M1", "M2", "M3", "M4", "M5"],
                     columns=[f"s{j}" for j in range(100)])
    assert top_fractions(H)["M5"] == 0.05
    covariates = pd.DataFrame({"axis": program + rng.normal(0, 0.005, 100)},
                              index=H.columns)
    table = module_associations(H, covariates, min_rho=0.5, fdr=0.05)
    assert technical_modules(table)["module"].tolist() == ["M5"]
    assert majority_counts(H)["M5"] == 0
    W = _own_genes(H)
    assert mark_background(table, W, H, top_max=0.05).query("module == 'M5'")["background"].all()
    assert not mark_background(table, W, H, top_max=0.0)["background"].any()  # counts all
    H.loc["M5", "s5"] = 3.0  # the main program of one sample: a rare source
    assert not mark_background(table, W, H, top_max=0.05)["background"].any()
    # a source of an even mixture rules no sample either, but leads many: not background
    even = pd.DataFrame(rng.dirichlet(np.full(6, 3.0), size=200).T,
                        index=[f"M{r}" for r in range(1, 7)],
                        columns=[f"s{j}" for j in range(200)])
    assert majority_counts(even)["M1"] == 0 and top_fractions(even)["M1"] > 0.1
    depth = pd.DataFrame({"depth": even.loc["M1"] + rng.normal(0, 0.005, 200)},
                         index=even.columns)
    flagged = module_associations(even, depth, min_rho=0.5, fdr=0.05)
    assert technical_modules(flagged)["module"].tolist() == ["M1"]
    assert not mark_background(flagged, _own_genes(even), even, top_max=0.05)["background"].any()



def test_covariates_keep_their_kind_through_the_workflows_file(tmp_path):
    """A plate labelled 1, 2, 3 (an obs category, a batch of scanpy's concat) is groups
    in analyse() and must stay groups after the file between the workflow's rules: a
    wide TSV read it back as numbers, and the module was correlated with the plate's
    label instead of tested across the plates."""
    from moonlight.technical import read_covariates, usage_associations, write_covariates

    samples = ["007", "NA", "1e5", "s4", "s5", "s6"]
    covariates = pd.DataFrame({
        "plate": pd.Categorical(["1", "2", "3", "1", "2", "3"]),
        "depth": [1.5, 2.25, np.nan, 0.1, 1e-7, 3.0],
        "genes": np.array([10, 20, 30, 40, 50, 60], dtype=np.int64),
        "sorted": [True, False, True, False, True, False],
        "lane": ["", "", "L2", "L2", None, "NA"],  # an empty label is a label
        "note": [None] * 6},  # nothing recorded: groups, none of them known
        index=pd.Index(samples, name="sample"))
    path = tmp_path / "covariates.tsv"
    write_covariates(covariates, path)
    back = read_covariates(path)
    assert list(back.index) == samples and list(back.columns) == list(covariates.columns)
    assert list(back["plate"]) == ["1", "2", "3", "1", "2", "3"]
    assert back["lane"].tolist()[:4] == ["", "", "L2", "L2"] and back["lane"].iat[5] == "NA"
    assert pd.isna(back["lane"].iat[4]) and back["note"].isna().all()
    np.testing.assert_array_equal(back["depth"].to_numpy(), covariates["depth"].to_numpy())
    assert back["genes"].dtype == np.int64
    H = pd.DataFrame(np.random.default_rng(0).random((2, 6)), index=["M1", "M2"],
                     columns=samples)
    kinds = usage_associations(H, back).set_index("covariate")["kind"]
    assert kinds["plate"].eq("categorical").all() and kinds["sorted"].eq("categorical").all()
    assert kinds["lane"].eq("categorical").all() and kinds["note"].eq("categorical").all()
    assert kinds["depth"].eq("numeric").all() and kinds["genes"].eq("numeric").all()
    pd.testing.assert_frame_equal(usage_associations(H, back),
                                  usage_associations(H, covariates))
    write_covariates(covariates.iloc[:, :0], path)  # no technical column
    assert read_covariates(path).shape[1] == 0
    # a file an earlier version wrote (call_modules reruns without the data step)
    (tmp_path / "wide.tsv").write_text("sample\tplate\tdepth\n007\tp1\t1.5\nNA\tp2\t\n")
    wide = read_covariates(tmp_path / "wide.tsv")
    assert wide.index.tolist() == ["007", "NA"] and wide["plate"].tolist() == ["p1", "p2"]
    assert wide["depth"].iloc[0] == 1.5 and np.isnan(wide["depth"].iloc[1])
    (tmp_path / "kinds.tsv").write_text("sample\tcovariate\tkind\tvalue\n"
                                        "a\tplate\tcategorical\t1\nb\tplate\tcategorical\t\n")
    assert read_covariates(tmp_path / "kinds.tsv")["plate"].tolist()[0] == "1"
    assert pd.isna(read_covariates(tmp_path / "kinds.tsv")["plate"].iloc[1])


def test_analyse_refuses_covariates_without_a_row_for_a_sample():
    """The workflow's sample sheet stops on a sample it lacks; analyse() stopped nowhere
    and tested the modules on NaN for it."""
    from moonlight.pipeline import analyse

    counts = ml.simulate(n_genes=40, n_samples=12, n_modules=2, module_size=(10, 20),
                         n_moonlighting=0, seed=3).counts
    covariates = pd.DataFrame({"input": np.arange(11.0)}, index=counts.columns[:11])
    with pytest.raises(ValueError, match=r"covariates has no row for 1 sample\(s\), e.g. "
                                         rf"\['{counts.columns[11]}'\]"):
        analyse(counts, [2], restarts=1, covariates=covariates)
    twice = pd.DataFrame({"input": np.arange(13.0)},
                         index=[*counts.columns, counts.columns[0]])
    with pytest.raises(ValueError, match=r"covariates has more than one row for sample\(s\) "
                                         rf"\['{counts.columns[0]}'\]"):
        analyse(counts, [2], restarts=1, covariates=twice)


def test_call_modules_reads_usage_the_same_at_any_column_scale_of_W():
    """call_modules takes W at any column scale; it normalized W but read the usage
    shares (the technical flags, background) from H as given, so a W of columns summing
    to 10 and an H divided by 10 gave other flags."""
    from moonlight.config import defaults
    from moonlight.pipeline import analyse, call_modules

    sim = ml.simulate(n_genes=60, n_samples=40, n_modules=3, module_size=(15, 25),
                      n_moonlighting=0, seed=8)
    result = analyse(sim.counts, [3], restarts=2)
    W, H = result.W, result.H
    depth = pd.DataFrame({"input": (H / H.sum()).loc["M2"].to_numpy()
                          + np.random.default_rng(1).normal(0, 0.01, H.shape[1])},
                         index=H.columns)
    scale = np.array([10.0, 0.5, 3.0])
    settings = {k: v for k, v in defaults("modules").items()}
    same = call_modules(sim.counts, W, H, [W], [0.0], margin=5.0, covariates=depth,
                        **settings)
    scaled = call_modules(sim.counts, W * scale, H.div(scale, axis=0), [W * scale], [0.0],
                          margin=5.0, covariates=depth, **settings)
    assert same.associations["technical"].any()
    pd.testing.assert_frame_equal(scaled.associations, same.associations, rtol=1e-9)
    pd.testing.assert_frame_equal(scaled.classes, same.classes, rtol=1e-6)
