"""Send a step's log messages, warnings and any error to a log file (for workflow rules)."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["log_to"]

logger = logging.getLogger("moonlight")


@contextmanager
def log_to(path: str | os.PathLike[str]) -> Iterator[logging.Logger]:
    """Log to ``path`` (and stderr) for the duration of the block.

    Warnings are logged as well as shown; an exception is logged with its traceback and
    re-raised, so the workflow stops and the log says why.
    """
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
    except Exception:
        logger.exception("step failed")
        raise
    finally:
        warnings.showwarning = previous
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
