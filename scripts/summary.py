"""Rule summary: one row per data set across the whole run."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import write_tsv
from moonlight.runlog import log_to
from moonlight.summary import SUMMARY_COLUMNS, dataset_summary

with log_to(snakemake.log[0]):
    def table(path):
        return pd.read_csv(path, sep="\t")

    recovery = dict(zip(snakemake.params.simulated, snakemake.input.recovery))
    records = [
        dataset_summary(
            name,
            table(selection),
            table(modules),
            table(moonlighting),
            table(recovery[name]) if name in recovery else None,
        )
        for name, selection, modules, moonlighting in zip(
            snakemake.params.datasets,
            snakemake.input.selection,
            snakemake.input.modules,
            snakemake.input.moonlighting,
        )
    ]
    write_tsv(pd.DataFrame(records, columns=SUMMARY_COLUMNS), snakemake.output[0], index=False)
