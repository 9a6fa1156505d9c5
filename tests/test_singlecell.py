"""Single-cell count matrices as people have them: h5ad (X, a layer, raw), 10x
directories (v3 gzipped, v2 plain) and 10x .h5 files, all generated here, read to the
same sparse counts with every name intact; normalized matrices refused with the layer to
use instead."""

import gzip
import logging
import shutil
import warnings

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
from scipy import sparse

from moonlight.singlecell import (
    SingleCellError,
    detect_format,
    read_10x_h5,
    read_10x_mtx,
    read_h5ad_counts,
    read_rows,
    read_single_cell,
    stored_entries,
    unique_gene_names,
)
from moonlight.tables import CountTableError, read_count_table

#: Names a parser likes to turn into something else, and a repeated gene symbol.
GENES = ["NA", "007", "1e5", "TRUE", "nan", "Actb", "Gapdh", "Actb", "Cd3e", "Actb-1",
         "MT-CO1", "Ms4a1"]
CELLS = ["AAACCTG-1", "NA", "0001", "1e3", "TRUE", "AAACGGG-1", "AAAGATG-1", "cell 8"]
#: The names scanpy's var_names_make_unique gives GENES: the second Actb would be Actb-1,
#: but that name is taken, so it is Actb-2.
UNIQUE = ["NA", "007", "1e5", "TRUE", "nan", "Actb", "Gapdh", "Actb-2", "Cd3e", "Actb-1",
          "MT-CO1", "Ms4a1"]


@pytest.fixture(scope="module")
def counts():
    """Integer counts, genes x cells, 12 x 8, about 60% zeros; every gene and cell has one."""
    rng = np.random.default_rng(11)
    V = rng.poisson(1.2, size=(len(GENES), len(CELLS))) * rng.integers(0, 2, (len(GENES),
                                                                           len(CELLS)))
    V[np.arange(len(GENES)), np.arange(len(GENES)) % len(CELLS)] += 3
    return V.astype(np.int64)


def same(read, V, genes=UNIQUE, cells=CELLS):
    assert isinstance(read.counts, sparse.csr_array)
    assert read.counts.dtype == np.float64 and read.counts.has_canonical_format
    np.testing.assert_array_equal(read.counts.toarray(), V)
    assert read.genes == genes and read.cells == cells
    assert all(type(name) is str for name in read.genes + read.cells)


# --- writers of the formats ----------------------------------------------------------


def write_h5ad(path, X, *, genes=GENES, cells=CELLS, layers=None, raw=None, var=None):
    """An .h5ad of cells x genes X (as AnnData stores it); repeated names allowed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(Variable|Observation) names are not unique")
        adata = anndata.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(cells, dtype=object)),
                                var=pd.DataFrame(var, index=pd.Index(genes, dtype=object)))
        for name, layer in (layers or {}).items():
            adata.layers[name] = layer
        if raw is not None:
            adata.raw = raw
        adata.write_h5ad(path)
    return path


def gzip_file(path):
    with open(path, "rb") as plain, gzip.open(f"{path}.gz", "wb") as packed:
        shutil.copyfileobj(plain, packed)
    path.unlink()


def features_of(V, genes, extra):
    """V with the ``extra`` rows (antibody capture) appended after the genes, and every
    feature's ID, name and type as CellRanger lists them."""
    ids = [f"ENSG{i:011d}" for i in range(len(genes))]
    names = list(genes)
    types = ["Gene Expression"] * len(genes)
    if extra is not None:
        V = np.vstack([V, extra])
        ids += [f"AB{i}" for i in range(len(extra))]
        names += [f"CD{i}_TotalSeqB" for i in range(len(extra))]
        types += ["Antibody Capture"] * len(extra)
    return V, ids, names, types


def write_10x_dir(directory, V, *, genes=GENES, cells=CELLS, version=3, compress=True,
                  prefix="", extra=None, transpose=False):
    """A CellRanger output directory of genes x cells V. ``extra``: rows of V's features
    of another type (antibody capture) appended after the genes."""
    directory.mkdir(parents=True, exist_ok=True)
    V, ids, names, types = features_of(V, genes, extra)
    stored = sparse.coo_array(V.T if transpose else V)
    scipy.io.mmwrite(directory / f"{prefix}matrix.mtx", stored)
    features = pd.DataFrame({"id": ids, "name": names, "type": types})
    feature_file = directory / (f"{prefix}features.tsv" if version == 3 else
                                f"{prefix}genes.tsv")
    features.iloc[:, :3 if version == 3 else 2].to_csv(feature_file, sep="\t", header=False,
                                                       index=False)
    pd.Series(cells).to_csv(directory / f"{prefix}barcodes.tsv", header=False, index=False)
    if compress:
        for name in ("matrix.mtx", feature_file.name.removeprefix(prefix), "barcodes.tsv"):
            gzip_file(directory / f"{prefix}{name}")
    return directory


def write_10x_h5(path, V, *, genes=GENES, cells=CELLS, version=3, genomes=("GRCh38",),
                 extra=None):
    """A 10x .h5 of genes x cells V in CellRanger's layout: v3 a ``matrix`` group with
    ``features``, v2 one group per genome; the matrix stored compressed sparse column."""
    V, ids, names, types = features_of(V, genes, extra)
    csc = sparse.csc_array(V)
    encode = lambda values: np.array([v.encode() for v in values])  # noqa: E731
    with h5py.File(path, "w") as handle:
        for genome in (("matrix",) if version == 3 else genomes):
            group = handle.create_group(genome)
            group["barcodes"] = encode(cells)
            group["data"] = csc.data.astype(np.int32)
            group["indices"] = csc.indices.astype(np.int64)
            group["indptr"] = csc.indptr.astype(np.int64)
            group["shape"] = np.array(csc.shape, dtype=np.int32)
            if version == 3:
                features = group.create_group("features")
                features["id"] = encode(ids)
                features["name"] = encode(names)
                features["feature_type"] = encode(types)
                features["genome"] = encode([genomes[0]] * len(ids))
                features["_all_tag_keys"] = encode(["genome"])
            else:
                group["genes"] = encode(ids)
                group["gene_names"] = encode(names)
    return path


# --- h5ad ----------------------------------------------------------------------------


def test_h5ad_X_layer_and_raw(tmp_path, counts):
    X = sparse.csr_matrix(counts.T.astype(np.float32))     # counts as float32, as often
    lognorm = X.multiply(1e4 / X.sum(axis=1)).tocsr().log1p()
    raw_genes = GENES + ["Extra"]
    raw_counts = sparse.csr_matrix(np.hstack([counts.T, np.arange(len(CELLS))[:, None]]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Variable names are not unique")
        raw = anndata.AnnData(X=raw_counts, var=pd.DataFrame(index=raw_genes),
                              obs=pd.DataFrame(index=CELLS))
    path = write_h5ad(tmp_path / "pbmc.h5ad", lognorm, layers={"counts": X}, raw=raw)

    layer = read_h5ad_counts(path, matrix="counts")
    same(layer, counts)
    assert layer.format == "h5ad" and layer.matrix == "layers/counts" and layer.transposed
    assert layer.duplicates_renamed == ["Actb-2"]

    from_raw = read_single_cell(path, matrix="raw")
    same(from_raw, np.vstack([counts, np.arange(len(CELLS))]), genes=UNIQUE + ["Extra"])
    assert from_raw.matrix == "raw"

    with pytest.raises(SingleCellError) as refused:
        read_single_cell(path)                       # X is log1p(normalized)
    message = str(refused.value)
    assert str(path) in message and "matrix X holds non-integer values" in message
    assert "looks log-transformed" in message
    assert "layers/counts (matrix: counts)" in message and "raw (matrix: raw)" in message


def test_h5ad_dense_X_is_made_sparse_block_by_block(tmp_path, counts, monkeypatch):
    import moonlight.singlecell as singlecell

    monkeypatch.setattr(singlecell, "_DENSE_BLOCK", 3)       # 8 cells: blocks 3, 3, 2
    path = write_h5ad(tmp_path / "dense.h5ad", counts.T.copy())   # int64, dense
    read = read_h5ad_counts(path)
    same(read, counts)
    assert any("stored dense" in note for note in read.notes)


def test_h5ad_dense_float16_X_reads_as_its_counts(tmp_path, counts):
    """float16 (which scipy.sparse cannot hold) holds every count up to 2,048 exactly."""
    path = write_h5ad(tmp_path / "half.h5ad", counts.T.astype(np.float16))
    same(read_h5ad_counts(path), counts)


def test_h5ad_gene_ids_names_genes_by_their_ids(tmp_path, counts):
    ids = [f"ENSMUSG{i:011d}" for i in range(len(GENES))]
    path = write_h5ad(tmp_path / "ids.h5ad", sparse.csr_matrix(counts.T),
                      var={"gene_ids": ids})
    read = read_h5ad_counts(path, gene_ids=True)
    same(read, counts, genes=ids)
    assert read.duplicates_renamed == []
    no_ids = write_h5ad(tmp_path / "no_ids.h5ad", sparse.csr_matrix(counts.T))
    with pytest.raises(SingleCellError, match=r"no_ids.h5ad: gene_ids: var has no "
                                              r"'gene_ids' column"):
        read_h5ad_counts(no_ids, gene_ids=True)


def test_h5ad_unknown_matrix_lists_the_files_matrices(tmp_path, counts):
    X = sparse.csr_matrix(counts.T)
    path = write_h5ad(tmp_path / "a.h5ad", X, layers={"spliced": X})
    with pytest.raises(SingleCellError, match=r"a.h5ad: no matrix 'counts'; it has "
                                              r"X \(matrix: X\), layers/spliced"):
        read_single_cell(path, matrix="counts")
    with pytest.raises(SingleCellError, match=r"no matrix 'raw'"):
        read_single_cell(path, matrix="raw")


def test_normalized_and_scaled_matrices_are_refused_with_what_they_look_like(tmp_path,
                                                                              counts):
    X = counts.T.astype(np.float64)
    normalized = X / X.sum(axis=1, keepdims=True) * 1e4            # sc.pp.normalize_total
    scaled = (X - X.mean(axis=0)) / (X.std(axis=0) + 1)            # sc.pp.scale
    path = write_h5ad(tmp_path / "norm.h5ad", sparse.csr_matrix(normalized),
                      layers={"scaled": scaled})
    with pytest.raises(SingleCellError) as refused:
        read_single_cell(path)
    message = str(refused.value)
    assert "looks normalized to equal totals per cell (every cell sums to about 10000)" \
        in message
    assert "None of this AnnData's matrices (X, layers/scaled) holds integer counts" in message
    with pytest.raises(SingleCellError, match=r"matrix layers/scaled holds negative values "
                                              r".*looks scaled or centred"):
        read_single_cell(path, matrix="scaled")
    assert issubclass(SingleCellError, CountTableError)


def test_repeated_cell_names_are_an_error(tmp_path, counts):
    cells = CELLS[:-1] + ["NA"]
    path = write_h5ad(tmp_path / "cells.h5ad", sparse.csr_matrix(counts.T), cells=cells)
    with pytest.raises(SingleCellError, match=r"cells.h5ad: obs_names: cell 'NA' appears "
                                              r"more than once \(positions 2, 8\)"):
        read_single_cell(path)


def test_repeated_gene_names_are_made_unique_as_scanpy_does():
    for genes in (GENES, ["A", "B", "A", "A"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            adata = anndata.AnnData(obs=pd.DataFrame(index=["c"]),
                                    var=pd.DataFrame(index=pd.Index(genes, dtype=object)))
            adata.var_names_make_unique()
        names, renamed = unique_gene_names(genes)
        assert names == list(adata.var_names)
    assert unique_gene_names(GENES) == (UNIQUE, ["Actb-2"])
    assert unique_gene_names(["A", "B", "A", "A"]) == (["A", "B", "A-1", "A-2"],
                                                       ["A-1", "A-2"])
    assert unique_gene_names(["a", "b"]) == (["a", "b"], [])


# --- 10x -----------------------------------------------------------------------------


def test_10x_v3_directory_gzipped(tmp_path, counts, caplog):
    antibodies = np.full((2, len(CELLS)), 7)
    directory = write_10x_dir(tmp_path / "filtered_feature_bc_matrix", counts,
                              extra=antibodies)
    assert sorted(p.name for p in directory.iterdir()) == [
        "barcodes.tsv.gz", "features.tsv.gz", "matrix.mtx.gz"]
    with caplog.at_level(logging.INFO, logger="moonlight"):
        read = read_single_cell(directory)
    same(read, counts)
    assert read.format == "10x" and read.matrix == "matrix.mtx.gz" and not read.transposed
    assert "2 feature(s) dropped: Antibody Capture (2)" in read.notes[0]
    assert read.duplicates_renamed == ["Actb-2"]
    assert any("repeat in features.tsv.gz" in r.message and r.levelname == "WARNING"
               for r in caplog.records)
    by_id = read_10x_mtx(directory / "matrix.mtx.gz", gene_ids=True)
    same(by_id, counts, genes=[f"ENSG{i:011d}" for i in range(len(GENES))])


def test_10x_v2_directory_plain_with_a_prefix_and_transposed(tmp_path, counts):
    v2 = write_10x_dir(tmp_path / "hg19", counts, version=2, compress=False)
    assert sorted(p.name for p in v2.iterdir()) == ["barcodes.tsv", "genes.tsv",
                                                     "matrix.mtx"]
    same(read_10x_mtx(v2), counts)
    geo = write_10x_dir(tmp_path / "geo", counts, prefix="GSM1_", transpose=True)
    read = read_single_cell(geo)
    same(read, counts)
    assert read.transposed and read.matrix == "GSM1_matrix.mtx.gz"


def test_10x_directory_errors_name_the_file(tmp_path, counts):
    directory = write_10x_dir(tmp_path / "short", counts)
    pd.Series(CELLS[:-1]).to_csv(directory / "barcodes.tsv.gz", header=False, index=False)
    with pytest.raises(SingleCellError, match=r"short/matrix.mtx.gz: the matrix is 12 x 8, "
                                              r"but features.tsv.gz lists 12 features and "
                                              r"barcodes.tsv.gz 7 barcodes"):
        read_10x_mtx(directory)
    (directory / "features.tsv.gz").unlink()
    with pytest.raises(SingleCellError, match=r"short: matrix.mtx.gz has no features file"):
        read_10x_mtx(directory)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SingleCellError, match=r"empty: no matrix.mtx.gz or matrix.mtx"):
        read_single_cell(tmp_path / "empty")
    fractional = write_10x_dir(tmp_path / "fractional", counts * 0.5)
    with pytest.raises(SingleCellError, match=r"matrix.mtx.gz holds non-integer values "
                                              r"\(e.g. 1.5 for gene"):
        read_10x_mtx(fractional)


def test_10x_h5_v3_and_v2(tmp_path, counts):
    antibodies = np.full((3, len(CELLS)), 2)
    v3 = read_single_cell(write_10x_h5(tmp_path / "v3.h5", counts, extra=antibodies))
    same(v3, counts)
    assert v3.format == "10x_h5" and v3.matrix == "matrix" and not v3.transposed
    assert "3 feature(s) dropped: Antibody Capture (3)" in v3.notes[0]
    v2 = read_10x_h5(write_10x_h5(tmp_path / "v2.h5", counts, version=2), gene_ids=True)
    same(v2, counts, genes=[f"ENSG{i:011d}" for i in range(len(GENES))])
    assert v2.matrix == "GRCh38"


def test_10x_h5_errors(tmp_path, counts):
    barnyard = write_10x_h5(tmp_path / "barnyard.h5", counts, version=2,
                            genomes=("GRCh38", "mm10"))
    with pytest.raises(SingleCellError, match=r"several genomes \(GRCh38, mm10\); choose "
                                              r"one with genome"):
        read_10x_h5(barnyard)
    same(read_single_cell(barnyard, genome="mm10"), counts)
    h5ad_named_h5 = write_h5ad(tmp_path / "object.h5", sparse.csr_matrix(counts.T))
    with pytest.raises(SingleCellError, match=r"object.h5: this is an AnnData file"):
        read_single_cell(h5ad_named_h5)
    text = tmp_path / "not.h5"
    text.write_text("gene\tS1\n")
    with pytest.raises(SingleCellError, match=r"not.h5: cannot open as an HDF5 file"):
        read_single_cell(text)


# --- one entry point, same counts as the dense table --------------------------------


def test_every_format_gives_the_counts_of_the_dense_table(tmp_path, w09_table):
    table = read_count_table(w09_table)                    # 100 genes x 60 samples
    V = table.to_numpy().astype(np.int64)
    genes, cells = list(table.index), list(table.columns)
    files = [
        write_h5ad(tmp_path / "w09.h5ad", sparse.csr_matrix(V.T), genes=genes, cells=cells),
        write_10x_dir(tmp_path / "w09_10x", V, genes=genes, cells=cells),
        write_10x_h5(tmp_path / "w09.h5", V, genes=genes, cells=cells),
    ]
    for path in files:
        read = read_single_cell(path)
        pd.testing.assert_frame_equal(read.to_frame(), table, check_names=False)
        assert read.counts.nnz == np.count_nonzero(V)


def test_detect_format_and_options(tmp_path, counts):
    directory = write_10x_dir(tmp_path / "d", counts)
    assert detect_format(directory) == "10x"
    assert detect_format(directory / "matrix.mtx.gz") == "10x"
    assert detect_format(tmp_path / "x.h5ad") == "h5ad"
    assert detect_format(tmp_path / "x.h5") == "10x_h5"
    assert detect_format(tmp_path / "counts.tsv.gz") == "table"
    with pytest.raises(ValueError, match="matrix='counts' applies to .h5ad files only"):
        read_single_cell(directory, matrix="counts")
    with pytest.raises(ValueError, match="read by moonlight.tables.read_table"):
        read_single_cell(tmp_path / "counts.tsv")
    with pytest.raises(ValueError, match="format must be one of"):
        read_single_cell(directory, format="loom")


def test_stored_entries_read_from_every_format_without_the_matrix(tmp_path, counts):
    """The entries a file stores, from its header or HDF5 metadata: the nonzeros of a
    sparse matrix, every entry of a dense one, the largest of an .h5ad's matrices; None
    for what is not a single-cell file or cannot be read."""
    nnz = int(np.count_nonzero(counts))
    X = sparse.csr_matrix(counts.T.astype(np.float32))
    assert stored_entries(write_h5ad(tmp_path / "s.h5ad", X)) == nnz
    assert stored_entries(write_h5ad(tmp_path / "d.h5ad", counts.T.astype(np.float32))) \
        == counts.size
    with_layer = write_h5ad(tmp_path / "l.h5ad", X[:, :3], genes=GENES[:3],
                            layers={"counts": X[:, :3].toarray()})
    assert stored_entries(with_layer) == 3 * len(CELLS)  # the dense layer is the largest
    for compress in (True, False):
        directory = write_10x_dir(tmp_path / f"d{compress}", counts, compress=compress,
                                  extra=np.ones((1, 8)))
        assert stored_entries(directory) == nnz + 8
    assert stored_entries(write_10x_h5(tmp_path / "v3.h5", counts)) == nnz
    assert stored_entries(write_10x_h5(tmp_path / "v2.h5", counts, version=2,
                                       genomes=("hg19", "mm10"))) == nnz
    (tmp_path / "broken.h5ad").write_text("not HDF5")
    assert stored_entries(tmp_path / "broken.h5ad") is None
    assert stored_entries(tmp_path / "counts.tsv") is None
    assert stored_entries(tmp_path / "missing") is None


def test_read_rows(tmp_path, counts):
    read = read_single_cell(write_10x_dir(tmp_path / "d", counts, extra=np.ones((1, 8))))
    rows = {row["check"]: row for row in read_rows(read)}
    assert rows["format"]["value"] == "10x"
    assert rows["format"]["detail"] == "matrix matrix.mtx.gz; genes x cells as stored"
    assert rows["genes_read"]["value"] == "12" and rows["samples_read"]["value"] == "8"
    assert rows["nonzero_entries"]["value"] == str(np.count_nonzero(counts))
    notes = [row["detail"] for row in read_rows(read) if row["check"] == "note"]
    assert len(notes) == 2 and "Antibody Capture (1)" in notes[0]


def test_gene_names_that_are_dates_are_kept_and_warned_of(tmp_path, counts):
    """A matrix built from a spreadsheet can carry Sept and March genes as 2-Sep, 9-Mar
    (a published mouse set among the benchmark's has 18): kept as read, named in a
    date_names warning of the QC record."""
    genes = [*UNIQUE[:4], "2-Sep", *UNIQUE[5:9], "9-Mar", *UNIQUE[10:]]
    with pytest.warns(UserWarning, match=r"2 gene name\(s\) are dates \(gene 5: '2-Sep', "
                                         r"gene 10: '9-Mar'\)"):
        read = read_single_cell(write_h5ad(tmp_path / "d.h5ad", counts.T, genes=genes))
    assert read.genes == genes
    assert [(row["value"], row["detail"]) for row in read_rows(read)
            if row["check"] == "warning"] == [("date_names", read.warnings[0][1])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = read_single_cell(write_h5ad(tmp_path / "p.h5ad", counts.T, genes=UNIQUE))
    assert plain.warnings == []


#: Each reader's file of genes x cells ``V`` with gene names ``genes``.
WRITERS = {
    "h5ad": lambda folder, V, genes: write_h5ad(folder / "d.h5ad", V.T, genes=genes),
    "10x": lambda folder, V, genes: write_10x_dir(folder / "tenx", V, genes=genes),
    "10x_h5": lambda folder, V, genes: write_10x_h5(folder / "d.h5", V, genes=genes),
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_two_genes_a_spreadsheet_made_one_date_are_both_warned_of(tmp_path, counts, kind):
    """MARCH1 and MARC1 both become 1-Mar: the names are made unique (1-Mar, 1-Mar-1),
    and the warning names both genes as read, not the one the renaming left a date, and
    the name the second is kept under (the one drop_genes takes), in every format."""
    genes = [*UNIQUE[:4], "1-Mar", *UNIQUE[5:9], "1-Mar", *UNIQUE[10:]]
    with pytest.warns(UserWarning, match=r"2 gene name\(s\) are dates \(gene 5: '1-Mar', "
                                         r"gene 10 \(kept as '1-Mar-1'\): '1-Mar'\)"):
        read = read_single_cell(WRITERS[kind](tmp_path, counts, genes))
    assert read.format == kind
    assert read.genes[4] == "1-Mar" and read.genes[9] == "1-Mar-1"
    assert [found for found, _ in read.warnings] == ["date_names"]


def test_an_anndata_in_memory_is_read_as_its_h5ad_file(tmp_path, counts):
    """read_anndata and read_h5ad_counts give the same counts, names and record but the
    source; a matrix without counts is refused naming the layer that holds them."""
    from moonlight.singlecell import read_anndata
    X = sparse.csr_matrix(counts.T)
    path = write_h5ad(tmp_path / "a.h5ad", np.log1p(X), layers={"counts": X})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(Variable|Observation) names are not unique")
        adata = anndata.read_h5ad(path)
    from_file, in_memory = (read_h5ad_counts(path, matrix="counts"),
                            read_anndata(adata, matrix="counts"))
    same(in_memory, counts)
    assert in_memory.path == "AnnData"
    assert read_rows(in_memory)[1:] == read_rows(from_file)[1:]
    with pytest.raises(SingleCellError, match=r"^AnnData: matrix X holds non-integer .*"
                                              r"layers/counts \(matrix: counts\); choose one "
                                              r"with select=\{'matrix': \.\.\.\}"):
        read_anndata(adata)


def test_analyse_takes_an_anndata_as_the_workflow_takes_its_h5ad():
    from moonlight.counts import Counts
    from moonlight.pipeline import analyse
    from moonlight.simulate import simulate
    sim = simulate(n_genes=60, n_samples=30, n_modules=3, n_moonlighting=2, seed=1)
    V = sim.counts.rename(index=lambda g: f"0{g}")  # names stay as written
    X = sparse.csr_matrix(V.T.to_numpy())
    adata = anndata.AnnData(X=X.astype(np.float64) / 2, layers={"counts": X},
                            obs=pd.DataFrame(index=V.columns), var=pd.DataFrame(index=V.index))
    with pytest.raises(SingleCellError, match="AnnData: matrix X holds non-integer"):
        analyse(adata, ranks=[2, 3])
    with pytest.raises(TypeError, match=r"unknown select option\(s\) \['matrix'\]"):
        analyse(V, select={"matrix": "counts"})  # a table has no layers
    given = analyse(adata, ranks=[2, 3], restarts=2, select={"matrix": "counts"})
    as_sparse = analyse(Counts(sparse.csr_array(V.to_numpy(np.float64)), list(V.index),
                               list(V.columns)), ranks=[2, 3], restarts=2)
    assert given.rank == as_sparse.rank
    assert given.W.index.tolist() == V.index.tolist()
    pd.testing.assert_frame_equal(given.W, as_sparse.W, check_exact=True)
    assert given.qc["value"].iloc[0] == "AnnData"
