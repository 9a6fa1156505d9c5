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

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

__version__ = "0.1.0"

#: Each public name and the module that defines it. They are imported on first use
#: (PEP 562), so that ``import moonlight.io`` in a workflow job loads pandas and not the
#: fit kernels, SciPy's clustering or scikit-learn.
_EXPORTS = {
    "Counts": "counts", "load_counts": "counts", "save_counts": "counts",
    "read_tsv": "io", "write_tsv": "io",
    "log_factorial_sum": "likelihood", "n_free_parameters": "likelihood",
    "poisson_loglik": "likelihood",
    "call_memberships": "modules", "module_sizes": "modules",
    "moonlighting_genes": "modules", "normalize_columns": "modules",
    "normalize_rows": "modules",
    "rank_genes": "genesets", "top_genes": "genesets", "write_gmt": "genesets",
    "NMFResult": "nmf", "combine_results": "nmf", "fit_nmf": "nmf",
    "Projection": "projection", "align_genes": "projection", "project": "projection",
    "transform": "projection",
    "match_modules": "recovery", "recovery_summary": "recovery",
    "rank_table": "selection",
    "near_best_consensus": "stability",
    "CountTableError": "tables", "TableRead": "tables", "drop_empty": "tables",
    "read_count_table": "tables", "read_table": "tables",
    "PoissonNMF": "estimator",
}

# ``simulate`` names a function and its module: imported here, so that the package
# attribute is the function even after something imports the module moonlight.simulate
# (which would set the attribute to the module, where ``__getattr__`` is never asked).
from .simulate import Simulation, simulate  # noqa: E402

if TYPE_CHECKING:
    from .counts import Counts, load_counts, save_counts
    from .estimator import PoissonNMF
    from .genesets import rank_genes, top_genes, write_gmt
    from .io import read_tsv, write_tsv
    from .likelihood import log_factorial_sum, n_free_parameters, poisson_loglik
    from .modules import (call_memberships, module_sizes, moonlighting_genes,
                          normalize_columns, normalize_rows)
    from .nmf import NMFResult, combine_results, fit_nmf
    from .projection import Projection, align_genes, project, transform
    from .recovery import match_modules, recovery_summary
    from .selection import rank_table
    from .stability import near_best_consensus
    from .tables import (CountTableError, TableRead, drop_empty, read_count_table,
                         read_table)


def __getattr__(name: str) -> object:
    """A public name, or a submodule (``moonlight.pipeline``), imported on first use."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'moonlight' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
