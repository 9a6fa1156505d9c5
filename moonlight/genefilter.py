"""Which genes enter a program: the user's exclusions, and the contamination check.

``exclude_genes`` (a data entry's key) lists names and regular expressions; every gene
they match is left out before anything is fitted, and the QC record says how many each
one took. An entry holding any of ``^ $ * + ? [ ] ( ) { } | \\`` is a regular expression,
searched in the name (``^MT-`` takes every name starting ``MT-``; ``^RP[SL]\\d`` the
ribosomal proteins); any other entry is a name, matched exactly (``MALAT1``; ``.`` is not
special, so a name like ``AC004.1`` stays a name). An entry that matches no gene is
reported, not an error: a pattern list is often shared between data sets.

Mitochondrial and ribosomal transcripts follow cell quality and size more than cell
identity, and they are abundant, so they can take over a module. The
``mito_ribo_module`` warning names a module whose top genes are mostly such genes
(:data:`MITO_RIBO`), so that the user can exclude them and run again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .config import default

__all__ = ["MITO_RIBO", "is_pattern", "excluded_genes", "exclusion_reason",
           "unmatched", "mito_ribo_modules"]

#: Mitochondrial (``MT-``, ``mt-``) and ribosomal protein (``RPS``/``RPL``, ``Rps``/``Rpl``)
#: gene symbols, human and mouse.
MITO_RIBO = re.compile(r"^(MT-|mt-|RP[SL]\d|Rp[sl]\d)")

_SPECIAL = set("^$*+?[](){}|\\")


def is_pattern(entry: str) -> bool:
    """Whether an ``exclude_genes`` entry is a regular expression (module docstring)."""
    return any(character in _SPECIAL for character in entry)


def excluded_genes(genes: Sequence[str], entries: Sequence[str]
                   ) -> tuple[np.ndarray, dict[str, int]]:
    """Which of ``genes`` the ``exclude_genes`` entries take, and how many each takes.

    Returns
    -------
    mask : bool array, len(genes)
        True for an excluded gene.
    taken : dict
        Entry -> the number of genes it matched (0 for an entry that matched none).
    """
    names = pd.Series(list(genes), dtype=object)
    mask = np.zeros(len(names), dtype=bool)
    taken = {}
    for entry in entries:
        hit = (names.str.contains(entry, regex=True) if is_pattern(entry)
               else names == entry).to_numpy(dtype=bool)
        taken[entry] = int(hit.sum())
        mask |= hit
    return mask, taken


def exclusion_reason(taken: dict[str, int]) -> str:
    """How the QC record names the exclusions: ``exclude_genes (^MT-: 13; MALAT1: 1)``."""
    return "exclude_genes (" + "; ".join(f"{e}: {n}" for e, n in taken.items()) + ")"


def unmatched(taken: dict[str, int]) -> list[str]:
    """The ``exclude_genes`` entries that matched no gene (reported, not an error)."""
    return [entry for entry, n in taken.items() if n == 0]


def mito_ribo_modules(module_genes: pd.DataFrame, top: int = default("qc.mito_ribo_top"),
                      share: float = default("qc.mito_ribo_share")) -> dict[str, list[str]]:
    """Modules whose ``top`` genes (by rank in ``module_genes.tsv``) are at least
    ``share`` mitochondrial or ribosomal (:data:`MITO_RIBO`): module -> those genes
    (config ``qc.mito_ribo_top``, ``qc.mito_ribo_share``)."""
    flagged = {}
    for module, rows in module_genes.sort_values("rank").groupby("module", sort=False):
        head = [str(g) for g in rows["gene"].head(top)]
        hits = [g for g in head if MITO_RIBO.match(g)]
        if head and len(hits) >= share * len(head):
            flagged[str(module)] = hits
    return flagged
