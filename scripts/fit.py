"""Rule fit: Poisson NMF of one data set at one rank; every restart kept, best written.

All restarts' W (and log L) go to W_restarts.tsv, for their agreement (rule stability)
and the moonlighting support at the selected rank.
"""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from threadpoolctl import threadpool_limits

from moonlight import write_tsv
from moonlight.io import read_counts
from moonlight.pipeline import fit_rank
from moonlight.runlog import log_to
from moonlight.stability import restarts_W_frame

with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    counts = read_counts(snakemake.input.counts)
    rank = int(snakemake.wildcards.rank)
    fit = fit_rank(counts, rank, restarts=snakemake.params.restarts, **snakemake.params.fit)
    log.info("R=%d: best log L %.4f (restart %d); %d of %d restarts converged",
             rank, fit.loglik, fit.best_restart, fit.converged.sum(), len(fit.logliks))
    write_tsv(fit.W_frame().rename_axis("gene"), snakemake.output.W)
    write_tsv(fit.H_frame().rename_axis("module"), snakemake.output.H)
    write_tsv(fit.restarts_frame().assign(rank=rank), snakemake.output.restarts, index=False)
    write_tsv(restarts_W_frame(fit), snakemake.output.W_restarts, index=False)
