"""Rule qc: the data set's quality-control record and its warnings
(moonlight.qc.quality_record, as analyse() runs it)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from pathlib import Path

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.counts import load_counts
from moonlight.enrichment import coverage_warning
from moonlight.qc import quality_record
from moonlight.runlog import log_to
from moonlight.selection import selected_rank

with log_to(snakemake.log[0]) as log:
    read_rows = read_tsv(snakemake.input.read, index_col=None).to_dict("records")
    selection = read_tsv(snakemake.input.selection, index_col=None)
    # the selected rank's restarts (fits/R<rank>/restarts.tsv); none for rank 1
    restarts = {int(Path(path).parent.name[1:]): path for path in snakemake.input.restarts}
    rank = selected_rank(selection)
    heldout = pd.concat([read_tsv(p, index_col=None) for p in snakemake.input.crossval],
                        ignore_index=True)
    record = quality_record(
        load_counts(snakemake.input.counts),
        selection, heldout,
        read_tsv(snakemake.input.classes, index_col=None),
        read_tsv(snakemake.input.module_covariates, index_col=None),
        read_rows=read_rows, outlier_factor=snakemake.params.outlier_factor,
        mito_ribo_top=snakemake.params.mito_ribo_top,
        mito_ribo_share=snakemake.params.mito_ribo_share,
        gene_set_coverage=coverage_warning(
            read_tsv(snakemake.input.coverage, index_col=None),
            snakemake.params.min_coverage, snakemake.params.min_set_size)
        if "coverage" in snakemake.input.keys() else None,
        module_genes=read_tsv(snakemake.input.module_genes, index_col=None),
        candidates=read_tsv(snakemake.input.candidates, index_col=None),
        restarts=read_tsv(restarts[rank], index_col=None) if rank in restarts else None)
    log.info("QC record:\n%s", record.to_string(index=False))
    write_tsv(record, snakemake.output[0], index=False)
