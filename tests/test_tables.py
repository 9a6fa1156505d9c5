"""Count tables as people have them: every format reads to the same numbers with every name
intact, and every kind of bad input names its file and line."""

import bz2
import gzip
import lzma
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from moonlight.tables import CountTableError, drop_empty, drop_named, read_count_table, read_table

#: Names a parser likes to turn into something else.
TRICKY = ["NA", "nan", "TRUE", "007", "1e5", "1.0", "12345", "a gene", 'say "hi"', "NULL"]


def write(tmp_path, text, name="table.tbl"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def w09(w09_table):
    return read_count_table(w09_table)


def tricky(counts):
    """The exercise's table with tricky gene names and numeric sample IDs."""
    renamed = counts.copy()
    renamed.index = [TRICKY[i // 10] if i % 10 == 0 else f"{100 + i}" for i in range(len(counts))]
    renamed.columns = [str(1001 + j) for j in range(counts.shape[1])]
    return renamed


def r_write_csv(counts):
    """What R's write.csv(counts) writes: every name quoted, an empty first header field."""
    quote = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    lines = [",".join([quote("")] + [quote(c) for c in counts.columns])]
    lines += [",".join([quote(g)] + [str(int(v)) for v in row])
              for g, row in zip(counts.index, counts.to_numpy())]
    return "\r\n".join(lines) + "\r\n"


def test_reads_the_exercise_table(w09_table):
    read = read_table(w09_table)
    counts = read.counts
    assert counts.shape == (100, 60)
    assert counts.index[:3].tolist() == ["anise", "apricot", "artichoke"]
    assert counts.loc["anise"].iloc[:3].tolist() == [1375, 1491, 410]
    assert counts.dtypes.eq(np.float64).all()
    assert list(counts.columns[:2]) == ["S1", "S2"]
    assert not read.header and "data, no header" in read.header_reason
    assert read.separator == "whitespace" and read.encoding == "utf-8"


def same_table(read, expected):
    assert read.counts.index.tolist() == expected.index.tolist()
    assert read.counts.columns.tolist() == expected.columns.tolist()
    assert all(isinstance(n, str) for n in read.counts.index)
    np.testing.assert_array_equal(read.counts.to_numpy(), expected.to_numpy())


def test_r_write_csv_gzipped_with_bom_and_crlf(tmp_path, w09):
    expected = tricky(w09)
    path = tmp_path / "counts.csv.gz"
    path.write_bytes(gzip.compress(("\ufeff" + r_write_csv(expected)).encode()))
    read = read_table(path)
    same_table(read, expected)
    assert read.compression == "gzip" and read.header and "write.csv" in read.header_reason


@pytest.mark.parametrize("suffix, compress", [
    (".bz2", bz2.compress), (".xz", lzma.compress), (".gz", gzip.compress)])
def test_compressed_text(tmp_path, w09, suffix, compress):
    path = tmp_path / f"counts.tsv{suffix}"
    path.write_bytes(compress(w09.rename_axis("gene").to_csv(sep="\t").encode()))
    same_table(read_table(path), w09)


def test_zip_with_one_member_and_refusal_of_two(tmp_path, w09):
    path = tmp_path / "counts.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("counts.csv", w09.to_csv())
    same_table(read_table(path), w09)
    with zipfile.ZipFile(path, "a") as archive:  # what macOS's "Compress" adds
        archive.writestr("__MACOSX/._counts.csv", b"\x00\x05\x16\x07")
    same_table(read_table(path), w09)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("readme.txt", "x")
    with pytest.raises(CountTableError, match="must hold one file; this one holds 2"):
        read_table(path)


def test_pandas_to_csv_with_numeric_ids(tmp_path, w09):
    expected = tricky(w09)
    path = tmp_path / "counts.csv"
    expected.rename_axis("gene_id").to_csv(path)
    with pytest.warns(UserWarning, match="line 1 was taken for a header of numeric sample"):
        read = read_table(path)
    same_table(read, expected)
    assert "'gene_id' labels a gene column" in read.header_reason


@pytest.mark.parametrize("label", ["Gene symbol", "GeneSymbol", "Ensembl Gene ID",
                                   "gene.id", "PROBE_SET_ID", "tracking_id", "target_id",
                                   "sgRNA", "OTU", "peak"])
def test_a_gene_column_label_is_known_however_it_is_spelled(tmp_path, label):
    """A header of numeric sample IDs in no rising order under 'Gene symbol' was read as
    a gene named 'Gene symbol' with the IDs for counts, and the samples named S1..S4."""
    text = f"{label}\t1004\t1001\t1003\t1002\nTP53\t5\t0\t7\t1\nMYC\t2\t9\t0\t4\n"
    with pytest.warns(UserWarning, match=f"first field '{label}' labels a gene column"):
        read = read_table(write(tmp_path, text, "t.tsv"))
    assert read.counts.index.tolist() == ["TP53", "MYC"]
    assert read.counts.columns.tolist() == ["1004", "1001", "1003", "1002"]


def test_numeric_ids_counting_up_are_a_header_and_false_overrides(tmp_path):
    ids = [str(1001 + j) for j in range(10)]
    text = "\n".join(["\t".join(["g", *ids]), "\t".join(["x"] + ["5"] * 10),
                      "\t".join(["y", *map(str, range(10))])]) + "\n"
    with pytest.warns(UserWarning, match="rise strictly from column to column"):
        read = read_table(write(tmp_path, text))
    assert read.warnings[0][0] == "header_guess"
    assert read.counts.index.tolist() == ["x", "y"]
    assert read.counts.columns.tolist() == ids
    short = read_table(write(tmp_path, "g 1 2 3\nx 1 1 1\n"))  # three IDs are no evidence
    assert not short.header
    read = read_table(write(tmp_path, text), header=False)
    assert read.counts.index.tolist() == ["g", "x", "y"] and read.header_reason == "given"


def test_write_table_header_without_gene_label(tmp_path):
    counts = read_count_table(write(tmp_path, "a b\ng1 1 2\ng2 3 4\n"))
    assert counts.columns.tolist() == ["a", "b"] and counts.index.tolist() == ["g1", "g2"]


def test_a_workbook_named_as_text_is_told_to_be_xlsx(tmp_path, w09):
    """A workbook saved as counts.csv or renamed .tsv was decoded as Latin-1 text and
    refused for a NUL byte, with advice about UTF-16."""
    path = tmp_path / "counts.tsv"
    w09.to_excel(tmp_path / "counts.xlsx")
    path.write_bytes((tmp_path / "counts.xlsx").read_bytes())
    with pytest.raises(CountTableError, match=r"counts.tsv: this is an Excel workbook .* "
                                              r"give it the .xlsx extension"):
        read_table(path)
    zipped = tmp_path / "counts.dat"  # a zip by content is read as one
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("counts.csv", w09.to_csv())
    same_table(read_table(zipped), w09)


def test_excel_first_sheet_or_named_sheet(tmp_path, w09):
    expected = tricky(w09)
    path = tmp_path / "supplement.xlsx"
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"note": ["read me"]}).to_excel(book, sheet_name="about", index=False)
        expected.rename_axis("").to_excel(book, sheet_name="counts")
    same_table(read_table(path, sheet="counts"), expected)
    same_table(read_table(path, sheet=1), expected)
    with pytest.raises(CountTableError, match="no sheet 'Counts'; the workbook has 'about'"):
        read_table(path, sheet="Counts")
    with pytest.raises(CountTableError, match="line 1: a gene name but no counts"):
        read_table(path, header=False)


def test_latin1_falls_back_with_a_warning_naming_the_line(tmp_path):
    path = tmp_path / "latin.tsv"
    path.write_bytes("gene\ts1\ts2\napple\t1\t2\ncr\xe8me\t3\t4\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="line 3 is not UTF-8 .* decoded as Latin-1"):
        read = read_table(path)
    assert read.counts.index.tolist() == ["apple", "crème"] and read.encoding == "latin-1"
    assert [kind for kind, _ in read.warnings] == ["encoding"]  # in qc.tsv and the summary
    assert "Latin-1" in read.warnings[0][1]
    with pytest.raises(CountTableError, match=r"latin.tsv, line 3: not valid utf-8"):
        read_table(path, encoding="utf-8")


def test_a_nul_byte_is_refused_by_its_line(tmp_path):
    """A NUL would end a field where the parser meets it, cutting a name short."""
    path = tmp_path / "nul.tsv"
    path.write_bytes(b"gene\ts1\ts2\nab\x00cd\t1\t2\nef\t3\t4\n")
    with pytest.raises(CountTableError, match=r"nul.tsv, line 2: a NUL byte"):
        read_table(path)
    old_mac = tmp_path / "cr.tsv"  # lines ended by CR alone: numbered as the reader splits
    old_mac.write_bytes(b"gene\ts1\ts2\rab\t1\t2\rc\x00d\t3\t4\r")
    with pytest.raises(CountTableError, match=r"cr.tsv, line 3: a NUL byte"):
        read_table(old_mac)
    binary = tmp_path / "binary.tsv"  # not UTF-8 either: the refusal, not a Latin-1 warning
    binary.write_bytes(b"gene\ts1\nab\xff\x00\t1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CountTableError, match=r"binary.tsv, line 2: a NUL byte"):
            read_table(binary)
    padded = tmp_path / "padded.tsv"  # a comment and NUL padding are no table content
    padded.write_bytes(b"# made by\x00 a tool\ngene\ts1\nab\t1\n\x00\x00\x00\x00")
    assert read_table(padded, comment="#").counts.index.tolist() == ["ab"]
    utf16 = tmp_path / "utf16.tsv"  # no byte-order mark: ASCII in UTF-16 is NULs between
    utf16.write_bytes("gene\ts1\napple\t1\n".encode("utf-16-le"))  # (valid UTF-8) bytes
    with pytest.raises(CountTableError, match=r"line 1: a NUL byte.*utf-16-le"):
        read_table(utf16)
    assert read_table(utf16, encoding="utf-16-le").counts.index.tolist() == ["apple"]


def test_the_latin1_warning_comes_before_an_error_later_in_the_read(tmp_path):
    """A read that decodes as Latin-1 and then fails still says how it decoded the file
    (a wrong decoding may be why it failed)."""
    path = tmp_path / "latin.tsv"
    path.write_bytes("gene\ts1\ts2\ncr\xe8me\t3\tx\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="line 2 is not UTF-8") as caught:
        with pytest.raises(CountTableError, match="latin.tsv"):
            read_table(path)
    assert len([w for w in caught if "Latin-1" in str(w.message)]) == 1
    empty = tmp_path / "comments.tsv"  # an error in the text step itself
    empty.write_bytes("# cr\xe8me\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="Latin-1"):
        with pytest.raises(CountTableError, match="the table is empty"):
            read_table(empty, comment="#")


def test_bom_without_header_keeps_the_first_gene(tmp_path, w09_table):
    path = tmp_path / "bom.tbl"
    path.write_bytes(b"\xef\xbb\xbf" + w09_table.read_bytes())
    assert read_count_table(path).index[0] == "anise"


def test_comments_blank_lines_thousands_and_dropped_columns(tmp_path):
    text = ('# exported 2026-11-28\n"gene","length","s1","s2"\n\n'
            '"g1",100,"1,375",2\n# a note\n"g2",200,3,"12,000,001"\n')
    read = read_table(write(tmp_path, text, "t.csv"), drop_columns=["length"])
    assert read.counts.to_numpy().tolist() == [[1375, 2], [3, 12000001]]
    assert read.counts.columns.tolist() == ["s1", "s2"]
    assert any("thousands" in note for note in read.notes)
    with pytest.raises(CountTableError, match="line 4, column 3: non-numeric value '1,375'"):
        read_table(write(tmp_path, text, "t.csv"), drop_columns=[2], thousands=None)


def test_a_comment_line_that_holds_a_gene_row_is_warned_about_by_its_line(tmp_path):
    """Excel writes an error cell among the names as #N/A; the reader took that row for
    a comment and the gene was left out of every output without a word. It is still
    skipped (a row may be commented out on purpose), with a warning naming the line."""
    text = ("gene\ts1\ts2\ts3\n# run 12: 3 samples\n# 2024 01 15\ng1\t1\t2\t3\n"
            "#N/A\t4\t5\t6\ng3\t7\t8\t9\n")
    with pytest.warns(UserWarning, match=r"t.tsv: line 5 was skipped as a comment .* holds "
                                         r"a name, '#N/A', and counts.*comment: null"):
        read = read_table(write(tmp_path, text, "t.tsv"))
    assert read.counts.index.tolist() == ["g1", "g3"]
    assert [kind for kind, _ in read.warnings] == ["commented_row"]  # not "# 2024 01 15"
    plain = text.replace("# run 12: 3 samples\n", "").replace("# 2024 01 15\n", "")
    read = read_table(write(tmp_path, plain, "p.tsv"), comment=None)
    assert read.counts.index.tolist() == ["g1", "#N/A", "g3"]
    # quoted fields, a separator regular expressions would misread
    quoted = 'gene,s1,s2,s3\ng1,"1,234",2,3\n#N/A,"1,234",5,6\n'
    with pytest.warns(UserWarning, match="line 3 was skipped as a comment"):
        read_table(write(tmp_path, quoted, "q.csv"))
    for sep in ("|", "+"):
        table = f"gene{sep}s1{sep}s2{sep}s3\ng1{sep}1{sep}2{sep}3\n#N/A{sep}4{sep}5{sep}6\n"
        with pytest.warns(UserWarning, match="line 3 was skipped as a comment"):
            assert read_table(write(tmp_path, table, "s.txt"), sep=sep).counts.shape == (1, 3)


def test_semicolon_tables(tmp_path):
    counts = read_count_table(write(tmp_path, "gene;a;b\ng1;1;2\ng2;3;4\n"))
    assert counts.to_numpy().tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    "text",
    [
        "gene\ta\tb\ng1\t1\t2\ng2\t3\t4\n",  # tab, header labelling the gene column
        "a,b\ng1,1,2\ng2,3,4\n",  # comma, header without a gene label
        "  g1   1  2\n\ng2 3    4  \n",  # whitespace runs, blank line
    ],
)
def test_separators_and_headers(tmp_path, text):
    counts = read_count_table(write(tmp_path, text))
    assert counts.index.tolist() == ["g1", "g2"]
    assert counts.to_numpy().tolist() == [[1, 2], [3, 4]]
    if "a" in text:
        assert counts.columns.tolist() == ["a", "b"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("g1 1 2\ng2 3\n", "line 2: 1 count(s) where line 1 has 2"),
        ("g1 1 2\ng2 3 4 5\n", "line 2: 3 count(s)"),
        ("g1 1 2\ng2 3 x\n", "line 2, column 3: non-numeric value 'x'"),
        ("gene\tnote\ta\ng1\tkinase\t1\ng2\tpump\t2\n",
         "line 2, column 2: non-numeric value 'kinase'; most of that column is not numbers: "
         "if it describes the genes, leave it out with the table option drop_columns: [2]"),
        ("g1 1 2\ng2 3 -4\n", "line 2, column 3: negative count '-4'"),
        ("g1 1 nan\ng2 3 4\n", "line 1, column 3: NaN or infinite value 'nan'"),
        ("g1 1 2\ng2 inf 4\n", "line 2, column 2: NaN or infinite value 'inf'"),
        ("g1,1,2\ng2,NA,4\n", "line 2, column 2: missing value 'NA'"),
        ("g1,1,2\ng2,,4\n", "line 2, column 2: missing value ''"),
        ("g1 1 2\ng2 3 4\n\ng1 5 6\n", "lines 1, 4: gene 'g1' appears more than once"),
        ("\n \n# only a comment\n", "the table is empty"),
        ("gene a b\n", "header but no data rows"),
        ("g1\ng2\n", "a gene name but no counts"),
        ("gene a b c\ng1 1 2\n", "the header has 4 field(s) but line 2 has 3"),
        ("gene,a,a\ng1,1,2\n", "line 1: the header repeats sample name 'a'"),
        ('g1,1,2\n"",3,4\n', "line 2: the gene name is empty"),
        ('g1,1,2\n"g2\nx",3,4\n', "line 2: a quoted field is not closed on its line"),
    ],
)
def test_bad_tables_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CountTableError) as error:
        read_count_table(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_file_and_unreadable_formats(tmp_path):
    with pytest.raises(CountTableError, match="no such file"):
        read_count_table(tmp_path / "absent.tbl")
    with pytest.raises(CountTableError, match="save the sheet as .xlsx"):
        read_count_table(write(tmp_path, "x", "old.xls"))
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(CountTableError, match="bad.gz: cannot decompress"):
        read_count_table(tmp_path / "bad.gz")
    with pytest.raises(CountTableError, match="cannot open as an Excel workbook"):
        read_count_table(write(tmp_path, "not a workbook", "fake.xlsx"))


def test_non_integer_counts_are_refused_saying_what_the_table_looks_like(tmp_path, w09):
    with pytest.raises(CountTableError, match=r"table.tbl, line 2, column 2: 1 of 4 values "
                                              r"\(25.0%\) are not integers, e.g. 1.5 for "
                                              r"gene 'g1', sample 'S1'"):
        read_count_table(write(tmp_path, "# counts\ng1 1.5 2\ng2 3 4\n"))
    logged = np.log2(w09 + 1)                                  # log2(x + 1)
    logged.to_csv(tmp_path / "log.tsv", sep="\t")
    with pytest.raises(CountTableError, match="looks log-transformed.*counts: rounded"):
        read_count_table(tmp_path / "log.tsv")
    cpm = w09 / w09.sum() * 1e6                                # counts per million
    cpm.to_csv(tmp_path / "cpm.tsv", sep="\t")
    with pytest.raises(CountTableError, match="looks normalized to equal totals per sample "
                                              r"\(every sample sums to about 1e\+06\)"):
        read_count_table(tmp_path / "cpm.tsv")


def test_rounded_counts_are_read_with_a_warning_in_the_record(tmp_path):
    from moonlight.qc import read_record, warnings_of

    with pytest.warns(UserWarning, match="rounded to the nearest integer"):
        read = read_table(write(tmp_path, "g1 1.5 2\ng2 3 4.2\n"), counts="rounded")
    assert read.counts.to_numpy().tolist() == [[2, 2], [3, 4]]
    record = pd.DataFrame(read_record(read, genes_read=2, samples_read=2, dropped={}))
    assert warnings_of(record) == "rounded_counts"


def test_a_geo_header_of_sample_ids_with_gaps_is_a_header(tmp_path):
    """GEO's ID_REF, then GSM numbers that rise with gaps: never a gene called ID_REF."""
    ids = [str(2310 + 7 * j) for j in range(12)]
    rows = ["\t".join(["ID_REF", *ids])] + ["\t".join([f"g{i}"] + [str(i * j % 50) for j in
                                                                     range(12)])
                                            for i in range(5)]
    with pytest.warns(UserWarning, match="'ID_REF' labels a gene column"):
        read = read_table(write(tmp_path, "\n".join(rows) + "\n"))
    assert read.header and read.counts.columns.tolist() == ids
    assert "ID_REF" not in read.counts.index
    rows[0] = "\t".join(["series", *ids])                      # a label we do not know
    with pytest.warns(UserWarning, match="rise strictly"):
        read = read_table(write(tmp_path, "\n".join(rows) + "\n"))
    assert read.header and read.counts.index.tolist() == [f"g{i}" for i in range(5)]


def test_drop_named_refuses_unknown_names():
    counts = pd.DataFrame([[1, 2], [3, 4]], index=["007", "NA"], columns=["s1", "s2"])
    assert drop_named(counts, genes=["NA"], samples=["s2"]).to_numpy().tolist() == [[1]]
    with pytest.raises(CountTableError, match="drop_genes names gene.* '7'"):
        drop_named(counts, genes=["7"], source="t.tbl")


def test_drop_empty_names_what_it_drops():
    counts = pd.DataFrame(
        [[1, 0, 2], [0, 0, 0], [3, 0, 1]], index=["a", "dead", "c"], columns=["s1", "s2", "s3"]
    )
    with pytest.warns(UserWarning) as record:
        kept = drop_empty(counts, source="t.tbl")
    messages = " ".join(str(w.message) for w in record)
    assert "dead" in messages and "s2" in messages and "t.tbl" in messages
    assert kept.index.tolist() == ["a", "c"] and kept.columns.tolist() == ["s1", "s3"]


def test_drop_empty_is_silent_on_clean_tables():
    counts = pd.DataFrame([[1, 2], [3, 4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert drop_empty(counts).equals(counts)


# --- a first row with a gap, digit groups, Excel's error cells, encodings by their bytes ---


@pytest.mark.parametrize("first_row, cause", [
    ("g1 NA 5", "missing value 'NA'"), ("g1 - 5", "missing value '-'"),
    ("g1,,5", "missing value ''")])
def test_a_gap_in_the_first_row_is_named_not_read_as_a_header(tmp_path, first_row, cause):
    """A headerless table whose first gene has a missing count: the error names that
    count, where the row used to become sample names and the gene vanished."""
    sep = "," if "," in first_row else " "
    text = first_row + "\n" + sep.join(["g2", "3", "4"]) + "\n"
    with pytest.raises(CountTableError, match=f"line 1, column 2: {cause}"):
        read_table(write(tmp_path, text, "t.csv" if sep == "," else "t.tbl"))


def test_a_labelled_header_of_numeric_ids_may_name_a_sample_na(tmp_path):
    counts = read_count_table(write(tmp_path, "gene\t1001\tNA\t1003\ng1\t1\t2\t3\n", "t.tsv"))
    assert counts.columns.tolist() == ["1001", "NA", "1003"] and counts.index.tolist() == ["g1"]


def test_digit_groups_in_the_first_row_are_data(tmp_path):
    read = read_table(write(tmp_path, "g1\t1,375\t2\ng2\t3\t4\n", "t.tsv"))
    assert not read.header and "digit-grouped" in read.header_reason
    assert read.counts.loc["g1"].tolist() == [1375, 2]


def test_dot_as_the_thousands_separator_groups_every_count(tmp_path):
    """"2.000" with thousands "." is two thousand, though it also parses as 2."""
    path = write(tmp_path, "gene;a;b\ng1;2.000;1.000.000\ng2;3;4\n", "t.csv")
    assert read_count_table(path, thousands=".").loc["g1"].tolist() == [2000, 1_000_000]
    with pytest.raises(CountTableError, match="column 3: non-numeric value '1.000.000'"):
        read_count_table(path, thousands=",")


def test_counts_with_a_dot_between_thousands_are_named_so_not_rounded(tmp_path):
    """Read with the default thousands ",", 1.375 is a fraction: the refusal names the
    dot-grouping, which the three decimals of every fraction under 1000 suggest, and
    not counts: rounded, which would read 1 for 1375."""
    path = write(tmp_path, "gene;a;b\ng1;1.375;12\ng2;3;2.056\n", "t.csv")
    with pytest.raises(CountTableError, match='set thousands: "." for this data set'):
        read_count_table(path)
    assert read_count_table(path, thousands=".").loc["g1"].tolist() == [1375, 12]
    for text in ("gene;a;b\ng1;1.5;12\ng2;3;2.25\n",      # hundredths: log-like values
                 "gene;a;b\ng1;1.375;5000\ng2;3;2.056\n",  # a count of 1000 or more
                 "gene;a;b\ng1;0.512;12\ng2;3;2.056\n"):   # no group starts with 0
        with pytest.raises(CountTableError, match="set counts: rounded"):
            read_count_table(write(tmp_path, text, "u.csv"))


def test_a_folder_or_a_table_of_zeros_is_refused_as_such(tmp_path):
    with pytest.raises(CountTableError, match="a folder, not a table"):
        read_count_table(tmp_path)
    from scipy import sparse
    from moonlight.counts import Counts
    from moonlight.prepare import prepare_counts
    zeros = pd.DataFrame(0, index=["g1", "g2"], columns=["a", "b", "c"])
    with pytest.raises(CountTableError, match=r"every count is 0 \(2 genes x 3 samples\)"):
        prepare_counts(zeros, ranks=[2])
    cells = Counts(sparse.csr_array((2, 3)), ["g1", "g2"], ["a", "b", "c"])
    with pytest.raises(CountTableError, match=r"every count is 0 \(2 genes x 3 samples\)"):
        prepare_counts(cells, ranks=[2])


def test_featurecounts_annotation_columns_are_named_not_read_as_samples(tmp_path):
    """featureCounts writes Chr, Start, End, Strand and Length between the gene and the
    samples; dropping the text ones alone left three numeric columns read as samples."""
    text = ("# Program:featureCounts v2.0.1\n"
            "Geneid\tChr\tStart\tEnd\tStrand\tLength\tA\tB\n"
            "g1\tchr1\t100\t600\t+\t500\t3\t4\ng2\tchr2\t10\t90\t-\t80\t0\t7\n")
    path = write(tmp_path, text, "fc.txt")
    with pytest.raises(CountTableError, match=r"line 2: columns Start, End, Length are "
                                              r"featureCounts' annotation.*drop_columns: "
                                              r"\[Chr, Strand, Start, End, Length\]"):
        read_count_table(path, drop_columns=["Chr", "Strand"])
    with pytest.raises(CountTableError, match=r"drop_columns: \[Chr, Start, End, Strand, "):
        read_count_table(path)
    counts = read_count_table(path, drop_columns=["Chr", "Start", "End", "Strand", "Length"])
    assert counts.columns.tolist() == ["A", "B"] and counts.loc["g2"].tolist() == [0, 7]


@pytest.mark.parametrize("header", ["gene\tA\tB\t\n", ""])
def test_a_separator_ending_every_line_adds_no_column(tmp_path, header):
    """pandas and R can leave a separator at the end of every line: the empty column
    after it was refused as a missing count of a nameless sample."""
    read = read_table(write(tmp_path, header + "g1\t1\t2\t\ng2\t3\t4\t\n", "t.tsv"))
    assert read.counts.shape == (2, 2) and read.counts.loc["g2"].tolist() == [3, 4]
    assert "every line ends with a separator" in read.notes[-1]
    with pytest.raises(CountTableError, match="line [23], column 4: missing value"):
        read_table(write(tmp_path, header + "g1\t1\t2\t5\ng2\t3\t4\t\n", "u.tsv"))


def test_a_decimal_comma_is_named_not_taken_for_an_annotation_column(tmp_path):
    path = write(tmp_path, "gene;a;b\ng1;1375,0;12,0\ng2;3,0;2,0\n", "t.csv")
    with pytest.raises(CountTableError, match="'1375,0'; it reads as a number with a "
                                              "decimal comma"):
        read_count_table(path)


def test_drop_columns_can_name_the_first_column(tmp_path):
    text = "gene_id\tgene_name\tA\tB\nENSG1\tTP53\t1\t2\nENSG2\tMYC\t3\t4\n"
    for drop in (["gene_id"], [1]):
        counts = read_count_table(write(tmp_path, text, "t.tsv"), drop_columns=drop)
        assert counts.index.tolist() == ["TP53", "MYC"] and counts.columns.tolist() == ["A", "B"]


def _sheet(tmp_path, cells):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "counts"
    for where, value in cells.items():
        sheet[where] = value
        if isinstance(value, str) and value.startswith("#"):
            sheet[where].data_type = "e"  # an error value, as Excel stores #N/A
    path = tmp_path / "t.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize("where", ["B5", "C5", "C3"])
def test_an_excel_error_cell_is_refused_by_its_cell(tmp_path, where):
    """#N/A in a name or a count (a failed VLOOKUP): pandas reads NaN, which became the
    gene or sample "nan" or a crash naming nothing."""
    cells = {"B3": "gene", "C3": "s1", "D3": "s2", "B4": "g1", "C4": 1, "D4": 2,
             "B5": "g2", "C5": 3, "D5": 4}
    cells[where] = "#N/A"
    with pytest.raises(CountTableError, match=f"t.xlsx, sheet 'counts', cell {where}: an "
                                              "Excel error value"):
        read_table(_sheet(tmp_path, cells))


def test_an_excel_error_cell_in_a_dropped_column_is_no_error(tmp_path):
    path = _sheet(tmp_path, {"A1": "gene", "B1": "description", "C1": "s1", "A2": "g1",
                             "B2": "#N/A", "C2": 4, "A3": "g2", "B3": "kinase", "C3": 5})
    counts = read_count_table(path, drop_columns=["description"])
    assert counts.to_dict() == {"s1": {"g1": 4, "g2": 5}}


def test_a_sheet_whose_first_row_is_short_of_its_last_count_warns(tmp_path):
    """Numeric gene names (Entrez IDs) and an empty last cell in the first row look like
    R's write.table header of numeric sample IDs: read as one, with a warning saying how
    to read it as data."""
    path = _sheet(tmp_path, {"A1": 7157, "B1": 5, "A2": 7158, "B2": 3, "C2": 4})
    with pytest.warns(UserWarning, match="if line 1 is data .* set header: false"):
        read = read_table(path)
    assert [kind for kind, _ in read.warnings] == ["header_guess"]
    with pytest.raises(CountTableError, match="cell C1: missing value ''"):
        read_table(path, header=False)


def test_a_bad_count_in_a_sheet_is_named_by_its_cell(tmp_path):
    """The sheet starts at B3: the message names the cell, not the column among the
    columns that are not blank."""
    path = _sheet(tmp_path, {"B3": "gene", "C3": "s1", "D3": "s2", "B4": "g1", "C4": 1,
                             "D4": -2, "B5": "g2", "C5": "many", "D5": 3})
    with pytest.raises(CountTableError, match="t.xlsx, cell C5: non-numeric value 'many'"):
        read_table(path)


def test_excel_numbers_are_not_digit_groups(tmp_path):
    path = _sheet(tmp_path, {"A1": "g1", "B1": 1.234, "C1": 2, "A2": "g2", "B2": 2, "C2": 3})
    with pytest.warns(UserWarning, match="rounded"):
        counts = read_count_table(path, thousands=".", counts="rounded")
    assert counts.loc["g1"].tolist() == [1, 2]


def test_excel_booleans_read_as_excel_shows_them(tmp_path):
    path = _sheet(tmp_path, {"A1": "gene", "B1": "s1", "A2": True, "B2": 1, "A3": "g", "B3": 2})
    assert read_count_table(path).index.tolist() == ["TRUE", "g"]


def test_gene_names_a_spreadsheet_made_dates_are_kept_and_named_in_a_warning(tmp_path):
    """Excel stores SEPT1 typed into a cell as the date 1 September: the sheet's cell is
    a date, a CSV saved from it says 1-Sep. The names are kept as read (names are data)
    and the warning names their lines; nematode genes such as sep-1 raise none."""
    import datetime
    path = _sheet(tmp_path, {"A1": "gene", "B1": "s1", "A2": datetime.datetime(2016, 9, 1),
                             "B2": 3, "A3": "ACTB", "B3": 5})
    with pytest.warns(UserWarning, match=r"1 gene name\(s\) are dates \(row 2: "
                                         r"'2016-09-01 00:00:00'\).*SEPT1"):
        read = read_table(path)
    assert read.counts.index.tolist() == ["2016-09-01 00:00:00", "ACTB"]
    assert [kind for kind, _ in read.warnings] == ["date_names"]
    text = write(tmp_path, "gene,s1\n1-Sep,3\n2-Mar,4\nsep-1,5\n9/1/2016,6\n", "t.csv")
    with pytest.warns(UserWarning, match=r"3 gene name\(s\) are dates \(line 2: '1-Sep', "
                                         r"line 3: '2-Mar', line 5: '9/1/2016'\)"):
        read_table(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_table(write(tmp_path, "gene,s1\nsep-1,5\noct-1,2\n", "w.csv")).warnings == []


def test_riken_ids_a_spreadsheet_made_numbers_are_kept_and_named_in_a_warning(tmp_path):
    """Excel reads the RIKEN clone ID 2310009E13 as the number 2.31E+19 (Ziemann et al.
    2016): a CSV saved from the sheet says 2.31E+19, the sheet's cell holds the number,
    read with every digit. Kept as read and named; the ID itself and a plain number (an
    Entrez ID) raise nothing."""
    text = write(tmp_path, "gene,s1\n2.31E+19,3\n2310009E13,4\n12345,5\n1.2e-05,6\n",
                 "r.csv")
    with pytest.warns(UserWarning, match=r"2 gene name\(s\) are numbers as a spreadsheet "
                                         r"writes them \(line 2: '2.31E\+19', line 5: "
                                         r"'1.2e-05'\): .*2310009E13"):
        read = read_table(text)
    assert read.counts.index.tolist() == ["2.31E+19", "2310009E13", "12345", "1.2e-05"]
    assert [kind for kind, _ in read.warnings] == ["number_names"]
    path = _sheet(tmp_path, {"A1": "gene", "B1": "s1", "A2": 2310009e13, "B2": 3,
                             "A3": 12345, "B3": 5, "A4": "1-Sep", "B4": 1})
    with pytest.warns(UserWarning) as caught:
        read = read_table(path)
    assert read.counts.index.tolist() == ["23100090000000000000", "12345", "1-Sep"]
    assert [kind for kind, _ in read.warnings] == ["date_names", "number_names"]
    assert "row 2: '23100090000000000000'" in read.warnings[1][1] and len(caught) == 2
    with pytest.warns(UserWarning, match=r"2 gene name\(s\) are numbers .*line 2: "
                                         r"'2,31E\+19', line 3: '231000900000'"):
        read_table(write(tmp_path, "gene;s1\n2,31E+19;5\n231000900000;2\n", "c.csv"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(write(tmp_path, "gene,s1\n2310009E13,5\n4933409K07Rik,2\n"
                                   "23100090000,1\n", "k.csv"))
    # two IDs Excel shows alike are one name twice: refused, saying why
    with pytest.raises(CountTableError, match=r"lines 2, 3: gene '2.31E\+19' appears more "
                                              r"than once: a spreadsheet makes one date or "
                                              r"number of different names"):
        read_table(write(tmp_path, "gene,s1\n2.31E+19,5\n2.31E+19,2\n", "d.csv"))


def test_a_title_above_the_table_is_refused_naming_skip_rows_which_skips_it(tmp_path):
    """Supplementary tables open with a title (and an empty row saved as ,,,): read as
    a header or a gene it gave "the header has 5 field(s)" or "missing value ''"."""
    body = "gene\tS1\tS2\tS3\ng1\t1\t2\t3\ng2\t4\t5\t6\n"
    titled = write(tmp_path, "Table S3: read counts per gene\n" + body, "t.tsv")
    with pytest.raises(CountTableError, match=r"t.tsv, line 1: one field, 'Table S3: read "
                                              r"counts per gene', above rows of 4: a title "
                                              r".* skip_rows: 1$"):
        read_table(titled)
    assert read_table(titled, skip_rows=1).counts.to_dict() == {
        "S1": {"g1": 1, "g2": 4}, "S2": {"g1": 2, "g2": 5}, "S3": {"g1": 3, "g2": 6}}
    csv = write(tmp_path, "Table S3,,,\n,,,\n" + body.replace("\t", ","), "t.csv")
    with pytest.raises(CountTableError, match=r"line 1: one field, 'Table S3'.*skip_rows: 2"):
        read_table(csv)
    assert read_table(csv, skip_rows=2).counts.shape == (2, 3)
    with pytest.raises(CountTableError, match=r"the table is empty below the 9 line\(s\) "
                                              r"skipped \(skip_rows\)"):
        read_table(csv, skip_rows=9)
    sheet = _sheet(tmp_path, {"A1": "Table S3", "A3": "gene", "B3": "s1", "C3": "s2",
                              "A4": "g1", "B4": 1, "C4": 2, "A5": "g2", "B5": 3, "C5": 4})
    with pytest.raises(CountTableError, match=r"t.xlsx, row 1: one field, 'Table S3', above "
                                              r"rows of 3: .* skip the rows above the table "
                                              r"with skip_rows: 2"):
        read_table(sheet)
    assert read_count_table(sheet, skip_rows=2).to_dict() == {
        "s1": {"g1": 1, "g2": 3}, "s2": {"g1": 2, "g2": 4}}
    # a table of one sample under R's write.table header has one-field first line: no title
    assert read_count_table(write(tmp_path, "S1\ng1\t5\ng2\t7\n", "r.tsv")).shape == (2, 1)


@pytest.mark.parametrize("text, skip", [
    ("Table S1, raw counts\ngene\tS1\tS2\tS3\ng1\t1\t2\t3\n", 1),  # a comma above tabs
    ("Tabelle 1, Z\u00e4hlungen\ngene;S1;S2;S3\ng1;1;2;3\n", 1),
    ("Title\nA note: counts are raw\ngene\tS1\tS2\tS3\ng1\t1\t2\t3\n", 2),
    ('Table S3\n"","S1","S2"\n"g1",1,2\n"g2",3,4\n', 1),  # R's write.csv under a title
])
def test_titles_are_found_whatever_their_separators(tmp_path, text, skip):
    path = write(tmp_path, text, "t.txt")
    with pytest.raises(CountTableError, match=f"line 1: one field, .* skip_rows: {skip}$"):
        read_table(path)
    assert read_table(path, skip_rows=skip).header


@pytest.mark.parametrize("text, samples", [
    ("gene ctrl_1 ctrl_2 kd_1\ng1\t1\t2\t3\ng2\t4\t5\t6\n", ["ctrl_1", "ctrl_2", "kd_1"]),
    ("gene s1 s2\nA,B,C 1 2\nD 3 4\n", ["s1", "s2"]),
    ("gene;a;b\ng1;1;2\ng2;3;4\n", ["a", "b"]),
])
def test_a_header_under_another_separator_than_its_rows_is_no_title(tmp_path, text, samples):
    """A whitespace-separated header over tab-separated rows, a comma in a gene name of
    a whitespace-separated table: the header reads as the rows' width, so no title."""
    assert list(read_count_table(write(tmp_path, text, "t.txt")).columns) == samples


def test_skip_rows_must_be_a_count_of_lines(tmp_path):
    path = write(tmp_path, "gene\tS1\ng1\t1\n", "t.tsv")
    for bad in (-1, "1", True):
        with pytest.raises(ValueError, match="skip_rows must be a whole number"):
            read_table(path, skip_rows=bad)


def test_utf16_and_unnamed_bz2_and_xz_files_are_recognised_by_their_bytes(tmp_path):
    text = "gene\tA\tB\ng1\t1\t2\n"
    (tmp_path / "u16.txt").write_bytes(text.encode("utf-16"))  # Excel's "Unicode Text"
    read = read_table(tmp_path / "u16.txt")
    assert read.encoding == "utf-16" and read.counts.to_dict() == {"A": {"g1": 1}, "B": {"g1": 2}}
    (tmp_path / "u32.txt").write_bytes(text.encode("utf-32"))  # its BOM starts as UTF-16's
    read = read_table(tmp_path / "u32.txt")
    assert read.encoding == "utf-32" and read.counts.to_dict() == {"A": {"g1": 1}, "B": {"g1": 2}}
    for name, compress, kind in (("b.tsv", bz2.compress, "bz2"), ("x.tsv", lzma.compress, "xz")):
        (tmp_path / name).write_bytes(compress(text.encode()))
        read = read_table(tmp_path / name)
        assert read.compression == kind and read.counts.shape == (1, 2)
