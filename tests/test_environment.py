"""The conda environment of the rules (`--sdm conda`) has every runtime dependency."""

import re
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
