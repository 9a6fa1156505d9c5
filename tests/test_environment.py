"""The environment of the rules' jobs: the conda environment (`--sdm conda`) has every
runtime dependency, and a job that reads and writes tables does not load the fit engines."""

import re
import subprocess
import sys
import tomllib

import yaml

from conftest import REPO

#: conda-forge names where they differ from PyPI's.
CONDA_NAMES = {"matplotlib": "matplotlib-base"}
#: Runtime dependencies a rule's environment does not need: Snakemake runs the jobs.
NOT_IN_RULE_ENV = {"snakemake"}


def names(requirements):
    return {re.split(r"[\s<>=!~\[;]", r.strip(), maxsplit=1)[0].lower() for r in requirements}


def test_conda_environment_lists_every_runtime_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = {CONDA_NAMES.get(n, n) for n in names(project["dependencies"]) - NOT_IN_RULE_ENV}
    env = yaml.safe_load((REPO / "envs" / "moonlight.yaml").read_text())
    listed = names(d for d in env["dependencies"] if isinstance(d, str))
    assert not needed - listed, f"envs/moonlight.yaml lacks {sorted(needed - listed)}"
    assert "python" in listed


#: Rule scripts that read, check, summarize or draw, and fit nothing: their jobs should
#: not pay for numba and the engines (about 0.3-0.7 s a job).
LIGHT_SCRIPTS = ("simulate", "prepare_table", "prepare_single_cell", "qc", "summary",
                 "landing_page", "gather_logliks", "stability", "top_genes", "provenance",
                 "recovery", "calibration_figure", "anndata_out", "annotations",
                 "enrichment", "enrichment_figure", "usage_embedding")


def script_imports(name):
    """What a rule script imports from moonlight at its top: the modules, and the names
    it takes from the package itself (which the package loads on first use)."""
    text = (REPO / "scripts" / f"{name}.py").read_text()
    modules = set(re.findall(r"^(?:from|import) (moonlight\.[\w.]+)", text, flags=re.M))
    names = {n.strip() for line in re.findall(r"^from moonlight import ([\w, ]+)$", text,
                                                flags=re.M) for n in line.split(",")}
    return modules, names


def test_light_jobs_load_neither_numba_nor_the_fit_engines():
    """Every workflow job imports moonlight; a job that only reads tables, checks,
    summarizes or draws should not load the compiled loops it never runs."""
    modules, names = set(), set()
    for script in LIGHT_SCRIPTS:
        found = script_imports(script)
        modules |= found[0]
        names |= found[1]
    assert {"moonlight.prepare", "moonlight.qc"} <= modules and "recovery_summary" in names
    probe = ("import sys, importlib, moonlight; "
             f"[importlib.import_module(m) for m in {sorted(modules)!r}]; "
             f"[getattr(moonlight, n) for n in {sorted(names)!r}]; "
             "print(sorted(m for m in ('moonlight.nmf', 'moonlight.engines', 'numba')"
             " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
