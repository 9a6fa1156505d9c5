"""moonlight.resources: what a job declares grows with its table, R and retries."""

import pytest

from moonlight import write_tsv
from moonlight.resources import (fit_mem_mb, fit_runtime_min, prepare_mem_mb, simulate_mem_mb,
                                 table_shape)


def test_table_shape_of_a_written_table(tmp_path):
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(np.arange(35.0).reshape(7, 5), columns=list("abcde"),
                         index=pd.Index([f"g{i}" for i in range(7)], name="gene"))
    write_tsv(frame, tmp_path / "c.tsv")
    assert table_shape(tmp_path / "c.tsv") == (7, 5)
    with pytest.raises(FileNotFoundError):  # Snakemake then asks again once it exists
        table_shape(tmp_path / "missing.tsv")


def test_fit_memory_covers_the_stacked_restarts():
    n, m, k = 20000, 1000, 3
    needed = 8 * n * m * (2 * k + 3) / 1e6  # MB: V, log Gamma(V+1), 2 K stacked N x M
    assert fit_mem_mb(n, m, k) > needed
    assert fit_mem_mb(n, m, 10) > fit_mem_mb(n, m, 3) > fit_mem_mb(100, 60, 3)
    assert fit_mem_mb(n, m, k, attempt=2) > fit_mem_mb(n, m, k)


def test_fit_runtime_grows_with_size_rank_and_iterations():
    base = fit_runtime_min(1000, 100, 5, 3, 1000, 10)
    assert fit_runtime_min(2000, 100, 5, 3, 1000, 10) > base
    assert fit_runtime_min(1000, 100, 20, 3, 1000, 10) > base
    assert fit_runtime_min(1000, 100, 5, 3, 5000, 10) > base
    assert fit_runtime_min(1000, 100, 5, 3, 1000, 10, attempt=2) >= 2 * base - 1
    assert base >= 1


def test_other_jobs_scale_too():
    assert simulate_mem_mb(20000, 1000) > simulate_mem_mb(100, 60)
    assert prepare_mem_mb(100.0) > prepare_mem_mb(1.0)


def test_counts_shape_of_a_table_and_of_sparse_counts_without_reading_them(tmp_path):
    import numpy as np
    import pandas as pd
    from scipy import sparse

    from moonlight.io import SparseCounts, write_sparse_counts, write_tsv
    from moonlight.resources import counts_shape

    V = np.arange(12, dtype=float).reshape(4, 3)
    write_tsv(pd.DataFrame(V, index=[f"g{i}" for i in range(4)], columns=list("abc")),
              tmp_path / "counts.tsv")
    write_sparse_counts(SparseCounts(sparse.csr_array(V), [f"g{i}" for i in range(4)],
                                     list("abc")), tmp_path / "counts.npz")
    assert counts_shape(tmp_path / "counts.tsv") == (4, 3)
    assert counts_shape(tmp_path / "counts.npz") == (4, 3)
