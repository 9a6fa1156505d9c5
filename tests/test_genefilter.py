"""moonlight.genefilter: exclude_genes takes names and patterns; the QC names modules
made of mitochondrial or ribosomal genes."""

import pandas as pd

from moonlight.genefilter import excluded_genes, is_pattern, mito_ribo_modules
from moonlight.prepare import prepare_table
from moonlight.qc import mito_ribo_warnings


def test_names_match_exactly_and_patterns_are_searched():
    genes = ["MT-CO1", "MT-ND2", "RPS3", "RPL10", "AC004.1", "ACX004Z1", "MALAT1", "GAPDH"]
    mask, taken = excluded_genes(genes, ["^MT-", r"^RP[SL]\d", "AC004.1", "MALAT1", "^XIST$"])
    assert [g for g, out in zip(genes, mask) if out] == ["MT-CO1", "MT-ND2", "RPS3", "RPL10",
                                                          "AC004.1", "MALAT1"]
    assert taken == {"^MT-": 2, r"^RP[SL]\d": 2, "AC004.1": 1, "MALAT1": 1, "^XIST$": 0}
    assert not is_pattern("AC004.1") and is_pattern("^MT-")


def test_the_data_step_drops_them_and_the_record_counts_them(tmp_path):
    table = tmp_path / "t.tsv"
    rows = ["gene\ts1\ts2\ts3"] + [f"{g}\t{i + 1}\t{2 * i + 1}\t{i + 3}" for i, g in enumerate(
        ["MT-CO1", "MT-ND2", "GAPDH", "ACTB", "MALAT1", "CD3E", "MS4A1"])]
    table.write_text("\n".join(rows) + "\n")
    prepared = prepare_table(table, {"exclude_genes": ["^MT-", "MALAT1", "NOPE"]}, ranks=[2],
                             folds={"folds": 2})
    assert prepared.counts.genes == ["GAPDH", "ACTB", "CD3E", "MS4A1"]
    record = pd.DataFrame(prepared.record).set_index("check")
    assert record.loc["genes_dropped", "detail"].startswith(
        "exclude_genes (^MT-: 2; MALAT1: 1; NOPE: 0): MT-CO1, MT-ND2, MALAT1")
    assert "matched no gene: NOPE" in " ".join(record.loc[["note"], "detail"])


def test_a_module_of_mitochondrial_genes_is_named():
    ranked = pd.DataFrame({"module": ["M1"] * 10 + ["M2"] * 10, "rank": list(range(1, 11)) * 2,
                           "gene": [f"MT-{i}" for i in range(6)] + ["A", "B", "C", "D"]
                           + [f"G{i}" for i in range(9)] + ["RPL3"]})
    assert mito_ribo_modules(ranked) == {"M1": [f"MT-{i}" for i in range(6)]}
    (warning,) = mito_ribo_warnings(ranked)
    assert warning.kind == "mito_ribo_module" and warning.message.startswith("module M1: 6 of")
