"""Rule enrichment: every module against the config's gene sets, two tests
(moonlight.enrichment.module_enrichment, as analyse(gene_sets=...) runs it)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.enrichment import module_enrichment
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    settings = snakemake.params.enrichment
    result = module_enrichment(
        read_tsv(snakemake.input.W, matrix=True), read_tsv(snakemake.input.modules, index_col=None),
        snakemake.params.gene_sets, min_set_size=settings["min_set_size"],
        max_set_size=settings["max_set_size"], min_coverage=settings["min_coverage"])
    if result.warning:
        log.warning("gene_set_coverage: %s", result.warning)
    log.info("%d module x set tests", len(result.table))
    write_tsv(result.table, snakemake.output.table, index=False)
    write_tsv(result.coverage, snakemake.output.coverage, index=False)
