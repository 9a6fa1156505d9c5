"""moonlight: gene modules and moonlighting genes by Poisson non-negative matrix factorization.

The package holds every computation of the workflow and runs without Snakemake::

    import moonlight
    counts = moonlight.read_count_table("counts.tbl")        # genes x samples
    fit = moonlight.fit_nmf(counts, rank=4, restarts=10, seed=0)
    W_norm = moonlight.normalize_rows(fit.W_frame())
    members = moonlight.call_memberships(W_norm, threshold=0.1)
    moonlight.moonlighting_genes(members)

Modules: :mod:`~moonlight.tables` (reading count tables), :mod:`~moonlight.io`
(moonlight's own tables), :mod:`~moonlight.simulate` (generative model),
:mod:`~moonlight.likelihood`, :mod:`~moonlight.nmf` (fit engine),
:mod:`~moonlight.selection` (choice of R), :mod:`~moonlight.crossval` (held-out
likelihood by masked fits), :mod:`~moonlight.stability` (agreement of restarts),
:mod:`~moonlight.modules` (memberships), :mod:`~moonlight.confidence` (support and
likelihood ratio of moonlighting calls), :mod:`~moonlight.recovery` (comparison with a
planted truth), :mod:`~moonlight.pipeline` (the whole analysis in one call),
:mod:`~moonlight.plots`.
"""

from .io import read_tsv, write_tsv
from .likelihood import log_factorial_sum, n_free_parameters, poisson_loglik
from .modules import (
    call_memberships,
    module_sizes,
    moonlighting_genes,
    normalize_columns,
    normalize_rows,
)
from .nmf import NMFResult, fit_nmf
from .recovery import match_modules, recovery_summary
from .selection import rank_table
from .simulate import Simulation, simulate
from .tables import CountTableError, TableRead, drop_empty, read_count_table, read_table

__version__ = "0.1.0"

__all__ = [
    "CountTableError",
    "NMFResult",
    "Simulation",
    "TableRead",
    "call_memberships",
    "drop_empty",
    "fit_nmf",
    "log_factorial_sum",
    "match_modules",
    "module_sizes",
    "moonlighting_genes",
    "n_free_parameters",
    "normalize_columns",
    "normalize_rows",
    "poisson_loglik",
    "rank_table",
    "read_count_table",
    "read_table",
    "read_tsv",
    "recovery_summary",
    "simulate",
    "write_tsv",
]
