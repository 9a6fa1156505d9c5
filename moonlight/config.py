"""moonlight's defaults, read from the workflow's config schema.

``moonlight/config.schema.yaml`` describes every key of the workflow's config; its
``default:`` values are the defaults of the workflow and of the library alike: a key the
config leaves out takes it (Snakemake's ``validate`` fills it in), and so does every
keyword a library function is not given. So a notebook user calling
:func:`moonlight.pipeline.analyse` and a workflow user running the default config get the
same answer from the same table (``tests/test_config.py``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SCHEMA", "CROSSVAL_KEYS", "WORKFLOW_ONLY_FIT_KEYS", "TABLE_KEYS",
           "SINGLE_CELL_KEYS", "defaults", "default", "crossval_settings", "fit_settings",
           "restarts_per_job", "fold_settings", "size_checks", "size_requirements",
           "dataset_ranks", "entry_default", "misplaced_keys", "from_command_line", "validate",
           "reference", "commented_config", "ConfigError", "did_you_mean", "canonical",
           "data_step_options", "NOT_READ_BY_DATA_STEP"]

#: The config schema (JSON Schema in YAML), shipped inside the package.
SCHEMA = Path(__file__).with_name("config.schema.yaml")

#: Keys of the ``fit:`` block that say how the workflow splits the work into jobs and
#: threads, not what a fit computes: everything else in the block is a keyword of
#: :func:`moonlight.fit_nmf` (``threads`` reaches it as the job's thread count).
WORKFLOW_ONLY_FIT_KEYS = ("restarts_per_job", "threads")

#: Keys of the ``selection:`` block that the masked cross-validation fits use (the rule
#: crossval gets only these, so a change of another key does not rerun it).
CROSSVAL_KEYS = ("folds", "seed", "restarts", "tol", "max_iter", "check_every", "design",
                 "background", "init")


class ConfigError(ValueError):
    """A config value that cannot work for the data it is given, naming the key."""


@cache
def _schema() -> dict[str, Any]:
    """The schema, parsed once (callers must not change it)."""
    # libyaml's loader where PyYAML has it: the pure-Python one takes a tenth of a second
    return yaml.load(SCHEMA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _option_keys(name: str) -> tuple[str, ...]:
    return tuple(_schema()["$defs"][name]["properties"])


#: Keys of a ``data:`` entry that only a count table reads (the schema's
#: ``$defs/table_options``, shared with ``project:``) ...
TABLE_KEYS = _option_keys("table_options")
#: ... and those that only single-cell input reads (``$defs/single_cell_options``;
#: ``technical`` is shared: ``.h5ad`` obs columns, or a sample sheet's).
SINGLE_CELL_KEYS = _option_keys("single_cell_options")


#: Keys of a ``data:`` entry that the data step (reading, checking, selecting genes)
#: does not read: the fits read ``ranks``, the annotation tests ``annotations``.
NOT_READ_BY_DATA_STEP = ("path", "ranks", "annotations")


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order, recursively: settings that
    Snakemake compares as parameters (their ``repr``), so that the same values written
    in another order, or a default written out where validation appends it, rerun
    nothing."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def data_step_options(entry: dict[str, Any], kind: str) -> dict[str, Any]:
    """A ``data:`` entry as the data step reads it: without the keys it does not read
    (:data:`NOT_READ_BY_DATA_STEP`) and empty lists (the same as absent), every reader
    option of its input's ``kind`` (``table``, or a single-cell format: the format it is
    read as, which ``format`` then names) at its default where not given, in
    :func:`canonical` order. Two entries that read the same counts in the same way give
    the same options, so Snakemake reruns the data step (and every fit after it) only
    when how the counts are read changes."""
    keys = TABLE_KEYS if kind == "table" else SINGLE_CELL_KEYS
    properties = _data_entry()
    options = {key: properties[key]["reader_default"] for key in keys
               if "reader_default" in properties[key]}
    options |= {key: value for key, value in entry.items()
                if key not in NOT_READ_BY_DATA_STEP and value != []}
    return canonical(options | {"format": kind})


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its ``$ref`` and ``allOf`` parts merged in (properties only)."""
    parts = [node] + [_schema()["$defs"][ref["$ref"].rsplit("/", 1)[1]]
                      for ref in node.get("allOf", []) if "$ref" in ref]
    merged = dict(node)
    merged["properties"] = {k: v for part in parts for k, v in part.get("properties", {}).items()}
    return merged


def _typed(value: str, node: dict[str, Any]) -> Any:
    """``value`` as the YAML it spells, where the node cannot hold a string."""
    kinds = node.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if "string" in kinds or value in node.get("enum", ()):
        return value
    if not kinds and "enum" not in node:
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value  # validation then names the key and the value


def from_command_line(config: Any, node: dict[str, Any] | None = None) -> Any:
    """``config`` with the strings that Snakemake's ``--config`` leaves (it parses
    ``ranks=[2,3]`` as ``["2", "3"]``) turned into what they spell wherever the schema
    expects a number, a boolean or null; names and every string key stay strings."""
    node = _schema() if node is None else _resolve(node)
    if isinstance(config, str):
        return _typed(config, node)
    if isinstance(config, list) and isinstance(node.get("items"), dict):
        return [from_command_line(item, node["items"]) for item in config]
    if isinstance(config, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {key: from_command_line(value, properties[key]) if key in properties
                else from_command_line(value, extra) if isinstance(extra, dict) else value
                for key, value in config.items()}
    return config


def misplaced_keys(entry: dict[str, Any], kind: str) -> dict[str, str]:
    """Keys of a ``data:`` entry that its input would ignore, each with the reason.

    Parameters
    ----------
    entry : dict
        The entry (``path`` and options).
    kind : str
        What the input is read as: ``table``, or the single-cell format ``h5ad``,
        ``10x`` or ``10x_h5`` (:func:`moonlight.singlecell.detect_format`).
    """
    path = entry.get("path", "")
    if kind == "table":
        out = {key: f"a single-cell option, and {path!r} is read as a count table"
               for key in SINGLE_CELL_KEYS if key in entry}
    else:
        out = {key: f"a count-table option, and {path!r} is read as single-cell {kind} input"
               for key in TABLE_KEYS if key in entry}
    if kind != "h5ad" and "technical" in entry and "samples" not in entry:
        out["technical"] = (f"names obs columns of an .h5ad or columns of a sample sheet "
                            f"(samples:), and {path!r} has neither")
    return out


def _defaults_of(node: dict[str, Any]) -> Any:
    properties = node.get("properties")
    if properties is None:
        return node.get("default")
    return {key: _defaults_of(child) for key, child in properties.items()
            if "default" in child or "properties" in child}


@cache
def _all_defaults() -> dict[str, Any]:
    return _defaults_of(_schema())


def defaults(section: str | None = None) -> Any:
    """The schema's defaults: the whole tree, or one top-level ``section``
    (``"fit"``, ``"selection"``, ``"modules"``, ``"ranks"``, ...), as a fresh copy."""
    tree = yaml.safe_load(yaml.safe_dump(_all_defaults()))  # a deep copy
    return tree if section is None else tree[section]


def default(key: str) -> Any:
    """One default by its dotted config key (``"selection.folds"``, ``"restarts"``): what
    library signatures use, so that no literal copy of a default exists."""
    node: Any = _all_defaults()
    for part in key.split("."):
        node = node[part]
    return yaml.safe_load(yaml.safe_dump(node))  # a copy


def entry_default(key: str) -> Any:
    """The default of a ``data:`` entry's reader option (``"comment"``, ``"matrix"``,
    ``"format"``, ...): the schema's ``reader_default``, which Snakemake's validate does
    not write into the config (see the schema's ``$defs``). What the readers' signatures
    use, as :func:`default` is for the config's blocks."""
    return _data_entry()[key]["reader_default"]


def _data_entry() -> dict[str, Any]:
    """The schema nodes of a ``data:`` entry's keys."""
    return _entry_properties(_schema()["properties"]["data"]["additionalProperties"],
                             _schema())


def validate(config: dict[str, Any], schema: dict[str, Any] | None = None) -> None:
    """Check a config (or any of its top-level blocks) against the schema, as the
    workflow's ``validate`` does (``5.0`` is an integer); numpy's integers, floats and
    booleans count as Python's. ``schema``: a part of the schema to check against
    instead (a ``$defs`` entry).

    Raises
    ------
    ConfigError
        Naming the first key whose value the schema refuses, and why.
    """
    import numpy as np
    from jsonschema import validators

    base = validators.validator_for(_schema())
    types = base.TYPE_CHECKER

    def also(kind: str, numpy_type: type) -> Any:
        return lambda checker, value: (types.is_type(value, kind)
                                       or isinstance(value, numpy_type))

    def integer(checker: Any, value: Any) -> bool:
        return (types.is_type(value, "integer") or isinstance(value, np.integer)
                or isinstance(value, np.floating) and float(value).is_integer())

    checker = types.redefine_many({"integer": integer,
                                   "number": also("number", np.number),
                                   "boolean": also("boolean", np.bool_)})
    validator = validators.extend(base, type_checker=checker)(
        _schema() if schema is None else {**schema, "$defs": _schema()["$defs"]})
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        error = errors[0]
        key = ".".join(map(str, error.path))
        raise ConfigError(f"config key {key}: {_explained(error)}" if key
                          else f"config: {_explained(error)}")


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` naming the known name ``name`` most likely misspells, or
    an empty string when none is close."""
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _explained(error: Any) -> str:
    """A schema error in the config's words: an unknown key with the known key it most
    likely misspells, a number where a name was expected with the quotes it needs."""
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        known = _known_keys(error.schema)
        unknown = [key for key in error.instance if key not in known]
        if unknown:
            hints = [did_you_mean(key, known) for key in unknown]
            words = ", ".join(repr(key) + hint for key, hint in zip(unknown, hints))
            return (f"unknown key{'s' if len(unknown) > 1 else ''} {words}"
                    + ("" if all(hints) else f"; the keys here are {', '.join(sorted(known))}"))
    expected = error.validator_value if error.validator == "type" else None
    if expected in ("string", ["string", "null"]) and (
            isinstance(error.instance, (int, float)) or error.instance is None):
        return (f"{error.message}: a name is text, so write it in quotes (YAML reads 007 "
                f"as the number 7 and TRUE as true)")
    return error.message


def _known_keys(node: dict[str, Any]) -> list[str]:
    """The keys an object of the schema allows: its own properties and those of the
    ``$defs`` it takes in through ``allOf``."""
    keys = list(node.get("properties", {}))
    for part in node.get("allOf", []):
        ref = part.get("$ref", "")
        keys += (_option_keys(ref.removeprefix("#/$defs/")) if ref.startswith("#/$defs/")
                 else _known_keys(part))
    return keys


def restarts_per_job(fit: dict[str, Any], restarts: int) -> int:
    """Restarts of one fit job: ``fit.restarts_per_job``, or all of them (null)."""
    return fit["restarts_per_job"] or restarts


def fit_settings(fit: dict[str, Any], restarts: int, margin: float) -> dict[str, Any]:
    """The keywords of :func:`moonlight.fit_nmf` from the config's ``fit:`` block (less
    :data:`WORKFLOW_ONLY_FIT_KEYS`), as the workflow's fit jobs and ``analyse()`` take
    them: a race needs every restart of a fit side by side, so a fit whose
    ``restarts`` are split over jobs (``fit.restarts_per_job``) does not race, and a
    race keeps clear of the near-best restarts (``margin``: ``selection.margin``)."""
    settings = {k: v for k, v in fit.items() if k not in WORKFLOW_ONLY_FIT_KEYS}
    settings["race"] = bool(fit["race"]) and restarts_per_job(fit, restarts) >= restarts
    if settings["race"]:
        settings["race_margin"] = margin
    return settings


def fold_settings(design: str | None, init: str | None, sparse: bool) -> tuple[str, str]:
    """What ``selection.design`` and ``selection.init`` mean for counts stored sparse or
    dense, null resolved as the schema says: the samples design for sparse counts, the
    entries design for dense ones; training starts ``mixed`` under the samples design,
    ``random`` under the others."""
    if design is None:
        design = "samples" if sparse else "entries"
    if init is None:
        init = "mixed" if design == "samples" else "random"
    return design, init


def crossval_settings(selection: dict[str, Any], sparse: bool | None = None
                      ) -> dict[str, Any]:
    """The keywords of :func:`moonlight.crossval.cross_validate` from the config's
    ``selection:`` block: :data:`CROSSVAL_KEYS`; with ``sparse`` (whether the data set's
    counts are stored sparse) ``design`` and ``init`` resolved by :func:`fold_settings`,
    so that writing out what null means changes nothing a rerun would see."""
    settings = {key: selection[key] for key in CROSSVAL_KEYS}
    if sparse is not None:
        settings["design"], settings["init"] = fold_settings(
            settings["design"], settings["init"], sparse)
    return settings


def size_checks(config: dict[str, Any], dataset: str) -> tuple[list[int], dict[str, Any]]:
    """What a data set's prepared counts are checked against
    (:func:`moonlight.folds.check_size`), from a run's whole config: the ranks it will be
    fitted at (its ``data:`` entry's own ``ranks``, else the config's, and
    ``selection.extend_to``) and ``selection.folds`` and ``selection.design``.

    The data rules read these from the run's config rather than take them as params: a
    check changes no byte of the counts, so adding a rank or changing the folds must rerun
    the fits and cross-validations it touches, not the data step and everything after it.
    Those jobs check their own rank and folds again (a rerun that leaves the data step
    alone then still stops with the key named).
    """
    return size_requirements(dataset_ranks(config, dataset), config["selection"])


def dataset_ranks(config: dict[str, Any], dataset: str) -> list[int]:
    """The ranks a data set is fitted at before any growth by ``selection.extend_to``:
    its ``data:`` entry's own ``ranks``, else the config's, in increasing order."""
    entry = config["data"].get(dataset)
    return sorted(entry.get("ranks", config["ranks"]) if isinstance(entry, dict)
                  else config["ranks"])


def size_requirements(ranks: Sequence[int], selection: dict[str, Any]
                      ) -> tuple[list[int], dict[str, Any]]:
    """The ranks counts must hold (``ranks`` and the ``selection:`` block's ``extend_to``)
    and the folds they must split into (its ``folds`` and ``design``)."""
    extend_to = selection["extend_to"]
    return ([*ranks, *([extend_to] if extend_to else [])],
            {key: selection[key] for key in ("folds", "design")})


def _type(node: dict[str, Any]) -> str:
    """A schema node's type as a reader says it (``integer``, ``one of a, b``, ...)."""
    if "enum" in node:
        return "one of " + ", ".join("null" if v is None else str(v).lower()
                                     if isinstance(v, bool) else str(v) for v in node["enum"])
    if "oneOf" in node:
        return " or ".join(_type(option) for option in node["oneOf"])
    kind = node.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "items" in node:
        kind = f"list of {_type(node['items'])}"
    return kind


def _yaml_value(value: Any) -> str:
    """A value as one line of YAML (``[2, 3]``, ``null``)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip()\
        .removesuffix("...").strip()


def _value(value: Any) -> str:
    return f"`{_yaml_value(value)}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _entry_properties(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """An entry's own properties and those of the ``$defs`` its ``allOf`` refers to."""
    properties = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        name = part["$ref"].rsplit("/", 1)[-1]
        properties.update(schema["$defs"][name]["properties"])
    return properties


def _table(properties: dict[str, Any], required: list[str], prefix: str) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, node in properties.items():
        stated = [node[k] for k in ("default", "reader_default") if k in node]
        default = ("required" if key in required else
                   _value(stated[0]) if stated else "(not set)")
        rows.append(f"| `{prefix}{key}` | {_cell(_type(node))} | {default} | "
                    f"{_cell(node.get('description', ''))} |")
    return rows


def reference() -> str:
    """The configuration reference (``docs/configuration.md``) as Markdown, made from the
    schema: every key with its type, default and description. Regenerate the page with
    ``python -m moonlight.config > docs/configuration.md``."""
    schema = _schema()
    out = ["# Configuration reference", "",
           "Generated from `moonlight/config.schema.yaml` by `python -m moonlight.config`; "
           "do not edit by hand. A key left out of the config takes its default; the "
           "workflow checks the config against the schema before any job runs.", ""]
    for key, node in schema["properties"].items():
        out += [f"## `{key}`", "", _cell(node.get("description", "")), ""]
        if "properties" in node:
            out += _table(node["properties"], node.get("required", []), f"{key}.") + [""]
            continue
        entry = node.get("additionalProperties")
        if isinstance(entry, dict) and "properties" in entry:
            out += [f"Each entry `{key}.<name>` is a mapping with these keys"
                    + (" (or just the path); the count-table keys apply to a table, the "
                       "single-cell keys (`$defs/single_cell_options`) to `.h5ad` and 10x "
                       "input" if key == "data" else "") + ":", ""]
            out += _table(_entry_properties(entry, schema), entry.get("required", []),
                          f"{key}.<name>.") + [""]
            continue
        out += [f"Type: {_type(node)}. Default: {_value(node.get('default'))}.", ""]
    return "\n".join(out).rstrip() + "\n"


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(" ".join(str(text).split()), width=88 - len(indent) - 2,
                         initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# ")


def commented_config() -> str:
    """A config file with every key at its default, each under its description from
    the schema: what ``moonlight config`` prints. It is valid YAML and loads as
    :func:`defaults` (``tests/test_cli.py``): as a config it runs what an empty one
    runs, which is nothing until ``data:`` or ``simulation.seeds`` is filled in."""
    schema = _schema()
    out = ["# moonlight config: every key at its default (moonlight/config.schema.yaml).",
           "# Keep the keys you change; a key left out takes its default.", ""]
    for key, node in schema["properties"].items():
        out += _comment(node.get("description", ""), "")
        if "properties" in node:
            out.append(f"{key}:")
            for sub, child in node["properties"].items():
                out += _comment(child.get("description", ""), "  ")
                out.append(f"  {sub}: {_yaml_value(child.get('default'))}")
        else:
            out.append(f"{key}: {_yaml_value(node.get('default'))}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
