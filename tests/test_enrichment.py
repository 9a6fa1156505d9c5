"""moonlight.enrichment: planted modules are found in their own gene sets, random sets
are not, and gene-set files are read with their errors named."""

import sys

import numpy as np
import pandas as pd
import pytest

import moonlight as ml
from moonlight.enrichment import coverage_warning, enrichment, module_enrichment, set_coverage
from moonlight.genesets import GeneSetError, read_gmt
from moonlight.pipeline import analyse


@pytest.fixture(scope="module")
def planted():
    sim = ml.simulate(seed=11)
    result = analyse(sim.counts, [3, 4, 5], restarts=4)
    truth = sim.membership
    sets = {f"true_{m}": list(truth.index[truth[m]]) for m in truth.columns}
    rng = np.random.default_rng(0)
    genes = list(sim.counts.index)
    random = {f"random_{i}": list(rng.choice(genes, size=15, replace=False)) for i in range(50)}
    return result, sets, random


def test_each_module_tops_its_planted_set_and_no_random_set_is_called(planted):
    result, sets, random = planted
    table = enrichment(result.W, result.memberships, {**sets, **random})
    for test in ("overlap", "ranked"):
        best = table[table["test"] == test].sort_values("q").groupby("module").head(1)
        assert sorted(best["set"]) == sorted(sets)       # one planted set per module
        assert (best["q"] < 1e-6).all()
        noise = table[(table["test"] == test) & table["set"].str.startswith("random")]
        assert (noise["q"] <= 0.05).sum() == 0
    top = table[(table["test"] == "overlap")].sort_values("q").iloc[0]
    assert top["statistic"] > 3 and set(top["leading_genes"].split(",")) <= set(sets[top["set"]])


def test_hypergeometric_tail_by_hand():
    from scipy.stats import hypergeom
    W = pd.DataFrame({"M1": [5, 4, 3, 0.1, 0.1, 0.1], "M2": [0.1, 0.1, 0.1, 5, 4, 3]},
                     index=[f"g{i}" for i in range(6)])
    members = pd.DataFrame({"gene": ["g0", "g1", "g2", "g3", "g4", "g5"],
                            "module": ["M1"] * 3 + ["M2"] * 3})
    table = enrichment(W, members, {"A": ["g0", "g1", "x"]}, min_set_size=2)
    row = table[(table["test"] == "overlap") & (table["module"] == "M1")].iloc[0]
    assert (row["overlap"], row["module_size"], row["set_size"], row["universe"]) == (2, 3, 2, 6)
    assert row["p"] == pytest.approx(hypergeom.sf(1, 6, 2, 3))
    assert row["leading_genes"] == "g0,g1"


def test_coverage_names_sets_outside_the_table_and_the_identifier_mistake():
    genes = [f"GENE{i}" for i in range(100)]
    coverage = set_coverage({"ok": genes[:10], "ensembl": [f"ENSG{i:011d}" for i in range(10)]},
                            genes)
    assert coverage["fraction"].tolist() == [1.0, 0.0]
    message = coverage_warning(coverage, 0.5)
    assert message.startswith("1 of 2 gene sets have fewer than 50% of their genes")
    only_ids = set_coverage({"a": ["ENSG1", "ENSG2"], "b": ["ENSG3"]}, genes)
    assert "symbols and the table in Ensembl IDs" in coverage_warning(only_ids, 0.5)
    assert coverage_warning(set_coverage({"ok": genes[:5]}, genes), 0.5) is None
    # a set left with too few genes is not tested at all: the warning says so
    assert message.endswith("each keeps fewer than enrichment.min_set_size = 5 genes and "
                            "is not tested.")
    mixed = set_coverage({"small": genes[:2] + ["X1", "X2", "X3"] * 2,
                          "large": genes[:8] + [f"X{i}" for i in range(20)]}, genes)
    assert coverage_warning(mixed, 0.5, 5).endswith(
        "1 of them keep fewer than enrichment.min_set_size = 5 genes and are not tested; "
        "the others' tests see only the genes the table has.")
    assert coverage_warning(mixed, 0.5, 2).endswith("their tests see only those genes.")


def test_gmt_files_from_a_path_or_an_installed_package(tmp_path, monkeypatch):
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("A\tdesc\tg1\tg2\tg2\nB\t\t007\tNA\n")
    assert read_gmt(gmt) == {"A": ["g1", "g2"], "B": ["007", "NA"]}   # names as strings
    package = tmp_path / "site" / "genesetpkg"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "hallmark.gmt").write_text("H1\tx\tg1\tg2\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert read_gmt("genesetpkg:data/hallmark.gmt") == {"H1": ["g1", "g2"]}
    bad = tmp_path / "bad.gmt"
    bad.write_text("A\tdesc\tg1\nB\tdesc\n")
    with pytest.raises(GeneSetError, match=r"bad.gmt, line 2: a gene set needs a name"):
        read_gmt(bad)
    with pytest.raises(GeneSetError, match="no gene-set file"):
        read_gmt("genesetpkg:data/missing.gmt")
    sys.modules.pop("genesetpkg", None)


def test_analyse_runs_the_step_and_the_qc_says_when_sets_miss_the_table(planted, tmp_path):
    result, sets, _ = planted
    gmt = tmp_path / "planted.gmt"
    gmt.write_text("".join(f"{name}\tplanted\t" + "\t".join(genes) + "\n"
                           for name, genes in sets.items())
                   + "ids\tEnsembl\t" + "\t".join(f"ENSG{i}" for i in range(20)) + "\n")
    step = module_enrichment(result.W, result.memberships, [str(gmt)])
    assert step.warning.startswith("1 of 5 gene sets")
    assert set(step.table["set"]) == set(sets)                # "ids" has no gene to test
    sim = ml.simulate(seed=11)
    again = analyse(sim.counts, [3, 4, 5], restarts=4, gene_sets=[str(gmt)])
    pd.testing.assert_frame_equal(again.enrichment, step.table)
    assert "gene_set_coverage" in again.qc.loc[again.qc["check"] == "warning", "value"].tolist()
