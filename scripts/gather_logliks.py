"""Rule gather_logliks: every restart's log likelihood at every rank, in one table."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.runlog import log_to

with log_to(snakemake.log[0]):
    tables = [read_tsv(path, index_col=None) for path in snakemake.input.restarts]
    write_tsv(pd.concat(tables, ignore_index=True), snakemake.output[0], index=False)
