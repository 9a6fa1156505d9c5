"""moonlight: gene modules and moonlighting genes by Poisson non-negative matrix factorization.

The package holds every computation of the workflow and runs without Snakemake::

    import moonlight
    counts = moonlight.read_count_table("counts.tbl")        # genes x samples
    fit = moonlight.fit_nmf(counts, rank=4, restarts=10, seed=0)
    W_norm = moonlight.normalize_rows(fit.W_frame())
    members = moonlight.call_memberships(W_norm, threshold=0.1)
    moonlight.moonlighting_genes(members)

Modules: :mod:`~moonlight.tables` (reading count tables), :mod:`~moonlight.counts`
(the count matrix, dense or sparse, with its names, and its binary file),
:mod:`~moonlight.io` (moonlight's own tables), :mod:`~moonlight.simulate` (generative model),
:mod:`~moonlight.likelihood`, :mod:`~moonlight.nmf` (the fit: API and result),
:mod:`~moonlight.restarts` (the one restart driver and seed scheme),
:mod:`~moonlight.engines` (the fit engines, one module each: dense and sparse ccd, mu),
:mod:`~moonlight.projection` (H of new samples with W fixed),
:mod:`~moonlight.estimator` (a scikit-learn estimator), :mod:`~moonlight.genesets`
(ranked genes and GMT gene sets), :mod:`~moonlight.qc` (quality control),
:mod:`~moonlight.config` (defaults),
:mod:`~moonlight.selection` (choice of R), :mod:`~moonlight.crossval` (held-out
likelihood: the fold designs), :mod:`~moonlight.folds` (the partitions),
:mod:`~moonlight.heldout_fits` (fits with held-out data), :mod:`~moonlight.stability` (agreement of restarts),
:mod:`~moonlight.modules` (memberships), :mod:`~moonlight.share_test` and
:mod:`~moonlight.confidence` (the test and the moonlighting calls),
:mod:`~moonlight.classes` (gene classes), :mod:`~moonlight.recovery` (comparison with a
planted truth), :mod:`~moonlight.pipeline` (the whole analysis in one call),
:mod:`~moonlight.plots`.
"""

from .counts import Counts, load_counts, save_counts
from .io import read_tsv, write_tsv
from .likelihood import log_factorial_sum, n_free_parameters, poisson_loglik
from .modules import (
    call_memberships,
    module_sizes,
    moonlighting_genes,
    normalize_columns,
    normalize_rows,
)
from .genesets import rank_genes, top_genes, write_gmt
from .nmf import NMFResult, combine_results, fit_nmf
from .projection import Projection, align_genes, project, transform
from .recovery import match_modules, recovery_summary
from .selection import rank_table
from .simulate import Simulation, simulate
from .stability import near_best_consensus
from .tables import CountTableError, TableRead, drop_empty, read_count_table, read_table

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``moonlight.PoissonNMF`` on first use: the estimator imports scikit-learn (about a
    second) when it is installed, which a workflow job should not pay."""
    if name == "PoissonNMF":
        from .estimator import PoissonNMF

        return PoissonNMF
    raise AttributeError(f"module 'moonlight' has no attribute {name!r}")


__all__ = [
    "CountTableError",
    "Counts",
    "NMFResult",
    "PoissonNMF",
    "Projection",
    "Simulation",
    "TableRead",
    "align_genes",
    "call_memberships",
    "combine_results",
    "drop_empty",
    "fit_nmf",
    "load_counts",
    "log_factorial_sum",
    "match_modules",
    "module_sizes",
    "moonlighting_genes",
    "n_free_parameters",
    "near_best_consensus",
    "normalize_columns",
    "normalize_rows",
    "poisson_loglik",
    "project",
    "rank_genes",
    "rank_table",
    "read_count_table",
    "read_table",
    "read_tsv",
    "recovery_summary",
    "save_counts",
    "simulate",
    "top_genes",
    "transform",
    "write_gmt",
    "write_tsv",
]
