"""Rule prepare_table: read and check a user's count table; drop the genes and samples
the config names; keep outliers out (qc.outliers); drop all-zero genes and samples;
record how the table was read and what was done."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import drop_empty, write_tsv
from moonlight.counts import Counts, save_counts
from moonlight.folds import check_size
from moonlight.outliers import handle_outliers
from moonlight.qc import QC_COLUMNS, read_record
from moonlight.runlog import log_to
from moonlight.tables import READ_OPTIONS, drop_named, read_table

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input[0], snakemake.params.table
    read = read_table(source, **{k: spec[k] for k in READ_OPTIONS if k in spec})
    named = drop_named(read.counts, genes=spec.get("drop_genes", []),
                       samples=spec.get("drop_samples", []), source=source)
    handled = handle_outliers(named, mode=snakemake.params.qc["outliers"],
                              factor=snakemake.params.qc["outlier_factor"], source=source)
    counts = drop_empty(handled.counts.to_frame(), source=source)
    check_size(counts.shape, snakemake.params.ranks, snakemake.params.folds, source=source)
    dropped = {
        "genes": {"named in drop_genes": list(spec.get("drop_genes", [])),
                  "all-zero counts": [g for g in handled.counts.genes
                                      if g not in counts.index]},
        "samples": {"named in drop_samples": list(spec.get("drop_samples", [])),
                    "all-zero counts": [s for s in named.columns if s not in counts.columns]},
    }
    log.info("%s: %d genes x %d samples kept", source, *counts.shape)
    save_counts(Counts.of(counts), snakemake.output.counts)
    record = read_record(read, genes_read=read.counts.shape[0],
                         samples_read=read.counts.shape[1], dropped=dropped) + handled.rows
    write_tsv(pd.DataFrame(record, columns=QC_COLUMNS), snakemake.output.read, index=False)
