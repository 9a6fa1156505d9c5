"""Rule fit: Poisson NMF of one data set at one rank, the restarts of one job (all of
them unless fit.restarts_per_job splits them); rule gather_restarts joins the parts."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pickle

from threadpoolctl import threadpool_limits

from moonlight.batches import read_batches
from moonlight.config import size_checks
from moonlight.counts import load_counts
from moonlight.folds import check_size
from moonlight.io import atomic_path
from moonlight.pipeline import fit_rank
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    counts = load_counts(snakemake.input.counts)
    rank = int(snakemake.wildcards.rank)
    batches = (read_batches(snakemake.input.batches, counts.samples)
               if "batches" in snakemake.input.keys() else None)
    # the rank and folds against the counts (the data step checked the ranks and folds
    # of its own run; a later config may add a rank without rerunning it)
    _, splits = size_checks(snakemake.config, snakemake.wildcards.dataset)
    check_size(counts.shape, [rank], splits, source=f"data set {snakemake.wildcards.dataset}",
               sparse=counts.is_sparse)
    fit = fit_rank(counts, rank, restarts=snakemake.params.restarts,
                   restart_ids=snakemake.params.restart_ids, threads=snakemake.threads,
                   batches=batches, **snakemake.params.fit)
    log.info("R=%d, restarts %s: best log L %.4f (restart %d); %d converged", rank,
             snakemake.params.restart_ids, fit.loglik, fit.best_restart,
             fit.converged.sum())
    with atomic_path(snakemake.output[0]) as tmp, open(tmp, "wb") as stream:
        pickle.dump(fit, stream, protocol=5)
