"""Rule anndata_out: the results written back into AnnData for an .h5ad input
(results/<name>/moonlight.h5ad; moonlight.anndata_out)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv
from moonlight.anndata_out import moonlight_anndata, write_moonlight_h5ad
from moonlight.config import entry_default
from moonlight.runlog import log_to
from moonlight.selection import selected_rank
from moonlight.singlecell import SINGLECELL_OPTIONS, read_single_cell

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input.source, snakemake.params.options
    read = read_single_cell(source, **{k: spec[k] for k in SINGLECELL_OPTIONS if k in spec})
    selection = read_tsv(snakemake.input.selection, index_col=None)
    rank = selected_rank(selection)
    adata = moonlight_anndata(
        read_tsv(snakemake.input.W, matrix=True), read_tsv(snakemake.input.H, matrix=True),
        read_tsv(snakemake.input.modules, index_col=None),
        read_tsv(snakemake.input.moonlighting, index_col=None),
        genes=read.genes, cells=read.cells, rule=snakemake.params.rule,
        parameters={**snakemake.params.parameters, "selected_rank": rank,
                    "ranks": [int(r) for r in selection["rank"] if r > 1]},  # as fitted
        source=source, matrix=spec.get("matrix", entry_default("matrix")),
        annotations=dict(zip(("tests", "usage_by_group"),
                             (read_tsv(path, index_col=None)
                              for path in snakemake.input.annotations))),
        batch_factors=(read_tsv(snakemake.input.batch_factors)
                       if "batch_factors" in snakemake.input.keys() else None),
    )
    log.info("%s: %d cells x %d genes, R = %d", snakemake.output[0], *adata.shape, rank)
    write_moonlight_h5ad(adata, snakemake.output[0])
