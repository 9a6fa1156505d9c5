"""Rule stability: agreement of one rank's near-best restarts (matched cosine of W columns,
cophenetic correlation), for select_rank."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pandas as pd

from moonlight import read_tsv, write_tsv
from moonlight.runlog import log_to
from moonlight.stability import read_restarts_W, stability_summary

with log_to(snakemake.log[0]) as log:
    Ws, logliks = read_restarts_W(read_tsv(snakemake.input.W_restarts, index_col=None))
    rank = int(snakemake.wildcards.rank)
    stability = stability_summary([W.to_numpy() for W in Ws], logliks,
                                  margin=snakemake.params.margin, rank=rank)
    log.info("R=%d: %s", rank, stability)
    write_tsv(pd.DataFrame([stability]), snakemake.output[0], index=False)
