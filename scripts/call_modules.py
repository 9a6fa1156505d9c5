"""Rule call_modules: W at the selected rank, normalized; memberships; moonlighting genes
with their confidence (moonlight.pipeline.call_modules, as analyse() runs it)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.pipeline import call_modules
from moonlight.plots import plot_module_heatmap, plot_weight_histogram
from moonlight.runlog import log_to
from moonlight.stability import read_restarts_W

with log_to(snakemake.log[0]) as log:
    selection = read_tsv(snakemake.input.selection, index_col=None)
    rank = int(selection.loc[selection["selected"], "rank"].iat[0])
    H = read_tsv(snakemake.input[f"H_R{rank}"])
    Ws, logliks = read_restarts_W(read_tsv(snakemake.input[f"W_restarts_R{rank}"],
                                           index_col=None))
    calls = call_modules(read_tsv(snakemake.input.counts), read_tsv(snakemake.input[f"W_R{rank}"]),
                         H, Ws, logliks, margin=snakemake.params.margin,
                         **snakemake.params.modules)
    log.info("R=%d; moonlighting candidates:\n%s", rank, calls.candidates.to_string())
    log.info("moonlighting genes: %s", ", ".join(calls.moonlighting["gene"]) or "none")
    write_tsv(calls.W, snakemake.output.W)
    write_tsv(H, snakemake.output.H)
    write_tsv(calls.W_normalized, snakemake.output.W_normalized)
    write_tsv(calls.memberships, snakemake.output.modules, index=False)
    write_tsv(calls.moonlighting, snakemake.output.moonlighting, index=False)
    write_tsv(calls.candidates, snakemake.output.candidates, index=False)
    title = f"{snakemake.wildcards.dataset}, R = {rank}"
    plot_weight_histogram(calls.W_normalized, snakemake.params.modules["threshold"],
                          snakemake.output.histogram, title=title)
    plot_module_heatmap(calls.W_normalized, snakemake.output.heatmap, title=title)
