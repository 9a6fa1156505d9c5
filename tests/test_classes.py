"""Gene classes: the ceiling test of the rest share, its calibration at the boundary, and
one class per gene (specific, moonlighting, broad, unassigned) on planted rows and on the
exercise's table."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moonlight import read_count_table
from moonlight.classes import GENE_CLASSES, class_counts, flat_deviance, gene_classes
from moonlight.confidence import share_test
from moonlight.pipeline import analyse, call_modules
from moonlight.qc import technical_warning

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w09-data.tbl"
T = 0.1  # threshold and ceiling


def _rows(shares, n_samples=80, total=3000.0, dispersion=0.0, seed=0, Ht=None):
    """Rows with planted share vectors (one row per gene, over R modules) under a known
    H (``Ht``, modules x samples, or Dirichlet draws), and a W whose columns sum to one
    (filler genes carry the rest of each column), so that the planted shares are
    moonlight's shares exactly."""
    rng = np.random.default_rng(seed)
    b = np.asarray(shares, dtype=float)
    n_genes, n_modules = b.shape
    modules = [f"M{r + 1}" for r in range(n_modules)]
    if Ht is None:
        Ht = rng.dirichlet(np.ones(n_modules), size=n_samples).T
    n_samples = Ht.shape[1]
    samples = [f"s{j}" for j in range(n_samples)]
    scale = total / (b @ Ht).sum(axis=1).mean()
    b = b * 1e-6
    mu = (b @ Ht) * scale / 1e-6
    if dispersion > 0:
        mu = mu * rng.gamma(1.0 / dispersion, dispersion, size=mu.shape)
    V = rng.poisson(mu).astype(float)
    genes = [f"g{i}" for i in range(n_genes)]
    W = pd.DataFrame(np.vstack([b, np.diag(1.0 - b.sum(axis=0))]),
                     index=genes + [f"filler{r}" for r in range(n_modules)], columns=modules)
    H = pd.DataFrame(Ht * scale / 1e-6, index=modules, columns=samples)
    return pd.DataFrame(V, index=genes, columns=samples), W, H


def test_rest_p_is_small_below_the_ceiling_and_large_above_it():
    counts, W, H = _rows([[0.5, 0.5, 0.0, 0.0], [0.4, 0.3, 0.15, 0.15],
                          [0.25, 0.25, 0.25, 0.25]])
    out = share_test(counts, W, H, threshold=T, ceiling=T, level=None)
    assert out["rest_share"].to_numpy() == pytest.approx([0.0, 0.3, 0.5], abs=0.05)
    assert out.loc["g0", "rest_p"] < 1e-4
    assert out.loc["g1", "rest_p"] > 0.99 and out.loc["g2", "rest_p"] > 0.99


def test_rest_p_is_uniform_for_genes_exactly_at_the_ceiling():
    # Rest share 0.1 = the ceiling: the signed-root p-value is U(0, 1) at the boundary.
    shares = np.tile([0.5, 0.4, 0.05, 0.05], (600, 1))
    counts, W, H = _rows(shares, seed=3)
    p = share_test(counts, W, H, threshold=T, ceiling=T, level=None)["rest_p"].to_numpy()
    assert 0.4 < p.mean() < 0.6
    assert 0.02 < (p <= 0.05).mean() < 0.09


def test_rest_test_is_vacuous_with_two_modules():
    counts, W, H = _rows([[0.6, 0.4]])
    out = share_test(counts, W, H, threshold=T, ceiling=T, level=None)
    assert out["rest_share"].iat[0] == 0.0 and out["rest_p"].iat[0] == 0.0


def test_ceiling_out_of_range_is_refused():
    counts, W, H = _rows([[0.6, 0.4, 0.0]])
    with pytest.raises(ValueError, match="ceiling"):
        share_test(counts, W, H, threshold=T, ceiling=0.0)


def test_flat_deviance_is_small_for_a_flat_gene_and_large_for_a_one_module_gene():
    counts, W, H = _rows([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]], seed=1)
    out = flat_deviance(counts, W, H)
    assert out.loc["g0", "signal_p"] > 0.01
    assert out.loc["g1", "signal_p"] < 1e-10


def _calls(shares, covariates=None, background_top_max=0.05, reshape=None, **kw):
    counts, W, H = _rows(shares, **kw)
    W = W if reshape is None else reshape(W)
    fillers = pd.DataFrame(np.zeros((W.shape[1], counts.shape[1])),
                           index=W.index[len(counts):], columns=counts.columns)
    full = pd.concat([counts, fillers])
    return call_modules(full, W, H, [W, W], [0.0, 0.0], threshold=T, ceiling=T,
                        margin=5.0, technical_rho=0.5, fdr=0.05, min_support=0.5,
                        level=0.95, overdispersion="negative_binomial",
                        covariates=covariates, background_top_max=background_top_max)


def _classes(shares, **kw):
    calls = _calls(shares, **kw)
    return calls.classes.set_index("gene").iloc[:len(shares)]


def test_one_class_per_gene_on_planted_rows():
    shares = [
        [0.5, 0.5, 0.0, 0.0],       # two modules, nothing else: moonlighting
        [0.7, 0.3, 0.0, 0.0],       # moonlighting
        [0.25, 0.25, 0.25, 0.25],   # every module alike: broad (housekeeping)
        [0.4, 0.2, 0.2, 0.2],       # every module within a factor of two: broad
        [1.0, 0.0, 0.0, 0.0],       # specific
        [0.0, 0.0, 0.95, 0.05],     # specific
    ]
    classes = _classes(shares, total=5000.0)
    assert list(classes["class"]) == ["moonlighting", "moonlighting", "broad", "broad",
                                      "specific", "specific"]
    assert set(classes["class"]) <= set(GENE_CLASSES)


def test_with_two_modules_a_gene_in_both_is_broad_not_moonlighting():
    """A gene in both of two modules is in every module: its test confirms the second
    share (``confirmed``), but it is classed broad and not called; with a third module
    the same pair of shares is a call. (The first of three held-out sets with two
    sources, a bulk mixture, had 932 of its 2,000 genes called at R = 2.)"""
    two = _calls([[0.5, 0.5], [0.7, 0.3], [1.0, 0.0]], total=5000.0)
    classes = two.classes.set_index("gene")["class"].iloc[:3]
    assert list(classes) == ["broad", "broad", "specific"]
    assert two.moonlighting.empty
    assert two.candidates["confirmed"].all() and not two.candidates["called"].any()
    from moonlight.qc import class_record
    notes = [row["detail"] for row in class_record(two.classes, two.candidates)
             if row["check"] == "note"]
    assert len(notes) == 1 and notes[0].startswith("2 gene(s) confirmed in both of the fit's")
    three = _classes([[0.5, 0.5, 0.0], [0.7, 0.3, 0.0], [1.0, 0.0, 0.0]], total=5000.0)
    assert list(three["class"]) == ["moonlighting", "moonlighting", "specific"]
    # three modules, one of them background: two counted, so the same genes are broad
    from moonlight.confidence import moonlighting_confidence
    counts, W, H = _rows([[0.5, 0.5, 0.0], [0.7, 0.3, 0.0], [1.0, 0.0, 0.0]], total=5000.0)
    for background, called in (((), True), (("M3",), False)):
        _, candidates = moonlighting_confidence(counts, W, H, [W, W], [0.0, 0.0],
                                                threshold=T, ceiling=T, margin=5.0,
                                                background=background)
        assert candidates["confirmed"].all() and (candidates["called"] == called).all()


def test_too_little_signal_is_unassigned():
    # A few reads in all: neither a one-module profile nor a flat one can be told apart.
    classes = _classes([[0.6, 0.4, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], total=3.0, seed=5)
    assert (classes["class"] == "unassigned").all()


def test_broad_genes_are_not_called_under_overdispersion():
    # Negative-binomial rows, every module within a factor of two: none is moonlighting.
    rng = np.random.default_rng(7)
    shares = rng.dirichlet(np.full(4, 20.0), size=60)
    classes = _classes(shares, dispersion=0.3, seed=7)
    assert (classes["class"] != "moonlighting").all()
    assert (classes["class"] == "broad").mean() > 0.9


def test_gene_classes_table_columns_and_counts():
    counts, W, H = _rows([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    from moonlight.modules import normalize_rows
    empty = pd.DataFrame(columns=["gene", "q", "confirmed", "called"])
    signal = flat_deviance(counts, W, H)
    broad = pd.DataFrame(columns=["rest_share", "broad_statistic", "broad_p"], dtype=float)
    out = gene_classes(normalize_rows(W).loc[counts.index], empty, signal, broad,
                       threshold=T, ceiling=T, fdr=0.05)
    # g0 is a candidate that was not called (none are, here): unassigned.
    assert list(out["class"]) == ["unassigned", "specific"]
    assert class_counts(out).to_dict() == {"specific": 1, "moonlighting": 0, "broad": 0,
                                           "unassigned": 1}


def test_a_called_gene_is_moonlighting_whatever_its_w_rest_share():
    # The call tests the row refitted given H; W's joint-fit row can put more than the
    # ceiling outside the two modules (a real case: 0.18). moonlighting.tsv lists the
    # gene, so its class says moonlighting too; uncalled, the same row is unassigned.
    counts, W, H = _rows([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0]])
    from moonlight.modules import normalize_rows
    signal = flat_deviance(counts, W, H)
    broad = pd.DataFrame({"rest_share": [0.2], "broad_statistic": [0.5], "broad_p": [0.4]},
                         index=pd.Index(["g0"]))
    args = dict(threshold=T, ceiling=T, fdr=0.05)
    W_rows = normalize_rows(W).loc[counts.index]
    for called, expected in ((True, "moonlighting"), (False, "unassigned")):
        candidates = pd.DataFrame({"gene": ["g0"], "q": [0.01], "confirmed": [called],
                                   "called": [called]})
        out = gene_classes(W_rows, candidates, signal, broad, **args).set_index("gene")
        assert out.loc["g0", "rest_share"] == pytest.approx(0.2)
        assert out.loc["g0", "class"] == expected
        assert out.loc["g1", "class"] == "specific"


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data/w09-data.tbl not present")
def test_exercise_table_classes():
    result = analyse(read_count_table(REAL))
    classes = result.calls.classes.set_index("gene")["class"]
    assert result.rank == 4
    assert sorted(classes[classes == "moonlighting"].index) == ["cranberry", "grape",
                                                                "tomato"]
    assert (classes.drop(["cranberry", "grape", "tomato"]) == "specific").all()
    assert (result.memberships.groupby("module").size().to_list() == [20, 20, 20, 43])
    assert set(result.memberships["class"]) == {"specific", "moonlighting"}


def test_candidates_above_the_ceiling_are_left_out_of_the_family():
    counts, W, H = _rows([[0.5, 0.5, 0.0, 0.0], [0.4, 0.3, 0.15, 0.15]], total=5000.0)
    fillers = pd.DataFrame(np.zeros((4, counts.shape[1])), index=W.index[2:],
                           columns=counts.columns)
    calls = call_modules(pd.concat([counts, fillers]), W, H, [W, W], [0.0, 0.0],
                         threshold=T, ceiling=T, margin=5.0, technical_rho=0.5, fdr=0.05,
                         min_support=0.5, level=0.95, overdispersion="negative_binomial")
    cand = calls.candidates.set_index("gene")
    assert np.isnan(cand.loc["g1", "q"]) and not cand.loc["g1", "called"]
    # alone in the family, g0's q is its own doubled intersection-union p-value
    expected = max(min(1, 2 * cand.loc["g0", "p"]), min(1, 2 * cand.loc["g0", "rest_p"]))
    assert cand.loc["g0", "q"] == pytest.approx(expected) and cand.loc["g0", "called"]


def _sources_and_an_axis(n_samples=240, seed=11):
    """H of three sources, each the main program (share 0.55-0.9) of a third of the
    samples, and a fourth module that adds 0.05-0.3 to every sample and leads none; and
    a technical covariate that follows the fourth module's share."""
    rng = np.random.default_rng(seed)
    axis = rng.uniform(0.05, 0.3, n_samples)
    source = np.arange(n_samples) % 3
    Ht = np.zeros((4, n_samples))
    Ht[source, np.arange(n_samples)] = 0.9 - axis
    Ht[:3] += 0.05
    Ht[3] = axis
    samples = [f"s{j}" for j in range(n_samples)]
    covariates = pd.DataFrame({"input": axis + rng.normal(0, 0.01, n_samples)},
                              index=samples)
    return Ht, covariates


def test_a_background_module_is_left_out_of_the_calls():
    # Genes two sources express, with a share in the technical module M4 above the
    # ceiling: refused a call while M4 counts, called once M4 is background. A broad gene
    # stays broad; a one-source gene, moonlighting "in its source and the axis" while M4
    # counts, is specific; M4's own gene keeps its row.
    Ht, covariates = _sources_and_an_axis()
    shares = [[0.45, 0.40, 0.0, 0.15],
              [0.50, 0.30, 0.0, 0.20],
              [0.30, 0.30, 0.25, 0.15],
              [0.85, 0.0, 0.0, 0.15],
              [0.02, 0.03, 0.0, 0.95]]
    with_axis = _calls(shares, covariates=covariates, Ht=Ht, total=20000.0)
    assert with_axis.associations.query("background")["module"].unique().tolist() == ["M4"]
    classes = with_axis.classes.set_index("gene").iloc[:5]
    assert list(classes["class"]) == ["moonlighting", "moonlighting", "broad", "specific",
                                      "specific"]
    assert list(classes["top_module"]) == ["M1", "M1", "M1", "M1", "M4"]
    assert list(classes["second_module"][:2]) == ["M2", "M2"]
    assert classes["rest_share"][:2].to_numpy() == pytest.approx([0.0, 0.0], abs=0.02)
    called = with_axis.moonlighting.set_index("gene")
    assert sorted(called.index) == ["g0", "g1"]
    assert set(called["modules"]) == {"M1,M2"}
    members = with_axis.memberships
    assert sorted(members.loc[members["gene"] == "g0", "module"]) == ["M1", "M2"]
    assert "M4: the main program of almost no sample" in technical_warning(
        with_axis.associations).message

    counted = _calls(shares, covariates=covariates, Ht=Ht, total=20000.0,
                     background_top_max=0.0)
    assert not counted.associations["background"].any()
    assert counted.associations["technical"].any()  # flagged, but counted
    assert counted.moonlighting["gene"].tolist() == ["g3"]
    assert counted.moonlighting["modules"].tolist() == ["M1,M4"]
    assert "moonlighting" not in set(counted.classes["class"][:3])


def test_a_diffuse_module_is_left_out_of_the_calls_without_a_covariate():
    # The axis of the test above with no covariate to flag it: it leads no sample and
    # rules none, and its W column lies on genes of the sources (their fillers), so it
    # has no genes of its own: diffuse, and background all the same. The calls and
    # classes are those with the covariate, and the QC record names it.
    from moonlight.qc import diffuse_warning

    def on_other_genes(W):
        W = W.copy()
        W.loc[["filler0", "filler1", "filler2"], "M4"] = 0.33 * W.at["filler3", "M4"]
        W.at["filler3", "M4"] *= 0.01
        return W

    Ht, covariates = _sources_and_an_axis()
    shares = [[0.45, 0.40, 0.0, 0.15], [0.85, 0.0, 0.0, 0.15], [0.02, 0.03, 0.0, 0.95]]
    flagged = _calls(shares, covariates=covariates, Ht=Ht, total=20000.0,
                     reshape=on_other_genes)
    unflagged = _calls(shares, Ht=Ht, total=20000.0, reshape=on_other_genes)
    own = _calls(shares, Ht=Ht, total=20000.0)  # M4 on a gene of its own: a source
    assert not own.associations["diffuse"].any()
    assert own.moonlighting["gene"].tolist() == ["g1"]  # "in M1 and M4"
    marks = unflagged.associations.drop_duplicates("module").set_index("module")
    assert not marks.loc["M4", "technical"]
    assert marks["diffuse"].tolist() == marks["background"].tolist() == [False] * 3 + [True]
    assert unflagged.moonlighting["gene"].tolist() == ["g0"]
    assert unflagged.classes.equals(flagged.classes)
    assert "module(s) M4 " in diffuse_warning(unflagged.associations).message
    assert diffuse_warning(flagged.associations) is None  # the technical warning's


def test_a_flagged_source_is_not_background():
    # The covariate follows a source (the main program of a third of the samples): the
    # module is flagged technical but counted, and the calls are those without covariates.
    Ht, _ = _sources_and_an_axis()
    samples = [f"s{j}" for j in range(Ht.shape[1])]
    rng = np.random.default_rng(2)
    covariates = pd.DataFrame({"mito": Ht[0] / Ht.sum(axis=0)
                               + rng.normal(0, 0.01, Ht.shape[1])}, index=samples)
    shares = [[0.45, 0.40, 0.0, 0.15], [0.85, 0.0, 0.0, 0.15]]
    calls = _calls(shares, covariates=covariates, Ht=Ht, total=20000.0)
    flagged = calls.associations.query("technical")
    assert set(flagged["module"]) == {"M1"} and not flagged["background"].any()
    plain = _calls(shares, Ht=Ht, total=20000.0)
    assert calls.classes.equals(plain.classes)
    assert calls.candidates.equals(plain.candidates)


def test_share_test_background_arguments():
    counts, W, H = _rows([[0.45, 0.40, 0.0, 0.15], [0.05, 0.05, 0.0, 0.9]])
    with pytest.raises(ValueError, match=r"background modules not in W: \['M9'\]"):
        share_test(counts, W, H, threshold=T, ceiling=T, background=["M9"])
    with pytest.raises(ValueError, match="two modules outside the background"):
        share_test(counts, W, H, threshold=T, ceiling=T, background=["M1", "M2", "M3"])
    # g1's top module is the background one: tested as if there were none
    plain = share_test(counts, W, H, threshold=T, ceiling=T, level=None)
    left_out = share_test(counts, W, H, threshold=T, ceiling=T, level=None,
                          background=["M4"])
    numbers = plain.columns.drop(["top_module", "second_module", "fits_at_cap"])
    assert left_out.loc["g1", numbers].to_numpy(float) == pytest.approx(
        plain.loc["g1", numbers].to_numpy(float), rel=1e-12)
    assert left_out.loc["g1", "top_module"] == "M4"
    assert plain.loc["g0", "rest_share"] == pytest.approx(0.15, abs=0.03)
    assert left_out.loc["g0", "rest_share"] < 0.02
    assert left_out.loc["g0", ["top_module", "second_module"]].tolist() == ["M1", "M2"]


def test_intervals_only_where_a_call_is_possible_and_the_same_there():
    # Rows estimated below the ceiling get the interval ends they get without the rest
    # test; rows above it (never called) get none, and their searches are not run.
    counts, W, H = _rows([[0.6, 0.4, 0.0, 0.0], [0.5, 0.3, 0.0, 0.2],
                          [0.4, 0.3, 0.3, 0.0], [0.7, 0.3, 0.0, 0.0]], total=5000.0)
    every = share_test(counts, W, H, threshold=T, ceiling=None)  # no rest test
    callable_ = share_test(counts, W, H, threshold=T, ceiling=T)
    ends = ["top_share_low", "top_share_high", "second_share_low", "second_share_high"]
    below = (callable_["rest_share"] < T).to_numpy()
    assert below.tolist() == [True, False, False, True]
    assert callable_.loc[below, ends].equals(every.loc[below, ends])
    assert callable_.loc[~below, ends].isna().all().all()
    assert not callable_.loc[~below, "interval_fits_at_cap"].any()

