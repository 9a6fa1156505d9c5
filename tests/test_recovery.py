"""Matching a fit to a planted truth."""

import numpy as np
import pandas as pd
import pytest

from moonlight.modules import call_memberships, moonlighting_genes, normalize_rows
from moonlight.recovery import match_modules, recovery_summary
from moonlight.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(seed=11)


def test_permuted_truth_is_recovered_perfectly(sim):
    order = [2, 0, 3, 1]
    W_fit = sim.W.iloc[:, order].set_axis(["M1", "M2", "M3", "M4"], axis=1)
    matching = match_modules(sim.W, W_fit)
    assert matching["true_module"].tolist() == [sim.W.columns[i] for i in order]
    np.testing.assert_allclose(matching["cosine"], 1.0)

    memberships = call_memberships(normalize_rows(W_fit), 0.1)
    summary, _ = recovery_summary(
        sim.membership, sim.W, W_fit, memberships, moonlighting_genes(memberships)
    )
    row = summary.iloc[0]
    assert row["rank_correct"] and row["genes_assigned_correctly"] == 1.0
    assert row["precision"] == 1.0 and row["recall"] == 1.0


def test_wrong_calls_lower_precision_recall_and_assignment(sim):
    memberships = call_memberships(normalize_rows(sim.W), 0.1)
    planted = sim.moonlighting
    single = sim.W.index[sim.membership.sum(axis=1) == 1][0]
    # Miss one planted gene, call one single-module gene.
    calls = pd.DataFrame({"gene": planted[1:] + [single]})
    memberships = memberships[memberships["gene"] != planted[0]]
    memberships = pd.concat(
        [memberships, pd.DataFrame([{"gene": planted[0], "module": "M1", "share": 1.0}])]
    )
    summary, _ = recovery_summary(sim.membership, sim.W, sim.W, memberships, calls)
    row = summary.iloc[0]
    assert row["precision"] == pytest.approx(2 / 3) and row["recall"] == pytest.approx(2 / 3)
    assert row["genes_assigned_correctly"] == pytest.approx(99 / 100)


def test_extra_fitted_module_has_no_partner(sim):
    extra = sim.W.assign(M5=np.full(len(sim.W), 1 / len(sim.W)))
    matching = match_modules(sim.W, extra)
    assert matching.set_index("module").loc["M5", "true_module"] == ""
    summary, _ = recovery_summary(
        sim.membership, sim.W, extra, call_memberships(normalize_rows(extra), 0.1),
        pd.DataFrame({"gene": []}),
    )
    assert not summary.iloc[0]["rank_correct"] and summary.iloc[0]["selected_rank"] == 5
    assert np.isnan(summary.iloc[0]["precision"]) and summary.iloc[0]["recall"] == 0.0


def test_broad_genes_count_as_right_only_when_classed_broad():
    sim = simulate(seed=11, n_broad=5)
    memberships = call_memberships(normalize_rows(sim.W), 0.1)
    top = memberships.drop_duplicates("gene")
    # The planted truth's classes: broad genes broad, moonlighters in both modules.
    keep = memberships[~memberships["gene"].isin(sim.broad)]
    classed = pd.concat([keep, top[top["gene"].isin(sim.broad)]])
    classed["class"] = np.where(classed["gene"].isin(sim.broad), "broad", "specific")
    called = pd.DataFrame({"gene": sim.moonlighting})
    summary, _ = recovery_summary(sim.membership, sim.W, sim.W, classed, called)
    row = summary.iloc[0]
    assert row["genes_assigned_correctly"] == 1.0
    assert (row["broad_planted"], row["broad_classed_broad"],
            row["broad_called_moonlighting"]) == (5, 5, 0)
    assert row["precision"] == 1.0 and row["recall"] == 1.0
    classed["class"] = "specific"
    summary, _ = recovery_summary(sim.membership, sim.W, sim.W, classed, called)
    assert summary.iloc[0]["genes_assigned_correctly"] == pytest.approx(1 - 5 / 105)


def test_a_two_module_truths_genes_in_both_are_broad_not_moonlighting():
    """In a truth of two modules a gene in both is in every module: broad, as the
    classes read it; with a third module the same gene is moonlighting."""
    from moonlight.recovery import planted_kinds
    truth = pd.DataFrame({"M1": [True, True, False], "M2": [True, False, True]},
                         index=["both", "one", "other"])
    moonlighting, broad = planted_kinds(truth)
    assert list(moonlighting) == [] and list(broad) == ["both"]
    moonlighting, broad = planted_kinds(truth.assign(M3=False))
    assert list(moonlighting) == ["both"] and list(broad) == []
    sim = simulate(seed=3, n_modules=2, n_genes=60, module_size=(20, 30))
    assert sim.moonlighting == [] and len(sim.broad) == 3


def test_a_gene_the_data_step_left_out_is_scored_as_missed(sim):
    """A fit over the genes that entered it (the data step may drop some): modules are
    matched on those genes, and a planted moonlighting gene left out is a miss."""
    planted = sim.membership.index[sim.membership.sum(axis=1) == 2]
    left_out = planted[0]
    W_fit = sim.W.drop(index=left_out).set_axis(["M1", "M2", "M3", "M4"], axis=1)
    memberships = call_memberships(normalize_rows(W_fit), 0.1)
    summary, matching = recovery_summary(
        sim.membership, sim.W, W_fit, memberships, moonlighting_genes(memberships))
    row = summary.iloc[0]
    assert matching["true_module"].tolist() == list(sim.W.columns)
    assert row["precision"] == 1.0
    assert row["recall"] == (len(planted) - 1) / len(planted)
    assert row["genes_assigned_correctly"] == 1 - 1 / len(sim.W)
    with pytest.raises(ValueError, match="1 gene.*the truth lacks.*'stray'"):
        recovery_summary(sim.membership, sim.W,
                         pd.concat([W_fit, W_fit.iloc[:1].set_axis(["stray"])]),
                         memberships, moonlighting_genes(memberships))
