"""Rule simulate: draw one data set and its truth from the generative model; the counts
as the jobs read them (counts.npz) and as a table for people (counts.tsv)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import simulate, write_tsv
from moonlight.counts import Counts, save_counts
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    settings = dict(snakemake.params.simulation)
    for key in ("module_size", "depth"):
        settings[key] = tuple(settings[key])
    sim = simulate(seed=int(snakemake.wildcards.seed), **settings)
    log.info("simulated %d genes x %d samples; moonlighting: %s",
             *sim.counts.shape, ", ".join(sim.moonlighting))
    save_counts(Counts.of(sim.counts), snakemake.output.counts)
    write_tsv(sim.counts.rename_axis("gene"), snakemake.output.table)
    write_tsv(sim.W.rename_axis("gene"), snakemake.output.W)
    write_tsv(sim.H.rename_axis("module"), snakemake.output.H)
    write_tsv(sim.membership.rename_axis("gene"), snakemake.output.membership)
    write_tsv(sim.depth.rename_axis("sample").to_frame(), snakemake.output.depth)
