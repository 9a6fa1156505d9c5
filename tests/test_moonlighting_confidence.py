"""Moonlighting calls: the share test, its boundary behaviour, the dispersion allowance,
Benjamini-Hochberg, the rank guard and restart support."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from moonlight import fit_nmf, read_count_table, simulate
from moonlight.classes import rest_shares
from moonlight.confidence import (benjamini_hochberg, drop_private_modules,
                                  moonlighting_confidence, moonlighting_support,
                                  neighbour_fits, share_test)
from moonlight.counts import Counts
from moonlight.modules import normalize_rows
from moonlight.share_test import share_test_rows

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "w09-data.tbl"


@pytest.fixture(scope="module")
def H():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.dirichlet(np.ones(3), size=50).T * 2000,
                        index=["M1", "M2", "M3"])


def _planted_W():
    W = np.zeros((6, 2))
    W[[0, 1, 2], 0] = 1.0
    W[[3, 4, 5], 1] = 1.0
    W[2, 1] = 0.6  # gene g2 moonlights
    return pd.DataFrame(W / W.sum(axis=0), index=[f"g{i}" for i in range(6)],
                        columns=["M1", "M2"])


def test_support_is_one_when_restarts_agree_even_permuted():
    W = _planted_W()
    permuted = W[["M2", "M1"]].set_axis(["M1", "M2"], axis=1)
    support = moonlighting_support([W, permuted, W], [0.0, 0.0, -1.0], ["g2"],
                                   threshold=0.1, margin=5.0)
    assert support["g2"] == 1.0


def test_support_counts_disagreeing_restarts():
    W = _planted_W()
    single = W.copy()
    single.loc["g2", "M2"] = 0.0
    support = moonlighting_support([W, single], [0.0, -1.0], ["g2"], threshold=0.1,
                                   margin=5.0)
    assert support["g2"] == 0.5


def test_confidence_filters_on_min_support(H):
    """Support is part of the test's verdict (``confirmed``). The fit has two modules, so
    a confirmed gene is in every module and none is called (classed broad instead)."""
    W = _planted_W()
    H2 = H.iloc[:2].set_axis(["M1", "M2"])
    counts = pd.DataFrame(np.random.default_rng(2).poisson(W.to_numpy() @ H2.to_numpy()),
                          index=W.index)
    single = W.copy()
    single.loc["g2", "M2"] = 0.0

    def confirmed(Ws, **kw):
        called, candidates = moonlighting_confidence(counts, W, H2, Ws, [0.0, 0.0],
                                                     threshold=0.1, ceiling=0.1, margin=5.0,
                                                     **kw)
        assert called.empty and not candidates["called"].any()
        return candidates.loc[candidates["confirmed"].astype(bool)]

    both = confirmed([W, W])
    assert list(both["gene"]) == ["g2"] and (both["support"] == 1.0).all()
    # Half the near-best restarts disagree: support 0.5 passes the default floor (0.5)
    # and fails a stricter one.
    assert list(confirmed([W, single])["gene"]) == ["g2"]
    assert confirmed([W, single], min_support=0.75).empty


# The share test: second share against the threshold


THRESHOLD = 0.1


def _rows_at_shares(shares, n_samples=80, n_modules=3, total=3000.0, dispersion=0.0,
                    seed=0, exact=False):
    """Rows with their second share planted in M2 (the rest in M1) under a known H, and a
    W whose columns sum to one (filler genes carry the rest of each column), so that the
    planted share is moonlight's share exactly."""
    rng = np.random.default_rng(seed)
    modules = [f"M{r + 1}" for r in range(n_modules)]
    samples = [f"s{j}" for j in range(n_samples)]
    Ht = rng.dirichlet(np.ones(n_modules), size=n_samples).T
    shares = np.asarray(shares, dtype=float)
    b = np.zeros((len(shares), n_modules))
    b[:, 0], b[:, 1] = 1.0 - shares, shares
    scale = total / (b @ Ht).sum(axis=1).mean()
    b *= 1e-6
    mu = (b @ Ht) * scale / 1e-6
    if exact:
        V = mu
    else:
        if dispersion > 0:
            mu = mu * rng.gamma(1.0 / dispersion, dispersion, size=mu.shape)
        V = rng.poisson(mu).astype(float)
    genes = [f"g{i}" for i in range(len(shares))]
    W = pd.DataFrame(np.vstack([b, np.diag(1.0 - b.sum(axis=0))]),
                     index=genes + [f"filler{r}" for r in range(n_modules)], columns=modules)
    H = pd.DataFrame(Ht * scale / 1e-6, index=modules, columns=samples)
    return pd.DataFrame(V, index=genes, columns=samples), W, H


def test_share_test_on_single_and_two_module_rows():
    counts, W, H = _rows_at_shares([0.0, 0.3, 0.5], seed=1)
    W.loc["g0", "M2"] = 1e-9  # a one-module row still needs a second module to name
    out = share_test(counts, W, H, threshold=THRESHOLD)
    assert out.loc["g0", "p"] > 0.5 and out.loc["g0", "second_share"] < THRESHOLD
    assert out.loc[["g1", "g2"], "p"].max() < 1e-6
    for gene, share in [("g1", 0.3), ("g2", 0.5)]:
        row = out.loc[gene]
        assert row["second_share_low"] <= share <= row["second_share_high"]
        assert row["second_share_high"] - row["second_share_low"] < 0.1
        assert row["top_share_low"] <= 1 - share <= row["top_share_high"]


def test_a_call_names_the_two_modules_it_tested_when_W_has_a_third():
    counts, W, H = _rows_at_shares([0.3], seed=3)  # counts from shares 0.7, 0.3, 0
    W.loc["g0", "M3"] = W.loc["g0", "M2"] * 0.5  # W puts a third share above 0.1
    called, candidates = moonlighting_confidence(counts, W, H, [W], [0.0], threshold=0.1,
                                                 ceiling=0.1, margin=5.0)
    assert candidates.loc[0, ["n_modules", "modules"]].tolist() == [3, "M1,M2,M3"]
    assert candidates.loc[0, "rest_share"] < 0.05  # the refit given H: not in M3
    assert called[["gene", "n_modules", "modules"]].to_dict("list") == {
        "gene": ["g0"], "n_modules": [2], "modules": ["M1,M2"]}


def test_a_row_estimated_exactly_at_the_threshold_has_p_one_half():
    counts, W, H = _rows_at_shares([THRESHOLD], exact=True)
    out = share_test(counts, W, H, threshold=THRESHOLD)
    assert out["second_share"].iat[0] == pytest.approx(THRESHOLD, abs=1e-6)
    assert out["p"].iat[0] == pytest.approx(0.5, abs=1e-3)
    assert out["lr_threshold"].iat[0] == pytest.approx(0.0, abs=1e-6)


def test_p_at_the_threshold_follows_the_boundary_distribution():
    # True share exactly t with two modules: the signed root of the LR is ~ N(0, 1), so
    # P(p <= a) ~ a (the 1/2 chi2_0 + 1/2 chi2_1 law); 600 rows, 4-sigma bands.
    counts, W, H = _rows_at_shares(np.full(600, THRESHOLD), n_modules=2, seed=2)
    p = share_test(counts, W, H, threshold=THRESHOLD, level=None)["p"].to_numpy()
    for a in (0.05, 0.2, 0.5):
        assert abs(np.mean(p <= a) - a) < 4 * np.sqrt(a * (1 - a) / len(p))


def test_p_inside_the_null_is_conservative_and_power_grows_with_the_share():
    counts, W, H = _rows_at_shares(np.repeat([0.05, 0.15, 0.25], 100), seed=3)
    p = share_test(counts, W, H, threshold=THRESHOLD, level=None)["p"].to_numpy()
    below, near, above = p[:100], p[100:200], p[200:]
    assert np.mean(below <= 0.05) <= 0.01
    assert np.mean(near <= 0.05) < np.mean(above <= 0.05)
    assert np.mean(above <= 0.05) > 0.9


def test_dispersion_allowance_keeps_negative_binomial_rows_at_the_nominal_rate():
    counts, W, H = _rows_at_shares(np.full(300, THRESHOLD), n_modules=2, dispersion=0.5,
                                   total=20000.0, seed=4)
    nb = share_test(counts, W, H, threshold=THRESHOLD, level=None)
    quasi = share_test(counts, W, H, threshold=THRESHOLD, level=None,
                       overdispersion="quasi_poisson")
    # Without any allowance the Poisson LR is wildly inflated ...
    raw_p = norm.sf(np.sign(nb["second_share"] - THRESHOLD) * np.sqrt(quasi["lr_threshold"]))
    assert np.mean(raw_p <= 0.05) > 0.3
    # ... with it, both row models stay near the nominal 5 % at the boundary.
    for out in (nb, quasi):
        assert np.mean(out["p"] <= 0.05) < 0.05 + 4 * np.sqrt(0.05 * 0.95 / len(out))
    assert nb["dispersion"].median() == pytest.approx(0.5, rel=0.2)
    assert quasi["pearson_phi"].median() > 10


def test_shares_do_not_depend_on_how_the_scale_is_split_between_W_and_H():
    counts, W, H = _rows_at_shares([0.2, 0.35], seed=5)
    c = pd.Series([0.5, 3.0, 7.0], index=W.columns)
    a = share_test(counts, W, H, threshold=THRESHOLD)
    b = share_test(counts, W * c, H.div(c, axis=0), threshold=THRESHOLD)
    pd.testing.assert_frame_equal(a, b, rtol=1e-6)


def test_benjamini_hochberg_against_a_hand_computed_example():
    # Sorted p 0.01, 0.03, 0.04, 0.20 (m = 4): p m / rank = 0.04, 0.06, 0.0533, 0.20,
    # then the running minimum from the largest down.
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert benjamini_hochberg([]).size == 0
    with pytest.raises(ValueError, match="p-values"):
        benjamini_hochberg([0.5, 1.5])


def test_private_modules_are_dropped_from_a_neighbouring_fit():
    W = pd.DataFrame({"M1": [0.5, 0.5, 0.0], "M2": [0.3, 0.4, 0.3], "M3": [0.05, 0.05, 0.9]},
                     index=["a", "b", "c"])
    H = pd.DataFrame(np.ones((3, 2)), index=W.columns, columns=["s1", "s2"])
    W2, H2 = drop_private_modules(W, H)
    assert list(W2.columns) == ["M1", "M2"] and list(H2.index) == ["M1", "M2"]
    # Never fewer than two modules: then nothing is dropped.
    W3, _ = drop_private_modules(W[["M1", "M3"]], H.loc[["M1", "M3"]])
    assert list(W3.columns) == ["M1", "M3"]


def test_guard_removes_calls_made_at_too_small_a_rank():
    # Four modules, no moonlighting gene, fitted with three.
    sim = simulate(n_genes=100, n_samples=60, n_modules=4, module_size=(20, 30),
                   n_moonlighting=0, depth=(20_000, 20_000), seed=1)
    fits = {r: fit_nmf(sim.counts, r, restarts=3, seed=0) for r in (3, 4)}
    W, H = fits[3].W_frame(), fits[3].H_frame()
    args = (sim.counts, W, H, fits[3].W_restart_frames(), fits[3].logliks)
    unguarded, _ = moonlighting_confidence(*args, threshold=THRESHOLD, ceiling=THRESHOLD, margin=5.0)
    guarded, candidates = moonlighting_confidence(
        *args, threshold=THRESHOLD, ceiling=THRESHOLD, margin=5.0,
        neighbours=neighbour_fits({r: (f.W_frame(), f.H_frame()) for r, f in fits.items()},
                                  3))
    # At R = 3 a module's genes are split between two others and pass the share test
    # given that H, every call wrong; at R = 4 they fall back into their own module.
    assert len(unguarded) >= 10
    assert guarded.empty
    assert (candidates["neighbour_rank"] == 4).all()
    # The guard's q is Benjamini-Hochberg over the candidates' p one rank up.
    np.testing.assert_allclose(candidates["neighbour_q"],
                               benjamini_hochberg(candidates["neighbour_p"]))


def test_parameters_are_checked():
    counts, W, H = _rows_at_shares([0.3])
    with pytest.raises(ValueError, match="threshold"):
        share_test(counts, W, H, threshold=1.0)
    with pytest.raises(ValueError, match="overdispersion"):
        share_test(counts, W, H, threshold=0.1, overdispersion="gaussian")
    with pytest.raises(ValueError, match="same samples"):
        share_test(counts.iloc[:, ::-1], W, H, threshold=0.1)
    with pytest.raises(ValueError, match="fdr"):
        moonlighting_confidence(counts, W, H, [W], [0.0], threshold=0.1, ceiling=0.1, margin=5.0, fdr=0)


@pytest.mark.skipif(not REAL.is_file(), reason="exercise table not available")
def test_exercise_table_calls_exactly_cranberry_grape_tomato_at_rank_four():
    counts = read_count_table(REAL)
    fits = {r: fit_nmf(counts, r, restarts=10, seed=0) for r in (4, 5)}
    best = fits[4]
    called, candidates = moonlighting_confidence(
        counts, best.W_frame(), best.H_frame(), best.W_restart_frames(), best.logliks,
        threshold=THRESHOLD, ceiling=THRESHOLD, margin=5.0, min_support=0.5,
        neighbours=neighbour_fits({r: (f.W_frame(), f.H_frame()) for r, f in fits.items()},
                                  4))
    assert list(called["gene"]) == ["cranberry", "grape", "tomato"]
    assert (called["q"] < 1e-10).all()
    assert list(called.columns) == ["gene", "n_modules", "modules", "shares", "support",
                                    "rest_share", "q"]
    assert (called["rest_share"] < 0.05).all()
    # The refit's shares are W's own (the row refit is the W update at convergence).
    second = candidates["shares"].str.split(",").str[1].astype(float)
    np.testing.assert_allclose(candidates["second_share"], second, atol=2e-3)
    # One rank up a true module splits, and two moonlighters' rest shares pass 0.2
    # (why the guard at R + 1 keeps the second share's test alone; docs/methods.md).
    shares = normalize_rows(fits[5].W_frame())
    rest = pd.Series(rest_shares(shares), index=shares.index)
    assert (rest[["grape", "tomato"]] > 0.2).all() and rest["cranberry"] < 0.1


def test_interval_ends_are_the_profile_crossings_found_by_bisection(monkeypatch):
    """The interval search ends where bisection of the profile deviance ends (to 1e-8):
    started at the Wald guess, with fewer profile fits than regula falsi from the far end
    (142 against 168 here, each with the fits from the row's own start that check a
    share found outside from a warm start), itself under 30 % of bisection's 625
    (Illinois' halving on the deviance itself took 241)."""
    from moonlight import intervals, rowmodel
    from moonlight import share_test as share_module

    counts, W, H = _rows_at_shares([0.05, 0.12, 0.3, 0.5, 0.7], seed=4, dispersion=0.3)
    calls = []

    def counted(*a, **k):
        calls.append(len(a[0]))
        return rowmodel.profile(*a, **k)

    def fits_of(**patches):
        with monkeypatch.context() as m:
            # every profile fit: the test's own and the interval searches'
            m.setattr(share_module, "profile", counted)
            m.setattr(intervals, "profile", counted)
            for name, value in patches.items():
                m.setattr(share_module, name, value)
            calls.clear()
            return share_test(counts, W, H, threshold=THRESHOLD), sum(calls)

    def bisect(V, Ht, module, inside, far, alpha, ll_hat, scale, critical, start,
               offset=None, capped=None, guess=None):
        assert offset is None
        ex, warm = intervals.excess(V, Ht, module, far, start, alpha, ll_hat, scale,
                                    critical)
        lo, hi, out_ = inside.copy(), far.copy(), ex > 0
        for _ in range(intervals.BISECTIONS):
            mid = 0.5 * (lo + hi)
            e, warm = intervals.excess(V, Ht, module, mid, warm, alpha, ll_hat, scale,
                                       critical)
            hi, lo = np.where(e > 0, mid, hi), np.where(e > 0, lo, mid)
        return np.where(out_, 0.5 * (lo + hi), far)

    wald, fits_wald = fits_of()
    from_far, fits_far = fits_of(wald_guess=lambda inside, far, *rest: far.copy())
    reference, fits_bisect = fits_of(interval_ends=bisect)
    for end in ["top_share_low", "top_share_high", "second_share_low", "second_share_high"]:
        np.testing.assert_allclose(wald[end], reference[end], atol=1e-8)
        np.testing.assert_allclose(from_far[end], reference[end], atol=1e-8)
    assert fits_far < 0.3 * fits_bisect
    assert fits_wald < fits_far


def test_a_warm_started_fit_in_a_worse_basin_does_not_move_an_end(monkeypatch):
    """A profile fit warm-started from the search's last fit can stop in a worse basin
    (the negative-binomial likelihood is not concave in the mean where counts are zero;
    real rows did, docs/scale.md), and a share that only such a fit finds outside would
    put the end at the fitted share itself. Here every warm-started fit is made to stop
    10,000 nats short: the ends stay those of honest fits, because every share of a
    negative-binomial row found outside from a warm start is fitted again from the
    row's own start."""
    from moonlight import intervals, rowmodel
    from moonlight import share_test as share_module

    counts, W, H = _rows_at_shares([0.12, 0.3, 0.5], seed=4, dispersion=0.3)
    honest = share_test(counts, W, H, threshold=THRESHOLD)
    own_starts: set[bytes] = set()

    def recording(*a, **k):
        own_starts.update(row.tobytes() for row in a[9])  # interval_ends' start rows
        return intervals.interval_ends(*a, **k)

    def stuck_when_warm(V, Ht, module, sigma, start, *rest):
        ll, fitted = rowmodel.profile(V, Ht, module, sigma, start, *rest)
        warm = np.array([row.tobytes() not in own_starts for row in start])
        return ll - 1e4 * warm, fitted

    monkeypatch.setattr(share_module, "interval_ends", recording)
    monkeypatch.setattr(intervals, "profile", stuck_when_warm)
    tested = share_test(counts, W, H, threshold=THRESHOLD)
    for end in ["top_share_low", "top_share_high", "second_share_low", "second_share_high"]:
        np.testing.assert_allclose(tested[end], honest[end], atol=1e-8)
    # an interval no wider than a point would mean the guard was not taken
    assert (tested["second_share_high"] - tested["second_share"] > 0.01).all()


@pytest.mark.parametrize("dispersion", [0.0, 0.3])
def test_wald_standard_error_is_the_profile_curvature_at_the_fitted_share(dispersion):
    """Near the fitted share the scaled profile deviance is (sigma - s)^2 / (scale se^2):
    the interval search's first guess rests on it."""
    from moonlight.intervals import share_standard_errors
    from moonlight.rowmodel import fit_rows, profile, share_start

    counts, W, H = _rows_at_shares([0.2, 0.4], seed=5, dispersion=dispersion)
    V = counts.to_numpy(dtype=float)
    Ht = H.to_numpy(dtype=float) * W.sum(axis=0).to_numpy()[:, None]
    n_rows, n_modules = len(V), Ht.shape[0]
    b0 = W.loc[counts.index].to_numpy() / W.sum(axis=0).to_numpy()
    alpha = np.full(n_rows, 0.05 if dispersion else 0.0)
    eye = np.broadcast_to(np.eye(n_modules), (n_rows, n_modules, n_modules))
    b, ll = fit_rows(V, Ht, eye, b0, alpha)
    second = np.array([1, 1])
    (se,) = share_standard_errors(V, Ht, b, alpha, [second])
    shares = b[np.arange(n_rows), second] / b.sum(axis=1)
    for h in (-0.05, 0.05):  # a twentieth of a standard error either side
        ll_h, _ = profile(V, Ht, second, shares + h * se, share_start(b, second), alpha)
        np.testing.assert_allclose(2 * (ll - ll_h), h ** 2, rtol=0.05)


def test_a_test_whose_row_fit_stopped_at_its_cap_is_flagged(monkeypatch):
    """``fits_at_cap`` is False where every row fit of a gene's tests converged, and
    True where one stopped at its iteration cap."""
    from moonlight import rowmodel
    from moonlight import share_test as share_module

    counts, W, H = _rows_at_shares([0.05, 0.3, 0.5], seed=1, n_modules=3)
    tested = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    assert not tested[["fits_at_cap", "interval_fits_at_cap"]].to_numpy().any()

    fit_rows = rowmodel.fit_rows

    def one_step(*a, **k):
        return fit_rows(*a, **{**k, "max_iter": 1})

    monkeypatch.setattr(share_module, "fit_rows", one_step)  # the free and ceiling fits
    tested = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    assert tested["fits_at_cap"].all()
    monkeypatch.undo()
    monkeypatch.setattr(rowmodel, "fit_rows", one_step)  # every fit, intervals' too
    tested = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    assert tested["interval_fits_at_cap"].all()


def test_share_test_gives_the_same_bytes_in_any_blocks_and_threads(monkeypatch):
    """Rows are tested one block at a time (memory) and their fits may share threads
    (modules.threads): neither changes a byte of the result."""
    from moonlight import share_test as share_module
    from moonlight.rowmodel import fitting_threads

    counts, W, H = _rows_at_shares([0.05, 0.12, 0.3, 0.5, 0.7, 0.2, 0.4], seed=6,
                                   n_modules=4, dispersion=0.3)
    whole = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    monkeypatch.setattr(share_module, "ROW_BLOCK_ENTRIES", counts.shape[1] * 3)
    in_blocks = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    with fitting_threads(2):
        threaded = share_test(counts, W, H, threshold=THRESHOLD, ceiling=0.1)
    for other in (in_blocks, threaded):
        pd.testing.assert_frame_equal(other, whole, check_exact=True)
    # Rows read from sparse counts in blocks of three (call_modules never densifies the
    # candidates whole), in any order, the samples reordered to H's
    order = ["g4", "g0", "g6", "g2", "g1", "g5", "g3"]
    stored = Counts.of(counts[counts.columns[::-1]].astype(pd.SparseDtype(float, 0.0)))
    assert stored.is_sparse
    read = share_test_rows(stored, order, W, H, limit=3 * counts.shape[1],
                           threshold=THRESHOLD, ceiling=0.1)
    pd.testing.assert_frame_equal(read, whole.loc[order], check_exact=True)
