"""How much memory and time a workflow job needs, from the size of its table.

The workflow declares these as Snakemake ``resources`` (``mem_mb``, ``runtime`` in
minutes), which a cluster scheduler enforces: too little and the job is killed, too much
and it waits longer in the queue. The numbers come from what the code allocates, checked
against measured peaks (see docs/scale.md), not from constants.

Fit (:func:`moonlight.fit_nmf`, all K restarts stacked): V and log Gamma(V + 1) are N x M
float64 arrays, and each multiplicative update holds the stacked product W H and the
ratio V / (W H), two K x N x M arrays, so the peak is about ``(2 K + 3) N M`` doubles
plus the interpreter (measured at 20,000 x 1,000 with K = 3: 1.83 GB against 1.84 GB
computed). Time per iteration is about ``K N M (20 + 0.5 R)`` ns on one core: the
elementwise work (divisions, the log likelihood's xlogy) dominates the four matrix
products with inner size R (measured 23-25 ns per cell and restart at R = 5..15), plus
numpy's fixed cost per call; a restart runs at most ``max_iter`` iterations. The default
engine (``ccd``) runs restarts one at a time and holds V, the product, and on tables up
to 128 MB their transposes (:data:`moonlight.engines.ccd.TRANSPOSE_MEMORY_BUDGET`): at most 4 N M
doubles, under the stacked bound. Its sweeps cost more than an MU iteration at large R,
so the time model takes the larger of the two (:func:`fit_runtime_min`).
"""

from __future__ import annotations

import math

from .counts import ROW_BLOCK_ENTRIES
from .stability import COPHENETIC_MAX_GENES

__all__ = [
    "sparse_fit_mem_mb",
    "sparse_fit_runtime_min",
    "fit_mem_mb",
    "fit_runtime_min",
    "crossval_mem_mb",
    "crossval_runtime_min",
    "simulate_mem_mb",
    "simulate_runtime_min",
    "prepare_mem_mb",
    "prepare_runtime_min",
    "single_cell_mem_mb",
    "call_modules_mem_mb",
    "call_modules_runtime_min",
]

#: Resident memory of a job's Python with numpy, scipy, pandas and moonlight loaded (MB).
BASE_MB = 400
#: Headroom on the computed peak: allocator slack, pandas' parser buffers.
MEM_SAFETY = 1.3
#: Headroom on the computed time: cluster cores slower than this machine's, a busy node.
TIME_SAFETY = 3.0
#: Seconds of numpy's fixed cost per iteration of one restart stack (about 15 calls).
_CALL_OVERHEAD_S = 3e-4
#: Seconds to parse or format one table cell.
_CELL_IO_S = 1e-6


def sparse_fit_mem_mb(nnz: int, n_genes: int, n_samples: int, rank: int, restarts: int,
                      attempt: int = 1, copies: int = 2) -> int:
    """Memory (MB) of a fit (or a cross-validation job) on a sparse matrix: ``copies``
    copies of the matrix (12 bytes per nonzero: float64 value, int32 index; a fit holds
    V and a CSC copy, cross-validation also the training samples' and the test samples'
    columns and their gene halves: 4), the engine's copy compressed the other way for
    its cache-blocked W half (12 bytes per nonzero,
    :class:`moonlight.engines.sparse_ccd.SparseSweeps`), the product at the nonzeros and
    the log buffer (8 bytes each per nonzero), every restart's W and the factors (the
    sparse engine never forms an N x M array)."""
    peak = (BASE_MB + _mb(nnz * ((copies + 1) * 12 + 2 * 8))
            + _mb(8.0 * rank * (n_genes * (restarts + 2) + 4 * n_samples)))
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


def sparse_fit_runtime_min(nnz: int, rank: int, restarts: int, max_iter: int,
                           attempt: int = 1) -> int:
    """Wall time (minutes) if every restart runs ``max_iter`` sweeps of the sparse
    engine: about 5 ns per nonzero and coordinate and sweep (the cache-blocked sweep
    took 0.42-0.67 s at 12.7 M nonzeros and R = 10 on a shared machine,
    benchmarks/RESULTS.md section 4; the sweep before it 0.68-0.94 s)."""
    seconds = 60 + restarts * max_iter * nnz * rank * 5e-9
    return math.ceil(seconds * TIME_SAFETY * 2 ** (attempt - 1) / 60)


def _mb(n_bytes: float) -> float:
    return n_bytes / 1e6


def fit_mem_mb(n_genes: int, n_samples: int, restarts: int, attempt: int = 1) -> int:
    """Memory (MB) of one fit of all ``restarts`` stacked, plus the stability summary the
    fit job computes (its gene consensus matrix, distances and tree, about 5 n^2 doubles
    for the n <= 2,000 genes it uses); grows with each retry."""
    consensus_genes = min(n_genes, COPHENETIC_MAX_GENES)
    peak = (BASE_MB + _mb(8.0 * n_genes * n_samples * (2 * restarts + 3))
            + _mb(5 * 8.0 * consensus_genes**2))
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


def fit_runtime_min(
    n_genes: int,
    n_samples: int,
    rank: int,
    restarts: int,
    max_iter: int,
    check_every: int | None,
    attempt: int = 1,
) -> int:
    """Wall time (minutes) of one fit if every restart runs to ``max_iter``; doubles per retry.

    Per iteration and restart, the larger of two models, so it bounds every engine: the
    multiplicative updates (``N M (20 + 0.5 R)`` ns, module docstring; ``check_every=None``
    counts as 10) and a coordinate-descent sweep (``N M (10 + 3 R)`` ns: 2R passes over
    the table, up to 2.3 ns per entry for W when it is swept row by row, 0.5 ns for H,
    measured at 5,000 x 200, R = 10, plus the log likelihood).
    """
    check_every = check_every or 10
    cells = n_genes * n_samples
    mu_ns = (20.0 + 0.5 * rank) * (1 + 1 / check_every)
    ccd_ns = 10.0 + 3.0 * rank
    per_iteration = restarts * cells * max(mu_ns, ccd_ns) * 1e-9
    seconds = 30 + 3 * cells * _CELL_IO_S + max_iter * (per_iteration + _CALL_OVERHEAD_S)
    return math.ceil(seconds * TIME_SAFETY * 2 ** (attempt - 1) / 60)


def crossval_mem_mb(n_genes: int, n_samples: int, restarts: int, attempt: int = 1) -> int:
    """Memory (MB) of one cross-validation job (:func:`moonlight.crossval.cross_validate`).

    Folds and their restarts run one after another; a masked coordinate-descent fit
    holds V, the masked V, the mask, their transposes and the product, about 9 N x M
    doubles, which the bound of a stacked fit plus one N x M array covers.
    """
    return fit_mem_mb(n_genes, n_samples, restarts, attempt) + math.ceil(
        _mb(8.0 * n_genes * n_samples) * MEM_SAFETY
    )


def crossval_runtime_min(
    n_genes: int,
    n_samples: int,
    rank: int,
    folds: int,
    restarts: int,
    max_iter: int,
    check_every: int | None,
    attempt: int = 1,
) -> int:
    """Wall time (minutes) of ``folds`` masked fits, each bounded like a fit."""
    return folds * fit_runtime_min(
        n_genes, n_samples, rank, restarts, max_iter, check_every, attempt
    )


def simulate_mem_mb(n_genes: int, n_samples: int, attempt: int = 1) -> int:
    """Memory (MB) of :func:`moonlight.simulate`: a handful of N x M arrays and their text."""
    peak = BASE_MB + _mb(8.0 * n_genes * n_samples * 4)
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


def simulate_runtime_min(n_genes: int, n_samples: int, attempt: int = 1) -> int:
    """Wall time (minutes) of drawing and writing one simulated data set."""
    seconds = 30 + 5 * n_genes * n_samples * _CELL_IO_S
    return math.ceil(seconds * TIME_SAFETY * 2 ** (attempt - 1) / 60)


def prepare_mem_mb(size_mb: float, attempt: int = 1) -> int:
    """Memory (MB) of reading a user's text table of ``size_mb`` MB and writing it back.

    :func:`moonlight.io.read_count_table` holds every field as a Python string (about
    60 bytes each, twice: split and stripped) while it checks the table; a field takes
    at least 2 bytes of text, so the peak is at most about 60 times the file's size.
    """
    peak = BASE_MB + 60.0 * size_mb
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


#: Bytes a single-cell job holds per entry its file stores, at its peak (measured).
SINGLE_CELL_BYTES_PER_ENTRY = 40.0


def single_cell_mem_mb(size_mb: float, attempt: int = 1, entries: int | None = None
                       ) -> int:
    """Memory (MB) of reading a single-cell matrix (h5ad, 10x directory or .h5) and
    selecting its genes and cells, or of writing results back into it.

    With ``entries``, the entries the file stores
    (:func:`moonlight.singlecell.stored_entries`): the reader's copy, its float64 CSR
    and the selected copy, :data:`SINGLE_CELL_BYTES_PER_ENTRY` in all. Measured on
    simulated ``.h5ad`` files (float32 CSR, 94 % zeros): prepare_single_cell peaked at
    621 MB with 11.2 million nonzeros and 4,178 MB with 112 million, about 37 bytes per
    nonzero above a fixed part (docs/scale.md, "A million cells"). Without it (a file
    whose header cannot be read), from the ``size_mb`` the files take: nonzeros can take
    as little as half a byte compressed, so about 50 times the stored size (for the
    uncompressed million-cell file, 62 GB where 4.2 GB was used)."""
    if entries is not None:
        peak = BASE_MB + _mb(SINGLE_CELL_BYTES_PER_ENTRY * entries)
    else:
        peak = BASE_MB + 50.0 * size_mb
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


def prepare_runtime_min(size_mb: float, attempt: int = 1) -> int:
    """Wall time (minutes) of reading, checking and writing a user's table."""
    seconds = 30 + 5 * (size_mb * 1e6 / 2) * _CELL_IO_S
    return math.ceil(seconds * TIME_SAFETY * 2 ** (attempt - 1) / 60)


def call_modules_mem_mb(n_genes: int, n_samples: int, nnz: int, is_sparse: bool,
                        attempt: int = 1) -> int:
    """Memory (MB) of :func:`moonlight.pipeline.call_modules` (the workflow's rule of
    that name): the counts (a sparse matrix, or a dense table and its copy), one dense
    block of count rows (every gene test reads its rows in blocks of at most
    :data:`~moonlight.counts.ROW_BLOCK_ENTRIES`, whatever the number of genes or
    candidates), and the tests' working set on a block, at most 2^28 bytes: the interval
    searches hold four copies of the block and of its offsets, the flat-profile test
    some eight arrays of the block's size. A sparse matrix counts 24 bytes per nonzero:
    its CSR holds 12, and loading it and the sample-wide H tables (read a row at a
    time) add as much again at their peak. Measured at 2,000 genes x 20,000 cells: a
    peak of 472 MB for the whole process, 287 MB of it before call_modules started; at
    a million cells (112 million nonzeros) 3,329 MB, where 12 bytes per nonzero had
    declared 2,666 (docs/scale.md)."""
    held = 24.0 * nnz if is_sparse else 16.0 * n_genes * n_samples
    block = 8.0 * min(n_genes * n_samples, ROW_BLOCK_ENTRIES)
    peak = BASE_MB + _mb(held + block + 2**28)
    return math.ceil(peak * MEM_SAFETY * (1 + 0.5 * (attempt - 1)))


def call_modules_runtime_min(n_genes: int, n_samples: int, rank: int,
                             attempt: int = 1) -> int:
    """Wall time (minutes) of :func:`moonlight.pipeline.call_modules` on one thread.

    Its cost is the row fits of the gene tests (:func:`moonlight.rowmodel.fit_rows`):
    a handful of fits per gene, each some Newton steps of one pass over the row's
    samples with R^2 work per sample (a Poisson row passes over its nonzeros only; the
    bound counts every sample, as for a negative-binomial row). Measured at 2,000 genes
    x 20,000 cells, R = 10 (the rank guard's fit at 11): 129 s, about 30 ns per gene,
    sample and R^2 (docs/scale.md, "call_modules")."""
    seconds = 60 + 3e-8 * n_genes * n_samples * rank**2
    return math.ceil(seconds * TIME_SAFETY * 2 ** (attempt - 1) / 60)
