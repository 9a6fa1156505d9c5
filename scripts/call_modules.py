"""Rule call_modules: W at the selected rank, normalized; memberships; moonlighting genes
with their restart support and likelihood-ratio statistic."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import call_memberships, normalize_columns, normalize_rows, read_tsv, write_tsv
from moonlight.modules import keep_called
from moonlight.confidence import moonlighting_confidence
from moonlight.plots import plot_module_heatmap, plot_weight_histogram
from moonlight.runlog import log_to
from moonlight.stability import read_restarts_W

with log_to(snakemake.log[0]) as log:
    selection = read_tsv(snakemake.input.selection, index_col=None)
    rank = int(selection.loc[selection["selected"], "rank"].iat[0])
    W = normalize_columns(read_tsv(snakemake.input[f"W_R{rank}"]))
    H = read_tsv(snakemake.input[f"H_R{rank}"])
    W_norm = normalize_rows(W)
    memberships = call_memberships(W_norm, snakemake.params.threshold)
    Ws, logliks = read_restarts_W(
        read_tsv(snakemake.input[f"W_restarts_R{rank}"], index_col=None)
    )
    moonlighting, candidates = moonlighting_confidence(
        read_tsv(snakemake.input.counts).loc[W.index], W, H, Ws, logliks,
        threshold=snakemake.params.threshold, margin=snakemake.params.margin,
        min_support=snakemake.params.min_support, min_lr=snakemake.params.min_lr,
        min_second_weight=snakemake.params.min_second_weight,
    )
    log.info("R=%d; moonlighting candidates:\n%s", rank, candidates.to_string())
    log.info("moonlighting genes: %s", ", ".join(moonlighting["gene"]) or "none")
    write_tsv(W, snakemake.output.W)
    write_tsv(H, snakemake.output.H)
    write_tsv(W_norm, snakemake.output.W_normalized)
    write_tsv(keep_called(memberships, moonlighting["gene"]), snakemake.output.modules,
              index=False)
    write_tsv(moonlighting, snakemake.output.moonlighting, index=False)
    write_tsv(candidates, snakemake.output.candidates, index=False)
    title = f"{snakemake.wildcards.dataset}, R = {rank}"
    plot_weight_histogram(W_norm, snakemake.params.threshold, snakemake.output.histogram,
                          title=title)
    plot_module_heatmap(W_norm, snakemake.output.heatmap, title=title)
