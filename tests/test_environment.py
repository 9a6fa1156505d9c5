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
    """The moonlight modules a rule script imports at its top."""
    text = (REPO / "scripts" / f"{name}.py").read_text()
    return sorted(set(re.findall(r"^(?:from|import) (moonlight[\w.]*)", text, flags=re.M)))


def test_light_jobs_load_neither_numba_nor_the_fit_engines():
    """Every workflow job imports moonlight; a job that only reads tables, checks,
    summarizes or draws should not load the compiled loops it never runs."""
    modules = sorted({m for name in LIGHT_SCRIPTS for m in script_imports(name)})
    assert "moonlight.prepare" in modules and "moonlight.qc" in modules
    probe = (f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
             "print(sorted(m for m in ('moonlight.nmf', 'moonlight.engines', 'numba')"
             " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
