"""The folds of cross-validation: which entries, samples or genes each fold holds out.

Every partition is a uniformly random balanced one (group sizes differ by at most one),
fixed by the table's shape, the number of folds and the seed alone, so every rank is
scored on the same folds. The designs that use them are described in
:mod:`moonlight.crossval`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .config import ConfigError, dataset_ranks, size_checks
from .likelihood import n_free_parameters

__all__ = ["fold_labels", "block_groups", "block_fold_labels", "sample_folds", "gene_halves",
           "fold_problem", "check_size", "check_job_size"]


def fold_labels(shape: tuple[int, int], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold (0..K-1) of every entry: a uniformly random balanced partition of the entries.

    Sizes differ by at most one; the same ``(shape, folds, seed)`` gives the same labels.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    n = shape[0] * shape[1]
    if folds > n:
        raise ValueError(f"cannot split {n} entries into {folds} folds")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1EC7]))
    labels = np.empty(n, dtype=np.int64)
    labels[rng.permutation(n)] = np.arange(n) % folds
    return labels.reshape(shape)


def _balanced_labels(n: int, folds: int, rng: np.random.Generator) -> NDArray[np.int64]:
    labels = np.empty(n, dtype=np.int64)
    labels[rng.permutation(n)] = np.arange(n) % folds
    return labels


def block_groups(shape: tuple[int, int], folds: int, seed: int
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Gene group (N,) and sample group (M,) of the Latin-square block design.

    Each is a uniformly random balanced partition into ``folds`` groups (sizes differ by
    at most one); entry (i, j) is held out in fold ``(gene_group[i] + sample_group[j])
    mod folds``. The same ``(shape, folds, seed)`` gives the same groups.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if folds > min(shape):
        raise ValueError(f"the block design needs folds <= min(N, M) = {min(shape)}, "
                         f"got {folds}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB10C5]))
    genes = _balanced_labels(shape[0], folds, rng)
    return genes, _balanced_labels(shape[1], folds, rng)


def block_fold_labels(shape: tuple[int, int], folds: int, seed: int) -> NDArray[np.int64]:
    """Fold of every entry under the block design, as an (N, M) array (dense V only)."""
    genes, samples = block_groups(shape, folds, seed)
    return (genes[:, None] + samples[None, :]) % folds


def sample_folds(n_samples: int, folds: int, seed: int) -> NDArray[np.int64]:
    """Fold (0..K-1) of every sample under the ``"samples"`` design: a uniformly random
    balanced partition (sizes differ by at most one), fixed by ``(n_samples, folds,
    seed)``."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if folds > n_samples:
        raise ValueError(f"cannot split {n_samples} samples into {folds} folds")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3F1E5]))
    return _balanced_labels(n_samples, folds, rng)


def gene_halves(n_genes: int, seed: int) -> NDArray[np.bool_]:
    """The ``"samples"`` design's split of the genes into two random halves (True: the
    first), fixed by ``(n_genes, seed)``."""
    if n_genes < 2:
        raise ValueError(f"the samples design needs at least 2 genes, got {n_genes}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E4E5]))
    return _balanced_labels(n_genes, 2, rng) == 0


def fold_problem(shape: tuple[int, int], folds: int, design: str | None, *,
                 sparse: bool = False, largest_rank: int = 1) -> str | None:
    """Why a table of ``shape`` cannot be cross-validated with ``folds`` folds of
    ``design`` (None: the default for a dense or a ``sparse`` table) up to
    ``largest_rank``, as a sentence naming the config keys; None when it can.

    Checked when a data set is prepared, so a table too small for its folds stops with
    one clear message instead of an error deep in a cross-validation job, and again by
    every fit and cross-validation job for its own rank (a later config may add ranks or
    folds without rerunning the data step).
    """
    n_genes, n_samples = shape
    design = design or ("samples" if sparse else "entries")
    if design == "entries" and n_genes * n_samples < folds:
        return (f"selection.folds: {folds} folds of scattered entries need at least {folds} "
                f"entries; the table has {n_genes * n_samples}")
    if design == "blocks" and min(shape) < folds:
        return (f"selection.folds: {folds} folds of the blocks design need at least {folds} "
                f"genes and {folds} samples")
    if design in ("entries", "blocks"):
        # a rank with as many free parameters as a fold's training entries fits them
        # exactly, and its held-out likelihood says nothing (its fits may even diverge
        # where a held-out entry's row and column are all but free)
        training = n_genes * n_samples - -(-n_genes * n_samples // folds)
        parameters = n_free_parameters(n_genes, n_samples, largest_rank)
        if parameters >= training:
            usable = (training - 1) // (n_genes + n_samples - 1)
            return (f"ranks: rank {largest_rank} has {parameters} free parameters, no fewer "
                    f"than the {training} entries each fold of the {design} design "
                    f"trains on (selection.folds: {folds}), so its held-out likelihood "
                    "measures nothing; " + (f"ranks up to {usable} can be cross-validated"
                                            if usable else "no rank can be"))
    if design == "samples":
        if n_samples < folds or n_genes < 2:
            return (f"selection.folds: {folds} folds of the samples design need at least "
                    f"{folds} samples and 2 genes")
        training = n_samples - -(-n_samples // folds)
        if largest_rank > min(n_genes, training):
            return (f"ranks: rank {largest_rank} cannot be fitted to the {training} samples "
                    f"each fold of the samples design trains on (selection.folds: {folds})")
    return None


def check_size(shape: tuple[int, int], ranks: list[int], folds: dict, *, source: str,
               sparse: bool = False, rank_key: str = "ranks") -> None:
    """Stop, naming the config key, when a prepared table is too small for its ranks
    (every rank at most min(N, M); ``rank_key`` names the key that set them) or for its
    folds (:func:`fold_problem`; ``folds`` is the config's ``selection.folds`` and
    ``selection.design``)."""
    n_genes, n_samples = shape
    size = f"{source} ({n_genes} genes x {n_samples} samples)"
    largest = max(ranks)
    if largest > min(shape):
        raise ConfigError(f"config key {rank_key}: rank {largest} exceeds min(N, M) = "
                         f"{min(shape)} of {size}")
    problem = fold_problem(shape, folds["folds"], folds["design"], sparse=sparse,
                           largest_rank=largest)
    if problem is not None:
        raise ConfigError(f"config key {problem}, and {size} is too small; use fewer "
                         "folds, smaller ranks (a data entry can have its own ranks:), "
                         "or a larger table")


def check_job_size(shape: tuple[int, int], rank: int, config: dict, dataset: str, *,
                   sparse: bool = False) -> None:
    """:func:`check_size` for one fit or cross-validation job of the workflow: its rank,
    and the folds of the run's whole ``config`` (:func:`moonlight.config.size_checks`).
    A config that adds a rank or changes the folds reruns no data step, so these jobs
    check their own."""
    _, folds = size_checks(config, dataset)
    # a rank above the data set's own was grown to by selection.extend_to
    grown = (config["selection"]["extend_to"] is not None
             and rank > max(dataset_ranks(config, dataset)))
    check_size(shape, [rank], folds, source=f"data set {dataset}", sparse=sparse,
               rank_key="selection.extend_to" if grown else "ranks")
