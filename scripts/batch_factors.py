"""Rule batch_factors: every gene's factor per known batch at the selected fit
(moonlight.batches.factors, in closed form from the counts, W and H), and its plot."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.batches import factors, read_batches
from moonlight.counts import load_counts
from moonlight.plots import plot_batch_factors
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    counts = load_counts(snakemake.input.counts)
    W, H = read_tsv(snakemake.input.W, matrix=True), read_tsv(snakemake.input.H, matrix=True)
    batches = read_batches(snakemake.input.batches, counts.samples)
    beta = factors(counts.matrix, W.loc[counts.genes], H[counts.samples], batches,
                   counts.genes)
    log.info("batch factors, median per batch: %s", beta.median().round(3).to_dict())
    write_tsv(beta.round(6), snakemake.output.table)
    plot_batch_factors(beta, snakemake.output.plot,
                       title=f"{snakemake.wildcards.dataset}: batch factors")
