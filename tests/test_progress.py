"""The progress line: restarts, folds and steps on a terminal; nothing when stderr is not
a terminal or MOONLIGHT_PROGRESS=0 (workflow jobs), and the same result either way."""

import io
import os

import numpy as np
import pytest

from moonlight import fit_nmf, progress
from moonlight.pipeline import analyse
from moonlight.runlog import log_to


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def table():
    rng = np.random.default_rng(2)
    W = rng.dirichlet(np.full(30, 0.3), size=2).T
    return rng.poisson(3000 * W @ rng.dirichlet([1, 1], size=20).T).astype(float)


def test_a_terminal_sees_restarts_and_folds(monkeypatch, table):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv(progress.ENVIRONMENT, raising=False)
    import pandas as pd
    result = analyse(pd.DataFrame(table, index=[f"g{i}" for i in range(30)],
                                  columns=[f"s{j}" for j in range(20)]),
                     [2], restarts=2, selection={"folds": 3, "restarts": 1})
    text = terminal.getvalue()
    assert "fit, R = 2: restart 2 of 2: " in text and "log L -" in text
    assert "cross-validation, R = 2: fold 3 of 3: restart 1 of 1" in text
    assert "calling modules" in text and text.endswith("\r\x1b[K")   # cleared at the end
    assert result.rank == 2


def test_logs_ci_and_workflow_jobs_see_nothing(monkeypatch, table, tmp_path):
    quiet = io.StringIO()                       # not a terminal
    monkeypatch.setattr("sys.stderr", quiet)
    first = fit_nmf(table, 2, restarts=2, seed=0)
    assert quiet.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv(progress.ENVIRONMENT, raising=False)
    fit_nmf(table, 2, restarts=2, seed=0)          # outside any step: erased at its end
    assert "restart 2 of 2" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv(progress.ENVIRONMENT, raising=False)
    with log_to(tmp_path / "job.log"):             # as every workflow job runs
        second = fit_nmf(table, 2, restarts=2, seed=0)
    assert "restart" not in terminal.getvalue()
    assert progress.ENVIRONMENT not in os.environ  # put back as it was
    np.testing.assert_array_equal(first.W, second.W)
