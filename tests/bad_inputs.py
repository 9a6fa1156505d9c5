"""A battery of messy and bad count tables, generated from the exercise's table.

Each case is a file (and the data entry's options) with what moonlight must do with it:

* ``answer``: the exercise's answer (R = 4; cranberry, grape, tomato under whatever
  names the case gives them), with exactly the listed warnings;
* ``rank1``: no structure the folds confirm: R = 1, no call, and the listed warnings;
* ``error``: one clear error whose text matches the pattern (file, line or key named).

``python tests/bad_inputs.py OUT [W09]`` writes every file into ``OUT`` (the exercise's
table defaults to ``../shared/data/w09-data.tbl`` beside the checkout);
``tests/test_bad_inputs.py`` runs each through the workflow's data step and ``analyse()``.
"""

from __future__ import annotations

import bz2
import datetime
import gzip
import lzma
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ANSWER = ["cranberry", "grape", "tomato"]
#: Gene names a parser would turn into something else.
TRICKY = ["NA", "007", "1e5", "TRUE", "nan", "12345", "-1", "0x1F", "null", "1,375"]


@dataclass(frozen=True)
class Case:
    """One table of the battery: how to write it, the entry's options, what must happen."""

    name: str
    write: Callable[[Path, pd.DataFrame], Path]
    expect: str                                   # "answer", "rank1" or "error"
    warnings: tuple[str, ...] = ()                # warning kinds (answer, rank1)
    error: str = ""                               # regex of the error (error)
    options: dict = field(default_factory=dict)   # the data entry's options
    qc: dict = field(default_factory=dict)        # config qc: overrides
    ranks: tuple[int, ...] = (3, 4, 5)
    names: Callable[[pd.DataFrame], dict[str, str]] | None = None  # old -> new gene names


def _tsv(frame: pd.DataFrame, header: bool = True) -> str:
    return frame.rename_axis("gene").to_csv(sep="\t", header=header, lineterminator="\n")


def _text(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    return _bytes(folder, name, text.encode(encoding))


def _bytes(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _tricky(w09: pd.DataFrame) -> pd.DataFrame:
    renamed = w09.copy()
    renamed.index = [TRICKY[i // 10] if i % 10 == 0 else f"{100 + i}" for i in range(len(w09))]
    renamed.columns = [str(1001 + j) for j in range(w09.shape[1])]
    return renamed


def _tricky_names(w09: pd.DataFrame) -> dict[str, str]:
    return dict(zip(w09.index, _tricky(w09).index))


def _r_csv(frame: pd.DataFrame) -> str:
    quote = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    lines = [",".join([quote("")] + [quote(c) for c in frame.columns])]
    lines += [",".join([quote(g)] + [str(int(v)) for v in row])
              for g, row in zip(frame.index, frame.to_numpy())]
    return "\r\n".join(lines) + "\r\n"


def _noise(shape: tuple[int, int], mean: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.5, 1.5, size=shape[1])
    share = rng.dirichlet(np.ones(shape[0]))
    values = rng.poisson(mean * shape[0] * np.outer(share, depth)).astype(float)
    values[:, 0] += 1
    values[0, :] += 1  # no all-zero gene or sample
    return pd.DataFrame(values, index=[f"g{i}" for i in range(shape[0])],
                        columns=[f"s{j}" for j in range(shape[1])])


def _with(w09: pd.DataFrame, change: Callable[[pd.DataFrame], None]) -> pd.DataFrame:
    frame = w09.copy()
    change(frame)
    return frame


def _set(frame: pd.DataFrame, gene: str, sample: str, value: float) -> None:
    frame.loc[gene, sample] = value


def _archive(kind: str) -> Callable[[Path, pd.DataFrame], Path]:
    def write(folder: Path, w09: pd.DataFrame) -> Path:
        data = _tsv(w09).encode()
        path = folder / f"w09.tsv.{kind}"
        if kind == "zip":
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("w09.tsv", data)
        else:
            path.write_bytes({"gz": gzip.compress, "bz2": bz2.compress,
                              "xz": lzma.compress}[kind](data))
        return path
    return write


def _excel(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    frame.rename_axis("gene").to_excel(folder / name, sheet_name="counts")
    return folder / name


def _with_total(w09: pd.DataFrame) -> pd.DataFrame:
    """The table with a spreadsheet's total row under the genes."""
    return pd.concat([w09, w09.sum().to_frame("Total").T])


def _rows(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


CASES: list[Case] = [
    # --- faithful re-encodings: the exercise's answer, no warning -------------------
    Case("plain", lambda f, w: _text(f, "plain.tsv", _tsv(w)), "answer"),
    Case("headerless_whitespace", lambda f, w: _text(
        f, "w09.tbl", "\n".join(f"{g} " + " ".join(str(int(v)) for v in row)
                                for g, row in zip(w.index, w.to_numpy())) + "\n"), "answer"),
    Case("r_write_csv_gzip_bom_crlf", lambda f, w: _bytes(f, "r.csv.gz", gzip.compress(
        ("\ufeff" + _r_csv(_tricky(w))).encode())), "answer", names=_tricky_names),
    Case("crlf", lambda f, w: _text(f, "crlf.tsv", _tsv(w).replace("\n", "\r\n")), "answer"),
    Case("semicolon", lambda f, w: _text(f, "semi.csv", w.rename_axis("gene").to_csv(sep=";")),
         "answer"),
    Case("comma_header", lambda f, w: _text(f, "comma.csv", w.rename_axis("gene").to_csv()),
         "answer"),
    Case("gzip", _archive("gz"), "answer"),
    Case("bz2", _archive("bz2"), "answer"),
    Case("xz", _archive("xz"), "answer"),
    Case("zip", _archive("zip"), "answer"),
    Case("comments_and_blank_lines", lambda f, w: _text(f, "commented.tsv", "# exported\n\n" + "\n\n".join(_tsv(w).splitlines()) + "\n# end\n"), "answer"),
    Case("annotation_column", lambda f, w: _text(f, "annotated.tsv", _tsv(
        w.assign(description="a fruit").iloc[:, [-1, *range(w.shape[1])]])), "answer",
         options={"drop_columns": ["description"]}),
    Case("thousands_separators", lambda f, w: _text(f, "thousands.csv", _rows(
        [",".join(["gene", *w.columns])] + [",".join([g] + [f'"{int(v):,}"' for v in row])
                                            for g, row in zip(w.index, w.to_numpy())])),
         "answer"),
    Case("samples_shuffled", lambda f, w: _text(f, "shuffled.tsv", _tsv(
        w.iloc[:, np.random.default_rng(1).permutation(w.shape[1])])), "answer"),
    Case("genes_shuffled", lambda f, w: _text(f, "genes.tsv", _tsv(
        w.iloc[np.random.default_rng(2).permutation(len(w))])), "answer"),
    Case("tricky_names", lambda f, w: _text(f, "tricky.tsv", _tsv(_tricky(w))), "answer",
         names=_tricky_names, warnings=("header_guess",)),
    Case("all_zero_gene_and_sample", lambda f, w: _text(f, "zeros.tsv", _tsv(
        pd.concat([w.assign(S61=0.0), pd.DataFrame(0.0, index=["void"],
                                                   columns=[*w.columns, "S61"])]))),
         "answer"),
    Case("drop_a_named_sample", lambda f, w: _text(f, "extra.tsv", _tsv(
        w.assign(blank=1e6))), "answer", options={"drop_samples": ["blank"]}),
    Case("excel", lambda f, w: (w.rename_axis("gene").to_excel(f / "w09.xlsx",
                                                              sheet_name="counts")
                                or f / "w09.xlsx"), "answer", options={"sheet": "counts"}),
    Case("excel_total_row_dropped", lambda f, w: _excel(f, "total.xlsx", _with_total(w)),
         "answer", options={"drop_genes": ["Total"]}),
    # --- what the reader had to guess or change: the answer, with its warning ---------
    Case("excel_date_name", lambda f, w: _excel(f, "dated.xlsx", w.set_axis(
        [datetime.datetime(2016, 9, 1) if g == "anise" else g for g in w.index])),
         "answer", warnings=("date_names",),
         names=lambda w: {"anise": "2016-09-01 00:00:00"}),
    Case("riken_number_name", lambda f, w: _text(f, "riken.tsv", _tsv(w.rename(
        index={"anise": "2.31E+19"}))), "answer", warnings=("number_names",),
         names=lambda w: {"anise": "2.31E+19"}),
    Case("latin1", lambda f, w: _text(f, "latin.tsv", _tsv(w.rename(
        index={"grape": "grap\u00e9"})), "latin-1"), "answer", warnings=("encoding",),
         names=lambda w: {"grape": "grap\u00e9"}),
    Case("geo_id_ref_header", lambda f, w: _text(f, "geo.tsv", _rows(
        ["\t".join(["ID_REF", *[str(4821 + 7 * j) for j in range(w.shape[1])]])]
        + _tsv(w, header=False).splitlines())), "answer", warnings=("header_guess",)),
    Case("numeric_sample_ids", lambda f, w: _text(f, "ids.tsv", _tsv(_tricky(w).set_axis(
        w.index))), "answer", warnings=("header_guess",)),
    Case("outlier_1e15", lambda f, w: _text(f, "outlier.tsv", _tsv(_with(
        w, lambda x: _set(x, "grape", "S7", 1e15)))), "answer", warnings=("outlier",)),
    Case("rounded_on_request", lambda f, w: _text(f, "fractional.tsv", _tsv(w + 0.25)),
         "answer", warnings=("rounded_counts",), options={"counts": "rounded"}),
    # --- no structure: R = 1, no call, and why ----------------------------------------
    Case("identical_counts", lambda f, w: _text(f, "identical.tsv", _tsv(
        pd.DataFrame(50.0, index=[f"g{i}" for i in range(40)],
                     columns=[f"s{j}" for j in range(30)]))), "rank1",
         warnings=("no_structure",), ranks=(2, 3)),
    Case("pure_noise", lambda f, w: _text(f, "noise.tsv", _tsv(_noise((60, 40), 30.0, 3))),
         "rank1", warnings=("no_structure",), ranks=(2, 3)),
    Case("sparse_noise", lambda f, w: _text(f, "sparse.tsv", _tsv(_noise((60, 40), 0.08, 4))),
         "rank1", warnings=("no_structure", "outside_validated_range"), ranks=(2, 3)),
    # --- one clear error, the file and line or the key named --------------------------
    Case("log2_transformed", lambda f, w: _text(f, "log2.tsv", _tsv(np.log2(w + 1))),
         "error", error=r"log2.tsv, line 2, column 2: .* not integers.*looks log-transformed"),
    Case("cpm", lambda f, w: _text(f, "cpm.tsv", _tsv(w / w.sum() * 1e6)), "error",
         error=r"cpm.tsv, line 2, column 2: .*looks normalized to equal totals per sample"),
    Case("empty", lambda f, w: _text(f, "empty.tsv", ""), "error",
         error=r"empty.tsv: the table is empty"),
    Case("header_only", lambda f, w: _text(f, "header.tsv", "gene\tS1\tS2\n"), "error",
         error=r"header.tsv: the table has a header but no data rows"),
    Case("non_numeric", lambda f, w: _text(f, "text.tsv", _tsv(_with(
        w.astype(object), lambda x: _set(x, w.index[5], "S1", "five")))), "error",
         error=r"text.tsv, line 7, column 2: non-numeric value 'five'"),
    Case("negative", lambda f, w: _text(f, "negative.tsv", _tsv(_with(
        w, lambda x: _set(x, "anise", "S3", -4)))), "error",
         error=r"negative.tsv, line 2, column 4: negative count '-4.0'"),
    Case("missing_value", lambda f, w: _text(f, "missing.tsv", _tsv(w.astype(object).where(
        ~((w.index == "apricot")[:, None] & (w.columns == "S2")[None, :]), "NA"))), "error",
         error=r"missing.tsv, line 3, column 3: missing value 'NA'"),
    Case("duplicated_gene", lambda f, w: _text(f, "dup.tsv", _tsv(w.rename(
        index={"apricot": "anise"}))), "error",
         error=r"dup.tsv, lines 2, 3: gene 'anise' appears more than once"),
    Case("ragged_row", lambda f, w: _text(f, "ragged.tsv", _rows(
        [line.rsplit("\t", 1)[0] if n == 4 else line
         for n, line in enumerate(_tsv(w).splitlines())])), "error",
         error=r"ragged.tsv, line 5: 59 count\(s\) where line 2 has 60"),
    Case("excel_total_row", lambda f, w: _excel(f, "total.xlsx", _with_total(w)), "error",
         error=r"total.xlsx: gene 'Total' holds the sum of every other row"),
    Case("old_excel", lambda f, w: _text(f, "old.xls", "not a workbook"), "error",
         error=r"old.xls: old-style .xls workbooks are not read"),
    Case("too_small_for_folds", lambda f, w: _text(f, "tiny.tsv", "g1\t5\t9\ng2\t7\t3\n"),
         "error", ranks=(1, 2),
         error=r"config key selection.folds: 5 folds of scattered entries need at least 5 "),
    Case("rank_above_size", lambda f, w: _text(f, "small.tsv", _tsv(w.iloc[:10, :3])),
         "error", error=r"config key ranks: rank 5 exceeds min\(N, M\) = 3"),
    Case("outlier_refused", lambda f, w: _text(f, "refused.tsv", _tsv(_with(
        w, lambda x: _set(x, "grape", "S7", 1e15)))), "error", qc={"outliers": "refuse"},
         error=r"refused.tsv: 1 entry no count model produces"),
]


def write_battery(folder: Path, w09: pd.DataFrame) -> dict[str, Path]:
    """Write every case's file into ``folder``: case name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {case.name: case.write(folder, w09) for case in CASES}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from moonlight import read_count_table

    source = Path(sys.argv[2]) if len(sys.argv) > 2 else (
        Path(__file__).resolve().parents[2] / "shared" / "data" / "w09-data.tbl")
    for name, path in write_battery(Path(sys.argv[1]), read_count_table(source)).items():
        print(f"{name}\t{path}")
