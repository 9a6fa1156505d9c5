"""Rule top_genes: the first config ``top_genes`` genes of every module, with its size and
moonlighting genes (moonlight.genesets.top_genes of call_modules' module_genes.tsv)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.genesets import top_genes
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    table = top_genes(read_tsv(snakemake.input.module_genes, index_col=None),
                      snakemake.params.top_genes)
    log.info("%d modules, %d genes each at most", len(table), snakemake.params.top_genes)
    write_tsv(table, snakemake.output[0], index=False)
