"""Rule usage_embedding: every module's usage share drawn on the input's embedding
(obsm X_umap or X_tsne, kept in moonlight.h5ad; moonlight.plots.plot_usage_embedding)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import anndata

from moonlight.anndata_out import usage_on_embedding
from moonlight.plots import plot_usage_embedding
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    key, coords, shares = usage_on_embedding(anndata.read_h5ad(snakemake.input[0]))
    log.info("%s: %d cells on %s, %d modules", snakemake.input[0], len(coords), key,
             shares.shape[1])
    plot_usage_embedding(coords, shares, snakemake.output[0],
                         basis=key.removeprefix("X_"),
                         title=f"{snakemake.wildcards.dataset}: module usage on {key}")
