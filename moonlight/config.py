"""moonlight's defaults, read from the workflow's config schema.

``moonlight/config.schema.yaml`` describes every key of ``config.yaml``; its ``default:``
values are the defaults of the workflow and of the library alike, so a notebook user
calling :func:`moonlight.pipeline.analyse` and a workflow user running the default
``config.yaml`` get the same answer from the same table (``tests/test_config.py`` checks
that ``config.yaml`` holds these very values).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SCHEMA", "CROSSVAL_KEYS", "WORKFLOW_ONLY_FIT_KEYS", "defaults",
           "crossval_settings"]

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


def _defaults_of(node: dict[str, Any]) -> Any:
    properties = node.get("properties")
    if properties is None:
        return node.get("default")
    return {key: _defaults_of(child) for key, child in properties.items()
            if "default" in child or "properties" in child}


@cache
def _all_defaults() -> dict[str, Any]:
    return _defaults_of(yaml.safe_load(SCHEMA.read_text()))


def defaults(section: str | None = None) -> Any:
    """The schema's defaults: the whole tree, or one top-level ``section``
    (``"fit"``, ``"selection"``, ``"modules"``, ``"ranks"``, ...), as a fresh copy."""
    tree = yaml.safe_load(yaml.safe_dump(_all_defaults()))  # a deep copy
    return tree if section is None else tree[section]


def crossval_settings(selection: dict[str, Any], fit: dict[str, Any]) -> dict[str, Any]:
    """The keywords of :func:`moonlight.crossval.cross_validate` from the config's
    ``selection:`` and ``fit:`` blocks: :data:`CROSSVAL_KEYS`, with ``init: null`` taken
    from ``fit.init`` (the masked fits start as the fits do unless told otherwise)."""
    settings = {key: selection[key] for key in CROSSVAL_KEYS}
    if settings["init"] is None:
        settings["init"] = fit["init"]
    return settings
