"""Rule annotations: every module's usage against the sample sheet's columns or the
.h5ad's obs columns (moonlight.annotations.annotate_modules, as analyse() runs it)."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, write_tsv
from moonlight.annotations import annotate_modules, read_sample_sheet
from moonlight.plots import plot_usage_by_group
from moonlight.runlog import log_to
from moonlight.technical import read_obs_columns

with log_to(snakemake.log[0]) as log:
    H = read_tsv(snakemake.input.H, matrix=True)
    options = snakemake.params.options
    samples = [str(s) for s in H.columns]
    if options["sheet"]:
        annotations = read_sample_sheet(snakemake.input.source, samples,
                                        columns=options["columns"])
    else:
        annotations = read_obs_columns(snakemake.input.source, options["columns"], samples,
                                       key="annotations")
    result = annotate_modules(H, annotations)
    log.info("%d module x annotation tests; smallest q %.3g", len(result.tests),
             result.tests["q"].min())
    write_tsv(result.tests, snakemake.output.tests, index=False)
    write_tsv(result.usage, snakemake.output.usage, index=False)
    plot_usage_by_group(result.usage, snakemake.output.plot,
                        title=f"{snakemake.wildcards.dataset}: mean module usage by group")
