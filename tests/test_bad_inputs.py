"""The battery of messy and bad tables (tests/bad_inputs.py) through the workflow's data
step and analyse(): each gives the exercise's answer, an answer with its warning, or one
clear error; none a confident wrong answer."""

import warnings

import pandas as pd
import pytest

from bad_inputs import ANSWER, CASES
from moonlight import read_count_table
from moonlight.config import ConfigError
from moonlight.pipeline import analyse
from moonlight.prepare import prepare_table
from moonlight.qc import QC_COLUMNS, warnings_of
from moonlight.tables import CountTableError


def test_the_battery_is_large_enough():
    assert len(CASES) >= 30
    assert {case.expect for case in CASES} == {"answer", "rank1", "error"}


@pytest.fixture(scope="module")
def w09(w09_table):
    return read_count_table(w09_table)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_input_gives_the_answer_its_warning_or_one_clear_error(case, w09, tmp_path):
    path = case.write(tmp_path, w09)
    if case.expect == "error":
        with pytest.raises((CountTableError, ConfigError), match=case.error):
            prepare_table(path, case.options, ranks=case.ranks, qc=case.qc)
        return
    with warnings.catch_warnings():  # what must be said is asserted in the QC record
        warnings.simplefilter("ignore")
        prepared = prepare_table(path, case.options, ranks=case.ranks, qc=case.qc)
    result = analyse(prepared.counts, list(case.ranks), restarts=4, qc=case.qc)
    record = pd.DataFrame(prepared.record, columns=QC_COLUMNS)
    said = warnings_of(pd.concat([record, result.qc], ignore_index=True))
    kinds = sorted({part.split(" (")[0] for part in said.split("; ") if part})
    assert kinds == sorted(case.warnings), said
    if case.expect == "rank1":
        assert result.rank == 1 and result.moonlighting.empty
        return
    names = case.names(w09) if case.names else {}
    assert result.rank == 4
    assert sorted(result.moonlighting["gene"]) == sorted(names.get(g, g) for g in ANSWER)
    assert sorted(result.memberships["module"].value_counts()) == [20, 20, 20, 43]


@pytest.mark.parametrize("call", ["analyse", "fit_nmf", "PoissonNMF"])
def test_a_column_of_names_or_a_path_is_refused_as_such(call, w09):
    """The notebook's commonest slips: the gene names left as a column, a file's path."""
    import moonlight
    run = {"analyse": analyse, "fit_nmf": lambda x: moonlight.fit_nmf(x, 4),
           "PoissonNMF": lambda x: moonlight.PoissonNMF(4).fit(x)}[call]
    names_column = w09.reset_index() if call != "PoissonNMF" else w09.T.reset_index()
    first = names_column.columns[0]
    with pytest.raises(ValueError, match=rf"column '{first}' holds text \('(anise|S1)'\), not "
                                         rf"numbers; .* make it the index"):
        run(names_column)
    with pytest.raises(TypeError, match=r"not the path 'counts\.tsv'"):
        run("counts.tsv")
