"""Where a long step is, on a terminal: rank, restart i of n, sweeps, log likelihood.

One line on stderr, rewritten in place, follows a fit's restarts, the folds of a
cross-validation and the steps of :func:`moonlight.pipeline.analyse`. It is shown only
where a person watches: stderr is a terminal and ``MOONLIGHT_PROGRESS`` is not ``0``.
Workflow jobs set it to ``0`` (:func:`moonlight.runlog.log_to`: their output goes to
logs, and Snakemake's terminal lines are its own); CI and notebooks have no terminal on
stderr, so they stay quiet too. Nothing here changes a result.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["ENVIRONMENT", "active", "show", "clear", "settle", "step", "labelled"]

#: Set to ``0`` to silence the progress line.
ENVIRONMENT = "MOONLIGHT_PROGRESS"

_labels: list[str] = []


def active() -> bool:
    """Whether the progress line is shown (a terminal on stderr, not silenced)."""
    return os.environ.get(ENVIRONMENT, "1") != "0" and sys.stderr.isatty()


def show(message: str) -> None:
    """Write ``message``, after the labels of the open :func:`step` blocks, over the line."""
    if active():
        sys.stderr.write("\r\x1b[K" + ": ".join([*_labels, message])[:200])
        sys.stderr.flush()


def clear() -> None:
    """Erase the progress line."""
    if active():
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def settle() -> None:
    """Erase the line unless a :func:`step` is open (whose end erases it): a caller that
    shows progress outside any step, such as a plain ``fit_nmf``, leaves nothing behind."""
    if not _labels:
        clear()


@contextmanager
def step(label: str) -> Iterator[None]:
    """Prefix the progress lines inside the block with ``label`` (``"R = 4"``)."""
    _labels.append(label)
    show("started")
    try:
        yield
    finally:
        _labels.pop()
        if not _labels:
            clear()


def labelled(label: str) -> Callable[[_F], _F]:
    """Run the decorated function inside :func:`step` ``(label)``: its progress lines
    carry the label, and the line is erased when it returns or raises."""
    def decorate(function: _F) -> _F:
        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with step(label):
                return function(*args, **kwargs)
        return run  # type: ignore[return-value]
    return decorate
