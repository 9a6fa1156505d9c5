"""The scikit-learn style estimator: the same fit as fit_nmf, transform by projection,
scikit-learn's conventions (check_estimator), and no scikit-learn needed to use it."""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from moonlight import fit_nmf, poisson_loglik, simulate
from moonlight.estimator import NotFittedError, PoissonNMF


@pytest.fixture(scope="module")
def sim():
    return simulate(n_genes=60, n_samples=30, n_modules=3, seed=1)


@pytest.fixture(scope="module")
def fitted(sim):
    X = sim.counts.T  # samples x genes
    model = PoissonNMF(n_components=3, restarts=3, random_state=5)
    return model, model.fit_transform(X), X


def test_fit_is_fit_nmf_of_the_transpose(sim, fitted):
    model, H_T, X = fitted
    reference = fit_nmf(sim.counts, 3, restarts=3, seed=5)
    np.testing.assert_array_equal(model.components_, reference.W.T)
    np.testing.assert_array_equal(H_T, reference.H.T)
    assert model.loglik_ == reference.loglik
    assert model.n_iter_ == reference.n_iter[reference.best_restart]
    np.testing.assert_allclose(model.components_.sum(axis=1), 1.0)
    assert list(model.feature_names_in_) == list(sim.counts.index)
    assert model.n_features_in_ == 60 and model.n_components_ == 3


def test_transform_of_the_training_data_is_the_fitted_H(fitted):
    model, H_T, X = fitted
    projected = model.transform(X)
    assert projected.shape == (30, 3)
    # To the fit's own convergence (relative change of log L below 1e-10).
    np.testing.assert_allclose(projected, H_T, rtol=1e-5, atol=1e-6 * H_T.max())
    np.testing.assert_allclose(model.inverse_transform(projected),
                               projected @ model.components_)
    # New samples: half the depth of the training samples gives half the activity.
    half = model.transform(X.iloc[:5] / 2)
    np.testing.assert_allclose(half, projected[:5] / 2, rtol=1e-5, atol=1e-6 * H_T.max())


def test_params_clone_and_pickle(fitted):
    model, _, X = fitted
    params = model.get_params()
    assert params == {"max_iter": 20000, "method": "ccd", "n_components": 3,
                      "random_state": 5, "restarts": 3, "tol": None,
                      "transform_max_iter": 10000, "transform_tol": None}
    other = PoissonNMF(**params)
    assert other.get_params() == params and not hasattr(other, "components_")
    assert other.set_params(n_components=2, restarts=1) is other
    assert other.n_components == 2 and other.restarts == 1
    assert repr(other) == "PoissonNMF(n_components=2, random_state=5, restarts=1)"
    with pytest.raises(ValueError, match="Invalid parameter 'rank'"):
        other.set_params(rank=4)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(X), model.transform(X))


def test_all_zero_samples_and_features_get_zero(sim):
    X = sim.counts.T.to_numpy().astype(float)
    X[3] = 0.0
    X[:, 7] = 0.0
    model = PoissonNMF(n_components=3, restarts=2)
    H_T = model.fit_transform(X)
    assert (H_T[3] == 0).all() and (model.components_[:, 7] == 0).all()
    assert model.loglik_ == pytest.approx(poisson_loglik(X.T, model.components_.T @ H_T.T),
                                          rel=1e-12)
    assert np.abs(model.transform(X)[3]).max() < 1e-12


@pytest.mark.parametrize("X, params, error, match", [
    (-np.ones((5, 4)), {}, ValueError, "Negative values in data"),
    (np.full((5, 4), np.nan), {}, ValueError, "NaN or infinity"),
    (np.ones(5), {}, ValueError, "Reshape your data"),
    (np.ones((0, 4)), {}, ValueError, r"0 sample\(s\)"),
    (np.ones((5, 4)), {"n_components": None}, ValueError, "n_components must be"),
    (np.ones((5, 4)), {"n_components": 5}, ValueError, r"4 feature\(s\)"),
    (np.ones((1, 4)), {}, ValueError, r"1 sample\(s\)"),
    (np.ones((5, 4)), {"method": "als"}, ValueError, "method must be"),
    (np.ones((5, 4)), {"random_state": "seed"}, ValueError, "random_state"),
    (np.ones((5, 4)) + 1j, {}, ValueError, "Complex data"),
])
def test_bad_input(X, params, error, match):
    model = PoissonNMF(**{"n_components": 2, "restarts": 1, **params})
    with pytest.raises(error, match=match):
        model.fit(X)


def test_sparse_unfitted_and_mismatched_input(fitted):
    from scipy import sparse

    model, _, X = fitted
    with pytest.raises(TypeError, match="sparse"):
        PoissonNMF(n_components=2).fit(sparse.csr_matrix(np.ones((4, 4))))
    with pytest.raises(NotFittedError, match="not fitted"):
        PoissonNMF(n_components=2).transform(X)
    with pytest.raises(ValueError, match="X has 59 features, but PoissonNMF is expecting 60"), \
            pytest.warns(UserWarning, match="does not have valid feature names"):
        model.transform(X.to_numpy()[:, 1:])
    with pytest.raises(ValueError, match="unseen at fit time:\n- other"):
        model.transform(X.rename(columns={X.columns[0]: "other"}))
    with pytest.raises(ValueError, match="same order"):
        model.transform(X[X.columns[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.transform(X.to_numpy())


def test_random_state_forms():
    X = simulate(n_genes=30, n_samples=15, n_modules=2, seed=2).counts.T
    by_int = PoissonNMF(n_components=2, restarts=2, random_state=3).fit(X).components_
    again = PoissonNMF(n_components=2, restarts=2, random_state=3).fit(X).components_
    assert by_int.tobytes() == again.tobytes()
    for state in (np.random.default_rng(0), np.random.RandomState(0), None):
        model = PoissonNMF(n_components=2, restarts=2, random_state=state).fit(X)
        assert model.components_.shape == (2, 30)


def test_scikit_learn_check_estimator():
    """Every check of scikit-learn's check_estimator that applies passes; the one that
    does not apply (array-API input) is skipped by scikit-learn itself."""
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(PoissonNMF(n_components=2, restarts=2), on_fail=None,
                              on_skip=None)
    not_passed = {r["check_name"]: r["status"] for r in results if r["status"] != "passed"}
    assert not_passed == {"check_array_api_input": "skipped"}
    assert len(results) > 40


def test_in_a_scikit_learn_pipeline(fitted):
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    model, H_T, X = fitted
    pipeline = make_pipeline(clone(model)).set_output(transform="pandas")
    out = pipeline.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["poissonnmf0", "poissonnmf1", "poissonnmf2"]
    assert list(out.index) == list(X.index)
    np.testing.assert_array_equal(out.to_numpy(), H_T)


def test_works_without_scikit_learn():
    """With scikit-learn hidden, the module imports and the estimator fits, transforms
    and keeps its parameters."""
    code = """
import sys
sys.modules["sklearn"] = None
import numpy as np
from moonlight.estimator import PoissonNMF, NotFittedError
assert [c.__name__ for c in PoissonNMF.__mro__] == ["PoissonNMF", "_Params", "object"]
X = np.random.default_rng(0).poisson(5.0, size=(12, 9)).astype(float)
m = PoissonNMF(n_components=2, restarts=1).set_params(random_state=4)
assert m.get_params()["random_state"] == 4
H = m.fit_transform(X)
assert np.allclose(m.transform(X), H, rtol=1e-4, atol=1e-6 * H.max())
assert issubclass(NotFittedError, ValueError)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


def test_the_docstring_example_runs_as_written():
    """In a fresh namespace, as pasted into a notebook (the module's own names absent)."""
    import doctest
    import moonlight.estimator
    result = doctest.testmod(moonlight.estimator, globs={},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4 and result.failed == 0
