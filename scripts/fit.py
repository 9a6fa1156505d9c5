"""Rule fit: Poisson NMF of one data set at one rank, the restarts of one job (all of
them unless fit.restarts_per_job splits them); rule gather_restarts joins the parts."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pickle

from threadpoolctl import threadpool_limits

from moonlight.batches import read_batches
from moonlight.counts import load_counts
from moonlight.folds import check_job_size
from moonlight.io import atomic_path
from moonlight.pipeline import fit_rank
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    counts = load_counts(snakemake.input.counts)
    rank = int(snakemake.wildcards.rank)
    batches = (read_batches(snakemake.input.batches, counts.samples)
               if "batches" in snakemake.input.keys() else None)
    check_job_size(counts.shape, rank, snakemake.config, snakemake.wildcards.dataset,
                   sparse=counts.is_sparse)
    fit = fit_rank(counts, rank, restarts=snakemake.params.restarts,
                   restart_ids=snakemake.params.restart_ids, threads=snakemake.threads,
                   batches=batches, **snakemake.params.fit)
    log.info("R=%d, restarts %s: best log L %.4f (restart %d); %d converged", rank,
             snakemake.params.restart_ids, fit.loglik, fit.best_restart,
             fit.converged.sum())
    with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as stream:
        pickle.dump(fit, stream, protocol=5)
