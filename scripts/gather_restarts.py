"""Rule gather_restarts: the fit of one rank from its jobs' restarts (byte for byte the
result of one job running them all); best W and H, every restart's log L and W."""

import _checkout  # noqa: F401  (this checkout's moonlight first on sys.path)

import pickle

from moonlight import write_tsv
from moonlight.nmf import combine_results
from moonlight.runlog import log_to
from moonlight.stability import restarts_W_frame


def load(path):
    with open(path, "rb") as stream:  # written by this workflow's rule fit
        return pickle.load(stream)


with log_to(snakemake.log[0]) as log:
    fit = combine_results([load(path) for path in snakemake.input.parts])
    rank = int(snakemake.wildcards.rank)
    log.info("R=%d: best log L %.4f (restart %d); %d of %d restarts converged",
             rank, fit.loglik, fit.best_restart, fit.converged.sum(), len(fit.logliks))
    write_tsv(fit.W_frame().rename_axis("gene"), snakemake.output.W)
    write_tsv(fit.H_frame().rename_axis("module"), snakemake.output.H)
    write_tsv(fit.restarts_frame().assign(rank=rank), snakemake.output.restarts, index=False)
    write_tsv(restarts_W_frame(fit), snakemake.output.W_restarts, index=False)
