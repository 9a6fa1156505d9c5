"""Rule enrichment_figure: the module x gene-set tests of enrichment.tsv drawn, those
with q at most enrichment.fdr filled (moonlight.plots.plot_enrichment)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv
from moonlight.plots import plot_enrichment
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    table = read_tsv(snakemake.input[0], index_col=None)
    fdr = snakemake.params.fdr
    log.info("%d module x set tests; q <= %g: %d", len(table), fdr, int((table["q"] <= fdr).sum()))
    plot_enrichment(table, snakemake.output[0], title=snakemake.wildcards.dataset, fdr=fdr)
