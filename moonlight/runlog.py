"""Send a step's log messages, warnings and any error to a log file (for workflow rules)."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from . import progress
from .config import ConfigError
from .tables import CountTableError

__all__ = ["log_to", "INPUT_ERRORS"]

#: Errors in what the user gave (a table, a config value): said once, as one line.
INPUT_ERRORS = (CountTableError, ConfigError)

logger = logging.getLogger("moonlight")


@contextmanager
def log_to(path: str | os.PathLike[str]) -> Iterator[logging.Logger]:
    """Log to ``path`` (and stderr) for the duration of the block.

    Warnings are logged as well as shown; the progress line (:mod:`moonlight.progress`)
    is off. An exception is logged with its traceback to
    ``path`` only. An error in the user's input (:data:`INPUT_ERRORS`: it names the
    file, line or config key) then reaches stderr once, as one line, and the step exits
    with status 1; any other exception is re-raised, its traceback shown once.
    """
    shown = os.environ.get(progress.ENVIRONMENT)
    os.environ[progress.ENVIRONMENT] = "0"  # a job's output goes to logs: no progress line
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler()]
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        logger.warning("%s: %s", category.__name__, message)

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield logger
    except Exception as error:
        logger.removeHandler(handlers[1])
        logger.exception("step failed")
        if isinstance(error, INPUT_ERRORS):
            print(f"moonlight: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        raise
    finally:
        warnings.showwarning = previous
        if shown is None:
            os.environ.pop(progress.ENVIRONMENT, None)
        else:
            os.environ[progress.ENVIRONMENT] = shown
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
