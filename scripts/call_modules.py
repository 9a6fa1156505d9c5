"""Rule call_modules: W at the selected rank, normalized; memberships; moonlighting genes
with their confidence (moonlight.pipeline.call_modules, as analyse() runs it); ranked
genes, gene sets, the consensus of the near-best restarts, and the figures."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.batches import read_batches
from moonlight.classes import class_counts
from moonlight.counts import load_counts
from moonlight.genesets import write_gmt
from moonlight.pipeline import call_modules, rank_one_fit
from moonlight.plots import (plot_consensus_map, plot_module_heatmap, plot_usage_heatmap,
                             plot_weight_histogram)
from moonlight.rank_guard import neighbour_ranks
from moonlight.runlog import log_to
from moonlight.selection import selected_rank
from moonlight.stability import read_restarts_W
from moonlight.technical import read_covariates

with log_to(snakemake.log[0]) as log:
    dataset = snakemake.wildcards.dataset
    selection = read_tsv(snakemake.input.selection, index_col=None)
    rank = selected_rank(selection)
    counts = load_counts(snakemake.input.counts)
    margin = snakemake.params.margin
    fitted = {int(key[3:]) for key in snakemake.input.keys() if key.startswith("W_R")}
    # only the selected rank's fit and the rank guard's are read: an H of a million
    # cells takes seconds and hundreds of MB to read
    fits = {r: (read_tsv(snakemake.input[f"W_R{r}"], matrix=True),
                read_tsv(snakemake.input[f"H_R{r}"], matrix=True))
            for r in sorted(fitted & {rank, *neighbour_ranks(rank, fitted)})}
    if rank == 1:  # no structure: the rank-1 model, no moonlighting calls
        W, H, loglik = rank_one_fit(counts)
        Ws, logliks = [W], [loglik]
    else:
        W, H = fits[rank]
        Ws, logliks = read_restarts_W(read_tsv(snakemake.input[f"W_restarts_R{rank}"],
                                               index_col=None))
    covariates = (read_covariates(snakemake.input.covariates)
                  if "covariates" in snakemake.input.keys() else None)
    batches = (read_batches(snakemake.input.batches, counts.samples)
               if "batches" in snakemake.input.keys() else None)
    calls = call_modules(counts, W, H, Ws, logliks, margin=margin, fits=fits,
                         covariates=covariates, batches=batches, threads=snakemake.threads,
                         **snakemake.params.modules)
    called = calls.moonlighting["gene"]
    log.info("R=%d; moonlighting candidates:\n%s", rank, calls.candidates.to_string())
    log.info("moonlighting genes: %s", ", ".join(called) or "none")
    write_tsv(calls.W, snakemake.output.W)
    write_tsv(H, snakemake.output.H)
    write_tsv(calls.W_normalized, snakemake.output.W_normalized)
    write_tsv(calls.memberships, snakemake.output.modules, index=False)
    write_tsv(calls.moonlighting, snakemake.output.moonlighting, index=False)
    write_tsv(calls.candidates, snakemake.output.candidates, index=False)
    write_tsv(calls.classes, snakemake.output.classes, index=False)
    write_tsv(calls.associations, snakemake.output.module_covariates, index=False)
    log.info("gene classes: %s", class_counts(calls.classes).to_dict())
    write_tsv(calls.module_genes, snakemake.output.module_genes, index=False)
    write_gmt(calls.module_genes, snakemake.output.gmt, prefix=f"{dataset}_")
    write_tsv(calls.consensus.round(6).rename_axis("gene"), snakemake.output.consensus)

    title = f"{dataset}, R = {rank}"
    threshold = snakemake.params.modules["threshold"]
    plot_weight_histogram(calls.W_normalized, threshold, snakemake.output.histogram,
                          title=title, moonlighting=called)
    plot_module_heatmap(calls.W_normalized, snakemake.output.heatmap, title=title,
                        moonlighting=called)
    plot_usage_heatmap(H, snakemake.output.H_heatmap, title=title)
    plot_consensus_map(calls.consensus, calls.W_normalized.idxmax(axis=1),
                       snakemake.output.consensus_map, title=title, moonlighting=called)
