"""Rule select_rank: held-out likelihood, stability, BIC/AIC across ranks; the rule's
choice marked, and its figure."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import rank_table, read_tsv, write_tsv
from moonlight.crossval import cv_summary
from moonlight.plots import plot_rank_selection
from moonlight.runlog import log_to


def tables(paths):
    return pd.concat([read_tsv(p, index_col=None) for p in paths], ignore_index=True)


with log_to(snakemake.log[0]) as log:
    n_genes, n_samples = read_tsv(snakemake.input.counts).shape
    table = rank_table(
        read_tsv(snakemake.input.logliks, index_col=None), n_genes, n_samples,
        cv=cv_summary(tables(snakemake.input.crossval)),
        stability=tables(snakemake.input.stability),
        min_stability=snakemake.params.min_stability,
    )
    log.info("selected R = %d\n%s", table.loc[table["selected"], "rank"].iat[0],
             table.to_string())
    write_tsv(table, snakemake.output.table, index=False)
    plot_rank_selection(table, snakemake.output.plot, title=snakemake.wildcards.dataset,
                        min_stability=snakemake.params.min_stability)
