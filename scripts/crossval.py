"""Rule crossval: K-fold held-out Poisson log likelihood of one data set at one rank."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from threadpoolctl import threadpool_limits

from moonlight import write_tsv
from moonlight.batches import read_batches
from moonlight.counts import load_counts
from moonlight.folds import check_job_size
from moonlight.pipeline import heldout_folds
from moonlight.runlog import log_to

with log_to(snakemake.log[0]) as log, threadpool_limits(snakemake.threads):
    counts = load_counts(snakemake.input.counts)
    rank = int(snakemake.wildcards.rank)
    batches = (read_batches(snakemake.input.batches, counts.samples)
               if "batches" in snakemake.input.keys() else None)
    check_job_size(counts.shape, rank, snakemake.config, snakemake.wildcards.dataset,
                   sparse=counts.is_sparse)
    folds = heldout_folds(counts, rank, batches=batches, **snakemake.params.selection)
    log.info("R=%d: held-out log L per fold %s", rank, folds["heldout_loglik"].round(2).tolist())
    write_tsv(folds, snakemake.output[0], index=False)
