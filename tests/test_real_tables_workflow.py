"""Real tables through the whole workflow: the exercise's table as R writes it gives the
exercise's answer with every name intact, its Excel and Latin-1 shapes are read with
every name intact, degenerate tables finish with the warning they deserve, and bad tables
stop with the file and line named and leave nothing.
"""

import gzip

import numpy as np
import pandas as pd
import pytest

from conftest import W09_TABLE
from moonlight import read_count_table
from moonlight.counts import load_counts
from moonlight.io import read_tsv
from moonlight.recovery import match_modules
from test_tables import r_write_csv, tricky
from test_workflow import SMALL_CONFIG, make_workdir, snakemake

pytestmark = pytest.mark.workflow

NO_SIMULATION = {**SMALL_CONFIG["simulation"], "seeds": []}
ANSWER = ["cranberry", "grape", "tomato"]


def renamed_table():
    """The exercise's table with integer and NA/nan/007-style gene names, numeric sample
    IDs and ``grape`` spelled ``grap\u00e9``, and the answer's genes under their new names."""
    plain = read_count_table(W09_TABLE)
    renamed = tricky(plain)
    renamed.index = [("grap\u00e9" if g == "grape" else n) for g, n in zip(plain.index,
                                                                          renamed.index)]
    names = dict(zip(plain.index, renamed.index))
    return renamed, [names[g] for g in ANSWER]


def r_csv(folder, renamed):
    """The table as R's gzipped write.csv (BOM, CRLF, quotes): it goes through the whole
    run, at ranks about the answer's (the rank choice and the rank guard)."""
    csv = folder / "w09_r.csv.gz"
    csv.write_bytes(gzip.compress(("\ufeff" + r_write_csv(renamed)).encode()))
    return {"r_csv": str(csv)}


def reader_shapes(folder, renamed):
    """The table as an Excel sheet and as Latin-1 text. They test the reader only: the
    same table object goes on from there, and tests/test_bad_inputs.py takes both through
    analyse() to the answer."""
    xlsx = folder / "w09.xlsx"
    renamed.rename_axis("gene").to_excel(xlsx, sheet_name="counts")
    latin = folder / "w09_latin1.tsv"
    text = renamed.rename_axis("gene").to_csv(sep="\t", lineterminator="\r\n")
    latin.write_bytes(text.encode("latin-1"))
    return {"excel": {"path": str(xlsx), "sheet": "counts"},
            "latin1": {"path": str(latin), "header": True}}


def degenerate(folder):
    """Identical counts; one entry of 1e15, in a Latin-1 file (a reader's warning beside
    the QC's, all the way to the summary); over 90% zeros (each fitted at rank 2 only,
    beside the rank-1 baseline every data set's cross-validation has)."""
    rng = np.random.default_rng(7)
    genes = [f"g{i}" for i in range(40)]
    samples = [f"s{j}" for j in range(30)]
    tables = {
        "identical": pd.DataFrame(50, index=genes, columns=samples),
        "outlier": pd.DataFrame(rng.poisson(rng.gamma(2.0, 50.0, size=(40, 1)),
                                            size=(40, 30)), index=genes, columns=samples),
        "sparse": pd.DataFrame(rng.poisson(0.04, size=(40, 30)), index=genes, columns=samples),
    }
    tables["outlier"].loc["g7", "s3"] = 10**15
    tables["outlier"] = tables["outlier"].rename(index={"g0": "g\u00e90"})
    tables["sparse"].iloc[:, 0] += 1  # no all-zero sample
    tables["sparse"].iloc[0, :] += 1
    data = {}
    for name, table in tables.items():
        path = folder / f"{name}.tsv"
        text = table.rename_axis("gene").to_csv(sep="\t")
        path.write_bytes(text.encode("latin-1" if name == "outlier" else "utf-8"))
        data[name] = {"path": str(path), "ranks": [2]}  # what they test needs no more
    return data


def batched(folder):
    """A planted table whose samples sit on three plates with a strong per-gene plate
    effect (SD 1.5 on the log scale), the plates in a sample sheet as "01", "02", "03"."""
    from test_batches import planted

    sim = planted(plate_sd=1.5)
    path, sheet = folder / "batched.tsv", folder / "batched_samples.tsv"
    sim.counts.rename_axis("gene").to_csv(path, sep="\t")
    pd.DataFrame({"sample": sim.counts.columns,
                  "plate": sim.plate.str.replace("plate", "0").to_numpy()}
                 ).to_csv(sheet, sep="\t", index=False)
    # the true rank only (and the rank-1 baseline): the rank choice with batches is
    # tested in test_batches.py; here the rules' files, calls, modules and factors
    return {"batched": {"path": str(path), "samples": str(sheet), "batch": "plate",
                        "ranks": [3]}}, sim


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    folder = tmp_path_factory.mktemp("tables")
    renamed, answer = renamed_table()
    data = r_csv(folder, renamed) | degenerate(folder)
    known_batches, _ = batched(folder)
    data |= known_batches
    workdir = make_workdir(tmp_path_factory.mktemp("messy"), data=data,
                           simulation=NO_SIMULATION, ranks=[3, 4, 5], restarts=4)
    snakemake(workdir)
    return workdir, renamed, answer


@pytest.fixture(scope="module")
def read_shapes(tmp_path_factory):
    """The Excel and Latin-1 shapes through the workflow's data step (``prepare_table``)."""
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    renamed, _ = renamed_table()
    readers = reader_shapes(tmp_path_factory.mktemp("shapes"), renamed)
    workdir = make_workdir(tmp_path_factory.mktemp("readers"), data=readers,
                           simulation=NO_SIMULATION)
    snakemake(workdir, *(f"results/{name}/counts.npz" for name in readers))
    return workdir, renamed


def test_known_batches_give_the_planted_modules_and_calls(messy_run, tmp_path):
    """With batch: the plates are factors of the model, not modules (without them the
    same table gives R = 4 and false calls: tests/test_batches.py)."""
    workdir = messy_run[0]
    _, sim = batched(tmp_path)
    selection = read_tsv(workdir / "results/batched/rank_selection.tsv", index_col=None)
    assert int(selection.loc[selection["selected"].astype(bool), "rank"].iat[0]) == 3
    # BIC and AIC count each gene's factors of the three plates (two free: they average to one)
    n_genes, n_samples = sim.counts.shape
    assert (selection["n_params"] == selection["rank"] * (n_genes + n_samples - 1)
            + 2 * n_genes).all()
    called = read_tsv(workdir / "results/batched/moonlighting.tsv", index_col=None)
    assert sorted(called["gene"]) == sorted(sim.moonlighting)
    beta = read_tsv(workdir / "results/batched/batch_factors.tsv")
    assert list(beta.columns) == ["01", "02", "03"]  # labels as written
    truth = np.log(sim.plate_factors.to_numpy())
    fitted = np.log(beta.loc[sim.counts.index].to_numpy())
    assert np.corrcoef(truth[:, 0] - truth[:, 1], fitted[:, 0] - fitted[:, 1])[0, 1] > 0.9
    assert (workdir / "results/batched/batch_factors.png").stat().st_size > 0
    W = read_tsv(workdir / "results/batched/W.tsv")
    assert match_modules(sim.batch_model_W, W)["cosine"].min() >= 0.95


def test_the_r_csv_gives_the_answer_with_every_name_as_written(messy_run):
    workdir, renamed, answer = messy_run
    results = workdir / "results" / "r_csv"
    selection = read_tsv(results / "rank_selection.tsv", index_col=None)
    assert selection.loc[selection["selected"], "rank"].tolist() == [4]
    modules = read_tsv(results / "modules.tsv", index_col=None)
    assert sorted(modules["module"].value_counts().tolist()) == [20, 20, 20, 43]
    assert sorted(read_tsv(results / "moonlighting.tsv", index_col=None)["gene"]) == sorted(answer)
    # Names exactly as written, in every file a person reads.
    W = read_tsv(results / "W.tsv")
    assert W.index.tolist() == renamed.index.tolist()
    assert read_tsv(results / "H.tsv").columns.tolist() == renamed.columns.tolist()
    assert set(modules["gene"]) == set(renamed.index)
    raw = (results / "W.tsv").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[0] for line in raw[1:11]] == ["NA", *renamed.index[1:10]]
    qc = read_tsv(results / "qc.tsv", index_col=None).set_index("check")
    assert qc.loc["header", "value"] == "yes"
    assert "warning" not in qc.index
    assert "compression gzip; encoding utf-8; separator comma" == qc.loc["format", "detail"]
    assert "write.csv" in qc.loc["header", "detail"]


@pytest.mark.parametrize("name", ["excel", "latin1"])
def test_the_excel_and_latin1_shapes_are_read_with_every_name(read_shapes, name):
    """What the reader guessed is said (numeric sample IDs under a "gene" label read as
    a header in the sheet; Latin-1 decoding), and every name is kept as written."""
    workdir, renamed = read_shapes
    counts = load_counts(workdir / "results" / name / "counts.npz")
    assert counts.genes == renamed.index.tolist()
    assert counts.samples == renamed.columns.tolist()
    np.testing.assert_array_equal(counts.to_frame().to_numpy(), renamed.to_numpy())
    record = read_tsv(workdir / "results" / name / "read.tsv", index_col=None)
    record = record.set_index("check")
    assert record.loc["header", "value"] == "yes"
    assert record.loc[["warning"], "value"].tolist() == {"excel": ["header_guess"],
                                                         "latin1": ["encoding"]}[name]
    if name == "latin1":
        assert "decoded as Latin-1" in record.loc["warning", "detail"]
        log = (workdir / "results" / "logs" / "prepare_table" / "latin1.log").read_text()
        assert "not UTF-8" in log


@pytest.mark.parametrize("name, warning", [
    ("identical", "no_structure"),
    ("outlier", "outlier (gene g7, sample s3)"),
    ("sparse", "outside_validated_range"),
])
def test_degenerate_tables_finish_with_their_warning(messy_run, name, warning):
    workdir, _, _ = messy_run
    summary = read_tsv(workdir / "results" / "summary.tsv", index_col=None).set_index("dataset")
    assert warning in summary.loc[name, "warnings"]
    qc = read_tsv(workdir / "results" / name / "qc.tsv", index_col=None)
    assert warning.split(" (")[0] in qc.loc[qc["check"] == "warning", "value"].tolist()
    assert summary.loc["r_csv", "warnings"] == ""
    assert ("encoding" in summary.loc[name, "warnings"]) == (name == "outlier")
    assert warning.split(" (")[0] in (workdir / "results" / "logs" / "qc" / f"{name}.log").read_text()


@pytest.mark.parametrize("name", ["identical", "sparse"])
def test_no_structure_reports_rank_one_and_no_calls(messy_run, name):
    """No rank beats rank 1 on held-out data: R = 1, no moonlighting gene, and why."""
    workdir, _, _ = messy_run
    summary = read_tsv(workdir / "results" / "summary.tsv", index_col=None).set_index("dataset")
    assert summary.loc[name, "selected_rank"] == 1
    assert summary.loc[name, "n_moonlighting"] == 0
    assert "no_structure" in summary.loc[name, "warnings"]
    results = workdir / "results" / name
    assert read_tsv(results / "moonlighting.tsv", index_col=None).empty
    assert read_tsv(results / "W.tsv").columns.tolist() == ["M1"]


def test_the_report_has_the_qc_record(messy_run):
    workdir, _, _ = messy_run
    snakemake(workdir, "--report", "results/report.html")
    html = (workdir / "results" / "report.html").read_text(errors="replace")
    assert "quality control" in html


def test_an_entry_read_the_same_way_reruns_nothing(messy_run, tmp_path):
    """A data entry given its ranks (the run's own), reader defaults written out and
    its keys in another order reads the same counts: no job of it reruns (each reran
    its data step and every fit, as Snakemake compared the entry's text)."""
    import yaml
    workdir, _, _ = messy_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    entry = {"thousands": ",", "ranks": list(config["ranks"]), "comment": "#",
             "header": "auto", "path": config["data"]["r_csv"]}
    again = tmp_path / "again.yaml"  # the whole config: a second --configfile replaces
    again.write_text(yaml.safe_dump({**config, "data": {**config["data"], "r_csv": entry}},
                                    sort_keys=False))
    dry = snakemake(workdir, "-n", "--configfile", str(again)).stdout
    jobs = dry.split("Job stats:")[1].split("\n\n")[0]
    assert {line.split()[0] for line in jobs.splitlines()[3:] if line.split()} == {
        "provenance", "all", "total"}  # the provenance record takes the whole config


BAD_TABLES = {
    "ragged": ("g1,1,2,3\ng2,4,5\n", "line 2: 2 count(s) where line 1 has 3"),
    "quoted_number": ('"g1","1","2"\n"g2","3","1.375,5"\n', "line 2, column 3: non-numeric"),
    "duplicate": ("a 1 2\nb 3 4\na 5 6\n", "lines 1, 3: gene 'a' appears more than once"),
    "negative": ("gene\ts1\ts2\ng1\t-1\t2\n", "line 2, column 2: negative count '-1'"),
}


def test_bad_tables_stop_naming_file_and_line_and_leave_nothing(tmp_path):
    data = {}
    for name, (text, _) in BAD_TABLES.items():
        (tmp_path / f"{name}.csv").write_text(text)
        data[name] = str(tmp_path / f"{name}.csv")
    (tmp_path / "work").mkdir()
    workdir = make_workdir(tmp_path / "work", data=data, simulation=NO_SIMULATION)
    result = snakemake(workdir, "--keep-going", check=False)
    assert result.returncode != 0
    for name, (_, message) in BAD_TABLES.items():
        log = (workdir / "results" / "logs" / "prepare_table" / f"{name}.log").read_text()
        assert f"{tmp_path / name}.csv, {message}" in log, log
        folder = workdir / "results" / name
        assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))
