"""Rule prepare_single_cell: read a single-cell matrix (h5ad, 10x directory or .h5) as
sparse genes x cells counts with exact names; keep outliers out (qc.outliers); select
genes and cells; record how."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight.counts import Counts, save_counts
from moonlight.io import write_tsv
from moonlight.folds import check_size
from moonlight.outliers import handle_outliers
from moonlight.prefilter import SELECTION_OPTIONS, select_by_options
from moonlight.qc import QC_COLUMNS
from moonlight.runlog import log_to
from moonlight.singlecell import SINGLECELL_OPTIONS, read_rows, read_single_cell
from moonlight.tables import named_positions
from moonlight.technical import read_obs_columns

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input[0], snakemake.params.options
    read = read_single_cell(source, **{k: spec[k] for k in SINGLECELL_OPTIONS if k in spec})
    genes, cells, X = read.genes, read.cells, read.counts
    if spec.get("drop_genes") or spec.get("drop_samples"):
        rows, cols = named_positions(genes, cells, genes=spec.get("drop_genes", []),
                                     samples=spec.get("drop_samples", []), source=source)
        X = X[rows][:, cols]
        genes, cells = [genes[i] for i in rows], [cells[j] for j in cols]
    handled = handle_outliers(Counts(X, genes, cells), mode=snakemake.params.qc["outliers"],
                              factor=snakemake.params.qc["outlier_factor"], source=source)
    X, genes = handled.counts.matrix, handled.counts.genes
    selected = select_by_options(X, genes, cells,
                                 {k: spec[k] for k in SELECTION_OPTIONS if k in spec})
    n_genes, n_cells = selected.counts.shape
    check_size((n_genes, n_cells), snakemake.params.ranks, snakemake.params.folds,
               source=source, sparse=True)
    log.info("%s: %d genes x %d cells kept, %d nonzero counts", source, n_genes, n_cells,
             selected.counts.nnz)
    save_counts(Counts(selected.counts, selected.genes, selected.cells),
                snakemake.output.counts)
    record = pd.DataFrame(read_rows(read) + handled.rows + selected.rows, columns=QC_COLUMNS)
    write_tsv(record, snakemake.output.read, index=False)
    # The technical obs columns (config technical:) of the kept cells; none: names only.
    write_tsv(read_obs_columns(source, spec["technical"], selected.cells)
              if spec.get("technical") else
              pd.DataFrame(index=pd.Index(selected.cells, name="sample")),
              snakemake.output.covariates)
