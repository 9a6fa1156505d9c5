"""Rule prepare_table: read and check a user's count table, drop all-zero genes/samples."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import drop_empty, read_count_table, write_tsv
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    source = snakemake.input[0]
    counts = drop_empty(read_count_table(source), source=source)
    largest = max(snakemake.params.ranks)
    if largest > min(counts.shape):
        raise ValueError(
            f"config key ranks: rank {largest} exceeds min(N, M) = {min(counts.shape)} "
            f"of {source} ({counts.shape[0]} genes x {counts.shape[1]} samples)"
        )
    log.info("%s: %d genes x %d samples", source, *counts.shape)
    write_tsv(counts, snakemake.output.counts)
