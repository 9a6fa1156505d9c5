"""Rule crossval: K-fold held-out Poisson log likelihood of one data set at one rank."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

from threadpoolctl import threadpool_limits

from moonlight import write_tsv
from moonlight.batches import read_batches
from moonlight.config import size_checks
from moonlight.counts import load_counts
from moonlight.folds import check_size
from moonlight.pipeline import heldout_folds
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
    folds = heldout_folds(counts, rank, batches=batches, **snakemake.params.selection)
    log.info("R=%d: held-out log L per fold %s", rank, folds["heldout_loglik"].round(2).tolist())
    write_tsv(folds, snakemake.output[0], index=False)
