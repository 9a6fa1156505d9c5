"""Rule prepare_single_cell: read, clean and select a single-cell matrix, kept sparse
(moonlight.prepare.prepare_single_cell); save the counts, the record of how, and the
kept cells' technical columns and known batches."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight.config import size_checks
from moonlight.io import write_tsv
from moonlight.prepare import prepare_single_cell
from moonlight.runlog import log_to
from moonlight.annotations import batch_labels, technical_covariates
from moonlight.technical import write_covariates

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input[0], snakemake.params.options
    ranks, folds = size_checks(snakemake.config, snakemake.wildcards.name)  # not params
    prepared = prepare_single_cell(source, spec, ranks=ranks, folds=folds,
                                   qc=snakemake.params.qc,
                                   selection=snakemake.params.selection)
    counts = prepared.counts
    log.info("%s: %d genes x %d cells kept, %d nonzero counts", source, *counts.shape,
             counts.matrix.nnz)
    prepared.save(snakemake.output.counts, snakemake.output.read)
    # The technical columns (obs, or the sample sheet) of the kept cells
    write_covariates(technical_covariates(source, spec, counts.samples),
                     snakemake.output.covariates)
    write_tsv(batch_labels(source, spec, counts.samples), snakemake.output.batches)
