"""Rule simulate: draw one data set and its truth from the generative model; the table
as drawn for people (counts.tsv), and the counts the jobs read (counts.npz) prepared as
every data set's are (moonlight.prepare.prepare_counts: outliers, all-zero genes and
samples, the gene selection, the size), with the record of how (read.tsv)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import simulate, write_tsv
from moonlight.config import size_checks
from moonlight.prepare import prepare_counts
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    settings = dict(snakemake.params.simulation)
    for key in ("module_size", "depth"):
        settings[key] = tuple(settings[key])
    name = f"sim{snakemake.wildcards.seed}"
    sim = simulate(seed=int(snakemake.wildcards.seed), **settings)
    log.info("simulated %d genes x %d samples; moonlighting: %s",
             *sim.counts.shape, ", ".join(sim.moonlighting))
    ranks, folds = size_checks(snakemake.config, name)  # not params: see size_checks
    prepared = prepare_counts(sim.counts, ranks=ranks, folds=folds, qc=snakemake.params.qc,
                              selection=snakemake.params.selection,
                              source=f"simulated data set {name}")
    log.info("%s: %d genes x %d samples kept", name, *prepared.counts.shape)
    prepared.save(snakemake.output.counts, snakemake.output.read)
    write_tsv(sim.counts.rename_axis("gene"), snakemake.output.table)
    write_tsv(sim.W.rename_axis("gene"), snakemake.output.W)
    write_tsv(sim.H.rename_axis("module"), snakemake.output.H)
    write_tsv(sim.membership.rename_axis("gene"), snakemake.output.membership)
    write_tsv(sim.depth.rename_axis("sample").to_frame(), snakemake.output.depth)
