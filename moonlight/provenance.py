"""Where every number of a run came from: config, input checksums, software, code, timings.

:func:`collect` gathers it and :func:`write_provenance` writes it twice: a tab-separated
table for programs (``section``, ``item``, ``value``), an HTML page for people (shown in
``snakemake --report``), and the per-job timings of Snakemake's ``benchmark:`` files as
their own table. No Snakemake import: the workflow's ``provenance`` rule passes paths in.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .io import atomic_path, write_tsv

__all__ = [
    "input_files",
    "write_run_config",
    "SOFTWARE",
    "Provenance",
    "sha256_file",
    "software_versions",
    "git_commit",
    "flatten_config",
    "read_benchmarks",
    "collect",
    "write_provenance",
]

#: Distributions whose versions are recorded, besides Python and moonlight itself.
SOFTWARE: tuple[str, ...] = ("numpy", "scipy", "pandas", "numba", "anndata", "h5py", "matplotlib",
                             "snakemake")

#: Columns of a Snakemake benchmark file kept in the timings table, in this order.
_BENCHMARK_COLUMNS = ["s", "max_rss", "max_vms", "io_in", "io_out", "mean_load", "cpu_time"]


def sha256_file(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (any size of table)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The files behind the given inputs: a file as given, a directory (10x output) as
    its files in name order; a path that does not exist is left out."""
    files: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += [str(f) for f in sorted(path.iterdir()) if f.is_file()]
        elif path.is_file():
            files.append(str(given))
    return files


def software_versions(names: Sequence[str] = SOFTWARE) -> dict[str, str]:
    """``{"python": ..., "moonlight": ..., <name>: ...}``; 'not installed' where missing.

    moonlight's version is that of the imported package (this checkout's, in the
    workflow), not of whatever distribution pip may have installed.
    """
    from . import __version__

    versions = {"python": platform.python_version(), "moonlight": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(directory: str | os.PathLike[str]) -> str:
    """The commit checked out in ``directory``, marked when files differ from it.

    Returns ``"<sha>"``, ``"<sha> (uncommitted changes)"`` or ``"not a git checkout"``
    (also when git itself is missing).
    """
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return f"{commit} (uncommitted changes)" if dirty else commit


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as ``{"fit.tol": "1e-07", "fit.method": "mu", ...}``.

    Strings stay as they are; every other value is JSON-encoded (lists, numbers, ``{}``).
    """
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, prefix=f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return flat


def read_benchmarks(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per Snakemake benchmark file: ``rule``, ``job`` and its measurements.

    A benchmark file ``.../<rule>/<job>.tsv`` (the workflow's layout) holds one row per
    repeat; the first is kept. ``s`` is wall seconds, ``max_rss`` peak resident memory in MB, ``cpu_time``
    CPU seconds.
    """
    rows = []
    for path in paths:
        measured = pd.read_csv(path, sep="\t").iloc[0]
        rows.append(
            {"rule": Path(path).parent.name, "job": Path(path).stem}
            | {column: measured.get(column) for column in _BENCHMARK_COLUMNS}
        )
    columns = ["rule", "job", *_BENCHMARK_COLUMNS]
    return pd.DataFrame(rows, columns=columns).sort_values(["rule", "job"], ignore_index=True)


@dataclass(frozen=True)
class Provenance:
    """Everything recorded about one run.

    Attributes
    ----------
    config : dict
        The resolved workflow config (config.yaml plus any --config / --configfile).
    inputs : dict
        Input table path -> SHA-256 of its bytes.
    software : dict
        Name -> version (python, moonlight and :data:`SOFTWARE`).
    commit : str
        Git commit of the workflow checkout, or 'not a git checkout'.
    benchmarks : DataFrame
        Per-job timings and peak memory (:func:`read_benchmarks`).
    """

    config: dict[str, Any]
    inputs: dict[str, str]
    software: dict[str, str]
    commit: str
    benchmarks: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """Long table ``section``, ``item``, ``value`` of all but the benchmarks."""
        rows = [("code", "git commit", self.commit)]
        rows += [("software", name, version) for name, version in self.software.items()]
        rows += [("input sha256", path, digest) for path, digest in self.inputs.items()]
        rows += [("config", key, value) for key, value in flatten_config(self.config).items()]
        return pd.DataFrame(rows, columns=["section", "item", "value"])

    def config_yaml(self) -> str:
        """The resolved config as YAML, keys in their given order."""
        return yaml.safe_dump(self.config, sort_keys=False, default_flow_style=None)

    def html(self) -> str:
        """A self-contained HTML page of every section, the config as YAML."""
        def two_columns(pairs: Iterable[tuple[str, str]], head: tuple[str, str]) -> str:
            body = "".join(
                f"<tr><td>{html.escape(a)}</td><td><code>{html.escape(b)}</code></td></tr>"
                for a, b in pairs
            )
            return (f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{body}</table>")

        timings = self.benchmarks.to_html(index=False, na_rep="", float_format="{:.2f}".format,
                                          border=0)
        total = self.benchmarks["s"].sum() if len(self.benchmarks) else 0.0
        return "\n".join([
            "<!DOCTYPE html>",
            '<html><head><meta charset="utf-8"><title>moonlight provenance</title>',
            "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
            "pre{background:#f6f6f6;padding:6px}</style></head><body>",
            "<h1>Provenance of this run</h1>",
            "<h2>Code</h2>",
            f"<p>Workflow git commit: <code>{html.escape(self.commit)}</code></p>",
            "<h2>Software</h2>",
            two_columns(self.software.items(), ("package", "version")),
            "<h2>Input tables (SHA-256)</h2>",
            two_columns(self.inputs.items(), ("file", "sha256")),
            "<h2>Resolved configuration</h2>",
            f"<pre>{html.escape(self.config_yaml())}</pre>",
            f"<h2>Per-job run times</h2><p>Wall time of all jobs together: {total:.1f} s. "
            "<code>s</code>: wall seconds; <code>max_rss</code>, <code>max_vms</code>: "
            "peak resident / virtual memory (MB); <code>io_in</code>, <code>io_out</code>: "
            "MB read / written; <code>cpu_time</code>: CPU seconds.</p>",
            timings,
            "</body></html>",
            "",
        ])


def collect(
    config: Mapping[str, Any],
    inputs: Iterable[str | os.PathLike[str]],
    benchmarks: Iterable[str | os.PathLike[str]],
    *,
    commit: str,
) -> Provenance:
    """Gather the provenance of a run.

    Parameters
    ----------
    config : mapping
        The resolved workflow config.
    inputs : paths
        Every input table to checksum (real data tables as given, simulated counts).
    benchmarks : paths
        Snakemake benchmark files, laid out as ``.../<rule>/<job>.tsv``.
    commit : str
        The workflow's git commit (:func:`git_commit` of its checkout).
    """
    return Provenance(
        config=json.loads(json.dumps(dict(config))),  # plain dicts and lists
        inputs={str(path): sha256_file(path) for path in inputs},
        software=software_versions(),
        commit=commit,
        benchmarks=read_benchmarks(benchmarks),
    )


def write_provenance(
    provenance: Provenance,
    *,
    table: str | os.PathLike[str],
    page: str | os.PathLike[str],
    benchmarks: str | os.PathLike[str],
) -> None:
    """Write the long table, the HTML page and the timings table, each atomically."""
    write_tsv(provenance.table(), table, index=False)
    write_tsv(provenance.benchmarks, benchmarks, index=False)
    with atomic_path(page) as tmp:
        tmp.write_text(provenance.html(), encoding="utf-8")


def write_run_config(config: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """The run's whole config (every default filled in, command-line values included) as
    a config file: ``snakemake --configfile results/config.yaml`` is that run again, and
    ``snakemake --report ... --configfile results/config.yaml`` its report, whatever
    ``--config`` the run was given."""
    text = ("# The config of the last run (every key, defaults filled in). Rerun it, or "
            "report it, with\n# snakemake --configfile results/config.yaml\n"
            + yaml.safe_dump(json.loads(json.dumps(dict(config))), sort_keys=False))
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
