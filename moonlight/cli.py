"""The ``moonlight`` command: the workflow on your files without writing a config.

``moonlight run`` writes a config for the files it is given into its output folder and
runs the workflow that ships inside the package (``moonlight/_workflow``: the
checkout's Snakefile, rules, scripts and report captions) with Snakemake, then builds the
HTML report; it is the workflow, never a second pipeline, so ``snakemake --configfile
<out>/config.yaml`` repeats the run. ``moonlight config`` prints a config with every key
at its default; ``moonlight report`` builds the report of a finished run.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError, commented_config, validate

__all__ = ["main", "workflow_dir", "dataset_name", "parse_ranks", "run_config"]

EXAMPLES_RUN = """examples:
  moonlight run counts.tsv.gz                      fit ranks 2..7, results in moonlight-out/
  moonlight run a.csv b.xlsx --ranks 2-5 --out runs/first
  moonlight run pbmc.h5ad --cores 8 --profile slurm
  moonlight run counts.tsv --config mine.yaml      start from your own config's keys
"""


class UsageError(Exception):
    """A command line that cannot run, said in one line."""


def workflow_dir() -> Path:
    """The folder of the workflow's Snakefile, shipped inside the package."""
    return Path(__file__).resolve().parent / "_workflow"


def dataset_name(path: str | Path, taken: Sequence[str] = ()) -> str:
    """A data set name (``results/<name>/``) for the file at ``path``: its name without
    extensions (``counts.tsv.gz`` -> ``counts``), other characters than letters, digits,
    ``_``, ``.`` and ``-`` made ``_``, a leading ``d`` when it does not start with a
    letter (or would read as a simulated ``sim<seed>``), ``_2``, ``_3``, ... when
    ``taken`` (compared without case, as macOS and Windows compare folder names)."""
    name = Path(path).name
    if not Path(path).is_dir():
        name = re.sub(r"(\.(gz|bz2|xz|zip))$", "", name, flags=re.I)
        name = re.sub(r"\.[A-Za-z0-9]+$", "", name) or name
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if not re.match(r"[A-Za-z]", name) or re.fullmatch(r"sim[0-9]+", name):
        name = "d" + name
    used = {t.lower() for t in taken}      # results/<name>/ on a case-blind file system
    unique, n = name, 1
    while unique.lower() in used:
        n += 1
        unique = f"{name}_{n}"
    return unique


def parse_ranks(text: str) -> list[int]:
    """``2-7`` -> [2, ..., 7]; ``2,3,5`` -> [2, 3, 5]; ``4`` -> [4]."""
    ranks: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.strip().partition("-")
            first, last = int(lo), int(hi if dash else lo)
            if last < first:
                raise UsageError(f"--ranks {text!r}: the range {part.strip()} runs down; "
                                 f"write {last}-{first}")
            ranks += list(range(first, last + 1))
    except ValueError:
        raise UsageError(f"--ranks {text!r}: give a range (2-7) or a list (2,3,5)") from None
    if min(ranks) < 1:
        raise UsageError(f"--ranks {text!r}: ranks are integers >= 1")
    repeated = sorted({rank for rank in ranks if ranks.count(rank) > 1})
    if repeated:
        raise UsageError(f"--ranks {text!r}: rank {', '.join(map(str, repeated))} given twice")
    return sorted(ranks)


def run_config(data: Sequence[str], *, ranks: list[int] | None = None,
               restarts: int | None = None, base: dict[str, Any] | None = None,
               base_dir: str | Path = ".") -> dict:
    """The config ``moonlight run`` writes: ``base`` (a user's config, or nothing; its
    relative paths made absolute from ``base_dir``, the config file's folder, since the
    workflow runs in the output folder) with no simulated data set unless it has some,
    every file of ``data`` not already listed as a data set named by
    :func:`dataset_name` (its absolute path), and the given ranks and restarts."""
    config = _absolute_paths(dict(base or {}), Path(base_dir))
    config["simulation"] = {"seeds": [], **(config.get("simulation") or {})}
    entries = dict(config.get("data") or {})
    listed = {str(Path(e if isinstance(e, str) else e.get("path", "")).resolve())
              for e in entries.values()}
    for path in data:
        absolute = str(Path(path).resolve())
        if absolute not in listed:
            entries[dataset_name(path, list(entries))] = absolute
            listed.add(absolute)
    config["data"] = entries
    if ranks:
        config["ranks"] = ranks
    if restarts is not None:
        config["restarts"] = restarts
    return config


def _absolute_paths(config: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """``config`` with the relative paths of its data sets (``path``, ``samples``), new
    samples (``project``) and gene sets made absolute from ``base_dir``."""
    def absolute(value: str) -> str:
        return str((base_dir / value).resolve()) if not Path(value).is_absolute() else value

    out = dict(config)
    for block in ("data", "project"):
        entries = {}
        for name, entry in (config.get(block) or {}).items():
            if isinstance(entry, str):
                entries[name] = absolute(entry)
            else:
                entries[name] = {**entry, **{key: absolute(entry[key])
                                             for key in ("path", "samples") if key in entry}}
        if block in config:
            out[block] = entries
    if config.get("gene_sets"):  # package:path sources stay as written
        out["gene_sets"] = [s if ":" in s and not Path(s).exists() else absolute(s)
                            for s in config["gene_sets"]]
    return out


#: The first line of a config that ``moonlight run`` wrote (such a file may be replaced
#: while its folder holds no results).
HEADER = "# Written by `moonlight run`"


#: What a run leaves in ``results/`` before it has a result: logs, job benchmarks and
#: the calibration figure (a copy of the benchmark's).
NOT_RESULTS = ("logs", "benchmarks", "calibration.png")


def _has_results(out: Path) -> bool:
    """Whether a run in ``out`` has written a result (a data set's file, the summary)."""
    results = out / "results"
    return results.is_dir() and any(
        path.is_file() for entry in results.iterdir() if entry.name not in NOT_RESULTS
        for path in ([entry] if entry.is_file() else entry.rglob("*")))


def _write_config(out: Path, config: dict) -> Path:
    """``out/config.yaml``. One with other settings is replaced only if ``moonlight run``
    wrote it and no run has left a result beside it (a run that failed before its first
    result, on a wrong layer name say, leaves only logs); otherwise the run stops."""
    path = out / "config.yaml"
    text = (f"{HEADER}; repeat the run with\n"
            f"#   snakemake -s {workflow_dir() / 'Snakefile'} -d {out} --configfile {path}\n"
            + yaml.safe_dump(config, sort_keys=False))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file, not a folder; give a new folder or the "
                         f"folder of an earlier run")
    old = yaml.safe_load(path.read_text()) if path.is_file() else config
    if old != config:
        if not isinstance(old, dict):
            raise UsageError(f"{path} is not a config of moonlight run; give another "
                             f"--out, or delete {path}")
        differ = ", ".join(sorted({*old, *config} - {key for key in config
                                                     if old.get(key) == config[key]}))
        if _has_results(out):
            raise UsageError(f"{path} holds the config of another run (it differs in "
                             f"{differ}), whose results the new settings would replace; "
                             f"give another --out, or delete {path} to rerun there with "
                             f"the new settings (only what they change is redone)")
        if not path.read_text().startswith(HEADER):
            raise UsageError(f"{path} is a config that moonlight run did not write (it "
                             f"differs in {differ}); give another --out, or delete {path}")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _profile(name: str | None) -> list[str]:
    if name is None:
        return []
    shipped = workflow_dir() / "profiles" / name
    folder = shipped if shipped.is_dir() else Path(name) if Path(name).is_dir() else None
    if folder is None:
        raise UsageError(f"--profile {name!r}: neither a profile shipped with moonlight "
                         f"(default, slurm) nor a folder")
    settings = folder / "config.yaml"
    executor = ((yaml.safe_load(settings.read_text()) or {}).get("executor")
                if settings.is_file() else None)
    if executor and executor != "local" and importlib.util.find_spec(
            f"snakemake_executor_plugin_{executor}") is None:
        raise UsageError(f"--profile {name!r} runs jobs with Snakemake's {executor!r} "
                         f"executor, whose plugin is not installed: pip install "
                         f"snakemake-executor-plugin-{executor}"
                         + (" (from a checkout: pip install -e '.[slurm]')"
                            if executor == "slurm" else ""))
    return ["--profile", str(folder)]


def _snakemake(out: Path, config: Path, extra: Sequence[str]) -> int:
    command = [sys.executable, "-m", "snakemake", "-s", str(workflow_dir() / "Snakefile"),
               "-d", str(out), "--configfile", str(config), *extra]
    return subprocess.run(command).returncode


def _run(args: argparse.Namespace) -> int:
    missing = [path for path in args.data if not Path(path).exists()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    base, base_dir = None, Path.cwd()
    if args.config:
        if not Path(args.config).is_file():
            raise UsageError(f"--config {args.config}: no such file")
        base = yaml.safe_load(Path(args.config).read_text()) or {}
        if not isinstance(base, dict):
            raise UsageError(f"--config {args.config}: not a mapping of config keys")
        base_dir = Path(args.config).resolve().parent
    profile = _profile(args.profile)                  # checked before anything is written
    ranks = parse_ranks(args.ranks) if args.ranks else None
    out = Path(args.out).resolve()
    if args.restarts is not None and args.restarts < 1:
        raise UsageError(f"--restarts {args.restarts}: at least 1")
    config = run_config(args.data, ranks=ranks, restarts=args.restarts, base=base,
                        base_dir=base_dir)
    try:
        validate(config)  # before anything is written: one line naming the key
    except ConfigError as error:
        raise UsageError(f"{args.config or 'the run'}: {error}") from None
    if not config["data"] and not config["simulation"]["seeds"]:
        raise UsageError("nothing to run: give count tables or single-cell files, or a "
                         "--config with data: (or simulation: seeds)")
    path = _write_config(out, config)
    cores = ["--cores", str(args.cores)] if args.cores else []
    code = _snakemake(out, path, [*cores, *profile,
                                  *(["--dry-run"] if args.dry_run else []),
                                  *args.snakemake])
    if code != 0:
        logs = out / "results" / "logs"
        print(f"moonlight: the workflow stopped (exit {code}); the lines above say why"
              + (f", the job logs are in {logs}" if logs.is_dir() else ""), file=sys.stderr)
        return code
    if args.dry_run or args.no_report:
        return 0
    return _report(out)


def _report(out: Path) -> int:
    config = out / "config.yaml"
    if not config.is_file():
        raise UsageError(f"{config}: no such file; `moonlight run --out {out}` writes it")
    report = out / "report.html"
    code = _snakemake(out, config, ["--report", str(report)])
    if code == 0:
        print(f"moonlight: results in {out / 'results'}, report {report}")
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moonlight", description="Gene modules and moonlighting genes by Poisson NMF.",
        epilog="`moonlight <command> --help` shows each command's options and examples.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the workflow on count tables or single-cell files",
        description="Run the workflow on count tables (text, csv, gzip, Excel) or "
                    "single-cell files (.h5ad, 10x), each a data set named after its file, "
                    "and build the HTML report. The config used is written to "
                    "OUT/config.yaml.",
        epilog=EXAMPLES_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("data", nargs="*",
                     help="count tables or single-cell files (or the data: of --config)")
    run.add_argument("--ranks", help="ranks to fit: 2-7 or 2,3,5 (default: the config's, 2-7)")
    run.add_argument("--restarts", type=int, help="random starts per rank (default 10)")
    run.add_argument("--cores", type=int, help="cores Snakemake may use (default: all)")
    run.add_argument("--profile", help="a Snakemake profile: slurm (needs pip install -e "
                                        "'.[slurm]'), or a profile folder")
    run.add_argument("--out", default="moonlight-out",
                     help="output folder (default: moonlight-out)")
    run.add_argument("--config", help="a config file whose keys the run starts from")
    run.add_argument("--dry-run", action="store_true", help="list the jobs, run none")
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    run.add_argument("--snakemake", nargs=argparse.REMAINDER, default=[],
                     help="everything after it goes to Snakemake as it is")
    report = commands.add_parser(
        "report", help="build the HTML report of a run",
        description="Build OUT/report.html from the results of `moonlight run --out OUT`.",
        epilog="example:\n  moonlight report --out runs/first",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--out", default="moonlight-out", help="the run's output folder")
    commands.add_parser(
        "config", help="print a config with every key at its default",
        description="Print a config file with every key at its default and its meaning.",
        epilog="example:\n  moonlight config > mine.yaml   # edit, then: moonlight run "
               "counts.tsv --config mine.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``moonlight`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "config":
            print(commented_config(), end="")
            return 0
        if args.command == "report":
            return _report(Path(args.out).resolve())
        return _run(args)
    except UsageError as error:
        print(f"moonlight: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
