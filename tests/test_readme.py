"""The README's examples run and say what they print: its Python quick start on the
exercise's table, and its config snippets against the schema."""

import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, W09_TABLE

README = (REPO / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_python_quick_start_gives_the_exercise_answer():
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    (code,) = _blocks("python")
    script = code + ("\nprint(result.rank, sorted(result.moonlighting['gene']))"
                     "\nprint(result.calls.classes['class'].value_counts().to_dict())"
                     "\nprint(result.qc['check'].tolist())")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    first, classes, checks = run.stdout.splitlines()[-3:]
    assert first == "4 ['cranberry', 'grape', 'tomato']"
    assert "'moonlighting': 3" in classes
    assert "warning" not in checks


def test_the_config_snippets_are_valid_configs():
    from test_config import validated
    snippets = [yaml.safe_load(block) for block in _blocks("yaml")]
    assert len(snippets) >= 2
    for snippet in snippets:
        config = validated(snippet)
        assert set(snippet["data"]) <= set(config["data"])


def test_the_commands_name_real_options():
    """Every snakemake command of the README parses (a dry run of the exercise's)."""
    commands = [line for block in _blocks("bash") for line in block.splitlines()
                if "snakemake" in line and not line.lstrip().startswith("#")]
    assert any("--config 'data={w09: ../shared/data/w09-data.tbl}'" in c for c in commands)
    if not W09_TABLE.is_file():
        pytest.skip(f"the exercise's table is not at {W09_TABLE}")
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--config",
                          "data={w09: ../shared/data/w09-data.tbl}"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "prepare_table" in dry.stdout


def test_the_moonlight_commands_run(tmp_path):
    """Every `moonlight` line of the README runs: `run` as a dry run into a scratch
    folder, `config` for real."""
    lines = [line.split("#")[0].split() for block in _blocks("bash")
             for line in block.splitlines() if line.startswith(".venv/bin/moonlight ")]
    assert {words[1] for words in lines} == {"run", "config"}
    for words in lines:
        if words[1] == "run" and not W09_TABLE.is_file():
            continue
        args = words[1:]
        if args[0] == "run":
            args = [a for a in args if a != ">"] + ["--out", str(tmp_path / "out"), "--dry-run"]
        else:
            args = args[:args.index(">")] if ">" in args else args
        done = subprocess.run([sys.executable, "-m", "moonlight.cli", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
