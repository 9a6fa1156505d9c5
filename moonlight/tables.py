"""Reading count tables as people have them, with errors that point at the line.

A count table has one gene per row: its name in the first field (after any columns named
in ``drop_columns``), then one count per sample, optionally under a header row of sample
names. What is read:

* **Text**: tab-, comma-, semicolon- or whitespace-separated, quoted or not (R's
  ``write.csv`` and ``write.table``, pandas' ``to_csv``), LF or CRLF line ends, optionally
  compressed (``.gz``, ``.bz2``, ``.xz``, ``.zip`` with one member besides the
  ``__MACOSX`` entries macOS adds; a gzip, bzip2, xz or zip file is recognised by its
  first bytes whatever its name, and an Excel workbook named as text is told to be
  ``.xlsx``). Parsing is pandas ``read_csv`` with every field read as a
  string; lines starting with ``comment`` (``#``) and blank lines are skipped (one
  that starts so but looks like a gene's row, as Excel's ``#N/A`` name makes one, with
  a ``commented_row`` warning naming its line), and so are the first ``skip_rows``
  lines (a title over the table; left at 0, one-field lines above the table are refused
  as a title, naming the value to give); every check afterwards names the file's own
  line number.
* **Excel** ``.xlsx``/``.xlsm`` (pandas with openpyxl): the first sheet, or ``sheet``.
  Messages name the spreadsheet's rows and cells (``cell C5``). An error cell (``#N/A``, ``#REF!``)
  among the names and counts read is refused by its cell; ``TRUE`` and ``FALSE`` read as
  Excel shows them. Gene names that are dates (a sheet's date cell, or ``1-Sep`` in
  text saved from one: what a spreadsheet makes of SEPT1 or MARCH1) are kept as read,
  with a ``date_names`` warning naming their lines, and so are RIKEN IDs a spreadsheet
  made numbers (``2.31E+19``), with a ``number_names`` warning. (A total row is refused
  later, by :func:`moonlight.prepare.refuse_totals`.)
* **Encoding**: UTF-8, with or without a byte-order mark; UTF-16 when a UTF-16 byte-order
  mark starts the file (Excel's "Unicode Text"). A file that is not valid UTF-8
  is decoded as Latin-1 (ISO-8859-1, which maps every byte to a character) with a warning
  naming the first line that is not UTF-8; ``encoding`` overrides both.
* **Counts**: every value must be a non-negative integer. Non-integer values are refused
  (``counts="integers"``) with what was seen and what the table looks like
  (log-transformed, normalized to equal totals, estimated), or rounded with a warning
  (``counts="rounded"``).

**Names are strings, byte for byte**: ``NA``, ``nan``, ``TRUE``, ``007``, ``1e5`` and
``12345`` stay exactly as written (only surrounding whitespace is stripped, and the quotes
a CSV writer put around a field).

**The header** (``header="auto"``) is decided from the first two rows, and the decision
and its reason are logged (``TableRead.header_reason``). The first row is a header when

1. it has one field fewer than the second and does not look like a data row (a name,
   then numbers): sample names with no label for the gene column, as R's
   ``write.table`` writes it (with a warning when they are all numbers: a sheet's row of
   a numeric gene name and counts short of its last looks the same); or
2. its first field is empty (R's ``write.csv``: ``"","S1","S2"``), or
3. any of its count fields is not a number (``gene, S1, S2``), unless they are all
   numbers, digit-grouped numbers (``1,375``) or missing values (``NA``, empty) with at
   least one number and its first field is no gene-column label (rule 4): that is a data
   row, and the missing value is refused by its line;

and, with a warning naming the line because it is a guess, when its count fields are
all numbers (numeric sample IDs such as ``1001 1002 ...``) but

4. its first field is a usual label of a gene column (``gene``, ``gene_id``, ``symbol``,
   ``Ensembl Gene ID``, ``id``, ``target``, ... see :data:`GENE_COLUMN_LABELS`; case,
   spaces, dots and underscores aside) or of any identifier (ending in ``_id``, such as
   Cufflinks' ``tracking_id``), or
5. it has at least ten numbers and they rise strictly from column to column (``1001,
   1002, 1003, ...``, or GEO's ``ID_REF`` followed by sample IDs with gaps), as no gene's
   counts plausibly do.

Otherwise the first row is data and samples are named ``S1 .. SM``. ``header=True`` or
``False`` overrides the guess.

**Thousands separators**: a count written ``"1,375"`` (quoted in a CSV, or in any other
table) is read as 1375 when ``thousands=","`` (the default) and it has the strict form
``d,ddd,ddd``; any other non-number stops the read. With ``thousands="."`` every
count of a text table of the form ``d.ddd`` is grouped (``2.000`` is 2000, not 2); an
Excel cell's number is a number.

Anything wrong stops the read with a :class:`CountTableError` naming the file, the line
and the cause: an empty file, a ragged row, a missing, non-numeric, negative, NaN or
infinite count, an empty or duplicated gene name, a repeated sample name.
"""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .config import TABLE_KEYS, entry_default

__all__ = [
    "CountTableError",
    "TableRead",
    "GENE_COLUMN_LABELS",
    "SEPARATORS",
    "read_count_table",
    "read_table",
    "drop_empty",
    "drop_named",
    "named_positions",
    "READ_OPTIONS",
    "COUNT_MODES",
    "LOG_MAX",
    "EQUAL_TOTALS",
    "looks_like",
    "date_names",
    "number_names",
    "name_warnings",
]

logger = logging.getLogger("moonlight")


class CountTableError(ValueError):
    """A count table that cannot be used, with the file and line that show why."""


#: First fields that label a gene column (compared by their letters and digits alone,
#: case-insensitively: ``Gene symbol``, ``GeneSymbol`` and ``gene_symbol`` are one
#: label): with all-numeric fields after them, the first row is taken for a header of
#: numeric sample IDs.
GENE_COLUMN_LABELS = frozenset({
    "gene", "genes", "gene_id", "geneid", "gene id", "gene_name", "genename", "gene name",
    "gene_symbol", "symbol", "symbols", "id", "ids", "name", "names", "feature",
    "features", "feature_id", "ensembl", "ensembl_id", "entrez", "entrez_id", "entrezid",
    "probe", "probe_id", "transcript", "transcript_id", "row", "rownames", "x",
    "id_ref",  # GEO series matrices
    "ensembl_gene_id", "gene_symbols", "gene_names", "probe_set_id", "feature_name",
    "locus_tag", "locus", "accession", "identifier", "region", "peak", "protein",
    "target",  # kallisto's target_id; Cufflinks' tracking_id ends in _id (below)
    "barcode", "sgrna", "guide", "otu", "taxon", "taxonomy", "sample", "samples",
})


def _label_key(text: str) -> str:
    """A gene-column label by its letters and digits, lower case."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


_LABEL_KEYS = frozenset(_label_key(label) for label in GENE_COLUMN_LABELS)


def _is_column_label(text: str) -> bool:
    """A usual label of a gene column (:data:`GENE_COLUMN_LABELS`), or any name of an
    identifier column: one ending in ``_id``, `` id``, ``.id`` or ``-id``
    (``tracking_id``, ``target_id``)."""
    return (_label_key(text) in _LABEL_KEYS
            or re.search(r"[ _.\-]id$", text.strip().lower()) is not None)


#: What ``counts`` accepts: ``"integers"`` refuses a table with non-integer values (they
#: are not counts: log-transformed, normalized or estimated), ``"rounded"`` rounds them
#: with a warning that follows the results.
COUNT_MODES = ("integers", "rounded")

#: A matrix whose values are not all integers and are all at most this is reported as
#: log-transformed: log1p of a count reaches 20 only at 4.9e8 reads of one gene in one
#: sample, while scanpy's ``log1p(normalize_total(X, 1e4))`` tops out near 9.2.
LOG_MAX = 20.0
#: Column totals whose spread (max - min) is at most this fraction of their median are
#: "normalized to equal totals" (``sc.pp.normalize_total`` and CPM give exactly equal
#: totals up to float rounding).
EQUAL_TOTALS = 1e-3

#: Names accepted for ``sep`` besides a literal one-character separator.
SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "whitespace": r"\s+"}

_SEPARATOR_NAMES = {v: k for k, v in SEPARATORS.items()}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_NAN_TEXT = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity",
             "+infinity"}
_MISSING_TEXT = {"", "na", "n/a", "null", "none", ".", "-"}
_THOUSANDS = {",": re.compile(r"[+]?\d{1,3}(,\d{3})+(\.\d*)?"),
              ".": re.compile(r"[+]?\d{1,3}(\.\d{3})+(,\d*)?"),
              " ": re.compile(r"[+]?\d{1,3}( \d{3})+(\.\d*)?")}
_LINE_END = re.compile(r"\r\n|\r|\n")
#: How :func:`_read_excel` marks an error cell (no cell's text starts with a NUL).
_ERROR_CELL = "\x00excel error: "


@dataclass(frozen=True)
class TableRead:
    """A count table and how it was read.

    Attributes
    ----------
    counts : DataFrame
        float64 counts, genes x samples; index and columns are the names as strings.
    path : str
        The file read.
    format : str
        ``"text"`` or ``"excel"``.
    compression : str
        ``"none"``, ``"gzip"``, ``"bz2"``, ``"xz"`` or ``"zip"``.
    encoding : str
        The encoding the text was decoded with (``""`` for Excel).
    separator : str
        ``"tab"``, ``"comma"``, ``"semicolon"``, ``"whitespace"`` or the character.
    header : bool
        Whether the first row was read as sample names.
    header_reason : str
        Why (the rule of ``header="auto"`` that applied, or ``"given"``).
    notes : list of str
        Everything else worth a line in the log and the QC record (thousands
        separators, dropped columns).
    warnings : list of (kind, message)
        What the reader guessed or changed and the user should know (a Latin-1
        fallback, a header guessed from numeric sample IDs, counts rounded): each is a
        ``warning`` row of the QC record and in the summary's ``warnings``.
    """

    counts: pd.DataFrame
    path: str
    format: str
    compression: str
    encoding: str
    separator: str
    header: bool
    header_reason: str
    notes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def _fail(path: Path, message: str) -> CountTableError:
    """The error for ``path``: ``message`` either starts with ``", line N: ..."`` (it
    follows the file name directly) or is a sentence about the whole file."""
    return CountTableError(f"{path}{message}" if message.startswith(",") else
                           f"{path}: {message}")


# --- bytes -> text ------------------------------------------------------------------


def _decompress(path: Path, raw: bytes) -> tuple[bytes, str]:
    suffix = path.suffix.lower()
    try:
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw), "gzip"
        if suffix == ".bz2" or raw[:3] == b"BZh" and raw[4:10] == b"1AY&SY":
            return bz2.decompress(raw), "bz2"
        if suffix == ".xz" or raw[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(raw), "xz"
        if suffix == ".zip" or raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                if "xl/workbook.xml" in archive.namelist():  # renamed, or saved as .csv
                    raise _fail(path, "this is an Excel workbook (its content is one), not "
                                      "a text table: give it the .xlsx extension to read "
                                      "it as a spreadsheet")
                # a folder entry, or the resource forks macOS's Finder adds, is no table
                members = [m for m in archive.namelist() if not m.endswith("/")
                           and not m.startswith("__MACOSX/")
                           and not m.rsplit("/", 1)[-1].startswith("._")]
                if len(members) != 1:
                    raise _fail(path, f"a .zip of a count table must hold one file; this one "
                                      f"holds {len(members)}: {', '.join(members[:5])}")
                return archive.read(members[0]), "zip"
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError) as error:
        if isinstance(error, CountTableError):
            raise
        raise _fail(path, f"cannot decompress ({error})") from None
    return raw, "none"


def _decode(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str, list[str]]:
    """Text of the file: UTF-8 (BOM stripped), UTF-16 when it starts with a UTF-16 BOM
    (Excel's "Unicode Text"), else Latin-1 with a warning."""
    if encoding is None and raw[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        encoding = "utf-32"  # (before UTF-16: UTF-32's little-endian BOM starts like it)
    elif encoding is None and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"  # the BOM gives the byte order, and decoding drops it
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding, []
        except (UnicodeDecodeError, LookupError) as error:
            if isinstance(error, UnicodeDecodeError):
                line = raw[:error.start].count(b"\n") + 1
                raise _fail(path, f", line {line}: not valid {encoding} "
                                  f"({error.reason})") from None
            raise _fail(path, f"unknown encoding {encoding!r}") from None
    try:
        return raw.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        note = (f"line {line} is not UTF-8 (byte 0x{raw[error.start]:02x}); the file was "
                "decoded as Latin-1 (ISO-8859-1). If names look wrong, give the data set's "
                "encoding (e.g. cp1252)")
        return raw.decode("latin-1"), "latin-1", [note]


# --- text -> grid of strings ---------------------------------------------------------


#: What is left of an empty spreadsheet row saved as text (``,,,``, ``"","",""``).
_EMPTY_ROW = " \t,;\""


def _content_lines(text: str, comment: str | None, skip_rows: int = 0) -> list[str]:
    """The file's lines with the first ``skip_rows``, blank and comment lines emptied
    (line numbers kept); a line of NUL bytes (padding after the last row) or of
    separators alone (a spreadsheet's empty row saved as text) is blank."""
    lines = _LINE_END.split(text)
    return ["" if number < skip_rows or not line.replace("\x00", "").strip(_EMPTY_ROW)
            or (comment and line.lstrip().startswith(comment)) else line
            for number, line in enumerate(lines)]


def _guess_separator(line: str) -> str:
    for sep in ("\t", ",", ";"):
        if sep in line:
            return sep
    return r"\s+"


def _parse(path: Path, lines: list[str], sep: str, width: int | None = None) -> pd.DataFrame:
    """Every field as a string; index = 1-based line number."""
    numbers = [n for n, line in enumerate(lines, start=1) if line]
    if not numbers:
        return pd.DataFrame()
    try:
        grid = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, header=None, dtype=str,
                           na_filter=False, skip_blank_lines=True, quotechar='"',
                           names=None if width is None else range(width), engine="c")
    except pd.errors.ParserError as error:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if match:
            expected, line, saw = map(int, match.groups())
            raise _fail(path, f", line {line}: {saw - 1} count(s) where line {numbers[0]} "
                              f"has {expected - 1}") from None
        match = re.search(r"EOF inside string starting at row (\d+)", str(error))
        if match:
            line = numbers[min(int(match.group(1)), len(numbers) - 1)]
            raise _fail(path, f", line {line}: a quoted field is not closed on its line "
                              "(names and counts must each fit on one line)") from None
        raise _fail(path, f"cannot parse the table ({error})") from None
    if len(grid) != len(numbers):  # a quoted field spanning lines: no line numbers
        raise _fail(path, "a quoted field spans several lines; names and counts must each "
                          "fit on one line")
    grid.index = pd.Index(numbers, name="line")
    return grid.apply(lambda column: column.str.strip())


def _fields(path: Path, lines: list[str], index: int, sep: str) -> list[str]:
    """The fields of line ``index`` (0-based) alone, errors naming its line number."""
    return _parse(path, [""] * index + [lines[index]], sep).iloc[0].tolist()


def _read_text(path: Path, raw: bytes, *, sep: str | None, comment: str | None,
               encoding: str | None, skip_rows: int = 0
               ) -> tuple[list[str], str, str, str, list[str], list[str]]:
    data, compression = _decompress(path, raw)
    text, used, notes = _decode(path, data, encoding)
    lines = _content_lines(text, comment, skip_rows)
    nul = next((i for i, line in enumerate(lines) if "\x00" in line), None)
    if nul is not None:  # a parser would end the field there, cutting a name short
        raise _fail(path, f", line {nul + 1}: a NUL byte; not a text table (UTF-16 text "
                          "without a byte-order mark needs encoding: utf-16-le)")
    for note in notes:  # at once: a later error in the read may come from the decoding
        warnings.warn(f"{path}: {note}", stacklevel=3)
    first = next((line for line in lines if line), None)
    if first is None:
        raise _fail(path, "the table is empty" + (f" below the {skip_rows} line(s) skipped "
                                                  "(skip_rows)" if skip_rows else ""))
    separator = _guess_separator(first) if sep is None else SEPARATORS.get(sep, sep)
    commented = _commented_rows(path, text, lines, comment, separator) if comment else []
    return lines, separator, compression, used, notes, commented


#: A field that is a count (what a data row holds after its name), digit-grouped or not.
_COUNT_FIELD = re.compile(r"\d{1,3}([,.]\d{3})+|\d+(\.\d*)?")


def _commented_rows(path: Path, text: str, lines: list[str], comment: str,
                    separator: str) -> list[str]:
    """Warnings for the lines skipped as comments that look like a gene's row: a name
    (Excel writes an error cell as ``#N/A``; a row may have been commented out) then
    as many plain counts as the rows have. Skipped without a word, such a gene would be
    missing from every output."""
    found = []
    width = len(_fields(path, lines, next(i for i, line in enumerate(lines) if line),
                        separator))
    for number, (raw, kept) in enumerate(zip(_LINE_END.split(text), lines), start=1):
        if kept or not raw.lstrip().startswith(comment):
            continue
        if separator != r"\s+" and raw.count(separator) < width - 2:  # too few fields
            continue
        try:
            fields = _parse(path, [raw.strip()], separator).iloc[0].tolist()
        except CountTableError:  # a comment's stray quote: not a row
            continue
        if (len(fields) >= 3 and len(fields) in (width, width + 1)
                and fields[0].strip() != comment
                and all(_COUNT_FIELD.fullmatch(f) for f in fields[1:])):
            found.append(f"line {number} was skipped as a comment (it starts with "
                         f"{comment!r}) but holds a name, {fields[0]!r}, and counts: if it "
                         "is a gene (Excel writes an error cell as #N/A), rename it or set "
                         "comment: null for this data set; to leave out a gene, use "
                         "drop_genes")
    return found


#: Lines of one field each that a title and notes over a table may take.
_TITLE_ROWS = 5


def _filled(row: list[str]) -> int:
    return sum(field != "" for field in row)


def _titles(rows: list[list[str]]) -> int:
    """How many leading rows of one field (a title, notes) stand above a row of three
    fields or more (empty ones counted: R's ``"","S1","S2"``); 0 if none do."""
    titles = next((k for k, row in enumerate(rows) if _filled(row) != 1), len(rows))
    return titles if 0 < titles < len(rows) and len(rows[titles]) >= 3 else 0


def _refuse_title(path: Path, numbers: list[int], rows: list[list[str]], titles: int,
                  place: str) -> None:
    """Stop at the ``titles`` one-field rows above the table (:func:`_titles`), naming
    the ``skip_rows`` that skips them: read as a header or a gene, a title gives an error
    about its fields that says nothing of the cause. ``numbers``: the rows' lines."""
    if titles:
        shown = next(field for field in rows[0] if field != "")
        raise _fail(path, f", {place} {numbers[0]}: one field, {shown!r}, above rows of "
                          f"{len(rows[titles])}: a title or a note, not a header or a gene; "
                          f"skip the {place}s above the table with skip_rows: "
                          f"{numbers[titles] - 1}")


def _text_titles(path: Path, lines: list[str], content: list[int], separator: str,
                 given: bool, first: list[str], second: list[str]) -> None:
    """:func:`_refuse_title` for a text table whose first two lines read ``first`` and
    ``second`` under the file's separator. Unless the first reads as the second's header
    or row (as many fields, or one fewer), the table may start at any of the next lines,
    each read by its own separator (a title may hold none, or a comma above a
    tab-separated table), or by the one ``given``, where the line after it has as many
    fields or one more (a header and its first row). A title of as many words as the
    table has fields (or one fewer) reads as a header under whitespace, as a
    space-separated header over tab-separated rows does."""
    def fields(k: int, split: str) -> list[str]:
        return _fields(path, lines, content[k], split)

    if _filled(first) in (len(second), len(second) - 1):
        return
    numbers = [n + 1 for n in content]
    for start in range(1, min(_TITLE_ROWS, len(content) - 2) + 1):
        split = separator if given else _guess_separator(lines[content[start]])
        rows = [fields(k, split) for k in range(start + 1)]
        width = len(rows[start])
        if _titles(rows) == start and len(fields(start + 1, split)) in (width, width + 1):
            _refuse_title(path, numbers, rows, start, "line")


def _read_excel(path: Path, sheet: str | int | None, skip_rows: int = 0) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as error:  # openpyxl raises several kinds for a damaged file
        raise _fail(path, f"cannot open as an Excel workbook ({error})") from None
    with book:
        if sheet is None:
            sheet = 0
        elif isinstance(sheet, str) and sheet not in book.sheet_names:
            raise _fail(path, f"no sheet {sheet!r}; the workbook has "
                              f"{', '.join(map(repr, book.sheet_names))}")
        elif isinstance(sheet, int) and not 0 <= sheet < len(book.sheet_names):
            raise _fail(path, f"no sheet number {sheet} (0-based); the workbook has "
                              f"{len(book.sheet_names)}")
        name = book.sheet_names[sheet] if isinstance(sheet, int) else sheet
        cells = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object,
                              na_filter=False)
    # every cell as pandas writes it (dtype=str), but TRUE and FALSE as Excel shows them,
    # not Python's True and False
    values = cells.to_numpy(dtype=object)
    text = cells.astype(str).to_numpy(dtype=object)
    text[(values == True) & (text == "True")] = "TRUE"  # noqa: E712 (not 1 or "True")
    text[(values == False) & (text == "False")] = "FALSE"  # noqa: E712
    # pandas reads an error cell (#N/A, #REF!, #DIV/0!) as NaN: marked with its place,
    # and refused where a name or a count is read (_refuse_error_cells), not in a
    # column that drop_columns leaves out
    for i, j in np.argwhere(cells.isna().to_numpy()):
        text[i, j] = f"{_ERROR_CELL}sheet {name!r}, cell {_column_letters(j)}{i + 1}"
    grid = pd.DataFrame(text).apply(lambda column: column.str.strip())
    grid.index = pd.Index(np.arange(1, len(grid) + 1), name="line")
    grid = grid.iloc[skip_rows:]
    grid = grid.loc[(grid != "").any(axis=1), (grid != "").any(axis=0)]
    if grid.empty:
        raise _fail(path, f"sheet {name!r} is empty" + (
            f" below the {skip_rows} row(s) skipped (skip_rows)" if skip_rows else ""))
    return grid  # rows and columns labelled by their place in the sheet (1- and 0-based)


def _refuse_error_cells(path: Path, grid: pd.DataFrame, names: list[str] | None) -> None:
    """Refuse the first Excel error cell (marked by :func:`_read_excel`) among the names
    and counts read, naming its sheet and cell."""
    marked = [n for n in names or [] if n.startswith(_ERROR_CELL)]
    if not marked:
        flags = grid.apply(lambda column: column.str.startswith(_ERROR_CELL)).to_numpy()
        marked = [grid.iat[i, j] for i, j in np.argwhere(flags)[:1]]
    if marked:
        raise _fail(path, f", {marked[0].removeprefix(_ERROR_CELL)}: an Excel error value "
                          "(#N/A, #REF!, #DIV/0!, ...), not a name or a count")


def _column_letters(position: int) -> str:
    """The spreadsheet's name of the column at 0-based ``position`` (0 -> A, 26 -> AA)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --- header --------------------------------------------------------------------------


def _is_number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").notna() | values.str.lower().isin(
        _NAN_TEXT)


def _is_grouped(values: pd.Series, thousands: str | None) -> pd.Series:
    """Whether each field is a number written with ``thousands`` separators."""
    if thousands is None:
        return pd.Series(False, index=values.index)
    return values.str.fullmatch(_THOUSANDS[thousands])


def _decide_header(first: list[str], second: list[str] | None, line: int,
                   thousands: str | None = ",") -> tuple[bool, str, bool]:
    """Whether the first row is a header (``header="auto"``), why, and whether that is a
    guess the user should hear about (numeric sample names)."""
    counts = pd.Series(first[1:], dtype=str)
    plain = _is_number(counts)
    named_by_number = bool(_is_number(pd.Series(first[:1], dtype=str)).all())
    number = plain | _is_grouped(counts, thousands)
    # numbers and missing values only: a data row with a gap, which the counts' check
    # then names, not sample names such as "NA" or "1,375"
    count_like = bool(number.any()) and bool(
        (number | counts.str.lower().isin(_MISSING_TEXT)).all())
    looks_like_data = not named_by_number and count_like
    if second is not None and len(first) == len(second) - 1 and not looks_like_data:
        # all numbers: sample IDs, or the first gene (a numeric name) short of a count
        # (a sheet's empty last cell is not a field): a guess
        numeric = named_by_number and bool(plain.all())
        reason = (f"line {line} has one field fewer than the next row: sample names "
                  "without a gene-column label (R's write.table)")
        if numeric:
            reason += (f"; its fields are all numbers, so if line {line} is data (a gene "
                       "with a missing last count), set header: false for this data set")
        return True, reason, numeric
    if first[0] == "":
        return True, f"line {line} starts with an empty field (R's write.csv)", False
    if counts.empty:
        return False, f"line {line} has a single field", False
    label = _is_column_label(first[0])
    if count_like and not label and not plain.all():
        return False, (f"line {line} holds numbers and missing or digit-grouped values "
                       "after the gene name: data, no header"), False
    if not plain.all():
        return True, f"line {line} has non-numeric fields where counts belong", False
    values = pd.to_numeric(counts, errors="coerce").to_numpy()
    increasing = (len(values) >= 10 and np.all(values == np.round(values))
                  and np.all(np.diff(values) > 0))
    if label or increasing:
        why = (f"its first field {first[0]!r} labels a gene column" if label
               else "its numbers rise strictly from column to column like sample IDs")
        reason = (f"line {line} was taken for a header of numeric sample names because "
                  f"{why}; if line {line} is data, set header: false for this data set")
        return True, reason, True
    return False, f"line {line} is all numbers after the gene name: data, no header", False


# --- grid -> counts ------------------------------------------------------------------


def _column_positions(path: Path, header: list[str] | None, drop: list[str | int],
                      width: int) -> list[int]:
    """0-based positions of the columns named (header name or 1-based number) in ``drop``."""
    positions = []
    for item in drop:
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit()
                                     and (header is None or item not in header)):
            number = int(item)
            if not 1 <= number <= width:
                raise _fail(path, f"drop_columns: no column {number} (the table has {width})")
            positions.append(number - 1)
        elif header is not None and item in header:
            positions.append(header.index(item))
        else:
            raise _fail(path, f"drop_columns: no column named {item!r} in the header")
    return positions


def _place(grid: pd.DataFrame, i: int, j: int, text_file: bool) -> str:
    """Where field (i, j) of the grid of counts is: a text file's line and column, a
    sheet's cell by its name."""
    line, column = grid.index[i], grid.columns[j]
    return (f"line {line}, column {column + 1}" if text_file
            else f"cell {_column_letters(column)}{line}")


def _to_counts(path: Path, grid: pd.DataFrame, thousands: str | None,
               notes: list[str], text_file: bool = True) -> np.ndarray:
    """float64 counts from the string grid (columns labelled by their 0-based position in
    the file); the first bad field stops with its line and column. ``text_file``: the
    fields are the file's text (not an Excel sheet's numbers written out), so that with
    ``thousands="."`` a field ``2.000`` is 2000."""
    values = grid.apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy()
    # "." groups digits here: "2.000" is 2000, though it also parses as the number 2
    dotted = (grid.apply(lambda column: column.str.contains(".", regex=False)).to_numpy()
              if thousands == "." and text_file else np.zeros_like(bad))
    if (bad | dotted).any() and thousands is not None:
        rows, cols = np.nonzero(bad | dotted)
        text = pd.Series(grid.to_numpy()[rows, cols], dtype=str)
        grouped = _is_grouped(text, thousands).to_numpy()
        if grouped.any():
            plain = text[grouped].str.replace(thousands, "", regex=False)
            if thousands != ",":
                plain = plain.str.replace(",", ".", regex=False)
            array = values.to_numpy(dtype=np.float64, copy=True)
            array[rows[grouped], cols[grouped]] = pd.to_numeric(plain).to_numpy(np.float64)
            notes.append(f"{int(grouped.sum())} count(s) written with thousands separators "
                         f"{thousands!r} (e.g. {text[grouped].iat[0]!r}) were read as numbers")
            values = pd.DataFrame(array, index=grid.index, columns=grid.columns)
            bad = values.isna().to_numpy()
    array = values.to_numpy(dtype=np.float64)
    bad = bad | ~np.isfinite(array)

    def place(i: int, j: int) -> str:
        return _place(grid, i, j, text_file)

    if bad.any():
        i, j = np.argwhere(bad)[0]
        text = grid.iat[i, j]
        lowered = text.lower()
        what = ("NaN or infinite value" if lowered in _NAN_TEXT or np.isinf(array[i, j])
                else "missing value" if lowered in _MISSING_TEXT else "non-numeric value")
        number = int(grid.columns[j]) + 1
        if what == "non-numeric value" and re.fullmatch(r"\d+,\d+", text):
            hint = ("; it reads as a number with a decimal comma, and counts are whole "
                    "numbers: write them without decimals (1375, not 1375,0)")
        elif what == "non-numeric value" and bad[:, j].mean() > 0.5:
            hint = (f"; most of that column is not numbers: if it describes the genes, "
                    f"leave it out with the table option drop_columns: [{number}] (or its "
                    f"header name)")
        else:
            hint = ""
        raise _fail(path, f", {place(i, j)}: {what} {text!r}{hint}")
    negative = array < 0
    if negative.any():
        i, j = np.argwhere(negative)[0]
        raise _fail(path, f", {place(i, j)}: negative count {grid.iat[i, j]!r}")
    return array


def looks_like(values: np.ndarray, column_totals: np.ndarray, *, unit: str = "sample",
               normalizer: str = "CPM or TPM") -> str:
    """What a matrix of non-integer values looks like, for the error that refuses it:
    log-transformed (largest value at most :data:`LOG_MAX`), normalized to equal column
    totals (within :data:`EQUAL_TOTALS`; ``unit`` names a column, ``normalizer`` what
    leaves them so), or neither (estimated counts, or scaled)."""
    largest = float(values.max()) if values.size else 0.0
    if largest <= LOG_MAX:
        return (f"looks log-transformed (largest value {largest:.4g}; log1p or log2(x + 1) "
                "of raw counts rarely exceeds 20)")
    median = float(np.median(column_totals)) if column_totals.size else 0.0
    if median > 0 and float(np.ptp(column_totals)) <= EQUAL_TOTALS * median:
        return (f"looks normalized to equal totals per {unit} (every {unit} sums to about "
                f"{median:.6g}), as {normalizer} leaves it")
    return "is not integer counts (estimated counts, or normalized or scaled values)"


def _integer_counts(path: Path, values: np.ndarray, genes: pd.Series, samples: list[str],
                    mode: str, cautions: list[tuple[str, str]],
                    where: Callable[[int, int], str]) -> np.ndarray:
    """``values`` if they are integers; else refused (``mode="integers"``) with what was
    seen and where the first is (``where(i, j)``), or rounded (``"rounded"``) with a
    warning."""
    fractional = values != np.round(values)
    n = int(fractional.sum())
    if n == 0:
        return values
    i, j = np.argwhere(fractional)[0]
    share = f"{n / values.size:.1%}" if n >= values.size / 1000 else "under 0.1%"
    seen = (f"{n} of {values.size} values ({share}) are not integers, e.g. "
            f"{values[i, j]:.6g} for gene {genes.iat[i]!r}, sample {samples[j]!r}; the "
            f"largest value is {values.max():.6g}")
    if mode == "integers" and _dot_thousands(values, fractional):
        raise _fail(path, f", {where(i, j)}: {seen}. Every non-integer has three "
                          "decimals and no value reaches 1000, as counts written with a "
                          "dot between thousands read (1.375 for 1375): if the table "
                          "writes them so, set thousands: \".\" for this data set "
                          "(counts: rounded would turn 1.375 into 1)")
    if mode == "integers":
        raise _fail(path, f", {where(i, j)}: {seen}: the table "
                          f"{looks_like(values, values.sum(axis=0))}. "
                          "moonlight fits raw integer counts (reads or UMIs), and on "
                          "transformed values its modules and calls are wrong. Give the "
                          "raw counts, or set counts: rounded for this data set to round "
                          "the values (a warning then follows the results)")
    cautions.append(("rounded_counts", f"{seen}; they were rounded to the nearest integer "
                                       "(counts: rounded), so the fit treats them as counts"))
    return np.round(values)


def _dot_thousands(values: np.ndarray, fractional: np.ndarray) -> bool:
    """Whether ``values`` (``fractional`` marks the non-integers) read as counts written
    with a dot between thousands: none reaches 1000 (a count of 1000 or more would have
    been written with the dot), and every non-integer is at least 1 (a group never
    follows a leading 0) and a whole number of thousandths, most of them not of
    hundredths (three digits after the dot: a three-digit group ends in 0 a tenth of the
    time)."""
    def whole(scaled: np.ndarray) -> np.ndarray:
        return np.isclose(scaled, np.round(scaled), rtol=0.0, atol=1e-6)
    fractions = values[fractional]
    return bool(fractions.size and values.max() < 1000.0 and fractions.min() >= 1.0
                and whole(fractions * 1000.0).all()
                and whole(fractions * 100.0).mean() < 0.5)


#: The columns featureCounts writes between the gene and the samples: they describe the
#: genes (Start, End and Length are numbers, so they would read as samples).
FEATURECOUNTS_COLUMNS = ("Chr", "Start", "End", "Strand", "Length")


def _refuse_feature_annotation(path: Path, header_line: int, names: list[str] | None,
                               drop_columns: Sequence[str | int]) -> None:
    """Stop at featureCounts' annotation columns left among the samples (two or more of
    them: no set of samples plausibly has two such names), naming the drop_columns that
    leaves them out with those it has."""
    left = [label for label in FEATURECOUNTS_COLUMNS if label in (names or [])]
    if len(left) >= 2:
        every = ", ".join(str(column) for column in [*drop_columns, *left])
        raise _fail(path, f", line {header_line}: columns {', '.join(left)} are "
                          "featureCounts' annotation of the genes, not samples; leave them "
                          f"out with the table option drop_columns: [{every}]")


def _drop_annotation_columns(path: Path, grid: pd.DataFrame, labels: list[str] | None,
                             drop_columns: Sequence[str | int], notes: list[str]
                             ) -> tuple[pd.DataFrame, list[str] | None]:
    """The grid (gene names first) and sample names without the ``drop_columns`` (by
    header label, the first column's included, or 1-based number); a note says which
    went. ``labels``: the header's label of each column of the grid, None without one."""
    drop = _column_positions(path, labels, list(drop_columns), grid.shape[1])
    keep = [c for c in range(grid.shape[1]) if c not in set(drop)]
    if drop:
        notes.append("columns dropped before reading counts: "
                     + ", ".join(str(c) for c in drop_columns))
    return grid.iloc[:, keep], None if labels is None else [labels[c] for c in keep[1:]]


_MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
#: Gene names as a spreadsheet leaves them after taking them for dates (SEPT1, MARCH1,
#: DEC1): the date cell Excel stores (``2016-09-01``, read as ``2016-09-01 00:00:00``) or
#: its text as a CSV export writes it (``1-Sep``, ``01-Sep-16``, ``9/1/2016``). Not
#: ``Sep-1``: nematode genes are named so (``sep-1``, ``oct-1``, ``jun-1``).
_DATE_NAME = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}}( 00:00:00)?|\d{{1,2}}-{_MONTH}(-\d{{2,4}})?"
                        rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}", re.IGNORECASE)


#: A number a spreadsheet made of a RIKEN clone ID (``2310009E13``): in E-notation with
#: its exponent's sign as shown (``2.31E+19``, ``2,31E+19`` with a decimal comma), or
#: read from the sheet's number cell with every digit (``23100090000000000000``; 12 or
#: more, where Excel shows E-notation). The ID itself (no sign), plain numbers of up to
#: 11 digits (Entrez IDs; also an ID of exponent E01-E04 read from a number cell, which
#: cannot be told from one) are names as read.
_EXPONENT_NAME = re.compile(r"\d+([.,]\d+)?e[+-]\d+|\d{12,}", re.IGNORECASE)

#: How to undo a spreadsheet's change of gene names.
_RESTORE_NAMES = ("restore the names in the source (type the column as text before "
                  "pasting names)")
_RESTORE = (f"they are kept as read, but they no longer name their genes: {_RESTORE_NAMES} "
            "or leave those genes out (drop_genes)")


def _matching(genes: pd.Series, pattern: re.Pattern, place: str) -> tuple[int, str] | None:
    """How many of ``genes`` match ``pattern`` whole, and the first five with where they
    are (``place`` and the series' index: ``line 12: '1-Sep'``)."""
    found = genes[genes.map(lambda name: pattern.fullmatch(name) is not None)]
    if found.empty:
        return None
    shown = ", ".join(f"{place} {at}: {name!r}" for at, name in found.iloc[:5].items())
    return len(found), shown + (f" and {len(found) - 5} more" if len(found) > 5 else "")


def date_names(genes: pd.Series, place: str = "line") -> str | None:
    """A warning when gene names look like dates a spreadsheet made of names such as
    SEPT1 or MARCH1 (Ziemann et al. 2016, Genome Biology 17:177), naming where they are
    (``place`` and the series' index: ``line 12``): the names are kept as read, but they
    are no longer the genes'."""
    found = _matching(genes, _DATE_NAME, place)
    if found is None:
        return None
    return (f"{found[0]} gene name(s) are dates ({found[1]}), as a spreadsheet turns gene "
            f"names such as SEPT1, MARCH1 or DEC1 into dates; {_RESTORE}")


def number_names(genes: pd.Series, place: str = "line") -> str | None:
    """A warning when gene names are numbers a spreadsheet made of RIKEN clone IDs such
    as 2310009E13 (Ziemann et al. 2016), naming where they are."""
    found = _matching(genes, _EXPONENT_NAME, place)
    if found is None:
        return None
    return (f"{found[0]} gene name(s) are numbers as a spreadsheet writes them "
            f"({found[1]}): it turns RIKEN IDs such as 2310009E13 into 2.31E+19; "
            f"{_RESTORE}")


def name_warnings(genes: pd.Series, place: str = "line") -> list[tuple[str, str]]:
    """The ``date_names`` and ``number_names`` warnings of ``genes`` (kind, message):
    gene names a spreadsheet changed."""
    found = [("date_names", date_names(genes, place)),
             ("number_names", number_names(genes, place))]
    return [(kind, message) for kind, message in found if message]


def _check_names(path: Path, genes: pd.Series, samples: list[str], header_line: int) -> None:
    """Refuse an empty or repeated gene name (naming its lines) and an empty or repeated
    sample name (naming the header's line)."""
    empty = (genes == "").to_numpy()
    if empty.any():
        raise _fail(path, f", line {genes.index[np.argmax(empty)]}: the gene name is empty")
    duplicated = genes.duplicated(keep=False).to_numpy()
    if duplicated.any():
        name = genes[duplicated].iat[0]
        where = ", ".join(str(n) for n in genes.index[(genes == name).to_numpy()])
        made = ""
        if _DATE_NAME.fullmatch(name) or _EXPONENT_NAME.fullmatch(name):
            made = (": a spreadsheet makes one date or number of different names (MARCH1 "
                    "and MARC1 both 1-Mar, RIKEN IDs 2310001E13 and 2310002E13 both "
                    f"2.31E+19); {_RESTORE_NAMES}")
        raise _fail(path, f", lines {where}: gene {name!r} appears more than once{made}")
    repeated = pd.Index(samples)[pd.Index(samples).duplicated()]
    if len(repeated):
        raise _fail(path, f", line {header_line}: the header repeats sample name "
                          f"{repeated[0]!r}")
    if any(name == "" for name in samples):
        raise _fail(path, f", line {header_line}: a sample name is empty")


def read_table(
    path: str | os.PathLike[str],
    *,
    header: Literal["auto"] | bool = entry_default("header"),
    sep: str | None = None,
    sheet: str | int | None = None,
    comment: str | None = entry_default("comment"),
    skip_rows: int = entry_default("skip_rows"),
    thousands: str | None = entry_default("thousands"),
    encoding: str | None = None,
    drop_columns: list[str | int] | tuple[str | int, ...] = (),
    counts: Literal["integers", "rounded"] = entry_default("counts"),
) -> TableRead:
    """Read a genes x samples count table and say how it was read.

    Parameters
    ----------
    path : path-like
        Text (optionally ``.gz``/``.bz2``/``.xz``/``.zip``) or Excel (``.xlsx``) table.
    header : "auto", True or False
        Whether the first row holds sample names; ``"auto"`` decides by the rules in the
        module docstring and says why (a guess on all-numeric names warns).
    sep : str, optional
        ``"tab"``, ``"comma"``, ``"semicolon"``, ``"whitespace"`` or one character;
        default: tab if the first line has one, else comma, else semicolon, else runs of
        whitespace. Ignored for Excel.
    sheet : str or int, optional
        Excel sheet name, or 0-based number; default the first.
    comment : str or None
        Lines starting with this (after leading whitespace) are skipped.
    skip_rows : int
        Lines of the file (rows of the sheet) above the table to skip, blank ones
        included: a title or notes over the header. Left at 0, a first line with one
        field above rows of three or more is refused as a title, naming the value to set.
    thousands : ",", ".", " " or None
        Separator of digit groups accepted in counts (``"1,375"``); None accepts none.
    encoding : str, optional
        Text encoding; default UTF-8 (BOM allowed), UTF-16 for a file that starts with
        a UTF-16 byte-order mark, with a Latin-1 fallback that warns.
    drop_columns : list of str or int
        Columns that are neither the gene name nor counts (annotation such as a gene
        description or length), by header name or 1-based number; the gene name is the
        first column left.
    counts : "integers" or "rounded"
        ``"integers"`` refuses non-integer values, saying what the table looks like
        (log-transformed, normalized to equal totals, or estimated counts);
        ``"rounded"`` rounds them to the nearest integer, with a warning.

    Returns
    -------
    TableRead

    Raises
    ------
    CountTableError
        Naming the file, and the line where there is one, for every table that cannot
        be used.
    """
    path = Path(path)
    if path.is_dir():
        raise _fail(path, "a folder, not a table (moonlight.read_single_cell reads a 10x "
                          "folder)")
    if not path.is_file():
        raise _fail(path, "no such file")
    if header not in ("auto", True, False):
        raise ValueError(f"header must be 'auto', True or False, not {header!r}")
    if thousands is not None and thousands not in _THOUSANDS:
        raise ValueError(f"thousands must be one of {sorted(_THOUSANDS)} or None, "
                         f"not {thousands!r}")
    if counts not in COUNT_MODES:
        raise ValueError(f"counts must be one of {COUNT_MODES}, not {counts!r}")
    if isinstance(skip_rows, bool) or not isinstance(skip_rows, int) or skip_rows < 0:
        raise ValueError(f"skip_rows must be a whole number of lines >= 0, not {skip_rows!r}")
    notes: list[str] = []
    cautions: list[tuple[str, str]] = []
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        grid = _read_excel(path, sheet, skip_rows)
        fmt, compression, used, separator = "excel", "none", "", "cells"
        rows = grid.to_numpy()
        trimmed = [list(row[:max(np.flatnonzero(row != ""), default=-1) + 1])
                   for row in rows[:_TITLE_ROWS + 2]]
        _refuse_title(path, list(grid.index), trimmed, _titles(trimmed), "row")
        first, second = trimmed[0], trimmed[1] if len(trimmed) > 1 else None
        first_line = int(grid.index[0])
    else:
        if path.suffix.lower() == ".xls":
            raise _fail(path, "old-style .xls workbooks are not read; save the sheet as "
                              ".xlsx or as a tab-separated text file")
        lines, separator, compression, used, decoding, commented = _read_text(
            path, path.read_bytes(), sep=sep, comment=comment, encoding=encoding,
            skip_rows=skip_rows)
        cautions += [("encoding", note) for note in decoding]  # warned when decoded
        cautions += [("commented_row", message) for message in commented]
        fmt = "text"
        content = [n for n, line in enumerate(lines) if line]
        first = _fields(path, lines, content[0], separator)
        second = _fields(path, lines, content[1], separator) if len(content) > 1 else None
        if second is not None:
            _text_titles(path, lines, content, separator, sep is not None, first, second)
        first_line = content[0] + 1
        separator_name = _SEPARATOR_NAMES.get(separator, separator)

    if header == "auto":
        has_header, reason, guessed = _decide_header(first, second, first_line, thousands)
        if guessed:
            cautions.append(("header_guess", reason))
    else:
        has_header, reason = bool(header), "given"

    if fmt == "text":
        body = list(lines)
        if has_header:
            body[first_line - 1] = ""
        if not any(body):
            raise _fail(path, "the table has a header but no data rows")
        grid = _parse(path, body, separator)
        separator_char, separator = separator, separator_name
    else:
        if has_header:
            grid = grid.iloc[1:]
            if grid.empty:
                raise _fail(path, "the table has a header but no data rows")
        while grid.shape[1] > 1 and (grid.iloc[:, -1] == "").all():
            grid = grid.iloc[:, :-1]

    labels: list[str] | None = None  # the header's label of every column of the grid
    if has_header:
        if len(first) == grid.shape[1] - 1:  # no label over the gene column
            labels = ["", *first]
        elif len(first) == grid.shape[1]:
            labels = list(first)
        else:
            raise _fail(path, f", line {first_line}: the header has {len(first)} field(s) "
                              f"but line {grid.index[0]} has {grid.shape[1]}")
    if grid.shape[1] > 2 and (grid.iloc[:, -1] == "").all() and not (labels or [""])[-1]:
        # every line ends with a separator (as some writers leave it): no column there
        grid, labels = grid.iloc[:, :-1], None if labels is None else labels[:-1]
        notes.append("every line ends with a separator: the empty column after it was "
                     "left out")
    grid, names = _drop_annotation_columns(path, grid, labels, drop_columns, notes)
    _refuse_feature_annotation(path, first_line, names, drop_columns)
    if fmt == "excel":
        _refuse_error_cells(path, grid, names)
    if grid.shape[1] < 2:
        raise _fail(path, f", line {grid.index[0]}: a gene name but no counts")

    genes = grid.iloc[:, 0]
    raw = grid.iloc[:, 1:]
    short = (raw == "").to_numpy()
    if short.any() and fmt == "text":
        i = int(np.flatnonzero(short.any(axis=1))[0])
        line = int(raw.index[i])
        fields = len(_fields(path, lines, line - 1, separator_char))
        if fields < grid.shape[1]:
            raise _fail(path, f", line {line}: {fields - 1} count(s) where line "
                              f"{raw.index[0]} has {grid.shape[1] - 1}")
    values = _to_counts(path, raw, thousands, notes, text_file=fmt == "text")
    samples = names if names is not None else [f"S{j + 1}" for j in range(values.shape[1])]
    _check_names(path, genes, samples, first_line)
    cautions += name_warnings(genes, "row" if fmt == "excel" else "line")
    values = _integer_counts(path, values, genes, samples, counts, cautions,
                             lambda i, j: _place(raw, i, j, fmt == "text"))
    for kind, message in cautions:
        if kind != "encoding":  # warned when the file was decoded
            warnings.warn(f"{path}: {message}", stacklevel=2)
    table = pd.DataFrame(values, index=pd.Index(genes.tolist(), name="gene", dtype=object),
                         columns=pd.Index(samples, dtype=object))
    logger.info("%s: %s, %s compression, %s, %s-separated; header: %s (%s); %d genes x %d "
                "samples", path, fmt, compression, used or "cells", separator,
                "yes" if has_header else "no", reason, *table.shape)
    return TableRead(counts=table, path=str(path), format=fmt, compression=compression,
                     encoding=used, separator=separator, header=has_header,
                     header_reason=reason, notes=notes, warnings=cautions)


def read_count_table(path: str | os.PathLike[str], **options: object) -> pd.DataFrame:
    """Read a genes x samples count table: :func:`read_table`'s ``counts``.

    Returns
    -------
    DataFrame
        float64 counts, index = gene names, columns = sample names (``S1 .. SM`` when the
        table has no header), all names strings exactly as written.
    """
    return read_table(path, **options).counts  # type: ignore[arg-type]


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


#: Keys of a data set's config entry that are options of :func:`read_table` (the
#: schema's ``$defs/table_options``).
READ_OPTIONS = TABLE_KEYS


def named_positions(all_genes: list[str], all_samples: list[str], *,
                    genes: list[str] | tuple[str, ...] = (),
                    samples: list[str] | tuple[str, ...] = (),
                    source: str = "table") -> tuple[list[int], list[int]]:
    """Positions of the genes and samples kept when the named ones are dropped.

    Raises
    ------
    CountTableError
        For a name that is not in the table (a typo must not pass silently).
    """
    kept = []
    for kind, names, present in (("gene", genes, all_genes), ("sample", samples,
                                                              all_samples)):
        known = set(present)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise CountTableError(f"{source}: drop_{kind}s names {kind}(s) not in the table: "
                                  + ", ".join(map(repr, unknown)))
        dropped = set(names)
        kept.append([i for i, name in enumerate(present) if name not in dropped])
    return kept[0], kept[1]


def drop_named(counts: pd.DataFrame, *, genes: list[str] | tuple[str, ...] = (),
               samples: list[str] | tuple[str, ...] = (), source: str = "table") -> pd.DataFrame:
    """Drop the genes and samples a user named (e.g. an outlier the QC record flagged);
    see :func:`named_positions`."""
    rows, cols = named_positions(list(counts.index), list(counts.columns), genes=genes,
                                 samples=samples, source=source)
    return counts.iloc[rows, cols]
