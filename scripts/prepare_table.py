"""Rule prepare_table: read, check and clean a user's count table
(moonlight.prepare.prepare_table); save the counts, the record of how, and the
samples' technical columns and known batches from the sample sheet."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import write_tsv
from moonlight.annotations import batch_labels, technical_covariates
from moonlight.config import size_checks
from moonlight.prepare import prepare_table
from moonlight.runlog import log_to
from moonlight.technical import write_covariates

with log_to(snakemake.log[0]) as log:
    ranks, folds = size_checks(snakemake.config, snakemake.wildcards.name)  # not params
    prepared = prepare_table(snakemake.input[0], snakemake.params.table,
                             ranks=ranks, folds=folds, qc=snakemake.params.qc,
                             selection=snakemake.params.selection)
    log.info("%s: %d genes x %d samples kept", snakemake.input[0], *prepared.counts.shape)
    prepared.save(snakemake.output.counts, snakemake.output.read)
    # The technical columns of the sample sheet (config technical:); none: names only
    write_covariates(technical_covariates(snakemake.input[0], snakemake.params.table,
                                          prepared.counts.samples), snakemake.output.covariates)
    # The known batches (config batch:); none: names only
    write_tsv(batch_labels(snakemake.input[0], snakemake.params.table,
                           prepared.counts.samples), snakemake.output.batches)
