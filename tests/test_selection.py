"""Choice of R: stability metric, the one-SE rule, and the exercise's table."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moonlight import read_count_table, module_sizes
from moonlight.pipeline import analyse
from moonlight.selection import paired_se, rank_table, select_rank
from moonlight.stability import (consensus_matrix, cophenetic_correlation, match_columns,
                                 near_best, stability_summary)

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w09-data.tbl"


def _W(rng, n=30, r=3):
    W = rng.random((n, r)) ** 4
    return W / W.sum(axis=0)


def test_stability_identical_restarts_is_one():
    W = _W(np.random.default_rng(0))
    s = stability_summary([W, W.copy(), W.copy()], [0.0, 0.0, 0.0], margin=1.0)
    assert s["matched_cosine"] == pytest.approx(1.0)
    assert s["cophenetic"] == 1.0 and s["n_near_best"] == 3


def test_stability_permuted_modules_is_one():
    W = _W(np.random.default_rng(1))
    perm, cos = match_columns(W, W[:, [2, 0, 1]])
    assert list(perm) == [1, 2, 0] and np.allclose(cos, 1.0)
    s = stability_summary([W, W[:, [2, 0, 1]], W[:, [1, 2, 0]]], [0, 0, 0], margin=1.0)
    assert s["matched_cosine"] == pytest.approx(1.0) and s["cophenetic"] == 1.0


def test_stability_drops_for_different_solutions():
    rng = np.random.default_rng(2)
    s = stability_summary([_W(rng), _W(rng), _W(rng)], [0, 0, 0], margin=1.0)
    assert s["matched_cosine"] < 0.9
    assert s["cophenetic"] < 1.0


def test_near_best_keeps_at_least_two():
    assert list(near_best([0.0, -100.0, -50.0], margin=1.0)) == [0, 2]
    assert list(near_best([0.0, -0.5, -50.0], margin=1.0)) == [0, 1]


def test_consensus_of_crisp_assignments():
    W = np.eye(3)[[0, 0, 1, 2]]
    C = consensus_matrix([W, W])
    assert C[0, 1] == 1 and C[0, 2] == 0 and cophenetic_correlation(C) == 1.0


def _table(cv, se, cosine):
    ranks = range(1, len(cv) + 1)
    restarts = pd.DataFrame({"rank": list(ranks), "loglik": [-1000.0 + r for r in ranks]})
    return rank_table(
        restarts, 50, 20,
        cv=pd.DataFrame({"rank": list(ranks), "cv_loglik": cv, "cv_se": se}),
        stability=pd.DataFrame({"rank": list(ranks), "n_near_best": 2,
                                "matched_cosine": cosine, "cophenetic": 1.0}),
    )


def test_one_se_rule_takes_the_smallest_rank_within_one_se():
    t = _table([-900, -500, -402, -400, -401], [5, 5, 5, 5, 5], [1, 1, 1, 1, 1])
    assert t.loc[t["selected"], "rank"].tolist() == [3]
    assert {"rank", "loglik", "bic", "aic", "cv_loglik", "cv_se", "matched_cosine",
            "cophenetic", "selected"} <= set(t.columns)


def test_stability_floor_excludes_unstable_ranks():
    t = _table([-900, -500, -402, -400, -401], [5, 5, 5, 5, 5], [1, 1, 0.5, 1, 1])
    assert t.loc[t["selected"], "rank"].tolist() == [4]


def test_bic_fallback_without_cross_validation():
    restarts = pd.DataFrame({"rank": [1, 2, 3], "loglik": [-5000.0, -1000.0, -990.0]})
    t = rank_table(restarts, 50, 20)
    assert t.loc[t["selected"], "rank"].tolist() == [2]
    assert select_rank(pd.DataFrame({"rank": [1, 2], "cv_loglik": [-9.0, -1.0],
                                     "cv_se": [1.0, 1.0]})).tolist() == [False, True]


@pytest.mark.skipif(not REAL.is_file(), reason="exercise table not available")
def test_real_table_selects_four_modules_and_three_supported_moonlighting_genes():
    counts = read_count_table(REAL)
    res = analyse(counts, [3, 4, 5], restarts=4, fit={"seed": 0, "max_iter": 5000})
    assert res.rank == 4
    assert sorted(module_sizes(res.memberships, list(res.W.columns))) == [20, 20, 20, 43]
    called = res.moonlighting.set_index("gene")
    assert sorted(called.index) == ["cranberry", "grape", "tomato"]
    assert (called["support"] == 1.0).all()
    assert (called["q"] <= 0.05).all()
    # the QC record: the table as fitted, the classes, and no warning on this table
    qc = res.qc.set_index("check")["value"]
    assert qc["genes"] == "100" and qc["samples"] == "60" and "warning" not in qc.index
    assert int(qc["genes_moonlighting"]) == 3
    # the held-out folds behind the table: every fitted rank and rank 1, each rank's
    # folds summing to its cv_loglik, and the rule applied to them again selects R = 4
    folds = res.heldout
    assert sorted(folds["rank"].unique()) == [1, 3, 4, 5]
    sums = folds.groupby("rank")["heldout_loglik"].sum()
    table = res.table.set_index("rank")
    assert np.allclose(sums.loc[[3, 4, 5]], table.loc[[3, 4, 5], "cv_loglik"], rtol=1e-12)
    again = select_rank(res.table, cv_folds=folds[folds["rank"] > 1])
    assert res.table.loc[again, "rank"].tolist() == [4]


def test_rank_selection_figure_with_and_without_cross_validation(tmp_path):
    from moonlight.plots import plot_rank_selection

    t = _table([-900, -500, -402, -400, -401], [5, 5, 5, 5, 5], [1, 1, 1, 1, 1])
    plot_rank_selection(t, tmp_path / "all.png", title="t", min_stability=0.9)
    restarts = pd.DataFrame({"rank": [1, 2, 3], "loglik": [-5000.0, -1000.0, -990.0]})
    plot_rank_selection(rank_table(restarts, 50, 20), tmp_path / "bic.png")
    assert (tmp_path / "all.png").stat().st_size > 0 and (tmp_path / "bic.png").stat().st_size > 0


# BIC (the rule when no cross-validation is given)


def restarts_table(best_by_rank, spread=1.0):
    rows = []
    for rank, best in best_by_rank.items():
        rows += [{"rank": rank, "loglik": best}, {"rank": rank, "loglik": best - spread}]
    return pd.DataFrame(rows)


def test_bic_known_values_and_choice():
    # N=10, M=5: k = R * 14 free parameters; n = 50 observations.
    table = rank_table(restarts_table({1: -1000.0, 2: -900.0, 3: -890.0}), 10, 5)
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["n_params"].tolist() == [14, 28, 42]
    expected = [2000 + 14 * np.log(50), 1800 + 28 * np.log(50), 1780 + 42 * np.log(50)]
    np.testing.assert_allclose(table["bic"], expected)
    np.testing.assert_allclose(table["aic"], [2028, 1856, 1864])
    assert table["loglik_spread"].tolist() == [1.0, 1.0, 1.0]
    # 2 -> 3 gains 10 in log L but costs 14 log(50) / 2 = 27.4: R = 2.
    assert table.loc[table["selected"], "rank"].tolist() == [2]


def test_ties_go_to_the_smaller_rank():
    table = rank_table(pd.DataFrame({"rank": [3, 2], "loglik": [0.0, 0.0]}), 1, 1)
    # n_params differ with R, so equal BIC needs N + M - 1 = 1 and log(NM) = 0.
    assert table.loc[table["selected"], "rank"].tolist() == [2]


def test_bad_input():
    with pytest.raises(ValueError, match="lacks"):
        rank_table(pd.DataFrame({"rank": [1]}), 3, 3)
    with pytest.raises(ValueError, match="no fits"):
        rank_table(pd.DataFrame({"rank": [], "loglik": []}), 3, 3)


def test_cophenetic_of_a_big_table_uses_a_bounded_gene_sample(monkeypatch):
    """The N x N consensus is never built for all genes of a big table (16 GB at 20,000)."""
    from moonlight import stability

    monkeypatch.setattr(stability, "COPHENETIC_MAX_GENES", 50)
    rows = stability.cophenetic_genes(1000)
    assert len(rows) == 50 and rows[0] == 0 and rows[-1] == 999
    assert np.array_equal(stability.cophenetic_genes(40), np.arange(40))
    sizes = []
    real = stability.consensus_matrix
    monkeypatch.setattr(stability, "consensus_matrix",
                        lambda Ws: sizes.append(Ws[0].shape[0]) or real(Ws))
    rng = np.random.default_rng(0)
    Ws = [rng.random((1000, 3)) for _ in range(3)]
    stability.stability_summary(Ws, [0.0, -1.0, -2.0], margin=5.0, rank=3)
    assert sizes == [50]


# The paired standard error


def _folds(values):
    """Per-fold table from {rank: [fold values]}."""
    return pd.DataFrame([{"rank": r, "fold": k, "heldout_loglik": v}
                         for r, vs in values.items() for k, v in enumerate(vs)])


def test_paired_se_is_the_se_of_the_fold_differences():
    folds = _folds({2: [-100.0, -210.0, -150.0], 3: [-98.0, -205.0, -149.0]})
    se = paired_se(folds, 3)
    assert se[3] == 0.0
    assert se[2] == pytest.approx(np.sqrt(3) * np.std([2.0, 5.0, 1.0], ddof=1))


def test_paired_se_separates_ranks_that_the_fold_to_fold_spread_hides():
    # Fold sums vary by ~100 for every rank alike; rank 3 beats rank 2 by 3-5 in every
    # fold. Unpaired, rank 2 is within one SE of rank 3; paired, it is not.
    folds = _folds({2: [-1000.0, -1100.0, -1200.0, -1050.0],
                    3: [-995.0, -1096.0, -1195.0, -1047.0]})
    cv = folds.groupby("rank")["heldout_loglik"].agg(["sum", "std"]).reset_index()
    cv = pd.DataFrame({"rank": cv["rank"], "cv_loglik": cv["sum"],
                       "cv_se": 2.0 * cv["std"]})
    restarts = pd.DataFrame({"rank": [2, 3], "loglik": [-10.0, -9.0]})
    assert rank_table(restarts, 50, 20, cv=cv).set_index("rank")["selected"][2]
    table = rank_table(restarts, 50, 20, cv=cv, cv_folds=folds).set_index("rank")
    assert table["selected"][3] and table.loc[3, "cv_se_diff"] == 0.0


def test_cv_folds_must_cover_every_rank_on_the_same_folds():
    folds = _folds({2: [-1.0, -2.0], 3: [-1.0]})
    with pytest.raises(ValueError, match="same folds"):
        paired_se(folds, 2)
    with pytest.raises(ValueError, match="needs cv"):
        rank_table(pd.DataFrame({"rank": [2], "loglik": [0.0]}), 5, 5, cv_folds=folds)


def _cv_table(cv):
    ranks = sorted(cv)
    return pd.DataFrame({"rank": ranks, "cv_loglik": [cv[r] for r in ranks],
                         "cv_se": [1.0] * len(ranks)})


def test_gain_shares_are_each_steps_share_of_the_best_gain():
    from moonlight.selection import gain_shares
    table = _cv_table({2: -60.0, 3: -20.0, 4: -15.0, 5: -10.0})
    shares = gain_shares(table, baseline=-110.0, best=-10.0)
    assert shares.tolist() == pytest.approx([0.5, 0.4, 0.05, 0.05])
    assert gain_shares(table, baseline=-5.0, best=-10.0).isna().all()


def test_the_cap_stops_before_the_first_small_step():
    from moonlight.selection import gain_shares, select_rank
    # Held-out log L rising by more than a standard error up to R = 5, but the steps
    # past R = 3 add 5% of the gain each: the cap selects 3, without it the rule 5.
    table = _cv_table({2: -60.0, 3: -20.0, 4: -15.0, 5: -10.0})
    table["gain_share"] = gain_shares(table, baseline=-110.0, best=-10.0)
    pick = lambda g: int(table.loc[select_rank(table, min_gain=g), "rank"].iat[0])  # noqa: E731
    assert pick(0.0) == 5 and pick(0.1) == 3 and pick(0.04) == 5
    # A first step below the floor caps nothing (the no-structure warning speaks then).
    table["gain_share"] = [0.01, 0.5, 0.3, 0.19]
    assert pick(0.1) == 5


def _fold_values(cv, noise=0.1, k=5, seed=0):
    """Per-fold held-out values summing to ``cv`` (rank -> total) over k folds."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0, 1, size=k)  # what every rank shares: a fold's size
    return pd.DataFrame([{"rank": r, "fold": f, "heldout_loglik": total / k + shared[f]
                          + noise * rng.normal()} for r, total in cv.items()
                         for f in range(k)])


def test_the_cap_when_rising_keeps_a_small_step_where_the_heldout_likelihood_stops():
    from moonlight.selection import first_stop, gain_shares, rule_in_words, select_rank

    def pick(cv, when, stopped=0.025):
        table = _cv_table(cv)
        table["gain_share"] = gain_shares(table, baseline=-110.0, best=max(cv.values()))
        folds = _fold_values(cv)
        return int(table.loc[select_rank(table, cv_folds=folds, min_gain=0.1,
                                         cap_when=when, min_gain_stopped=stopped),
                             "rank"].iat[0])

    # Two similar sources: the step to R = 4 adds 8% of the gain, R = 5 adds nothing and
    # R = 6 a little again. Always capped, the rule stops at 3; capped only where the
    # held-out log L rises step by step through the range, it stops where the steps do.
    similar = {2: -60.0, 3: -18.0, 4: -10.0, 5: -10.5, 6: -9.0}
    assert first_stop(_fold_values(similar), similar) == 4
    assert pick(similar, "always") == 3 and pick(similar, "rising") == 4
    # Stopping at R = 5 after a step of 1% of the gain (significant: 1.0 against an SE
    # of about 0.3), as a module that follows an unmodelled plate does: the lower floor
    # drops it, and without that floor the one-SE rule keeps it.
    plate = {2: -60.0, 3: -18.0, 4: -10.0, 5: -9.0, 6: -9.5}
    assert first_stop(_fold_values(plate), plate) == 5
    assert pick(plate, "rising") == 4 and pick(plate, "rising", stopped=0.0) == 5
    assert pick(similar, "rising", stopped=0.0) == 4  # 8% is above the lower floor
    # Every step significant up to the largest rank: capped either way.
    rising = {2: -60.0, 3: -20.0, 4: -15.0, 5: -10.0}
    assert first_stop(_fold_values(rising), rising) == 5
    assert pick(rising, "always") == pick(rising, "rising") == 3
    table = _cv_table(rising)
    with pytest.raises(ValueError, match="cap_when"):
        select_rank(table, cap_when="sometimes")
    assert "standard error of held-out" in rule_in_words(0.9, 0.1, "rising")
    assert "standard error of held-out" not in rule_in_words(0.9, 0.1, "always")
    assert "step" not in rule_in_words(0.9, 0.0, "always")
    assert "0.025 of the best" in rule_in_words(0.9, 0.1, "rising", 0.025)
    assert "0.025" not in rule_in_words(0.9, 0.1, "rising", 0.0)


def test_a_cap_on_a_likelihood_still_rising_warns_and_grows_the_range():
    """Fitted to 2..5 with every step significant, the cap stops at 4 (the step to 5
    adds 0.04 of the gain); fitted to 6 the likelihood stops at 5 and the rule takes 5
    (five cell lines on 10x fitted to 2..5 and to 2..7 did just this)."""
    from moonlight.crossval import cv_summary
    from moonlight.qc import top_rank_warning
    from moonlight.selection import next_rank, rank_table, selected_rank, still_rising

    def table_of(cv):
        folds = _fold_values(cv)
        restarts = pd.DataFrame({"rank": list(cv), "loglik": list(cv.values())})
        return rank_table(restarts, 100, 60, cv=cv_summary(folds), cv_folds=folds,
                          baseline=-110.0)

    cv = {2: -60.0, 3: -30.0, 4: -14.0, 5: -10.0}
    table = table_of(cv)
    assert table["beats_previous"].isna().tolist() == [True, False, False, False]
    assert table["beats_previous"].iloc[1:].tolist() == [True, True, True]
    assert selected_rank(table) == 4 and still_rising(table)
    assert next_rank(table, 8) == 6 and next_rank(table, 5) is None
    warning = top_rank_warning(table)
    assert warning.kind == "rank_at_top"
    assert re.search(r"stopped R at 4, before the step to 5, which took 0\.0[34]\d* of",
                     warning.message)
    grown = table_of({**cv, 6: -10.5})
    assert selected_rank(grown) == 5 and not still_rising(grown)
    assert grown["beats_previous"].iloc[-1] == False  # noqa: E712 (a pandas NA-able bool)
    assert next_rank(grown, 8) is None and top_rank_warning(grown) is None


def test_passed_over_marks_the_unstable_rank_the_rule_would_have_chosen():
    """Rank 4 beats 3 clearly and 5 adds nothing to it: unstable, 4 is passed over (the
    rule takes 3); rank 5, unstable too, would be chosen if stable (its step, from the
    stable 3, is most of the gain), so it is passed over too."""
    from moonlight.crossval import cv_summary
    from moonlight.selection import selected_rank
    cv = {2: -60.0, 3: -30.0, 4: -14.0, 5: -14.1}
    folds = _fold_values(cv)
    restarts = pd.DataFrame({"rank": list(cv), "loglik": list(cv.values())})
    stability = pd.DataFrame({"rank": list(cv), "n_near_best": 3, "cophenetic": 1.0,
                              "matched_cosine": [1.0, 1.0, 0.81, 0.7]})
    table = rank_table(restarts, 100, 60, cv=cv_summary(folds), cv_folds=folds,
                       stability=stability, baseline=-110.0)
    assert selected_rank(table) == 3
    assert table["passed_over"].tolist() == [False, False, True, True]
    stability["matched_cosine"] = 1.0
    agreed = rank_table(restarts, 100, 60, cv=cv_summary(folds), cv_folds=folds,
                        stability=stability, baseline=-110.0)
    assert selected_rank(agreed) == 4 and not agreed["passed_over"].any()


def test_the_cap_measures_steps_between_stable_ranks():
    """Rank 4's restarts disagree: rank 5's step is measured from 3 (0.17 of the gain,
    above the floor), not from 4 (nothing), so the rule keeps 5; with 4 stable the step
    to 5 adds nothing and the cap stops at 4. The cap never lands on an unstable rank,
    and an unstable smallest rank does not lift it."""
    from moonlight.crossval import cv_summary
    from moonlight.selection import selected_rank

    def table(cv, cosines, cap_when):
        folds = _fold_values(cv)
        restarts = pd.DataFrame({"rank": list(cv), "loglik": list(cv.values())})
        stability = pd.DataFrame({"rank": list(cv), "n_near_best": 3, "cophenetic": 1.0,
                                  "matched_cosine": cosines})
        return rank_table(restarts, 100, 60, cv=cv_summary(folds), cv_folds=folds,
                          stability=stability, baseline=-110.0, cap_when=cap_when)

    cv = {2: -60.0, 3: -30.0, 4: -14.0, 5: -14.1, 6: -14.05}
    for cap_when in ("always", "rising"):
        unstable_four = table(cv, [1.0, 1.0, 0.81, 1.0, 0.7], cap_when)
        assert selected_rank(unstable_four) == 5
        assert unstable_four["gain_share"].iloc[3] > 0.1  # 3 -> 5
        assert selected_rank(table(cv, 1.0, cap_when)) == 4
    # rank 2 unstable, the step to 5 0.08 of the gain: capped at 4, not left uncapped
    cv = {2: -40.0, 3: -39.0, 4: -20.0, 5: -12.0, 6: -11.9, 7: -11.0, 8: -10.9}
    assert selected_rank(table(cv, [0.5] + [1.0] * 6, "always")) == 4


def test_next_rank_grows_the_range_only_while_the_rule_picks_its_top():
    from moonlight.selection import next_rank
    table = pd.DataFrame({"rank": [2, 3, 4], "selected": [False, False, True]})
    assert next_rank(table, 6) == 5
    assert next_rank(table, 4) is None and next_rank(table, None) is None
    table["selected"] = [False, True, False]
    assert next_rank(table, 6) is None  # stopped inside the range


def test_selected_rank_reads_the_one_marked_rank():
    from moonlight.selection import selected_rank
    table = pd.DataFrame({"rank": [2, 3, 4], "selected": [False, True, False]})
    assert selected_rank(table) == 3
    with pytest.raises(ValueError, match="marks one rank selected, this one 0"):
        selected_rank(table.assign(selected=False))
    with pytest.raises(ValueError, match="this one 2"):
        selected_rank(table.assign(selected=[True, True, False]))


def test_no_structure_reports_rank_one_and_calls_nothing():
    """Poisson noise around every gene's share of the depths: no rank beats rank 1 on
    held-out data, so R = 1 is reported, no gene is called, and the QC record says why."""
    rng = np.random.default_rng(7)
    depth = rng.uniform(500, 1500, size=30)
    share = rng.dirichlet(np.ones(40))
    counts = pd.DataFrame(rng.poisson(np.outer(share, depth)).astype(float),
                          index=[f"g{i}" for i in range(40)],
                          columns=[f"s{j}" for j in range(30)])
    result = analyse(counts, [2, 3], restarts=3)
    assert result.rank == 1 and result.W.shape == (40, 1)
    assert result.table["rank"].tolist() == [1, 2, 3]
    assert result.table["selected"].tolist() == [True, False, False]
    assert result.moonlighting.empty and result.calls.associations.empty
    warned = result.qc.loc[result.qc["check"] == "warning", "value"].tolist()
    assert "no_structure" in warned
    # W is the closed-form rank-1 fit: each gene's share of the total
    np.testing.assert_allclose(result.W["M1"], counts.sum(axis=1) / counts.to_numpy().sum())


def test_structure_gain_is_paired_over_the_folds():
    from moonlight.selection import structure_gain, withhold_structureless
    folds = pd.DataFrame({"rank": [1, 1, 1, 2, 2, 2], "fold": [0, 1, 2] * 2,
                          "heldout_loglik": [-10.0, -12.0, -11.0, -9.0, -11.5, -10.0]})
    gain, se = structure_gain(folds, 2)
    d = np.array([1.0, 0.5, 1.0])
    assert gain == pytest.approx(d.sum()) and se == pytest.approx(np.sqrt(3) * d.std(ddof=1))
    table = pd.DataFrame({"rank": [2], "cv_loglik": [-30.5], "cv_se": [1.0],
                          "selected": [True]})
    baseline, scored = folds[folds["rank"] == 1], folds[folds["rank"] == 2]
    assert withhold_structureless(table, scored, baseline) is table  # 2.5 > SE
    flat = scored.assign(heldout_loglik=baseline["heldout_loglik"].to_numpy() + [0.1, -0.1, 0])
    kept = withhold_structureless(table, flat, baseline)
    assert kept["rank"].tolist() == [1, 2] and kept["selected"].tolist() == [True, False]
