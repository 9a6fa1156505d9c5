"""The QC record: warnings fire on degenerate tables and stay quiet on the exercise's."""

import numpy as np
import pandas as pd
import pytest

import moonlight as ml
from moonlight.crossval import cross_validate
from moonlight.qc import (count_record, orientation_warning, outlier_warnings, qc_table,
                          range_warnings, read_record, structure_warning, warnings_of)


def heldout(counts, ranks):
    return pd.concat([cross_validate(counts, r, folds=4, restarts=1, max_iter=300)
                      for r in ranks], ignore_index=True)


def test_identical_counts_have_no_structure():
    counts = pd.DataFrame(np.full((30, 20), 50.0))
    warning = structure_warning(heldout(counts, [1, 3]), 3)
    assert warning is not None and warning.kind == "no_structure"
    assert "does not beat rank 1" in warning.message


def test_planted_modules_are_structure():
    sim = ml.simulate(seed=3, n_genes=40, n_samples=20, n_modules=3, module_size=(8, 20),
                      n_moonlighting=2)
    assert structure_warning(heldout(sim.counts, [1, 3]), 3) is None


def test_structure_warning_uses_the_paired_fold_differences():
    folds = pd.DataFrame({"rank": [1] * 4 + [2] * 4, "fold": list(range(4)) * 2,
                          "heldout_loglik": [-100, -200, -300, -400, -90, -210, -290, -395]})
    # differences 10, -10, 10, 5: gain 15, se = 2 * sd = 17.3 > 15
    assert structure_warning(folds, 2).kind == "no_structure"
    folds.loc[folds["rank"] == 2, "heldout_loglik"] += 20
    assert structure_warning(folds, 2) is None
    assert structure_warning(folds, 1).kind == "no_structure"
    with pytest.raises(ValueError, match="ranks 1 and 3"):
        structure_warning(folds, 3)


def test_one_extreme_entry_is_named(w09_table):
    counts = ml.read_count_table(w09_table)
    assert outlier_warnings(counts) == []
    counts.loc["grape", "S7"] = 1e15
    (warning,) = outlier_warnings(counts)
    assert warning.kind == "outlier" and warning.message.startswith("gene grape, sample S7")
    record = qc_table(count_record(counts), [warning])
    assert warnings_of(record) == "outlier (gene grape, sample S7)"
    largest = record.loc[record["check"] == "largest_entry"]
    assert largest["detail"].iat[0].startswith("gene grape, sample S7")


def test_a_transposed_table_is_named(w09_table):
    """analyse(table.T) fitted samples as genes and called five samples moonlighting,
    with no warning; the rows' totals (samples' depths) spread 0.027 (log10 sd), the
    columns' (genes') 0.57."""
    counts = ml.read_count_table(w09_table)
    assert orientation_warning(counts) is None
    assert orientation_warning(counts.astype(pd.SparseDtype(float, 0))) is None
    warning = orientation_warning(counts.T)
    assert warning.kind == "orientation" and "transpose it (table.T)" in warning.message
    assert orientation_warning(counts.T.iloc[:, :9]) is None  # too few columns to judge
    from moonlight.pipeline import analyse
    record = analyse(counts.T, ranks=[2, 3], restarts=1).qc
    assert "orientation" in record.loc[record["check"] == "warning", "value"].tolist()


def test_sparse_tables_are_outside_the_validated_range(w09_table):
    assert range_warnings(ml.read_count_table(w09_table)) == []
    rng = np.random.default_rng(0)
    sparse = pd.DataFrame(rng.poisson(0.05, size=(100, 60)).astype(float))
    (warning,) = range_warnings(sparse)
    assert warning.kind == "outside_validated_range"
    assert "zero entries > 88%" in warning.message and "mean count per entry" in warning.message
    assert range_warnings(pd.DataFrame(rng.poisson(0.5, size=(100, 60)).astype(float))) == []


def test_record_of_a_read_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('"","s1","s2"\n"007",1,2\n"NA",0,0\n"x",3,4\n')
    read = ml.read_table(path)
    rows = read_record(read, genes_read=3, samples_read=2,
                       dropped={"genes": {"all-zero counts": ["NA"]}, "samples": {}})
    record = qc_table(rows, [])
    values = dict(zip(record["check"], record["value"]))
    assert values["header"] == "yes" and values["genes_dropped"] == "1"
    assert record.loc[record["check"] == "genes_dropped", "detail"].iat[0] == "all-zero counts: NA"
    assert warnings_of(record) == ""


def test_sparse_and_dense_counts_give_the_same_record(w09_table):
    from scipy import sparse

    from moonlight.counts import Counts

    counts = ml.read_count_table(w09_table)
    counts.loc["grape", "S7"] = 1e15
    counts.iloc[:50, :30] = 0  # zeros the sparse form does not store
    as_sparse = Counts(sparse.csr_array(counts.to_numpy()), list(counts.index),
                         list(counts.columns))
    assert count_record(as_sparse) == count_record(counts)
    assert outlier_warnings(as_sparse) == outlier_warnings(counts)
    assert range_warnings(as_sparse) == range_warnings(counts)


def test_rank_at_top_warns_only_for_the_largest_fitted_rank():
    from moonlight.qc import top_rank_warning
    table = pd.DataFrame({"rank": [2, 3, 4], "selected": [False, False, True]})
    warning = top_rank_warning(table)
    assert warning is not None and warning.kind == "rank_at_top"
    assert "largest rank fitted" in warning.message
    table["selected"] = [False, True, False]
    assert top_rank_warning(table) is None
    # rank 1 selected over fitted ranks (withhold_structureless) is no_structure's ...
    assert top_rank_warning(pd.DataFrame({"rank": [1, 2, 3],
                                          "selected": [True, False, False]})) is None
    # ... but rank 1 alone was all there was to choose: nothing was looked for
    alone = top_rank_warning(pd.DataFrame({"rank": [1], "selected": [True]}))
    assert alone.kind == "rank_at_top" and "only rank fitted" in alone.message
    folds = pd.DataFrame({"rank": [1] * 3, "fold": [0, 1, 2], "heldout_loglik": [-5.0] * 3})
    assert structure_warning(folds, 1) is None  # no_structure needs a rank to compare


def test_a_rank_with_more_parameters_than_training_entries_is_refused():
    """Rank 50 of the 100 x 60 table (7,950 parameters, 4,800 training entries a fold)
    gave a held-out log L of -7e16 and R = 1 with a no_structure warning."""
    from moonlight.config import ConfigError
    from moonlight.folds import check_size
    folds = {"folds": 5, "design": "entries"}
    check_size((100, 60), [2, 30], folds, source="t")  # 30 x 159 = 4,770 < 4,800
    with pytest.raises(ConfigError, match=r"config key ranks: rank 31 has 4929 free "
                                          r"parameters, no fewer than the 4800 entries .* "
                                          r"ranks up to 30 can be cross-validated"):
        check_size((100, 60), [2, 31], folds, source="t")
    with pytest.raises(ConfigError, match="of the blocks design"):
        check_size((100, 60), [31], {"folds": 5, "design": "blocks"}, source="t")


def test_a_selected_fit_stopped_at_its_sweep_cap_is_a_warning():
    """The best restart of the selected rank stopped at fit.max_iter: W, H and the calls
    may still move (seen with the known-batch model's multiplicative updates). A raced
    restart, stopped on purpose, is not counted among those that ran."""
    from moonlight.qc import convergence_warning
    restarts = pd.DataFrame({"restart": [0, 1, 2], "n_iter": [20000, 800, 300],
                             "converged": [False, True, False], "best": [True, False, False],
                             "stopped": [False, False, True]})
    warning = convergence_warning(restarts, 4)
    assert warning.kind == "not_converged"
    assert warning.message.startswith("the best restart of R = 4 stopped at its sweep cap "
                                      "(20000 sweeps) before its log likelihood settled "
                                      "(1 of 2 restarts converged)")
    restarts["best"] = [False, True, False]
    assert convergence_warning(restarts, 4) is None
    assert convergence_warning(None, 1) is None
    # a planted table's fit converges: no warning; capped at 5 sweeps, the warning
    fit = ml.fit_nmf(ml.simulate(seed=3).counts, 4, restarts=2, seed=0)
    assert convergence_warning(fit.restarts_frame(), 4) is None
    capped = ml.fit_nmf(ml.simulate(seed=3).counts, 4, restarts=2, seed=0, max_iter=5)
    assert convergence_warning(capped.restarts_frame(), 4).kind == "not_converged"


def test_class_record_lists_every_class():
    from moonlight.qc import class_record
    classes = pd.DataFrame({"gene": list("abcd"),
                            "class": ["specific", "broad", "broad", "unassigned"]})
    rows = {r["check"]: r for r in class_record(classes)}
    assert [rows[f"genes_{c}"]["value"] for c in
            ["specific", "moonlighting", "broad", "unassigned"]] == ["1", "0", "2", "1"]
    assert rows["genes_broad"]["detail"] == "50.0% of the fitted genes"


def test_candidates_whose_fits_stopped_at_the_cap_are_named():
    from moonlight.qc import capped_fits_warning
    candidates = pd.DataFrame({"gene": ["007", "NA", "g3"], "called": [True, False, True],
                               "fits_at_cap": [True, True, False]})
    warning = capped_fits_warning(candidates)
    assert warning is not None and warning.kind == "row_fit_cap"
    assert warning.message.startswith("2 of 3 moonlighting candidates (1 called)")
    assert "007, NA;" in warning.message
    candidates["fits_at_cap"] = False
    assert capped_fits_warning(candidates) is None
    assert capped_fits_warning(candidates.iloc[0:0]) is None


def test_a_rank_passed_over_for_its_restarts_is_named():
    """Three restarts found rank 4's best optimum once (matched cosine 0.81), so the rule
    took 3, two cell lines in one module: the warning names the rank it would have
    taken (passed_over of the rank table) with its held-out gain."""
    from moonlight.qc import stability_warning
    folds = pd.DataFrame({"rank": [3] * 4 + [4] * 4 + [5] * 4, "fold": list(range(4)) * 3,
                          "heldout_loglik": [-100, -200, -300, -400,
                                             -90, -190, -289, -391,
                                             -100, -201, -299, -400]})
    table = pd.DataFrame({"rank": [3, 4, 5], "selected": [True, False, False],
                          "passed_over": [False, True, False],
                          "matched_cosine": [0.99, 0.81, 0.7]})
    warning = stability_warning(table, folds)
    assert warning.kind == "unstable_rank"
    assert "R = 4 (held-out gain over R = 3 40" in warning.message
    assert "R = 5" not in warning.message and "matched cosine 0.81" in warning.message
    table["passed_over"] = False                  # unstable, but not the rule's choice
    assert stability_warning(table, folds) is None
    assert stability_warning(table.drop(columns="passed_over"), folds) is None
