"""Rule summary: one row per data set across the whole run."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.runlog import log_to
from moonlight.summary import SUMMARY_COLUMNS, dataset_summary


def table(path):
    return read_tsv(path, index_col=None)


with log_to(snakemake.log[0]) as log:
    recovery = dict(zip(snakemake.params.simulated, snakemake.input.recovery))
    records = [
        dataset_summary(
            name,
            table(selection),
            table(modules),
            table(moonlighting),
            table(recovery[name]) if name in recovery else None,
            qc=table(qc),
        )
        for name, selection, modules, moonlighting, qc in zip(
            snakemake.params.datasets,
            snakemake.input.selection,
            snakemake.input.modules,
            snakemake.input.moonlighting,
            snakemake.input.qc,
        )
    ]
    summary = pd.DataFrame(records, columns=SUMMARY_COLUMNS)
    for name, warnings in zip(summary["dataset"], summary["warnings"]):
        if warnings:
            log.warning("%s: %s (results/%s/qc.tsv)", name, warnings, name)
    write_tsv(summary, snakemake.output[0], index=False)
