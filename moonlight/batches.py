"""Known batches: a per-gene, per-batch factor in the model, so a batch does not become a
module.

With samples in K known batches (sequencing runs, chemistries, donors' processing days;
a sample sheet's or ``obs`` column named by the config's ``batch:``) the model is

    V_ij ~ Poisson(beta_{i,b(j)} (W H)_ij),

every gene i reading out with its own efficiency ``beta_ik`` in batch k, the factors
averaging to one over the samples. W and H keep their meaning (modules, and their
activity per sample); the factors take up what a batch does to each gene alone. The fit
(:func:`moonlight.fit_nmf` with ``batches=``) runs the engine of
:mod:`moonlight.engines.batch_mu`; cross-validation (:func:`moonlight.crossval.
cross_validate` with ``batches=``) scores held-out counts under the same means; the
share test and the gene classes (:func:`moonlight.pipeline.call_modules`) test each
gene's row with its factors as fixed per-sample offsets (:func:`offsets`). Without
batches nothing changes.

What the factors cannot separate: a module used in one batch only is, for its genes,
the same as a batch factor; such a module is kept as a module (the factors of the genes
outside it say nothing about it). Batches should cross the biology (each batch holding
samples of several kinds), as in any batch correction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from .engines.batch_mu import BatchProblem, batch_factors
from .io import read_tsv

__all__ = ["Batches", "batch_problem", "factors", "offsets", "read_batches"]


@dataclass(frozen=True)
class Batches:
    """Each sample's batch, as codes into ``names``.

    Attributes
    ----------
    codes : ndarray (M,) of int64
        ``names[codes[j]]`` is sample j's batch.
    names : list of str
        The batches, sorted as strings.
    """

    codes: NDArray[np.int64]
    names: list[str]

    @classmethod
    def of(cls, labels: Sequence[object] | pd.Series | ArrayLike) -> Batches:
        """Batches from one label per sample (read as strings: ``1`` and ``"1"`` are one
        batch; a missing label is an error)."""
        values = pd.Series(labels, dtype=object)
        if values.isna().any():
            raise ValueError(f"{int(values.isna().sum())} sample(s) have no batch label, "
                             f"e.g. sample {int(np.flatnonzero(values.isna())[0]) + 1}")
        text = values.astype(str).to_numpy()
        names, codes = np.unique(text, return_inverse=True)
        return cls(codes.astype(np.int64), [str(n) for n in names])

    def __len__(self) -> int:
        return int(self.codes.size)

    @property
    def n_batches(self) -> int:
        return len(self.names)

    def subset(self, positions: NDArray) -> Batches:
        """The batches of some samples, with the same names (and so the same columns of
        the factors)."""
        return Batches(self.codes[positions], self.names)

    def missing_from(self, positions: NDArray) -> list[str]:
        """Batches none of ``positions``' samples belongs to."""
        present = np.zeros(self.n_batches, dtype=bool)
        present[self.codes[positions]] = True
        return [n for n, p in zip(self.names, present) if not p]


def batch_problem(V: NDArray | sp.spmatrix | sp.sparray, batches: Batches,
                  mask: NDArray | None = None, log_v_fact: float = 0.0) -> BatchProblem:
    """V (dense, or sparse kept sparse as CSR) with its batches, for the batch engine."""
    if len(batches) != V.shape[1]:
        raise ValueError(f"{len(batches)} batch labels for {V.shape[1]} samples")
    if sp.issparse(V):
        V = sp.csr_array(V, dtype=np.float64)
        V.sum_duplicates()
    return BatchProblem(V, batches.codes, batches.n_batches, mask, log_v_fact)


def factors(V: NDArray | sp.spmatrix | sp.sparray | pd.DataFrame, W: ArrayLike,
            H: ArrayLike, batches: Batches, genes: Sequence[str] | None = None
            ) -> pd.DataFrame:
    """Every gene's factor per batch (genes x batches) given a fit's W and H, in closed
    form (:func:`moonlight.engines.batch_mu.batch_factors`): for a fit of the batch model
    these are the fit's own factors."""
    if isinstance(V, pd.DataFrame):
        genes = [str(g) for g in V.index] if genes is None else genes
        V = V.to_numpy(dtype=np.float64)
    beta, _ = batch_factors(batch_problem(V, batches), np.asarray(W, dtype=np.float64),
                            np.asarray(H, dtype=np.float64))
    return pd.DataFrame(beta, index=pd.Index(genes, name="gene") if genes is not None
                        else None, columns=batches.names)


def offsets(beta: pd.DataFrame | NDArray, batches: Batches) -> NDArray[np.float64]:
    """``beta_{i,b(j)}`` (genes x samples): the per-sample factor of each gene's mean."""
    return np.asarray(beta, dtype=np.float64)[:, batches.codes]


def read_batches(path: str | os.PathLike[str], samples: Sequence[str]) -> Batches | None:
    """The batches of ``samples`` from a workflow's ``batches.tsv`` (a ``sample`` and a
    ``batch`` column, :func:`moonlight.annotations.batch_labels`); None when it has no
    ``batch`` column (the data set has no ``batch:``)."""
    table = read_tsv(path)
    if "batch" not in table.columns:
        return None
    missing = [s for s in samples if s not in table.index]
    if missing:
        raise ValueError(f"{path}: no batch for {len(missing)} sample(s), e.g. {missing[:3]}")
    return Batches.of(table.loc[list(samples), "batch"])
