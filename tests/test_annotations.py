"""moonlight.annotations: a planted group effect on module usage is found, a null column
is not, and a sample sheet is read with its names as written."""

import numpy as np
import pandas as pd
import pytest

import moonlight as ml
from moonlight.annotations import annotate_modules, read_sample_sheet, usage_by_group
from moonlight.config import ConfigError


@pytest.fixture(scope="module")
def fitted():
    sim = ml.simulate(seed=5, n_samples=80)
    fit = ml.fit_nmf(sim.counts, 3, restarts=3, seed=0)
    H = fit.H_frame()
    usage = H / H.sum()
    rng = np.random.default_rng(1)
    annotations = pd.DataFrame({
        "state": [f"S{int(i)}" for i in usage.to_numpy().argmax(axis=0)],  # follows a module
        "batch": rng.choice(["a", "b", "c"], size=H.shape[1]),             # null
        "score": usage.iloc[0].to_numpy() + rng.normal(0, 0.02, H.shape[1]),
        "noise": rng.normal(size=H.shape[1]),
    }, index=H.columns)
    return H, annotations


def test_a_planted_group_effect_is_found_and_a_null_column_is_not(fitted):
    H, annotations = fitted
    result = annotate_modules(H, annotations)
    tests = result.tests.set_index(["covariate", "module"])
    assert (tests.loc["state", "q"] < 1e-6).all()
    assert (tests.loc["batch", "q"] > 0.05).all() and (tests.loc["noise", "q"] > 0.05).all()
    assert tests.loc[("score", "M1"), "rho"] > 0.9 and tests.loc[("score", "M1"), "q"] < 1e-6
    usage = result.usage
    assert set(usage["covariate"]) == {"state", "batch"}          # categorical only
    state = usage[usage["covariate"] == "state"]
    best = state.loc[state.groupby("group")["mean_usage"].idxmax()]
    assert (best["fraction_top"] == 1.0).all()                    # each state has its module
    assert state.groupby("group")["n"].first().sum() == H.shape[1]


def test_usage_by_group_by_hand():
    H = pd.DataFrame([[3.0, 1.0, 0.0], [1.0, 3.0, 4.0]], index=["M1", "M2"],
                     columns=["s1", "s2", "s3"])
    usage = usage_by_group(H, pd.DataFrame({"g": ["x", "y", "y"]}, index=["s1", "s2", "s3"]))
    y = usage[(usage["group"] == "y")].set_index("module")
    assert y.loc["M2", "mean_usage"] == pytest.approx((0.75 + 1.0) / 2)
    assert y.loc["M2", "fraction_top"] == 1.0 and y.loc["M1", "n"] == 2


def test_a_sample_sheet_keeps_names_and_names_what_it_lacks(tmp_path):
    sheet = tmp_path / "samples.csv"
    sheet.write_text("sample,group,dose\n007,NA,1.5\nS2,b,2\nS3,b,\n")
    table = read_sample_sheet(sheet, ["007", "S2", "S3"])
    assert table.index.tolist() == ["007", "S2", "S3"]
    assert table["group"].tolist()[1:] == ["b", "b"] and table.loc["007", "group"] == "NA"
    assert table["dose"].dtype.kind == "f" and np.isnan(table.loc["S3", "dose"])
    with pytest.raises(ConfigError, match=r"samples.csv: config key samples: the sample "
                                          r"sheet lacks 1 sample\(s\) of the table, e.g. \['S9'\]"):
        read_sample_sheet(sheet, ["007", "S9"])
    with pytest.raises(ConfigError, match="annotations names column"):
        read_sample_sheet(sheet, ["007"], columns=["tissue"])
    # a sample twice gave covariates.tsv a row too many and failed in call_modules,
    # after every fit, naming nothing
    twice = tmp_path / "twice.csv"
    twice.write_text(sheet.read_text() + "S2,heart,3\n")
    with pytest.raises(ConfigError, match=r"twice.csv: config key samples: the sample sheet "
                                          r"has more than one row for sample\(s\) \['S2'\]"):
        read_sample_sheet(twice, ["007", "S2"])
    # rows the data set does not use may repeat (a shared sheet; a spreadsheet's blank rows)
    assert read_sample_sheet(twice, ["007", "S3"]).index.tolist() == ["007", "S3"]
    blank = tmp_path / "blank.csv"
    blank.write_text(sheet.read_text() + ",,\n,,\n")
    assert read_sample_sheet(blank, ["S2"]).index.tolist() == ["S2"]


def test_labels_written_with_a_leading_zero_stay_labels_and_are_tested_as_groups(tmp_path):
    """A plate column 01/02/03 was read as the numbers 1, 2, 3 and correlated: a module
    used only on plate 02 (the middle one) went unflagged. Written so, it is a label;
    numbers such as 0.5 and 0 stay numbers."""
    from moonlight.technical import covariate_kind, usage_associations

    samples = [f"S{j}" for j in range(30)]
    plates = ["01", "02", "03"] * 10
    sheet = tmp_path / "samples.csv"
    sheet.write_text("sample,plate,dose,empty\n" + "".join(
        f"{s},{p},{0.5 * (j % 2)},\n" for j, (s, p) in enumerate(zip(samples, plates))))
    table = read_sample_sheet(sheet, samples)
    assert table["empty"].isna().all()  # a column left blank is read, not a crash
    assert table["plate"].tolist() == plates and covariate_kind(table["plate"]) == "categorical"
    assert covariate_kind(table["dose"]) == "numeric" and table.loc["S1", "dose"] == 0.5
    usage = np.where(np.array(plates) == "02", 5.0, 1.0) + np.linspace(0, 0.1, 30)
    H = pd.DataFrame([usage, np.ones(30)], index=["M1", "M2"], columns=samples)
    tests = usage_associations(H, table[["plate"]]).set_index("module")
    assert tests.loc["M1", "kind"] == "categorical" and tests.loc["M1", "p"] < 1e-4


def test_technical_columns_come_from_the_sheet_or_are_none(tmp_path):
    from moonlight.annotations import technical_covariates
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tplate\trin\nS1\tp1\t7.5\nS2\tp2\t8.0\n")
    table = technical_covariates("t.tsv", {"samples": str(sheet), "technical": ["rin"]},
                                 ["S2", "S1"])
    assert table.columns.tolist() == ["rin"] and table["rin"].tolist() == [8.0, 7.5]
    none = technical_covariates("t.tsv", {}, ["S1", "S2"])
    assert none.empty and none.index.tolist() == ["S1", "S2"]
    with pytest.raises(ConfigError, match="config key technical names column"):
        technical_covariates("t.tsv", {"samples": str(sheet), "technical": ["batch"]}, ["S1"])
