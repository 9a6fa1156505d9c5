"""Choosing R: BIC with the written parameter count."""

import numpy as np
import pandas as pd
import pytest

from moonlight.selection import rank_table


def restarts_table(best_by_rank, spread=1.0):
    rows = []
    for rank, best in best_by_rank.items():
        rows += [{"rank": rank, "loglik": best}, {"rank": rank, "loglik": best - spread}]
    return pd.DataFrame(rows)


def test_bic_known_values_and_choice():
    # N=10, M=5: k = R * 14 free parameters; n = 50 observations.
    table = rank_table(restarts_table({1: -1000.0, 2: -900.0, 3: -890.0}), 10, 5)
    assert table["rank"].tolist() == [1, 2, 3]
    assert table["n_params"].tolist() == [14, 28, 42]
    expected = [2000 + 14 * np.log(50), 1800 + 28 * np.log(50), 1780 + 42 * np.log(50)]
    np.testing.assert_allclose(table["bic"], expected)
    np.testing.assert_allclose(table["aic"], [2028, 1856, 1864])
    assert table["loglik_spread"].tolist() == [1.0, 1.0, 1.0]
    # 2 -> 3 gains 10 in log L but costs 14 log(50) / 2 = 27.4: R = 2.
    assert table.loc[table["selected"], "rank"].tolist() == [2]


def test_ties_go_to_the_smaller_rank():
    table = rank_table(pd.DataFrame({"rank": [3, 2], "loglik": [0.0, 0.0]}), 1, 1)
    # n_params differ with R, so equal BIC needs N + M - 1 = 1 and log(NM) = 0.
    assert table.loc[table["selected"], "rank"].tolist() == [2]


def test_bad_input():
    with pytest.raises(ValueError, match="lacks"):
        rank_table(pd.DataFrame({"rank": [1]}), 3, 3)
    with pytest.raises(ValueError, match="no fits"):
        rank_table(pd.DataFrame({"rank": [], "loglik": []}), 3, 3)
