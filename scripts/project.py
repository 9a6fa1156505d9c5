"""Rule project: module activities (H) of new samples on a fitted data set's modules, W
fixed (moonlight.projection), genes matched by name."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.genefilter import exclusion_reason, unmatched
from moonlight.prepare import read_entry_table
from moonlight.projection import align_genes, gene_status, project
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    source, spec = snakemake.input.table, snakemake.params.table
    entry = read_entry_table(source, spec)
    if entry.taken:
        log.info("%s: %s", source, exclusion_reason(entry.taken))
    if unmatched(entry.taken):
        log.warning("%s: exclude_genes entries that matched no gene: %s", source,
                    ", ".join(unmatched(entry.taken)))
    W = read_tsv(snakemake.input.W, matrix=True)
    aligned, missing, extra = align_genes(entry.counts, W)
    genes = gene_status(list(aligned.index), missing, extra,
                        [*spec.get("drop_genes", []), *entry.excluded])
    missing, excluded, extra = (genes.loc[genes["status"] == status, "gene"].tolist()
                                for status in ("missing", "excluded", "extra"))
    log.info("%s on the modules of %s: %d of %d genes shared; %d missing from the new "
             "table (%s); %d left out by its entry (%s); %d not in the model, left out (%s)",
             source, snakemake.wildcards.dataset, len(aligned), len(W), len(missing),
             ", ".join(missing[:20]), len(excluded), ", ".join(excluded[:20]), len(extra),
             ", ".join(extra[:20]))
    if snakemake.params.model_batch:
        log.warning("%s was fitted with known batches (batch: %s): the new samples are "
                    "projected on W without batch factors (their batch is unknown to the "
                    "model), so their H is that of an average batch and does not "
                    "reproduce a training sample's H", snakemake.wildcards.dataset,
                    snakemake.params.model_batch)
    result = project(aligned, W.loc[aligned.index], **snakemake.params.settings)
    if not result.converged:
        log.warning("the projection stopped at max_iter=%d before converging",
                    snakemake.params.settings["max_iter"])
    loglik = result.loglik.rename_axis("sample").to_frame()
    loglik["total_count"] = aligned.sum(axis=0).to_numpy()
    write_tsv(result.H.rename_axis("module"), snakemake.output.H)
    write_tsv(loglik, snakemake.output.loglik)
    write_tsv(genes, snakemake.output.genes, index=False)
