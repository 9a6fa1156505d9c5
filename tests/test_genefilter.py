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
    rows = ["gene\ts1\ts2\ts3\ts4\ts5\ts6"] + [
        f"{g}\t{i + 1}\t{2 * i + 1}\t{i + 3}\t{i + 2}\t{3 * i + 1}\t{i + 4}" for i, g in enumerate(
            ["MT-CO1", "MT-ND2", "GAPDH", "ACTB", "MALAT1", "CD3E", "MS4A1"])]
    table.write_text("\n".join(rows) + "\n")
    # 4 genes x 6 samples left: rank 1's 9 parameters, 12 training entries a fold
    prepared = prepare_table(table, {"exclude_genes": ["^MT-", "MALAT1", "NOPE"]}, ranks=[1],
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


def test_a_single_cell_matrix_records_the_same_drops_as_a_table(tmp_path):
    """One entry step for both readers: drop_genes, drop_samples and exclude_genes leave
    the same genes and cells and the same QC rows, names included."""
    import anndata
    import numpy as np
    from scipy import sparse

    from moonlight.prepare import prepare_single_cell
    genes = ["MT-CO1", "MT-ND2", "GAPDH", "ACTB", "MALAT1", "CD3E", "MS4A1", "NKG7"]
    counts = np.arange(1, 8 * 6 + 1, dtype=np.float64).reshape(8, 6)
    table = tmp_path / "t.tsv"
    pd.DataFrame(counts.astype(int), index=pd.Index(genes, name="gene"),
                 columns=[f"c{j}" for j in range(6)]).to_csv(table, sep="\t")
    h5ad = tmp_path / "t.h5ad"
    anndata.AnnData(sparse.csr_matrix(counts.T),
                    obs=pd.DataFrame(index=[f"c{j}" for j in range(6)]),
                    var=pd.DataFrame(index=genes)).write_h5ad(h5ad)
    entry = {"exclude_genes": ["^MT-", "MALAT1"], "drop_genes": ["NKG7"],
             "drop_samples": ["c2"]}
    options = dict(ranks=[2], folds={"folds": 2, "design": "samples"})
    dense = prepare_table(table, entry, **options)
    cells = prepare_single_cell(h5ad, entry, **options)
    assert cells.counts.genes == dense.counts.genes == ["GAPDH", "ACTB", "CD3E", "MS4A1"]
    assert cells.counts.samples == dense.counts.samples == ["c0", "c1", "c3", "c4", "c5"]
    drops = [[r for r in prepared.record if r["check"].endswith("_dropped")][:3]
             for prepared in (dense, cells)]
    assert drops[0] == drops[1]
    assert [r["detail"] for r in drops[0]] == [
        "named in drop_genes: NKG7",
        "exclude_genes (^MT-: 2; MALAT1: 1): MT-CO1, MT-ND2, MALAT1",
        "named in drop_samples: c2"]
