"""Rule qc: the data set's quality-control record and its warnings (moonlight.qc)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.counts import load_counts
from moonlight.qc import (class_record, count_record, outlier_warnings, qc_table,
                          range_warnings, structure_warning, technical_warning,
                          top_rank_warning)
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    counts = load_counts(snakemake.input.counts)
    rows = []
    if "read" in snakemake.input.keys():
        rows = read_tsv(snakemake.input.read, index_col=None).to_dict("records")
    selection = read_tsv(snakemake.input.selection, index_col=None)
    rank = int(selection.loc[selection["selected"], "rank"].iat[0])
    heldout = pd.concat([read_tsv(p, index_col=None) for p in snakemake.input.crossval],
                        ignore_index=True).drop_duplicates(["rank", "fold"])
    warnings = [structure_warning(heldout, rank), top_rank_warning(selection),
                technical_warning(read_tsv(snakemake.input.module_covariates,
                                           index_col=None))]
    warnings += outlier_warnings(counts, snakemake.params.outlier_factor)
    warnings += range_warnings(counts)
    rows += count_record(counts) + class_record(read_tsv(snakemake.input.classes,
                                                          index_col=None))
    record = qc_table(rows, [w for w in warnings if w is not None])
    log.info("QC record:\n%s", record.to_string(index=False))
    write_tsv(record, snakemake.output[0], index=False)
