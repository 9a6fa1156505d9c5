"""moonlight's own tables: written atomically, read back with every name a string.

Users' count tables are read by :mod:`moonlight.tables`. The tables here are the ones
moonlight writes (results and the intermediates between workflow rules): tab-separated,
floats at full precision, quoted by pandas where a name holds a tab or a quote. Reading
them back, names are never parsed: the index column and every column in
:data:`NAME_COLUMNS` stay strings exactly as written (``NA``, ``007``, ``1e5``,
``TRUE``), and only the other columns are numbers, with ``NA``/``NaN``/empty as missing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

__all__ = ["NAME_COLUMNS", "write_tsv", "read_tsv", "atomic_path"]

#: Columns of moonlight's tables that hold names (genes, samples, modules, data sets and
#: lists of them): read back as strings, never as numbers or missing values.
NAME_COLUMNS = frozenset({
    "gene", "genes", "sample", "module", "modules", "dataset", "shares",
    "module_sizes", "moonlighting_genes", "warnings", "check", "value",
    "detail", "true_modules", "fitted_modules", "true_module", "fitted_module",
    "set", "leading_genes", "covariate", "group", "batch",
})

#: What counts as missing in a numeric column of moonlight's tables.
_MISSING = ["", "NA", "NaN", "nan", "<NA>", "N/A", "None"]

#: Tables with more columns than this (an H of many cells) are read a row at a time:
#: pandas' reader spends time and memory per column, 92 s and 3.5 GB for the H of a
#: million cells (10 rows), against a few seconds and one row's worth this way.
WIDE_COLUMNS = 10_000


def _umask() -> int:
    """The process's umask (reading it means setting it; set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    A reader never sees a half-written file, and a failure leaves any earlier file intact.
    The file gets the permissions of a plain ``open(path, "w")`` (0666 less the umask),
    not the owner-only 0600 of :func:`tempfile.mkstemp`, so colleagues sharing a cluster
    project folder can read the results.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tsv(frame: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = True) -> None:
    """Write a tab-separated table atomically, floats at full (round-trip) precision."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, lineterminator="\n")


def read_tsv(path: str | os.PathLike[str], *, index_col: int | None = 0,
             matrix: bool = False) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv`, names as strings.

    Parameters
    ----------
    path : path-like
    index_col : int or None
        Position of the column of row names (genes, modules, ...), read as strings; None
        for a table without one.
    matrix : bool
        Every column but the index holds numbers, whatever its label: a matrix such as
        H, whose columns are sample names (a sample called ``group`` or ``value`` is
        numbers, not names).

    Returns
    -------
    DataFrame
        Column names are always strings; the index column and (unless ``matrix``) the
        columns in :data:`NAME_COLUMNS` hold strings exactly as written; other columns
        are parsed as numbers or booleans by pandas.
    """
    # the header from the first row: nrows=0 takes pandas' empty-table path, quadratic
    # in the number of columns (38 s for an H of 100,000 cells)
    columns = pd.read_csv(path, sep="\t", nrows=1).columns
    text = [] if matrix else [c for c in columns if c in NAME_COLUMNS]
    if index_col is not None and columns[index_col] not in text:
        text.append(columns[index_col])
    if len(columns) > WIDE_COLUMNS:
        frame = _read_wide(path, columns, text)
    else:
        # one pass parses the numbers (missing values as NaN), a second reads the name
        # columns verbatim (a per-column na_values mapping also costs time per column)
        frame = pd.read_csv(path, sep="\t", dtype=dict.fromkeys(text, str),
                            keep_default_na=False, na_values=_MISSING)
        if text:
            names = pd.read_csv(path, sep="\t", usecols=text, dtype=str, na_filter=False)
            for column in text:
                frame[column] = names[column]
    return frame if index_col is None else frame.set_index(columns[index_col])


def _read_wide(path: str | os.PathLike[str], columns: pd.Index, text: list[str]
               ) -> pd.DataFrame:
    """A table of many columns, a row at a time: the name columns verbatim, every other
    field a float64 by pandas' own parser (so the same value, to the bit, as the column
    by column read gives a float column), missing values as NaN."""
    import csv
    import io

    import numpy as np

    is_text = np.isin(np.asarray(columns, dtype=object), text)
    names: list[list[str]] = []
    values = []
    with open(path, newline="") as stream:
        rows = csv.reader(stream, delimiter="\t")
        next(rows)  # the header, read by pandas already
        for number, fields in enumerate(rows, start=2):
            if len(fields) != len(columns):
                raise ValueError(f"{path}, line {number}: {len(fields)} fields, the header "
                                 f"has {len(columns)}")
            names.append([f for f, t in zip(fields, is_text) if t])
            numbers = "\n".join(f for f, t in zip(fields, is_text) if not t)
            values.append(pd.read_csv(io.StringIO(numbers), header=None, dtype=np.float64,
                                      keep_default_na=False, na_values=_MISSING,
                                      skip_blank_lines=False).iloc[:, 0].to_numpy())
    numeric = columns[~is_text]
    frame = pd.DataFrame(np.vstack(values) if values else np.empty((0, len(numeric))),
                         columns=numeric)
    for position in np.flatnonzero(is_text):
        k = int(np.count_nonzero(is_text[:position]))
        frame.insert(int(position), columns[position],
                     pd.Series([row[k] for row in names], dtype=object))
    return frame
