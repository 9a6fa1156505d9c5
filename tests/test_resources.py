"""moonlight.resources: what a job declares grows with its table, R and retries."""

from moonlight.resources import fit_mem_mb, fit_runtime_min, prepare_mem_mb, simulate_mem_mb


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
