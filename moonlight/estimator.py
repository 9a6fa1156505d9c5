"""Poisson NMF as a scikit-learn estimator: ``fit``, ``transform``, ``components_``.

Orientation
    scikit-learn puts *samples in rows*: ``X`` is (n_samples, n_features), e.g. cells or
    samples x genes. moonlight's count tables and :func:`moonlight.fit_nmf` are the other
    way round, *genes x samples*: ``V = X.T``. The factorization ``V ~ Poisson(W H)``
    reads, at this interface, ``X ~ Poisson(transform(X) @ components_)`` with
    ``components_ = W.T`` (modules x genes, every row summing to one) and
    ``transform(X) = H.T`` (samples x modules, carrying each sample's scale).

Fitting is :func:`moonlight.fit_nmf` (several random restarts, the best kept; the same
``random_state`` gives the same bytes); :meth:`PoissonNMF.transform` is
:func:`moonlight.projection.transform` (H of new samples with W fixed: a concave problem,
no random start, deterministic), so ``transform`` of the training data returns the
fitted H to the fit's convergence tolerance.

scikit-learn is not needed to import or use this module. When it is installed,
:class:`PoissonNMF` also derives from ``sklearn.base.TransformerMixin`` and
``BaseEstimator``, so that ``clone``, pipelines, grid search and ``set_output`` work;
``get_params``/``set_params`` and input validation are this module's own either way, so
the estimator behaves the same with and without scikit-learn.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from .config import default
from .counts import dense_values, refuse_path
from .nmf import METHODS, NMFResult, fit_nmf
from .projection import transform as project_H

try:  # scikit-learn is optional: its bases add clone/pipeline/set_output support
    from sklearn.base import BaseEstimator as _SkBaseEstimator
    from sklearn.base import TransformerMixin as _SkTransformerMixin
    from sklearn.exceptions import NotFittedError
    _SKLEARN_BASES: tuple[type, ...] = (_SkTransformerMixin, _SkBaseEstimator)
except ImportError:  # pragma: no cover - exercised in a subprocess by the tests
    _SKLEARN_BASES = ()

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """The estimator is used before :meth:`PoissonNMF.fit` (as scikit-learn's)."""

__all__ = ["PoissonNMF", "NotFittedError"]


class _Params:
    """``get_params``/``set_params`` by the scikit-learn convention: the parameters are
    the arguments of ``__init__``, stored unchanged as attributes of the same name."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        parameters = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in parameters
                      if p.name != "self" and p.kind is not p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters by name (``deep`` is accepted for scikit-learn;
        no parameter of this estimator is itself an estimator)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> "_Params":
        """Set parameters by name; an unknown name raises ValueError. Returns self."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator "
                                 f"{type(self).__name__}. Valid parameters are: {valid}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``PoissonNMF(n_components=4)``: the parameters that differ from their defaults."""
        defaults = {p.name: p.default
                    for p in inspect.signature(type(self).__init__).parameters.values()}

        def default(name: str, value: Any) -> bool:
            d = defaults[name]
            return value is d or (type(value) is type(d) and isinstance(d, (int, float, str))
                                  and value == d)

        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not default(k, v)]
        return f"{type(self).__name__}({', '.join(changed)})"


def _feature_names(X: Any) -> NDArray[np.object_] | None:
    """Column names of a DataFrame when they are all strings (scikit-learn's rule)."""
    if isinstance(X, pd.DataFrame) and len(X.columns) and all(
            isinstance(c, str) for c in X.columns):
        return np.asarray(X.columns, dtype=object)
    return None


def _name_list(names: list[str]) -> str:
    """``- name`` lines, at most five then ``- ...`` (scikit-learn's format)."""
    return "".join(f"- {n}\n" for n in names[:5]) + ("- ...\n" if len(names) > 5 else "")


class PoissonNMF(_Params, *_SKLEARN_BASES):
    """Poisson non-negative matrix factorization, ``X ~ Poisson(transform(X) @ components_)``.

    X is samples x features (cells or samples x genes), scikit-learn's orientation;
    moonlight's count tables are genes x samples, so ``V = X.T`` (see the module
    docstring). Entries of X are counts (non-negative; integers are not required).

    Parameters
    ----------
    n_components : int
        Number of modules R (rank), at least 1 and at most the number of samples and of
        features with a non-zero count. No default rank is guessed: choose it with
        moonlight's rank selection (:func:`moonlight.pipeline.analyse`, or the workflow).
    restarts : int, default 10
        Random starts; the one with the highest log likelihood is kept.
    random_state : int, numpy Generator or RandomState, or None, default 0
        Seed of the restarts. An int gives the same bytes on every run; None draws a seed
        from numpy's global random state, a Generator or RandomState from that object.
    method : {"ccd", "emu", "mu"}, default "ccd"
        Fit engine (:func:`moonlight.fit_nmf`).
    tol : float or None, default None
        Convergence tolerance of the fit (relative change of log L); None = the method's
        default.
    max_iter : int, default 20000
        Iteration cap per restart.
    transform_tol : float or None, default None
        Convergence tolerance of :meth:`transform` (the projection of samples on fixed
        components); None = :data:`moonlight.projection.DEFAULT_PROJECTION_TOL`.
    transform_max_iter : int, default 10000
        Sweep cap of :meth:`transform`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``W.T``: every row is a module's distribution over features (sums to one).
        Features with no count in the training data have weight 0 in every module.
    n_components_ : int
        Number of modules.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Feature names, when ``fit`` was given a DataFrame with string column names.
    n_iter_ : int
        Iterations (sweeps) run by the kept restart.
    loglik_ : float
        Poisson log likelihood of the training data under the fit.
    result_ : NMFResult
        The full :func:`moonlight.fit_nmf` result (every restart's log likelihood,
        convergence flags, trace, every restart's W), on the features and samples with a
        non-zero count.

    Notes
    -----
    Samples or features whose counts are all zero carry no information; they are left
    out of the fit and given the maximum-likelihood value 0 (activity for a sample,
    weight for a feature). :func:`moonlight.fit_nmf` itself refuses them.

    Sparse input is refused (the engine works on dense arrays; pass ``X.toarray()``
    if it fits in memory).

    Examples
    --------
    >>> from moonlight import PoissonNMF, simulate
    >>> sim = simulate(n_genes=60, n_samples=30, n_modules=3, seed=1)
    >>> X = sim.counts.T                       # samples x genes
    >>> model = PoissonNMF(n_components=3, restarts=3).fit(X)
    >>> model.components_.shape, model.transform(X).shape
    ((3, 60), (30, 3))
    """

    def __init__(self, n_components: int | None = None, *,
                 restarts: int = default("restarts"),
                 random_state: int | np.random.Generator | np.random.RandomState | None =
                 default("fit.seed"),
                 method: str = default("fit.method"), tol: float | None = default("fit.tol"),
                 max_iter: int = default("fit.max_iter"), transform_tol: float | None = None,
                 transform_max_iter: int = default("projection.max_iter")) -> None:
        self.n_components = n_components
        self.restarts = restarts
        self.random_state = random_state
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.transform_tol = transform_tol
        self.transform_max_iter = transform_max_iter

    # -- scikit-learn hooks ----------------------------------------------------------------

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")

    def get_feature_names_out(self, input_features: ArrayLike | None = None
                              ) -> NDArray[np.object_]:
        """Names of the output columns of :meth:`transform`: ``poissonnmf0 ..``."""
        self._check_fitted()
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            names = getattr(self, "feature_names_in_", None)
            if names is not None and not np.array_equal(input_features, names):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError(f"input_features should have length equal to number of "
                                 f"features ({self.n_features_in_}), got "
                                 f"{len(input_features)}")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{k}" for k in range(self.n_components_)], dtype=object)

    # -- validation (at this boundary only) ------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. "
                                 "Call 'fit' with appropriate arguments first.")

    def _check_params(self) -> int:
        k = self.n_components
        if k is None or isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_components must be a positive integer (the number of "
                             f"modules), got {k!r}")
        if isinstance(self.restarts, bool) or not isinstance(
                self.restarts, (int, np.integer)) or self.restarts < 1:
            raise ValueError(f"restarts must be a positive integer, got {self.restarts!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        return int(k)

    def _seed(self) -> int:
        state = self.random_state
        if state is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(state, np.random.RandomState):
            return int(state.randint(0, 2**31 - 1))
        if isinstance(state, np.random.Generator):
            return int(state.integers(0, 2**31 - 1))
        if isinstance(state, bool) or not isinstance(state, (int, np.integer)):
            raise ValueError(f"random_state must be an int, a numpy Generator or "
                             f"RandomState, or None; got {state!r}")
        return int(state)

    def _validate_X(self, X: Any) -> NDArray[np.float64]:
        """X as a float64 (samples x features) array, or a specific error."""
        if sparse.issparse(X):
            raise TypeError(f"{type(self).__name__} does not take sparse input (its engine "
                            "works on dense arrays); pass X.toarray() if it fits in memory")
        refuse_path(X, type(self).__name__)
        if isinstance(X, pd.DataFrame):
            # a table with a column of names refused as such (other objects keep numpy's
            # own error, which scikit-learn's checks expect)
            array = dense_values(X, "X")
        else:
            array = np.asarray(X)
        if np.iscomplexobj(array):
            raise ValueError("Complex data not supported")
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array (samples x features), got a {array.ndim}-D array "
                "instead. Reshape your data either using array.reshape(-1, 1) if it has a "
                "single feature or array.reshape(1, -1) if it contains a single sample.")
        for axis, what in ((0, "sample"), (1, "feature")):
            if array.shape[axis] == 0:
                raise ValueError(f"Found array with 0 {what}(s) (shape={array.shape}) while "
                                 "a minimum of 1 is required.")
        if not np.isfinite(array).all():
            raise ValueError("Input X contains NaN or infinity.")
        if (array < 0).any():
            raise ValueError(f"Negative values in data passed to {type(self).__name__} "
                             "(input X): counts must be non-negative.")
        return array

    def _check_feature_names(self, X: Any) -> None:
        """Names at transform against names at fit, as scikit-learn checks them."""
        fitted = getattr(self, "feature_names_in_", None)
        given = _feature_names(X)
        name = type(self).__name__
        if fitted is None and given is not None:
            warnings.warn(f"X has feature names, but {name} was fitted without feature "
                          "names", UserWarning, stacklevel=3)
        elif fitted is not None and given is None:
            warnings.warn(f"X does not have valid feature names, but {name} was fitted "
                          "with feature names", UserWarning, stacklevel=3)
        elif fitted is not None and given is not None and not (
                len(fitted) == len(given) and (fitted == given).all()):
            unseen = sorted(set(given) - set(fitted))
            missing = sorted(set(fitted) - set(given))
            message = "The feature names should match those that were passed during fit.\n"
            if unseen:
                message += "Feature names unseen at fit time:\n" + _name_list(unseen)
            if missing:
                message += "Feature names seen at fit time, yet now missing:\n" + \
                    _name_list(missing)
            if not unseen and not missing:
                message += "Feature names must be in the same order as they were in fit.\n"
            raise ValueError(message + "(moonlight.projection.align_genes matches genes "
                             "by name and reports missing and extra ones.)")

    # -- the estimator ---------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: None = None) -> "PoissonNMF":
        """Fit the factorization to X (samples x features); ``y`` is ignored.

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def fit_transform(self, X: ArrayLike, y: None = None, **fit_params: Any
                      ) -> NDArray[np.float64]:
        """Fit to X and return the fitted activities ``H.T`` (samples x n_components).

        ``fit_params`` are not used (scikit-learn passes none to this estimator).
        """
        return self._fit(X)

    def _fit(self, X: ArrayLike) -> NDArray[np.float64]:
        names = _feature_names(X)
        array = self._validate_X(X)
        k = self._check_params()
        n_samples, n_features = array.shape
        samples = array.sum(axis=1) > 0
        features = array.sum(axis=0) > 0
        if k > min(samples.sum(), features.sum()):
            raise ValueError(
                f"n_components={k} needs at least {k} samples and {k} features with a "
                f"non-zero count; X has {n_samples} sample(s) and {n_features} feature(s) "
                f"({int(samples.sum())} and {int(features.sum())} with a non-zero count)")
        V = array[np.ix_(samples, features)].T  # moonlight's orientation: genes x samples
        result: NMFResult = fit_nmf(V, k, restarts=int(self.restarts), seed=self._seed(),
                                   tol=self.tol, max_iter=self.max_iter, method=self.method)
        W = np.zeros((n_features, k))
        W[features] = result.W
        H = np.zeros((k, n_samples))
        H[:, samples] = result.H
        self.components_ = W.T.copy()
        self.n_components_ = k
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_iter_ = int(result.n_iter[result.best_restart])
        self.loglik_ = float(result.loglik)
        self.result_ = result
        return H.T.copy()

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Activities of the samples of X on the fitted modules, ``H.T`` (samples x
        n_components), by :func:`moonlight.projection.transform` (components fixed).

        Orientation: scikit-learn's, X samples x features (genes) in, samples x
        n_components out; :func:`moonlight.projection.transform` is moonlight's, the
        transpose (genes x samples in, modules x samples out).

        Features with no count in the training data have no weight in any module and
        are left out.
        """
        self._check_fitted()
        self._check_feature_names(X)
        array = self._validate_X(X)
        if array.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {array.shape[1]} features, but {type(self).__name__} "
                             f"is expecting {self.n_features_in_} features as input.")
        used = self.components_.sum(axis=0) > 0
        options: dict[str, Any] = {"max_iter": self.transform_max_iter}
        if self.transform_tol is not None:
            options["tol"] = self.transform_tol
        H = project_H(np.ascontiguousarray(array[:, used].T),
                      np.ascontiguousarray(self.components_[:, used].T), **options)
        return np.asarray(H).T.copy()

    def inverse_transform(self, H: ArrayLike) -> NDArray[np.float64]:
        """Expected counts ``H @ components_`` (samples x features) of activities H."""
        self._check_fitted()
        return np.asarray(H, dtype=np.float64) @ self.components_
