"""Reading count tables with errors that point at the line, and writing results atomically.

A count table has one gene per line: its name in the first field, then one count per
sample. Fields are separated by tabs, commas or runs of whitespace (whichever the first
data line uses); a first line whose count fields are all non-numeric is a header with
sample names. Anything else wrong stops the read with a :class:`CountTableError` that
names the file and the line.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CountTableError",
    "read_count_table",
    "drop_empty",
    "write_tsv",
    "read_tsv",
    "atomic_path",
]


class CountTableError(ValueError):
    """A count table that cannot be used, with the file and line that show why."""


def _separator(first_line: str) -> str:
    if "\t" in first_line:
        return "\t"
    if "," in first_line:
        return ","
    return r"\s+"


def _looks_numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").notna() | values.str.lower().isin(
        ["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]
    )


def read_count_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a genes x samples count table.

    Parameters
    ----------
    path : path-like
        The table: gene names in the first field of each line, counts after them;
        tab-, comma- or whitespace-separated; an optional header row of sample names.

    Returns
    -------
    DataFrame
        float64 counts, index = gene names, columns = sample names (``S1 .. SM`` when the
        table has no header).

    Raises
    ------
    CountTableError
        For a missing or empty file, a ragged row, a non-numeric, negative, NaN or
        infinite value, or a duplicated gene name; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise CountTableError(f"{path}: no such file")
    lines = path.read_text().splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise CountTableError(f"{path}: the table is empty")
    sep = _separator(numbered[0][1])
    fields = pd.Series([line.strip() for _, line in numbered]).str.split(sep, regex=len(sep) > 1)
    line_numbers = np.array([n for n, _ in numbered])
    widths = fields.str.len().to_numpy()

    header: list[str] | None = None
    head = [f.strip() for f in fields.iloc[0]]
    if len(head) > 1 and not _looks_numeric(pd.Series(head[1:])).any():
        if len(fields) == 1:
            raise CountTableError(f"{path}: the table has a header but no data rows")
        fields, header_line = fields.iloc[1:], line_numbers[0]
        line_numbers, widths = line_numbers[1:], widths[1:]
        if len(head) == widths[0]:
            header = head[1:]  # the first field labels the gene column
        elif len(head) == widths[0] - 1:
            header = head  # no label for the gene column, as R's write.table writes it
        else:
            raise CountTableError(
                f"{path}, line {header_line}: the header has {len(head)} field(s) but "
                f"line {line_numbers[0]} has {widths[0]}"
            )

    expected = int(widths[0])
    if expected < 2:
        raise CountTableError(f"{path}, line {line_numbers[0]}: a gene name but no counts")
    ragged = np.flatnonzero(widths != expected)
    if ragged.size:
        i = ragged[0]
        raise CountTableError(
            f"{path}, line {line_numbers[i]}: {widths[i] - 1} count(s) where line "
            f"{line_numbers[0]} has {expected - 1}"
        )

    table = pd.DataFrame(fields.tolist(), dtype=str).apply(lambda c: c.str.strip())
    genes = table.iloc[:, 0]
    raw = table.iloc[:, 1:]
    values = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)

    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        text = raw.iat[i, j]
        what = "NaN or infinite value" if _looks_numeric(pd.Series([text])).iat[0] else (
            "non-numeric value"
        )
        raise CountTableError(
            f"{path}, line {line_numbers[i]}, column {j + 2}: {what} {text!r} "
            f"(gene {genes.iat[i]!r})"
        )
    negative = values < 0
    if negative.any():
        i, j = np.argwhere(negative)[0]
        raise CountTableError(
            f"{path}, line {line_numbers[i]}, column {j + 2}: negative count {raw.iat[i, j]!r} "
            f"(gene {genes.iat[i]!r})"
        )
    duplicated = genes.duplicated(keep=False).to_numpy()
    if duplicated.any():
        name = genes[duplicated].iat[0]
        where = ", ".join(str(n) for n in line_numbers[(genes == name).to_numpy()])
        raise CountTableError(f"{path}, lines {where}: gene {name!r} appears more than once")
    if not np.array_equal(values, np.round(values)):
        warnings.warn(
            f"{path}: some counts are not integers; the Poisson likelihood uses "
            "log Gamma(V + 1) for log V!",
            stacklevel=2,
        )

    samples = header if header is not None else [f"S{j + 1}" for j in range(values.shape[1])]
    if len(set(samples)) != len(samples):
        raise CountTableError(f"{path}, line {numbered[0][0]}: the header repeats a sample name")
    return pd.DataFrame(values, index=pd.Index(genes.tolist(), name="gene"), columns=samples)


def drop_empty(counts: pd.DataFrame, *, source: str = "table") -> pd.DataFrame:
    """Drop genes and samples whose counts are all zero, warning with their names.

    They carry no information about modules, and their factor entries would be driven
    to zero where multiplicative updates cannot move them.
    """
    empty_genes = counts.index[(counts == 0).all(axis=1)]
    kept = counts.drop(index=empty_genes)
    empty_samples = kept.columns[(kept == 0).all(axis=0)]
    for kind, names in (("gene", empty_genes), ("sample", empty_samples)):
        if len(names):
            warnings.warn(
                f"{source}: dropping {len(names)} {kind}(s) with all-zero counts: "
                + ", ".join(map(str, names)),
                stacklevel=2,
            )
    return kept.drop(columns=empty_samples)


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


def read_tsv(path: str | os.PathLike[str], *, index_col: int | None = 0) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv`."""
    return pd.read_csv(path, sep="\t", index_col=index_col)
