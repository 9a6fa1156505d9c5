"""Rules select_rank and rank_round: held-out likelihood, stability, BIC/AIC across
ranks; the rule's choice marked (moonlight.pipeline.choose_rank), and (select_rank) its
figure."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.batches import Batches
from moonlight.pipeline import choose_rank
from moonlight.plots import plot_rank_selection
from moonlight.counts import counts_size
from moonlight.runlog import log_to
from moonlight.selection import selected_rank


def tables(paths):
    return pd.concat([read_tsv(p, index_col=None) for p in paths], ignore_index=True)


with log_to(snakemake.log[0]) as log:
    n_genes, n_samples = counts_size(snakemake.input.counts)[:2]  # not the counts themselves
    n_batches = (Batches.of(read_tsv(snakemake.input.batches)["batch"]).n_batches
                 if hasattr(snakemake.input, "batches") else 1)  # the batch model's factors
    logliks = (read_tsv(snakemake.input.logliks, index_col=None)
               if hasattr(snakemake.input, "logliks") else tables(snakemake.input.restarts))
    table = choose_rank(
        logliks, n_genes, n_samples,
        tables(snakemake.input.crossval), tables(snakemake.input.stability),
        min_stability=snakemake.params.min_stability,
        baseline=read_tsv(snakemake.input.baseline, index_col=None),
        min_gain=snakemake.params.min_gain,
        cap_when=snakemake.params.cap_when,
        min_gain_stopped=snakemake.params.min_gain_stopped,
        n_batches=n_batches,
    )
    log.info("selected R = %d\n%s", selected_rank(table),
             table.to_string())
    write_tsv(table, snakemake.output.table, index=False)
    if hasattr(snakemake.output, "plot"):  # not for a growth round (rule rank_round)
        plot_rank_selection(table, snakemake.output.plot, title=snakemake.wildcards.dataset,
                            min_stability=snakemake.params.min_stability)
