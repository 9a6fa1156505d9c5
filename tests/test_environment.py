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


def test_the_package_and_its_tables_load_without_the_fit_engines():
    """Every workflow job imports moonlight; the light ones (gathering tables, stability,
    top genes, provenance) should not pay for numba and the engines (about 0.7 s a job)."""
    probe = ("import sys, moonlight; from moonlight import read_tsv, simulate, write_tsv; "
             "import moonlight.recovery, moonlight.stability, moonlight.runlog, "
             "moonlight.genesets, moonlight.provenance; "
             "print(sorted(m for m in ('moonlight.nmf', 'moonlight.engines', 'numba')"
             " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"
