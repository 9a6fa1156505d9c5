"""The ``moonlight`` command: names, ranks and the config it writes; one-line errors; a
config with every default; and the installed wheel running the workflow outside the
checkout."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from moonlight.cli import dataset_name, main, parse_ranks, run_config, workflow_dir
from moonlight.config import SCHEMA, defaults

from conftest import REPO, W09_TABLE


def test_a_data_set_is_named_after_its_file():
    assert dataset_name("data/counts.tsv.gz") == "counts"
    assert dataset_name("GSE1234 raw counts.xlsx") == "GSE1234_raw_counts"
    assert dataset_name("2019_counts.csv") == "d2019_counts"
    assert dataset_name("sim3.tsv") == "dsim3"           # not a simulated data set's name
    assert dataset_name("x/counts.csv", taken=["counts", "counts_2"]) == "counts_3"
    assert dataset_name("w09-data.tbl") == "w09-data"


def test_ranks_from_the_command_line():
    assert parse_ranks("2-7") == [2, 3, 4, 5, 6, 7]
    assert parse_ranks("5,2,3") == [2, 3, 5]
    assert parse_ranks("4") == [4]
    for bad in ("two", "0-3", "2-"):
        with pytest.raises(Exception, match="--ranks"):
            parse_ranks(bad)
    with pytest.raises(Exception, match="the range 5-3 runs down; write 3-5"):
        parse_ranks("2,5-3")
    with pytest.raises(Exception, match="rank 4 given twice"):
        parse_ranks("2-4,4")


def test_a_bad_config_or_restarts_stops_the_run_before_anything_is_written(tmp_path, capsys):
    table = tmp_path / "t.tsv"
    table.write_text("g1\t1\t2\ng2\t3\t4\n")
    config = tmp_path / "mine.yaml"
    config.write_text("modules: {treshold: 0.2}\n")
    out = tmp_path / "out"
    assert main(["run", str(table), "--out", str(out), "--config", str(config)]) == 2
    assert main(["run", str(table), "--out", str(out), "--restarts", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"moonlight: error: {config}: config key modules: unknown key 'treshold' "
                   "(did you mean 'threshold'?)",
                   "moonlight: error: --restarts 0: at least 1"]
    assert not out.exists()


def test_the_written_config_lists_the_files_and_nothing_simulated(tmp_path):
    """Each file once (the same file twice is one data set), names unique without case,
    relative paths of a config file made absolute."""
    table, other = tmp_path / "counts.tsv", tmp_path / "b" / "Counts.csv"
    config = run_config([str(table), str(table), str(other)], ranks=[2, 3], restarts=4)
    assert config == {"simulation": {"seeds": []}, "ranks": [2, 3], "restarts": 4,
                      "data": {"counts": str(table), "Counts_2": str(other)}}
    # a config file's relative paths are its folder's, not the output folder's
    mine = run_config([str(table)], base_dir=tmp_path / "cfg", base={
        "simulation": None, "data": {"x": "x.tsv", "y": {"path": "/abs/y.tsv",
                                                         "samples": "sheet.tsv"}},
        "gene_sets": ["sets.gmt", "somepackage:data/sets.gmt"]})
    assert mine["simulation"] == {"seeds": []}
    assert mine["data"] == {"x": str(tmp_path / "cfg" / "x.tsv"),
                            "y": {"path": "/abs/y.tsv",
                                  "samples": str(tmp_path / "cfg" / "sheet.tsv")},
                            "counts": str(table)}
    assert mine["gene_sets"] == [str(tmp_path / "cfg" / "sets.gmt"),
                                 "somepackage:data/sets.gmt"]


def test_moonlight_config_prints_every_default_with_its_meaning(capsys):
    from snakemake.utils import validate

    assert main(["config"]) == 0
    text = capsys.readouterr().out
    config = yaml.safe_load(text)
    assert config == defaults()
    validate(config, str(SCHEMA))
    assert "# Ranks R to fit for every data set" in text
    assert "  # Relative change of the log likelihood" in text


def test_errors_are_one_line_and_nothing_is_overwritten(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.tsv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"moonlight: error: no such file: {tmp_path / 'missing.tsv'}")
    table = tmp_path / "t.tsv"
    table.write_text("g\t1\t2\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.yaml").write_text("ranks: [3]\n")             # the user's own file
    assert main(["run", str(table), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "is a config that moonlight run did not write (it differs in " in error
    assert f"delete {out / 'config.yaml'}" in error
    assert (out / "config.yaml").read_text() == "ranks: [3]\n"
    (out / "config.yaml").write_text("")                       # empty, or not a mapping
    assert main(["run", str(table), "--out", str(out)]) == 2
    assert "is not a config of moonlight run" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["run", str(table), "--out", str(afile)]) == 2
    assert "a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "mine"
    assert main(["run", str(table), "--profile", "nowhere", "--out", str(tmp_path / "o")]) == 2
    assert "--profile 'nowhere'" in capsys.readouterr().err
    # a profile whose executor's plugin is missing: one line naming the package to install
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    (cluster / "config.yaml").write_text("executor: nowhere_grid\njobs: 10\n")
    assert main(["run", str(table), "--profile", str(cluster), "--out",
                 str(tmp_path / "o")]) == 2
    assert ("executor, whose plugin is not installed: pip install "
            "snakemake-executor-plugin-nowhere_grid") in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "o").exists()                       # checked before writing


def test_a_config_written_by_an_unfinished_run_is_replaced(tmp_path):
    from moonlight.cli import _write_config
    first = _write_config(tmp_path, {"ranks": [2]})
    _write_config(tmp_path, {"ranks": [3]})               # no results yet: replaced
    assert yaml.safe_load(first.read_text()) == {"ranks": [3]}
    # a run that failed before its first result (a wrong layer name) left only these
    (tmp_path / "results" / "logs" / "prepare_single_cell").mkdir(parents=True)
    (tmp_path / "results" / "logs" / "prepare_single_cell" / "a.log").write_text("error")
    (tmp_path / "results" / "calibration.png").write_bytes(b"png")
    _write_config(tmp_path, {"ranks": [4]})               # still no result: replaced
    (tmp_path / "results" / "a").mkdir()
    (tmp_path / "results" / "a" / "counts.npz").write_bytes(b"npz")
    with pytest.raises(Exception, match=r"another run \(it differs in ranks\), whose results"):
        _write_config(tmp_path, {"ranks": [5]})


@pytest.mark.workflow
def test_the_config_files_gene_selection_reaches_the_data_step(tmp_path, w09_table):
    """moonlight run --config with gene_selection: the workflow's data step keeps the
    config's top genes (run up to prepare_table only)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "mine.yaml").write_text("gene_selection: {keep_top_genes: 30}\n"
                                      "data: {fruit: fruit.tbl}\n")
    (folder / "fruit.tbl").write_text(w09_table.read_text())
    out = tmp_path / "out"
    assert main(["run", "--config", str(folder / "mine.yaml"), "--out", str(out),
                 "--no-report", "--snakemake", "--until", "prepare_table"]) == 0
    read = (out / "results" / "fruit" / "read.tsv").read_text()
    assert "not among the keep_top_genes = 30" in read and "genes_kept\t30" in read


def test_the_package_carries_the_workflow():
    """moonlight/_workflow links to the checkout's workflow files (copied into a wheel)."""
    for part in ("Snakefile", "config.yaml", "rules/common.smk", "scripts/fit.py",
                 "report/workflow.rst", "profiles/slurm/config.yaml",
                 "benchmarks/results/calibration.png"):
        shipped, own = workflow_dir() / part, REPO / part
        assert shipped.resolve() == own.resolve(), part


@pytest.mark.workflow
def test_the_installed_wheel_runs_a_table_to_a_report(tmp_path):
    """Build the wheel, install it (without its dependencies, which this environment has)
    into a folder of its own, and run `moonlight run` from outside the checkout: the
    workflow comes from the package, not from the repository."""
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(REPO),
                            "-w", str(wheels)], capture_output=True, text=True)
    if build.returncode != 0 and "Could not find a version" in build.stderr:
        pytest.skip("the build backend could not be downloaded: " + build.stderr[-200:])
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("moonlight-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    table = run_dir / "fruit.tbl"
    table.write_text("".join(W09_TABLE.read_text().splitlines(keepends=True)[:60]))
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-m", "moonlight.cli", "run", "fruit.tbl",
                           "--ranks", "2-3", "--restarts", "2", "--cores", "2"],
                          cwd=run_dir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = run_dir / "moonlight-out"
    assert (out / "report.html").stat().st_size > 10_000
    summary = (out / "results" / "summary.tsv").read_text()
    assert summary.splitlines()[1].startswith("fruit\tFalse\t")
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["data"] == {"fruit": str(table)} and written["ranks"] == [2, 3]
    # the workflow run was the installed package's own copy, not this checkout's links
    shipped = subprocess.run([sys.executable, "-c", "import moonlight.cli as c; "
                              "print(c.workflow_dir() / 'Snakefile')"], cwd=run_dir, env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
    assert shipped.startswith(str(target)) and not Path(shipped).is_symlink()
