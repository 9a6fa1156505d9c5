"""Real Snakemake runs of the workflow: a small simulated data set plus the exercise's table."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from moonlight import read_count_table, read_tsv

from conftest import REPO, W09_TABLE
from conftest import SMALL_CONFIG as SMALL_CONFIG_FILE

pytestmark = pytest.mark.workflow

def _small_config() -> dict:
    """tests/small_config.yaml on its own, every key it leaves out at the schema's
    default (filled in by the validation the workflow runs)."""
    from snakemake.utils import validate
    config = yaml.safe_load(SMALL_CONFIG_FILE.read_text())
    validate(config, str(REPO / "moonlight" / "config.schema.yaml"))
    return config


SMALL_CONFIG = _small_config()


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` with its config.yaml."""
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_workdir(tmp_path: Path, **changes) -> Path:
    config = yaml.safe_load(yaml.safe_dump(SMALL_CONFIG))
    for key, value in changes.items():
        config[key] = value
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One run over the small simulation and, where present, the exercise's table."""
    folder = tmp_path_factory.mktemp("run")
    # The exercise's table, its samples annotated by a sample sheet.
    sheet = folder / "samples.tsv"
    rin = np.random.default_rng(3).uniform(6, 10, size=60).round(1)  # a technical column
    sheet.write_text("sample\thalf\torder\trin\n" + "".join(
        f"S{j}\t{'first' if j <= 30 else 'second'}\t{j}\t{rin[j - 1]}\n"
        for j in range(1, 61)))
    data = ({"w09": {"path": str(W09_TABLE), "samples": str(sheet),
                     "annotations": ["half", "order"], "technical": ["rin"]}}
            if W09_TABLE.is_file() else {})
    # The exercise's own samples, projected back on its modules.
    project = {"again": {"model": "w09", "path": str(W09_TABLE)}} if data else {}
    # Gene sets for the enrichment step: the simulation's genes and the exercise's fruit.
    gmt = folder / "sets.gmt"
    fruit = read_count_table(W09_TABLE).index.tolist() if data else []
    n = SMALL_CONFIG["simulation"]["n_genes"]
    sim = [f"gene{i:0{len(str(n))}d}" for i in range(1, n + 1)]  # simulate()'s names
    gmt.write_text("".join(f"{name}\ttest\t" + "\t".join(genes) + "\n" for name, genes in [
        ("sim_low", sim[:n // 2]), ("sim_high", sim[n // 2:]),
        *([("fruit_a", fruit[:20]), ("fruit_b", fruit[40:60])] if fruit else [])]))
    workdir = make_workdir(
        folder,
        data=data,
        project=project,
        # The exercise's table needs ranks around its answer; restarts kept small for time.
        ranks=[2, 3, 4, 5],
        restarts=4,
        gene_sets=[str(gmt)],
        enrichment={"min_coverage": 0.0},  # each data set holds only half of the sets
    )
    run = snakemake(workdir)
    (workdir / "console.txt").write_text(run.stdout + run.stderr)
    return workdir


def test_the_run_records_its_config_and_reruns_from_it(finished_run):
    """results/config.yaml is the run's whole config: given instead of the run's own
    config file, it is the same run (nothing to do)."""
    recorded = yaml.safe_load((finished_run / "results" / "config.yaml").read_text())
    given = yaml.safe_load((finished_run / "config.yaml").read_text())
    assert recorded["data"] == given["data"] and recorded["ranks"] == given["ranks"]
    assert recorded["selection"]["folds"] == SMALL_CONFIG["selection"]["folds"]
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(finished_run), "--configfile",
               str(finished_run / "results" / "config.yaml"), "-n"]
    dry = subprocess.run(command, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_every_module_is_tested_against_the_gene_sets(finished_run):
    for dataset, sets in (("sim5", {"sim_low", "sim_high"}),) + (
            (("w09", {"fruit_a", "fruit_b"}),) if W09_TABLE.is_file() else ()):
        results = finished_run / "results" / dataset
        table = read_tsv(results / "enrichment.tsv", index_col=None)
        modules = read_tsv(results / "W.tsv").columns
        assert set(table["set"]) == sets and set(table["test"]) == {"overlap", "ranked"}
        assert len(table) == 2 * len(modules) * len(sets)
        assert table["q"].between(0, 1).all()
        assert (results / "enrichment.png").stat().st_size > 0


def test_the_figures_fdr_redraws_the_figure_alone(finished_run, tmp_path):
    """enrichment.fdr only decides which dots enrichment.png fills: a new value redraws
    that figure, not the tests, the QC record or the summary (they read
    gene_set_coverage.tsv, which the tests' rule rewrote when the figure was its)."""
    config = yaml.safe_load((finished_run / "config.yaml").read_text())
    config["enrichment"] = {**config["enrichment"], "fdr": 0.01}
    changed = tmp_path / "fdr.yaml"  # the whole config: a second --configfile replaces
    changed.write_text(yaml.safe_dump(config))
    dry = snakemake(finished_run, "-n", "--configfile", str(changed)).stdout
    jobs = dry.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    assert {line.split()[0] for line in jobs if line.split()} == {
        "enrichment_figure", "provenance", "all", "total"}


def test_modules_are_tested_against_the_sample_sheet(finished_run):
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    results = finished_run / "results" / "w09"
    tests = read_tsv(results / "annotations.tsv", index_col=None)
    modules = read_tsv(results / "W.tsv").columns
    assert len(tests) == 2 * len(modules)
    assert set(zip(tests["covariate"], tests["kind"])) == {("half", "categorical"),
                                                           ("order", "numeric")}
    usage = read_tsv(results / "usage_by_group.tsv", index_col=None)
    assert set(usage["group"]) == {"first", "second"} and (usage["n"] == 30).all()
    assert (results / "usage_by_group.png").stat().st_size > 0
    assert not (finished_run / "results" / "sim5" / "annotations.tsv").exists()
    # the sheet's technical column is tested beside read depth, and flags nothing here
    technical = read_tsv(results / "module_covariates.tsv", index_col=None)
    assert set(technical["covariate"]) == {"log_depth", "rin"}
    assert not technical.loc[technical["covariate"] == "rin", "technical"].any()


def test_simulated_truth_is_recovered(finished_run):
    results = finished_run / "results" / "sim5"
    recovery = read(results / "recovery.tsv").iloc[0]
    assert recovery["true_rank"] == 3 and recovery["selected_rank"] == 3
    assert recovery["genes_assigned_correctly"] == 1.0
    assert recovery["precision"] == 1.0 and recovery["recall"] == 1.0
    assert recovery["min_cosine"] > 0.99
    truth = pd.read_csv(results / "truth" / "membership.tsv", sep="\t", index_col=0)
    planted = sorted(truth.index[truth.sum(axis=1) == 2])
    assert sorted(read(results / "moonlighting.tsv")["gene"]) == planted


def test_rank_selection_table(finished_run):
    table = read(finished_run / "results" / "sim5" / "rank_selection.tsv")
    assert table["rank"].tolist() == [2, 3, 4, 5]
    assert table["selected"].sum() == 1
    assert {"loglik", "bic", "aic", "n_params"} <= set(table.columns)
    assert table["loglik"].is_monotonic_increasing
    logliks = read(finished_run / "results" / "sim5" / "logliks.tsv")
    assert len(logliks) == 4 * 4  # every restart of every rank
    assert np.allclose(logliks.groupby("rank")["loglik"].max().to_numpy(), table["loglik"])


def test_factor_tables_are_normalized(finished_run):
    results = finished_run / "results" / "sim5"
    W = pd.read_csv(results / "W.tsv", sep="\t", index_col=0)
    W_norm = pd.read_csv(results / "W_normalized.tsv", sep="\t", index_col=0)
    H = pd.read_csv(results / "H.tsv", sep="\t", index_col=0)
    assert W.shape == (40, 3) and H.shape == (3, 20)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=1e-10)
    np.testing.assert_allclose(W_norm.sum(axis=1), 1.0, rtol=1e-10)
    modules = read(results / "modules.tsv")
    assert modules.columns.tolist() == ["gene", "module", "share", "class"]
    assert set(modules["gene"]) == set(W.index)
    assert (modules["share"] > 0.1).all()
    for png in ("W_histogram.png", "W_heatmap.png", "rank_selection.png"):
        assert (results / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_exercise_table_answer(finished_run):
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    results = finished_run / "results" / "w09"
    table = read(results / "rank_selection.tsv")
    assert table.loc[table["selected"], "rank"].tolist() == [4]
    sizes = sorted(read(results / "modules.tsv")["module"].value_counts().tolist())
    assert sizes == [20, 20, 20, 43]
    assert sorted(read(results / "moonlighting.tsv")["gene"]) == ["cranberry", "grape", "tomato"]
    classes = read(results / "gene_classes.tsv").set_index("gene")["class"]
    assert sorted(classes[classes == "moonlighting"].index) == ["cranberry", "grape", "tomato"]
    assert (classes.value_counts().to_dict() == {"specific": 97, "moonlighting": 3})
    qc = read(results / "qc.tsv").set_index("check")
    assert str(qc.loc["genes_broad", "value"]) == "0" and "rank_at_top" not in set(qc["value"])
    summary = read(finished_run / "results" / "summary.tsv").set_index("dataset")
    assert summary.loc["w09", "selected_rank"] == 4
    assert summary.loc["sim5", "true_rank"] == 3


def test_report_builds_with_the_answer_on_its_first_page(finished_run):
    snakemake(finished_run, "--report", "results/report.html")
    html = (finished_run / "results" / "report.html").read_text(errors="replace")
    assert len(html) > 10_000
    assert "calibration of the moonlighting calls" in html  # the power curves
    assert (finished_run / "results" / "calibration.png").read_bytes() == (
        REPO / "benchmarks" / "results" / "calibration.png").read_bytes()
    landing = (finished_run / "results" / "report_landing.rst").read_text()
    assert "``sim5``" in landing and "``gene" in landing
    if W09_TABLE.is_file():
        assert "cranberry, grape, tomato" in landing and "cranberry, grape, tomato" in html


def test_console_does_not_print_empty_shell_commands(finished_run):
    console = (finished_run / "console.txt").read_text()
    assert "Fitting rank 3 to sim5" in console
    assert "Shell command: None" not in console


def test_higher_ranks_start_first(finished_run):
    """A data set's fits and cross-validations start in order of falling rank (the
    slowest first, so that a run on few cores does not end on one long job)."""
    console = (finished_run / "console.txt").read_text()
    fitted = yaml.safe_load((finished_run / "config.yaml").read_text())["ranks"]
    started = re.findall(r"(?:Fitting|Cross-validating) rank (\d+) (?:to|on) (\S+)", console)
    for dataset in {name for _, name in started}:
        ranks = [int(rank) for rank, name in started if name == dataset]
        assert len(ranks) == 2 * len(fitted) + 1, ranks  # and rank 1's cross-validation
        assert ranks == sorted(ranks, reverse=True), (dataset, ranks)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"restart": 3}, "restart"),
        ({"ranks": "2-7"}, "ranks"),
        ({"modules": {"threshold": 0.1, "treshold": 0.2}}, "treshold"),
        ({"data": {"mine": "no/such/table.tbl"}}, "data.mine: no such file 'no/such/table.tbl'"),
        ({"ranks": [2, 25]}, "rank 25 exceeds min(simulation.n_genes, simulation.n_samples) = 20"),
    ],
)
def test_bad_config_is_refused_with_the_key_named(tmp_path, changes, message):
    workdir = make_workdir(tmp_path, **changes)
    result = snakemake(workdir, "--dry-run", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (workdir / "results").exists()


def test_bad_table_stops_the_run_and_leaves_no_result(tmp_path):
    table = tmp_path / "bad.tbl"
    table.write_text("g1 1 2 3\ng2 4 x 6\ng3 7 8 9\n")
    workdir = make_workdir(
        tmp_path, data={"bad": str(table)}, simulation={**SMALL_CONFIG["simulation"], "seeds": []}
    )
    result = snakemake(workdir, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{table}, line 2, column 3: non-numeric value 'x'" in output
    # said once, as one line: no traceback on the terminal (the log keeps it)
    assert output.count("non-numeric value 'x'") == 1 and "Traceback" not in output
    assert not (workdir / "results" / "bad" / "counts.npz").exists()
    log = (workdir / "results" / "logs" / "prepare_table" / "bad.log").read_text()
    assert "non-numeric value 'x'" in log


def test_rank_above_table_size_is_refused(tmp_path):
    table = tmp_path / "small.tbl"
    table.write_text("\n".join(f"g{i} {i + 1} {i + 2} {i + 3}" for i in range(10)) + "\n")
    workdir = make_workdir(
        tmp_path, data={"small": str(table)}, simulation={**SMALL_CONFIG["simulation"], "seeds": []}
    )
    result = snakemake(workdir, check=False)
    assert result.returncode != 0
    assert "config key ranks: rank 4 exceeds min(N, M) = 3" in result.stdout + result.stderr
    assert not (workdir / "results" / "small" / "counts.npz").exists()


def test_a_table_too_small_for_its_folds_says_so_before_fitting(tmp_path):
    """A 2 x 2 table with ranks [1, 2]: five folds of scattered entries need five
    entries; one message names the key, no cross-validation job starts."""
    table = tmp_path / "tiny.tbl"
    table.write_text("g1 5 9\ng2 7 3\n")
    workdir = make_workdir(tmp_path, data={"tiny": str(table)}, ranks=[1, 2],
                           simulation={**SMALL_CONFIG["simulation"], "seeds": []})
    result = snakemake(workdir, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert ("config key selection.folds: 5 folds of scattered entries need at least 5 "
            "entries; the table has 4") in output
    assert not (workdir / "results" / "tiny" / "counts.npz").exists()
    assert not (workdir / "results" / "logs" / "crossval").exists()


def test_lint_and_format_are_clean():
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(REPO / "Snakefile")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr
    snakefmt = Path(sys.executable).parent / "snakefmt"
    fmt = subprocess.run(
        [str(snakefmt), "--check", "Snakefile", "rules"], capture_output=True, text=True, cwd=REPO
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_analyse_in_a_notebook_gives_the_workflows_answer(finished_run):
    """The same steps and defaults: only the run's ranks and restarts are passed."""
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    from moonlight import read_count_table, read_tsv
    from moonlight.pipeline import analyse

    result = analyse(read_count_table(W09_TABLE), ranks=[2, 3, 4, 5], restarts=4,
                     fit={"max_iter": SMALL_CONFIG["fit"]["max_iter"]})
    results = finished_run / "results" / "w09"
    assert result.rank == 4
    pd.testing.assert_frame_equal(result.memberships.reset_index(drop=True),
                                  read_tsv(results / "modules.tsv", index_col=None))
    workflow = read_tsv(results / "moonlighting.tsv", index_col=None)
    assert result.moonlighting["gene"].tolist() == workflow["gene"].tolist()
    pd.testing.assert_frame_equal(result.W, read_tsv(results / "W.tsv"), check_names=False)
    # the QC record too: qc.tsv after the rows on how the file was read
    read_rows = len(read_tsv(results / "read.tsv", index_col=None))
    qc = read_tsv(results / "qc.tsv", index_col=None).iloc[read_rows:]
    pd.testing.assert_frame_equal(result.qc, qc.reset_index(drop=True))


def test_analyse_of_the_simulated_table_gives_the_workflows_answer(finished_run):
    """A simulated data set takes the data step every table takes: analyse() of the
    drawn table (counts.tsv) gives the workflow's W, calls and whole QC record."""
    from moonlight.pipeline import analyse

    results = finished_run / "results" / "sim5"
    drawn = read_tsv(results / "counts.tsv")
    result = analyse(drawn, ranks=[2, 3, 4, 5], restarts=4,
                     fit={"max_iter": SMALL_CONFIG["fit"]["max_iter"]})
    pd.testing.assert_frame_equal(result.W, read_tsv(results / "W.tsv"), check_names=False)
    workflow = read_tsv(results / "moonlighting.tsv", index_col=None)
    assert result.moonlighting["gene"].tolist() == workflow["gene"].tolist()
    pd.testing.assert_frame_equal(result.qc, read_tsv(results / "qc.tsv", index_col=None))
    assert (results / "read.tsv").is_file()


def test_projecting_the_training_samples_reproduces_H(finished_run):
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    from moonlight import read_tsv

    results = finished_run / "results" / "w09"
    projected = read_tsv(results / "projections" / "again" / "H.tsv")
    fitted = read_tsv(results / "H.tsv")
    assert projected.index.tolist() == fitted.index.tolist()
    assert projected.columns.tolist() == fitted.columns.tolist()
    # Equal up to the fit's own convergence: 1e-4 of each sample's total activity (small
    # entries are pinned no tighter than the fit's stopping rule pins them).
    P, F = projected.to_numpy(), fitted.to_numpy()
    assert np.all(np.abs(P - F) <= 1e-4 * F.sum(axis=0)), np.abs(P - F).max()
    genes = read_tsv(results / "projections" / "again" / "genes.tsv", index_col=None)
    assert (genes["status"] == "used").sum() == 100 and len(genes) == 100
    loglik = read_tsv(results / "projections" / "again" / "loglik.tsv")
    assert len(loglik) == 60 and (loglik["loglik"] < 0).all()


@pytest.mark.parametrize("outputs", [[
    "module_genes.tsv", "top_genes.tsv", "modules.gmt", "consensus.tsv", "consensus.png",
    "H_heatmap.png", "qc.tsv"]])
def test_outputs_a_biologist_uses_agree_with_the_modules(finished_run, outputs):
    from moonlight import read_tsv

    for dataset in ["sim5"] + (["w09"] if W09_TABLE.is_file() else []):
        results = finished_run / "results" / dataset
        for name in outputs:
            assert (results / name).stat().st_size > 0, (dataset, name)
        modules = read_tsv(results / "modules.tsv", index_col=None)
        ranked = read_tsv(results / "module_genes.tsv", index_col=None)
        assert sorted(zip(ranked["module"], ranked["gene"])) == sorted(
            zip(modules["module"], modules["gene"]))
        gmt = {line.split("\t")[0]: line.rstrip("\n").split("\t")[2:]
               for line in (results / "modules.gmt").read_text().splitlines(True)}
        for module, members in modules.groupby("module")["gene"]:
            assert sorted(gmt[f"{dataset}_{module}"]) == sorted(members)


def test_the_range_grows_until_the_rule_stops_inside_it(tmp_path, finished_run):
    """selection.extend_to: from ranks [2] the workflow fits 3, then 4, where the rule
    stops at the true R = 3; the calls are those of the run fitted at 2..5 from the
    start, and analyse() grows its range the same way."""
    workdir = make_workdir(tmp_path, ranks=[2],
                           selection={**SMALL_CONFIG["selection"], "extend_to": 6})
    snakemake(workdir, "results/sim5/modules.tsv", "results/sim5/moonlighting.tsv")
    results = workdir / "results" / "sim5"
    table = read(results / "rank_selection.tsv")
    assert table["rank"].tolist() == [2, 3, 4]
    assert table.loc[table["selected"], "rank"].tolist() == [3]
    assert sorted(p.name for p in (results / "rank_rounds").iterdir()) == [
        "round0.tsv", "round1.tsv", "round2.tsv"]
    for name in ("modules.tsv", "moonlighting.tsv"):
        pd.testing.assert_frame_equal(read(results / name),
                                      read(finished_run / "results" / "sim5" / name))
    # the provenance job's inputs (every fit's benchmark file, grown ranks included)
    # are known: the DAG of the default target builds
    snakemake(workdir, "-n", "results/provenance.tsv")

    from moonlight import read_tsv
    from moonlight.pipeline import analyse
    result = analyse(read_tsv(results / "counts.tsv"), ranks=[2],
                     restarts=SMALL_CONFIG["restarts"],
                     fit={"max_iter": SMALL_CONFIG["fit"]["max_iter"]},
                     selection={"extend_to": 6})
    assert result.table["rank"].tolist() == [2, 3, 4] and result.rank == 3
    assert result.moonlighting["gene"].tolist() == read(results / "moonlighting.tsv")["gene"].tolist()
