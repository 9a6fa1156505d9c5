"""Rule project: module activities (H) of new samples on a fitted data set's modules, W
fixed (moonlight.projection), genes matched by name."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.projection import align_genes, project
from moonlight.runlog import log_to
from moonlight.tables import READ_OPTIONS, drop_named, read_table

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input.table, snakemake.params.table
    counts = drop_named(read_table(source, **{k: spec[k] for k in READ_OPTIONS if k in spec}).counts,
                        genes=spec.get("drop_genes", []), samples=spec.get("drop_samples", []),
                        source=source)
    W = read_tsv(snakemake.input.W)
    aligned, missing, extra = align_genes(counts, W)
    log.info("%s on the modules of %s: %d of %d genes shared; %d missing from the new "
             "table (%s); %d not in the model, left out (%s)", source,
             snakemake.wildcards.dataset, len(aligned), len(W), len(missing),
             ", ".join(missing[:20]), len(extra), ", ".join(extra[:20]))
    result = project(aligned, W.loc[aligned.index], **snakemake.params.settings)
    if not result.converged:
        log.warning("the projection stopped at max_iter=%d before converging",
                    snakemake.params.settings["max_iter"])
    genes = pd.DataFrame({
        "gene": list(aligned.index) + missing + extra,
        "status": ["used"] * len(aligned) + ["missing"] * len(missing) + ["extra"] * len(extra),
    })
    loglik = result.loglik.rename_axis("sample").to_frame()
    loglik["total_count"] = aligned.sum(axis=0).to_numpy()
    write_tsv(result.H.rename_axis("module"), snakemake.output.H)
    write_tsv(loglik, snakemake.output.loglik)
    write_tsv(genes, snakemake.output.genes, index=False)
