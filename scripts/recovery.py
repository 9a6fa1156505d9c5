"""Rule recovery: how well the selected fit recovered the planted truth."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from moonlight import read_tsv, recovery_summary, write_tsv
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log:
    summary, matching = recovery_summary(
        true_membership=read_tsv(snakemake.input.truth_membership).astype(bool),
        W_true=read_tsv(snakemake.input.truth_W, matrix=True),
        W_fit=read_tsv(snakemake.input.W, matrix=True),
        memberships=read_tsv(snakemake.input.modules, index_col=None),
        moonlighting=read_tsv(snakemake.input.moonlighting, index_col=None),
    )
    log.info("recovery:\n%s", summary.T.to_string())
    write_tsv(summary, snakemake.output.summary, index=False)
    write_tsv(matching, snakemake.output.matching, index=False)
