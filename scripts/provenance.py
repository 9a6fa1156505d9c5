"""Rule provenance: config, input checksums, software versions, git commit, job timings."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight.provenance import collect, write_provenance, write_run_config
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    provenance = collect(
        snakemake.params.config,
        snakemake.input.tables,
        snakemake.input.benchmarks,
        commit=snakemake.params.commit,
    )
    log.info("commit %s; %d input tables; %d benchmarked jobs", provenance.commit,
             len(provenance.inputs), len(provenance.benchmarks))
    write_provenance(
        provenance,
        table=snakemake.output.table,
        page=snakemake.output.page,
        benchmarks=snakemake.output.benchmarks,
    )
    write_run_config(snakemake.params.config, snakemake.output.config)
