"""Ranked genes per module and gene-set files, checked against W and the memberships."""

import numpy as np
import pandas as pd
import pytest

from moonlight.genesets import gmt_lines, rank_genes, top_genes, write_gmt
from moonlight.modules import call_memberships, keep_called, normalize_rows

# Columns already sum to one; b and d are in two modules at threshold 0.1.
W = pd.DataFrame(
    [[0.5, 0.0, 0.0], [0.3, 0.3, 0.0], [0.2, 0.05, 0.0], [0.0, 0.65, 1.0]],
    index=["a", "b", "c", "d"],
    columns=["M1", "M2", "M3"],
)


def memberships_of(W, threshold=0.1, called=("b", "d")):
    return keep_called(call_memberships(normalize_rows(W), threshold), list(called))


def test_known_table():
    table = rank_genes(W, memberships_of(W), ["b", "d"])
    assert table.columns.tolist() == ["module", "rank", "gene", "weight", "share",
                                      "specificity", "moonlighting", "class"]
    rows = list(zip(table["module"], table["rank"], table["gene"]))
    assert rows == [("M1", 1, "a"), ("M1", 2, "b"), ("M1", 3, "c"),
                    ("M2", 1, "d"), ("M2", 2, "b"), ("M3", 1, "d")]
    d_m2 = table[(table["gene"] == "d") & (table["module"] == "M2")].iloc[0]
    assert d_m2["weight"] == pytest.approx(0.65)
    assert d_m2["share"] == pytest.approx(0.65 / 1.65)
    # share * log2(N * weight), N = 4 genes.
    assert d_m2["specificity"] == pytest.approx(0.65 / 1.65 * np.log2(4 * 0.65))
    a = table[table["gene"] == "a"].iloc[0]
    assert a["share"] == 1.0 and a["specificity"] == pytest.approx(1.0)  # log2(4 * 0.5)
    assert table.set_index(["gene", "module"])["moonlighting"].to_dict() == {
        ("a", "M1"): False, ("b", "M1"): True, ("c", "M1"): False,
        ("d", "M2"): True, ("b", "M2"): True, ("d", "M3"): True}


def test_ranking_agrees_with_W_of_a_fit():
    """On a fitted W: same pairs as the memberships, genes by decreasing W column."""
    from moonlight import fit_nmf, simulate

    sim = simulate(n_genes=80, n_samples=30, n_modules=3, seed=3)
    fit = fit_nmf(sim.counts, 3, restarts=2, seed=0)
    W_fit = fit.W_frame() * [2.0, 5.0, 0.1]  # any column scale
    members = memberships_of(W_fit, called=sim.moonlighting)
    table = rank_genes(W_fit, members, sim.moonlighting)
    assert sorted(zip(table["gene"], table["module"])) == sorted(
        zip(members["gene"], members["module"]))
    Wc = W_fit / W_fit.sum(axis=0)
    for module, part in table.groupby("module"):
        expected = Wc.loc[part["gene"], module].sort_values(ascending=False, kind="stable")
        assert part["gene"].tolist() == expected.index.tolist()
        assert part["rank"].tolist() == list(range(1, len(part) + 1))
        np.testing.assert_allclose(part["weight"], expected.to_numpy())
    np.testing.assert_allclose(
        table["share"],
        normalize_rows(W_fit).to_numpy()[W_fit.index.get_indexer(table["gene"]),
                                          W_fit.columns.get_indexer(table["module"])])
    assert table["moonlighting"].equals(table["gene"].isin(sim.moonlighting))


def test_top_genes_summary():
    table = rank_genes(W, memberships_of(W), ["b", "d"])
    top = top_genes(table, 2)
    assert top["module"].tolist() == ["M1", "M2", "M3"]
    assert top["top_genes"].tolist() == ["a, b", "d, b", "d"]
    assert top["n_genes"].tolist() == [3, 2, 1]
    assert top["n_moonlighting"].tolist() == [1, 2, 1]
    assert top["moonlighting_genes"].tolist() == ["b", "d, b", "d"]
    # p outweighs q in M1 but has only 0.4 of its loading there:
    # p: 0.4 * log2(4 * 0.4) = 0.27 < q: 1 * log2(4 * 0.35) = 0.49 > r: 1 * log2(1) = 0.
    W2 = pd.DataFrame([[0.4, 0.6], [0.35, 0.0], [0.25, 0.0], [0.0, 0.4]],
                      index=["p", "q", "r", "s"], columns=["M1", "M2"])
    table2 = rank_genes(W2, memberships_of(W2, called=["p"]), ["p"])
    assert top_genes(table2, 3)["top_genes"].iat[0] == "p, q, r"
    assert top_genes(table2, 3, by="specificity")["top_genes"].iat[0] == "q, p, r"
    with pytest.raises(ValueError, match="positive integer"):
        top_genes(table, 0)
    with pytest.raises(ValueError, match="by must be"):
        top_genes(table, 3, by="share")


def test_bad_input():
    members = memberships_of(W)
    with pytest.raises(ValueError, match="not in W"):
        rank_genes(W.drop(index="c"), members)
    with pytest.raises(ValueError, match="module\\(s\\) not in W"):
        rank_genes(W.drop(columns="M3").assign(M4=1.0), members)
    with pytest.raises(ValueError, match="sum to zero"):
        rank_genes(W.assign(M3=0.0), members)
    with pytest.raises(ValueError, match="no weight"):
        rank_genes(pd.concat([W, pd.DataFrame([[0.0, 0, 0]], index=["z"], columns=W.columns)]),
                   members)
    with pytest.raises(ValueError, match="lacks"):
        rank_genes(W, members.drop(columns="module"))


# GMT


def test_gmt_lines_match_the_membership_table(tmp_path):
    """Written, read back as modules.tsv is (strings), every line is one module's genes."""
    from moonlight import read_tsv, write_tsv

    write_tsv(memberships_of(W), tmp_path / "modules.tsv", index=False)
    members = read_tsv(tmp_path / "modules.tsv", index_col=None)
    write_gmt(members, tmp_path / "modules.gmt", prefix="w09_")
    text = (tmp_path / "modules.gmt").read_text()
    assert text.endswith("\n") and "\r" not in text
    lines = [line.split("\t") for line in text.splitlines()]
    assert [line[0] for line in lines] == ["w09_M1", "w09_M2", "w09_M3"]
    assert lines[1][1] == "moonlight module M2: 2 genes, 2 moonlighting"
    from_gmt = sorted((g, name.removeprefix("w09_")) for name, _, *genes in lines
                      for g in genes)
    assert from_gmt == sorted(zip(members["gene"], members["module"]))
    assert lines[0][2:] == ["a", "b", "c"]  # table order: genes as modules.tsv lists them
    # The ranked table gives the same sets, genes by decreasing weight.
    ranked = gmt_lines(rank_genes(W, members, ["b", "d"]))
    assert ranked[1].split("\t")[2:] == ["d", "b"]


def test_gmt_module_order_names_and_errors():
    members = pd.DataFrame({"gene": ["x", "y", "z"], "module": ["M10", "M2", "M2"]})
    assert [line.split("\t")[0] for line in gmt_lines(members)] == ["M2", "M10"]
    lines = gmt_lines(members, modules=["M10", "M5", "M2"], descriptions={"M2": "two"})
    assert lines == ["M10\tmoonlight module M10: 1 gene, 0 moonlighting\tx",
                     "M2\ttwo\ty\tz"]  # M5 has no members: no line
    # Names that look like numbers stay as written.
    assert gmt_lines(pd.DataFrame({"gene": ["007", "1e3"], "module": ["M1", "M1"]}))[0] \
        .endswith("\t007\t1e3")
    with pytest.raises(ValueError, match="tab or line break"):
        gmt_lines(pd.DataFrame({"gene": ["a\tb"], "module": ["M1"]}))
    with pytest.raises(ValueError, match="not in modules"):
        gmt_lines(members, modules=["M2"])
    with pytest.raises(ValueError, match="lacks"):
        gmt_lines(members.drop(columns="gene"))
