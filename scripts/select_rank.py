"""Rule select_rank: BIC across ranks, the selected rank marked, and its figure."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import rank_table, read_tsv, write_tsv
from moonlight.plots import plot_rank_selection
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    n_genes, n_samples = read_tsv(snakemake.input.counts).shape
    table = rank_table(pd.read_csv(snakemake.input.logliks, sep="\t"), n_genes, n_samples)
    log.info("selected R = %d", table.loc[table["selected"], "rank"].iat[0])
    write_tsv(table, snakemake.output.table, index=False)
    plot_rank_selection(table, snakemake.output.plot, title=snakemake.wildcards.dataset)
