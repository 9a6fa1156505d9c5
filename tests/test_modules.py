"""Memberships and moonlighting calls from a known W."""

import numpy as np
import pandas as pd
import pytest

from moonlight.modules import (
    call_memberships,
    module_sizes,
    moonlighting_genes,
    normalize_columns,
    normalize_rows,
    calling_shares,
    moonlighting_candidates,
)

W = pd.DataFrame(
    # columns already sum to one
    [[0.5, 0.0, 0.0], [0.3, 0.3, 0.0], [0.2, 0.05, 0.0], [0.0, 0.65, 1.0]],
    index=["a", "b", "c", "d"],
    columns=["M1", "M2", "M3"],
)


def test_normalizations():
    scaled = W * [3.0, 7.0, 0.5]
    np.testing.assert_allclose(normalize_columns(scaled), W)
    rows = normalize_rows(scaled)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    np.testing.assert_allclose(rows.loc["b"], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(rows.loc["c"], [0.8, 0.2, 0.0])


@pytest.mark.parametrize("entry, message", [
    (("c", "M2", 0.0), None),
    (("b", "M1", -0.1), r"W\['b', 'M1'\] is -0.1: loadings must be finite and non-negative"),
    (("d", "M3", np.nan), r"W\['d', 'M3'\] is nan"),
])
def test_normalizations_refuse_loadings_that_are_not_shares(entry, message):
    gene, module, value = entry
    changed = W.copy()
    changed.loc[gene, module] = value
    if message is None:  # a zero entry is a share of zero
        assert normalize_rows(changed).loc[gene, module] == 0.0
        return
    for normalize in (normalize_columns, normalize_rows):
        with pytest.raises(ValueError, match=message):
            normalize(changed)


def test_normalizations_refuse_a_gene_or_module_with_no_loading():
    silent_gene = W.copy()
    silent_gene.loc["c"] = 0.0
    with pytest.raises(ValueError, match=r"gene 'c' is in no module \(its W row sums to 0\)"):
        normalize_rows(silent_gene)
    silent_module = W.assign(M3=0.0)
    with pytest.raises(ValueError, match=r"module 'M3' loads no gene"):
        normalize_columns(silent_module)


def test_memberships_above_threshold():
    memberships = call_memberships(normalize_rows(W), threshold=0.1)
    assert memberships.columns.tolist() == ["gene", "module", "share"]
    pairs = list(zip(memberships["gene"], memberships["module"]))
    # d: 0.65/1.65 = 0.394 in M2 and 0.606 in M3 -> M3 first (larger share).
    assert pairs == [("a", "M1"), ("b", "M1"), ("b", "M2"), ("c", "M1"), ("c", "M2"),
                     ("d", "M3"), ("d", "M2")]
    assert memberships["share"].iloc[0] == 1.0


def test_threshold_is_strict_and_top_module_always_counts():
    rows = normalize_rows(W)
    memberships = call_memberships(rows, threshold=0.2)  # c's 0.2 share is not above 0.2
    assert memberships[memberships["gene"] == "c"]["module"].tolist() == ["M1"]
    lone = call_memberships(pd.DataFrame([[0.3, 0.3, 0.4]], index=["x"]), threshold=0.5)
    assert lone["module"].tolist() == ["2"]  # names: an unnamed W's labels as strings


def test_moonlighting_genes_of_a_w_with_number_labels():
    """W as an estimator's components_ gives it (integer genes and modules)."""
    numbered = normalize_rows(pd.DataFrame(W.to_numpy()))
    table = moonlighting_genes(call_memberships(numbered, threshold=0.1))
    assert table["gene"].tolist() == ["1", "2", "3"]
    assert table["modules"].tolist() == ["0,1", "0,1", "2,1"]


def test_moonlighting_table():
    memberships = call_memberships(normalize_rows(W), threshold=0.1)
    table = moonlighting_genes(memberships)
    assert table["gene"].tolist() == ["b", "c", "d"]
    assert table["n_modules"].tolist() == [2, 2, 2]
    assert table.set_index("gene").loc["d", "modules"] == "M3,M2"
    assert table.set_index("gene").loc["c", "shares"] == "0.8000,0.2000"
    sizes = module_sizes(memberships, ["M1", "M2", "M3"])
    assert sizes.tolist() == [3, 3, 1]


def test_no_moonlighting_gives_an_empty_table_with_header():
    memberships = call_memberships(normalize_rows(W), threshold=0.5)
    table = moonlighting_genes(memberships)
    assert table.empty and table.columns.tolist() == ["gene", "n_modules", "modules", "shares"]


def test_threshold_range():
    with pytest.raises(ValueError, match="threshold"):
        call_memberships(normalize_rows(W), threshold=1.0)


def test_unconfirmed_candidates_keep_only_their_top_module():
    from moonlight.modules import keep_called

    memberships = call_memberships(normalize_rows(W), threshold=0.1)
    kept = keep_called(memberships, ["d"])
    pairs = list(zip(kept["gene"], kept["module"]))
    assert pairs == [("a", "M1"), ("b", "M1"), ("c", "M1"), ("d", "M3"), ("d", "M2")]


def test_a_called_gene_keeps_the_two_modules_its_call_names():
    from moonlight.modules import keep_called

    three = pd.DataFrame([[0.5, 0.3, 0.2], [0.6, 0.25, 0.15]], index=["x", "007"],
                         columns=["M1", "M2", "M3"])
    memberships = call_memberships(three, threshold=0.1)
    assert len(memberships) == 6  # both genes above the threshold in all three
    kept = keep_called(memberships, ["x"])
    assert list(zip(kept["gene"], kept["module"])) == [("x", "M1"), ("x", "M2"),
                                                     ("007", "M1")]
    table = moonlighting_genes(kept)
    assert table.to_dict("list") == {"gene": ["x"], "n_modules": [2], "modules": ["M1,M2"],
                                     "shares": ["0.5000,0.3000"]}


def test_calling_shares_leave_background_modules_out_but_for_their_own_genes():
    rows = pd.DataFrame([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.0, 0.4, 0.6]],
                        index=["a", "b", "c"], columns=["M1", "M2", "M3"])
    assert calling_shares(rows) is rows
    shares = calling_shares(rows, ["M3"])
    assert shares.loc["a"].tolist() == [0.5, 0.3, 0.0]  # not renormalized
    assert shares.loc[["b", "c"]].equals(rows.loc[["b", "c"]])  # M3 is their top module
    # in two modules each, but c's top module is M3: no candidate
    assert moonlighting_candidates(rows, 0.1)["gene"].tolist() == ["a", "b", "c"]
    assert moonlighting_candidates(rows, 0.1, ["M3"])["gene"].tolist() == ["a"]
    members = call_memberships(shares, threshold=0.1)
    assert members.loc[members["gene"] == "a", "module"].tolist() == ["M1", "M2"]

