"""The Poisson log likelihood against a direct computation."""

import numpy as np
import pytest
from scipy.stats import poisson

from moonlight.likelihood import log_factorial_sum, n_free_parameters, poisson_loglik


def test_matches_scipy_poisson_logpmf():
    rng = np.random.default_rng(1)
    WH = rng.gamma(2.0, 30.0, size=(20, 15))
    V = rng.poisson(WH)
    V[0, :3] = 0  # zeros contribute -WH only
    assert poisson_loglik(V, WH) == pytest.approx(poisson.logpmf(V, WH).sum(), rel=1e-12)


def test_known_small_value():
    # One entry: V = 2, WH = 3: 2 log 3 - 3 - log 2!
    assert poisson_loglik([[2.0]], [[3.0]]) == pytest.approx(2 * np.log(3) - 3 - np.log(2))


def test_precomputed_constant_gives_the_same_value():
    V = np.array([[0.0, 5.0], [7.0, 1.0]])
    WH = np.array([[0.5, 4.0], [6.0, 2.0]])
    assert poisson_loglik(V, WH, log_v_factorial=log_factorial_sum(V)) == poisson_loglik(V, WH)


def test_zero_expectation_where_counts_exist_is_impossible():
    assert poisson_loglik([[1.0, 0.0]], [[0.0, 1.0]]) == -np.inf
    assert poisson_loglik([[0.0]], [[0.0]]) == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        poisson_loglik(np.ones((2, 3)), np.ones((3, 2)))


def test_free_parameters():
    assert n_free_parameters(100, 60, 4) == 4 * 159
    # the batch model: each gene's factors over 3 batches average to one, 2 free
    assert n_free_parameters(100, 60, 4, n_batches=3) == 4 * 159 + 100 * 2


@pytest.mark.parametrize("case", ["poisson", "large", "fractional", "zeros"])
def test_log_factorial_sum_matches_gammaln_entry_by_entry(case):
    """Integer tables are tabulated by value; others go entry by entry: same sum."""
    from scipy.special import gammaln

    rng = np.random.default_rng(3)
    V = {"poisson": rng.poisson(40.0, (300, 50)).astype(float),
         "large": np.array([[0.0, 1.0], [2.0, 3e7]]),  # above the tabulation bound
         "fractional": rng.random((20, 7)) * 9,
         "zeros": np.zeros((3, 4))}[case]
    assert log_factorial_sum(V) == pytest.approx(float(gammaln(V + 1).sum()), rel=1e-12,
                                                  abs=1e-12)


def test_sample_logliks_are_column_sums_of_the_pmf():
    from moonlight.likelihood import sample_logliks

    rng = np.random.default_rng(5)
    WH = rng.gamma(2.0, 10.0, size=(9, 4))
    V = rng.poisson(WH).astype(float)
    per_sample = sample_logliks(V, WH)
    assert per_sample.shape == (4,)
    np.testing.assert_allclose(per_sample, poisson.logpmf(V, WH).sum(axis=0), rtol=1e-12)
    assert per_sample.sum() == pytest.approx(poisson_loglik(V, WH), rel=1e-12)
    with pytest.raises(ValueError, match="shape"):
        sample_logliks(V, WH.T)


def test_the_sweeps_logarithm_is_within_one_ulp_of_the_c_library_everywhere():
    """log_into (the sweeps' log L; vectorized, where NumPy's float64 log is scalar on
    CPUs without AVX-512) agrees with NumPy's log to 1 ulp from the smallest normal
    number (a product's floor) to the largest float, exactly at powers of two and at 1,
    and gives an entry the same value wherever it sits in the array."""
    from moonlight._kernels import log_into

    rng = np.random.default_rng(0)
    tiny, big = np.finfo(np.float64).tiny, np.finfo(np.float64).max
    x = np.concatenate([np.exp(rng.uniform(np.log(tiny), np.log(big), 200_000)),
                        1.0 + rng.uniform(-1e-6, 1e-6, 20_000),
                        rng.uniform(0.5, 2.0, 20_000),
                        [tiny, np.nextafter(tiny, 1.0), big, 1.0, 2.0, 0.5, 2.0**-1000,
                         np.sqrt(0.5), np.nextafter(np.sqrt(0.5), 0.0), np.sqrt(2.0)]])
    logs = np.empty_like(x)
    log_into(x, logs)
    reference = np.log(x)
    assert np.all(np.abs(logs - reference) <= np.spacing(np.abs(reference)))
    exact = np.array([1.0, 2.0, 0.5, 2.0**-1000, 2.0**1000])
    assert np.array_equal(np.log(exact), np.array([log_into_one(v) for v in exact]))
    # an entry's value does not depend on its position (vector body or remainder) or
    # on the array's shape
    for offset in range(1, 9):
        shifted = np.empty(x.size - offset)
        log_into(x[offset:].copy(), shifted)
        assert np.array_equal(shifted, logs[offset:])
    table = np.empty((100, 2_000))
    log_into(x[:200_000].reshape(100, 2_000), table)
    assert np.array_equal(table.ravel(), logs[:200_000])
    # a product held in Fortran order (a projection's) and a strided view
    fortran = np.asfortranarray(x[:200_000].reshape(100, 2_000))
    log_into(fortran, table)
    assert np.array_equal(table.ravel(), logs[:200_000])
    strided = np.empty(100_000)
    log_into(x[:200_000:2], strided)
    assert np.array_equal(strided, logs[:200_000:2])
    # float32 products (fit_nmf(dtype=np.float32)) take the logarithm of their value
    single = np.exp(rng.uniform(-87.0, 88.0, 1_000)).astype(np.float32)  # normal floats
    out = np.empty(single.size)
    log_into(single, out)
    reference = np.log(single.astype(np.float64))
    assert np.all(np.abs(out - reference) <= np.spacing(np.abs(reference)))


def log_into_one(value: float) -> float:
    from moonlight._kernels import log_into

    out = np.empty(1)
    log_into(np.array([value]), out)
    return float(out[0])
