"""Choosing the number of modules R.

The in-sample log likelihood of nested models only rises with R, so its maximum is no
answer. moonlight computes, per rank R:

* ``cv_loglik``, ``cv_se``: K-fold held-out Poisson log likelihood (sum over folds, every
  entry scored once) and its standard error ``sqrt(K) sd(fold values)``
  (:mod:`moonlight.crossval`);
* ``matched_cosine``, ``cophenetic``: reproducibility of the modules across near-best
  restarts (:mod:`moonlight.stability`);
* ``bic = -2 log L_R + k_R log(N M)`` and ``aic = -2 log L_R + 2 k_R`` with
  ``k_R = R (N + M - 1)`` free parameters (reported; not used by the rule).

**The rule.** A rank is *stable* when ``matched_cosine >= min_stability``. Among stable
ranks (all ranks if none is stable) let R* be the one with the highest ``cv_loglik``;
the selected R is the **smallest stable R with cv_loglik >= cv_loglik(R*) - SE** (the
one-standard-error rule). Ties cannot arise: it is the smallest such R.

*Which SE.* Every rank is scored on the same folds, so the comparison of R with R* is
paired: with the per-fold held-out values (``cv_folds``), SE is that of the difference,
``cv_se_diff(R) = sqrt(K) sd_k(F_k(R*) - F_k(R))``. Without them it is ``cv_se(R*)``, the
SE of R*'s own sum, which also carries the variation between folds that every rank
shares (how many counts a fold happens to hold). On sparse tables that shared part can
be larger than the difference between neighbouring ranks, and the unpaired rule then
settles on too small an R (on the sparse tuning tables of benchmarks/CALIBRATION.md,
scored with the rank-1 background: 15 of 18 right unpaired, 17 of 18 paired).

Why: held-out likelihood penalizes overfitting by its own measure rather than by a
parameter count, so it does not run away to large R when counts are overdispersed (the
Poisson BIC does: extra modules soak up the excess variance); the one-SE rule prefers
the simplest model the data cannot tell from the best; and the stability floor drops
ranks whose modules are not reproducible from restart to restart.

**The effect-size cap.** On real counts the held-out likelihood keeps rising past the
number of sources: extra modules take technical axes (RNA input, capture) or split a
source into sub-states, and every such module predicts held-out counts a little better,
by far more than a standard error. So with the rank-1 baseline's held-out log likelihood
``cv_1`` known, each fitted rank gets ``gain_share``, its step's share of the whole
held-out gain, ``(cv(R) - cv(R_prev)) / (cv(R*) - cv_1)`` (R_prev the next smaller stable
rank, rank 1 for the smallest; R* the best stable rank), and, where the cap applies
(below), the selected R is capped at the last stable rank before the first stable rank
whose share is below ``min_gain`` (``selection.min_gain``, 0.1): a module is worth
adding when it explains at least a tenth of what the best fit explains beyond rank 1.
On the CellBench tuning sets (benchmarks/REAL_DATA.md) the sources' steps take 15-69%
of the gain and the extra modules' 0.3-9%; on simulations every true module's step
takes about 1/R of it and the steps past the truth none. The share is relative, so it
does not depend on depth (the fraction of the rank-1 deviance a module explains does:
on 88%-zero simulated tables a true module explains 3% of it). ``min_gain: 0`` turns
it off.

*When the cap applies* (``selection.cap_when``). The cap is there for held-out
likelihoods that do not stop: on real counts they often rise through every rank fitted.
Where they do stop, a step under the floor can be a real source: of two similar cell
lines, the module that separates them explains little of the gain
(benchmarks/REAL_DATA.md), and so does each of eight equally strong modules in 60
samples (benchmarks/SELECTION.md). With ``cap_when: rising`` (the default), the steps
between consecutive stable ranks are tested first (:func:`first_stop`): where a step
does not beat the rank before it by more than one standard error of their paired fold
differences, the held-out likelihood has stopped inside the range, and R is no larger
than the rank before that step, capped only at the lower floor below; only where
every step up to the largest fitted rank is significant does the cap apply at
``min_gain``. With ``always`` it applies at ``min_gain`` to every table.

*A lower floor where it stops* (``selection.min_gain_stopped``, 0.025). Where the
held-out likelihood stops, a step that adds less than ``min_gain_stopped`` of the gain
is not kept either. Structure the model is not told of can beat the one-SE rule by a
little and still be no source: on simulated tables with negative-binomial noise
(dispersion 0.5), broad genes and an unmodelled plate effect, a fifth module follows
one plate, its step takes 0.006-0.010 of the gain at 1.3-2.1 standard errors, and the
genes it shares with a true module are called moonlighting (benchmarks/CALIBRATION.md);
the module that separates two similar cell lines takes 0.08-0.09 of it
(benchmarks/REAL_DATA.md). ``min_gain_stopped: 0`` keeps every step there.

**Extending the range.** A rule that selects the largest fitted rank never saw the
held-out likelihood stop rising; nor did one whose every step up to the largest rank
was significant, whose R the effect-size cap chose (:func:`still_rising`): fitted to
2..5, CellBench's five lines on 10x stop at 4 by the cap (the step to 5 takes 0.087 of
the gain), fitted to 2..7 the likelihood stops at 5 and the rule takes 5. With
``selection.extend_to`` set, the next rank is fitted and the rule applied again, one
rank at a time, until it selects a rank below the largest fitted one where the held-out
likelihood stopped, or the largest fitted rank reaches ``extend_to`` (:func:`next_rank`);
the workflow and :func:`moonlight.pipeline.analyse` both do this.

**No structure, no modules.** When the selected rank does not beat the rank-1 model
(every gene following the samples' depths) on held-out data by more than one standard
error of the paired fold differences (:func:`structure_gain`), the counts show no module
structure the folds can confirm: the table gets a row for rank 1 and selects it
(:func:`withhold_structureless`), so the workflow reports R = 1 and calls no
moonlighting gene, and the QC record says why (``no_structure``).

Without cross-validation results :func:`rank_table` falls back to the minimum BIC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import default
from .likelihood import n_free_parameters

__all__ = ["rank_table", "select_rank", "selected_rank", "paired_se", "gain_shares",
           "next_rank", "structure_gain", "withhold_structureless", "rule_in_words",
           "first_stop", "still_rising", "heldout_gain", "CAP_WHEN"]

#: When the effect-size cap applies (config ``selection.cap_when``): to every rank table,
#: or only where the held-out likelihood rises step by step through the largest rank.
CAP_WHEN = ("always", "rising")


def rule_in_words(min_stability: float = default("selection.min_stability"),
                  min_gain: float = default("selection.min_gain"),
                  cap_when: str = default("selection.cap_when"),
                  min_gain_stopped: float = default("selection.min_gain_stopped")) -> str:
    """The rule in one sentence, with its settings (for captions, logs and records)."""
    rule = ("the smallest R whose held-out log likelihood is within one standard error "
            "(of the paired fold differences) of the best, among ranks whose restarts "
            f"agree (mean matched cosine >= {min_stability:g})")
    if min_gain <= 0:
        return rule
    def cap(floor: float) -> str:
        return (f"no larger than the last rank before the first step that adds less than "
                f"{floor:g} of the best held-out gain over rank 1")
    if cap_when == "always":
        return f"{rule}; {cap(min_gain)}"
    stopped = "" if min_gain_stopped <= 0 else f" and {cap(min_gain_stopped)}"
    return (f"{rule}, and no larger than the last rank before the first step that does not "
            f"add more than one standard error of held-out log likelihood{stopped}; where "
            f"every step up to the largest fitted rank does, {cap(min_gain)}")


def _stable(table: pd.DataFrame, min_stability: float) -> pd.Series:
    """Ranks whose mean matched cosine reaches the floor (all, without stability data)."""
    if "matched_cosine" not in table:
        return pd.Series(True, index=table.index)
    return table["matched_cosine"].fillna(1.0) >= min_stability


def _candidates(table: pd.DataFrame, min_stability: float) -> pd.DataFrame:
    """The ranks the rule chooses among: the stable ones, or every rank when none is."""
    stable = _stable(table, min_stability)
    return table[stable] if stable.any() else table


def _fold_matrix(cv_folds: pd.DataFrame) -> pd.DataFrame:
    """Held-out log likelihood per fold (rows) and rank (columns), checked complete."""
    missing = {"rank", "fold", "heldout_loglik"} - set(cv_folds.columns)
    if missing:
        raise ValueError(f"cv_folds lacks column(s) {sorted(missing)}")
    F = cv_folds.pivot(index="fold", columns="rank", values="heldout_loglik")
    if F.isna().any().any():
        raise ValueError("cv_folds must score every rank on the same folds")
    return F


def paired_se(cv_folds: pd.DataFrame, reference: int) -> pd.Series:
    """Per rank R: ``sqrt(K) sd_k(F_k(reference) - F_k(R))``, the standard error of
    ``cv_loglik(reference) - cv_loglik(R)`` over K folds shared by every rank (0 at the
    reference; ``cv_folds`` has columns ``rank``, ``fold``, ``heldout_loglik``)."""
    F = _fold_matrix(cv_folds)
    if reference not in F.columns:
        raise ValueError(f"cv_folds has no rank {reference}")
    diff = F[[reference]].to_numpy() - F.to_numpy()
    se = np.sqrt(len(F)) * diff.std(axis=0, ddof=1) if len(F) > 1 else np.zeros(F.shape[1])
    return pd.Series(se, index=F.columns, name="cv_se_diff")


def gain_shares(table: pd.DataFrame, baseline: float, best: float,
                min_stability: float = default("selection.min_stability")) -> pd.Series:
    """Each rank's step share of the held-out gain over rank 1 (module docstring):
    ``(cv(R) - cv(R_prev)) / (best - baseline)``, R_prev the next smaller rank that the
    rule chooses among (:func:`_candidates`: a stable one, so that no step is measured
    from a rank whose restarts disagree), ``baseline`` (rank 1) for the smallest. NaN
    when the best gains nothing."""
    ordered = table.sort_values("rank")
    cv = ordered["cv_loglik"]
    candidate = ordered["rank"].isin(_candidates(ordered, min_stability)["rank"])
    previous = cv.where(candidate).shift(1).ffill()
    total = best - baseline
    steps = cv - previous.fillna(baseline)
    return (steps / total if total > 0 else steps * np.nan).reindex(table.index)


def heldout_gain(heldout: pd.DataFrame, low: int, high: int) -> tuple[float, float]:
    """Held-out gain of rank ``high`` over rank ``low`` and its standard error.

    ``heldout`` holds per-fold rows (``rank``, ``fold``, ``heldout_loglik``) of both
    ranks on the same folds. With d_k the difference in fold k (``high`` minus ``low``),
    the gain is ``sum_k d_k`` and its standard error ``sqrt(K) sd(d)``.
    """
    F = _fold_matrix(heldout.drop_duplicates(["rank", "fold"]))
    if low not in F.columns or high not in F.columns:
        raise ValueError(f"held-out log likelihoods of ranks {low} and {high} are needed")
    return _paired_gain(F, low, high)


def structure_gain(heldout: pd.DataFrame, rank: int) -> tuple[float, float]:
    """Held-out gain of ``rank`` over rank 1 and its standard error
    (:func:`heldout_gain`)."""
    return heldout_gain(heldout, 1, rank)


def _paired_gain(F: pd.DataFrame, low: int, high: int) -> tuple[float, float]:
    """Held-out gain of rank ``high`` over rank ``low`` on the folds of ``F`` (folds x
    ranks), ``sum_k d_k``, and its standard error ``sqrt(K) sd(d)``."""
    d = (F[high] - F[low]).to_numpy(dtype=np.float64)
    se = float(np.sqrt(d.size) * d.std(ddof=1)) if d.size > 1 else 0.0
    return float(d.sum()), se


def withhold_structureless(table: pd.DataFrame, cv_folds: pd.DataFrame,
                           baseline_folds: pd.DataFrame) -> pd.DataFrame:
    """``table`` with rank 1 selected when the selected rank does not beat rank 1 by
    more than one standard error (:func:`structure_gain`); else ``table`` unchanged.

    The rank-1 row carries its held-out ``cv_loglik`` and ``cv_se`` (from
    ``baseline_folds``, the rank-1 fits on the same folds), ``selected``, and is
    ``stable`` (one module, the same from every start); the columns of fits it does not
    have (rank 1 is fitted only inside the folds) are empty.
    """
    rank = selected_rank(table)
    if rank == 1 or "cv_loglik" not in table:
        return table
    gain, se = structure_gain(pd.concat([cv_folds, baseline_folds]), rank)
    if gain > se:
        return table
    folds = baseline_folds["heldout_loglik"].to_numpy(dtype=np.float64)
    row = {"rank": 1, "cv_loglik": float(folds.sum()),
           "cv_se": float(np.sqrt(folds.size) * folds.std(ddof=1)) if folds.size > 1 else 0.0,
           "selected": True}
    if "stable" in table:  # one module, the same from every start
        row |= {"matched_cosine": 1.0, "stable": True}
    table = table.assign(selected=False)
    return pd.concat([pd.DataFrame([row]), table], ignore_index=True)


def _steps(cv_folds: pd.DataFrame, ranks: pd.Series | list[int]
           ) -> list[tuple[int, int, bool]]:
    """``(low, high, beats)`` for consecutive ``ranks`` (ascending): whether ``high``
    beats ``low`` on held-out data by more than one standard error of their paired fold
    differences (``sum_k d_k > sqrt(K) sd(d)``, ``d_k = F_k(high) - F_k(low)``)."""
    F = _fold_matrix(cv_folds)
    ordered = sorted(int(r) for r in ranks)
    out = []
    for low, high in zip(ordered, ordered[1:]):
        gain, se = _paired_gain(F, low, high)
        out.append((low, high, gain > se))
    return out


def first_stop(cv_folds: pd.DataFrame, ranks: pd.Series | list[int]) -> int:
    """The first of ``ranks`` (ascending) whose next one does not beat it on held-out
    data by more than one standard error of their paired fold differences
    (:func:`_steps`); the largest rank when every step does."""
    for low, _, beats in _steps(cv_folds, ranks):
        if not beats:
            return low
    return max(int(r) for r in ranks)


def still_rising(table: pd.DataFrame) -> bool:
    """Whether the held-out log likelihood still rose at the largest fitted rank: every
    step between stable ranks beat the one before (``beats_previous`` of
    :func:`rank_table`) up to the largest rank, so the rule never saw it stop and the
    effect-size cap (``selection.min_gain``) decided R, a choice that can move when
    larger ranks are fitted."""
    if "beats_previous" not in table:
        return False
    steps = table.loc[table["beats_previous"].notna()]
    return (len(steps) > 0 and bool(steps["beats_previous"].astype(bool).all())
            and int(steps["rank"].max()) == int(table["rank"].max()))


def select_rank(table: pd.DataFrame, *,
                min_stability: float = default("selection.min_stability"),
                cv_folds: pd.DataFrame | None = None,
                min_gain: float = default("selection.min_gain"),
                cap_when: str = default("selection.cap_when"),
                min_gain_stopped: float = default("selection.min_gain_stopped")) -> pd.Series:
    """Boolean flags (one True) of the selected rank by the rule of the module docstring.

    ``table`` needs ``rank``, ``cv_loglik``, ``cv_se`` and, optionally,
    ``matched_cosine`` (absent = every rank stable) and ``gain_share``
    (:func:`gain_shares`; absent = no cap). With ``cv_folds`` (per-fold held-out
    values, see :func:`paired_se`) the SE is that of the paired difference; ranks after
    the first step whose ``gain_share`` is below ``min_gain`` are not selected: in every
    table (``cap_when="always"``), or (``"rising"``, with ``cv_folds``) only where every
    step between stable ranks beats the one before by more than its standard error
    (:func:`first_stop` is the largest rank); where a step does not, the selected R is
    no larger than the rank before it, and the cap's floor is ``min_gain_stopped``.
    """
    if cap_when not in CAP_WHEN:
        raise ValueError(f"cap_when must be one of {CAP_WHEN}, got {cap_when!r}")
    table = table.sort_values("rank")
    candidates = _candidates(table, min_stability)
    best = candidates.loc[candidates["cv_loglik"].idxmax()]
    if cv_folds is None:
        se = best["cv_se"]
    else:
        se = paired_se(cv_folds, int(best["rank"])).reindex(candidates["rank"]).to_numpy()
    ok = candidates["cv_loglik"] >= best["cv_loglik"] - se
    chosen = int(candidates.loc[ok, "rank"].min())
    if min_gain > 0 and "gain_share" in table:  # min_gain 0: no cap at all
        floor = min_gain
        if cap_when == "rising" and cv_folds is not None:
            stop = first_stop(cv_folds, candidates["rank"])
            if stop < candidates["rank"].max():  # the held-out log L stops in the range
                chosen, floor = min(chosen, stop), min_gain_stopped
        chosen = _capped(candidates, chosen, floor)
    return (table["rank"] == chosen).reindex(table.index)


def _capped(candidates: pd.DataFrame, chosen: int, floor: float) -> int:
    """``chosen``, no larger than the last of ``candidates`` (the ranks the rule chooses
    among) before the first of them whose step, ``gain_share``, is below ``floor``
    (unchanged for ``floor`` 0, or when the smallest candidate's own step is below
    it)."""
    if floor <= 0:
        return chosen
    small = candidates.loc[candidates["gain_share"] < floor, "rank"]
    if len(small) and small.min() > candidates["rank"].min():
        chosen = min(chosen, int(candidates.loc[candidates["rank"] < small.min(),
                                                "rank"].max()))
    return chosen


def rank_table(
    restarts: pd.DataFrame,
    n_genes: int,
    n_samples: int,
    *,
    cv: pd.DataFrame | None = None,
    stability: pd.DataFrame | None = None,
    min_stability: float = default("selection.min_stability"),
    cv_folds: pd.DataFrame | None = None,
    baseline: float | None = None,
    min_gain: float = default("selection.min_gain"),
    cap_when: str = default("selection.cap_when"),
    min_gain_stopped: float = default("selection.min_gain_stopped"),
    n_batches: int = 1,
) -> pd.DataFrame:
    """Summarize fits across ranks and select R.

    Parameters
    ----------
    restarts : DataFrame
        One row per (rank, restart) with at least columns ``rank`` and ``loglik``, and
        optionally ``stopped`` (stopped by the race of :func:`moonlight.fit_nmf`: such a
        restart's log L is where it stood, so ``loglik_spread`` leaves it out).
    n_genes, n_samples : int
        N and M of the fitted table.
    cv : DataFrame, optional
        :func:`moonlight.crossval.cv_summary` output (``rank``, ``cv_loglik``, ``cv_se``).
        Without it R is chosen by minimum BIC.
    stability : DataFrame, optional
        One row per rank from :func:`moonlight.stability.stability_summary`.
    min_stability : float
        Stability floor on ``matched_cosine``.
    cv_folds : DataFrame, optional
        The per-fold rows behind ``cv`` (``rank``, ``fold``, ``heldout_loglik``, as
        :func:`moonlight.crossval.cross_validate` returns them): the rule then uses the
        paired SE and the table gets ``cv_se_diff``.
    baseline : float, optional
        The rank-1 fit's held-out log likelihood on the same folds: the table gets
        ``gain_share`` and the rule its effect-size cap (``min_gain``).
    min_gain : float
        The cap's floor on a rank's step share of the held-out gain (0 = no cap).
    cap_when : {"always", "rising"}
        When the cap applies (:func:`select_rank`).
    min_gain_stopped : float
        The cap's floor where the held-out log likelihood stops inside the range
        (``cap_when="rising"``; 0 = no cap there).
    n_batches : int
        Known batches of the batch model (``fit_nmf(batches=...)``): their factors
        count in ``n_params`` (:func:`moonlight.likelihood.n_free_parameters`).

    Returns
    -------
    DataFrame
        One row per rank, in increasing order: ``rank``, ``loglik`` (best restart),
        ``loglik_spread`` (best minus worst restart that ran to the end), ``n_params``,
        ``bic``, ``aic``,
        then (when given) ``cv_loglik``, ``cv_se``, ``n_near_best``, ``matched_cosine``,
        ``cophenetic``, ``stable``, ``cv_se_diff`` (SE of the difference from the best
        stable rank), ``gain_share`` (with ``baseline``), ``beats_previous`` (with
        ``cv_folds``: whether the rank beats the stable rank before it by more than one
        standard error of their paired fold differences; empty for the first stable
        rank and for unstable ones), ``passed_over`` (with stability: an unstable rank
        the rule would have selected had its restarts agreed), and ``selected`` (True on
        exactly one row).
    """
    missing = {"rank", "loglik"} - set(restarts.columns)
    if missing:
        raise ValueError(f"restarts table lacks column(s) {sorted(missing)}")
    if restarts.empty:
        raise ValueError("no fits to select a rank from")
    grouped = restarts.groupby("rank")["loglik"]
    ended = restarts
    if "stopped" in restarts.columns:  # raced restarts did not reach their end
        ended = restarts[~restarts["stopped"].astype(bool)]
    worst = ended.groupby("rank")["loglik"].min().reindex(grouped.max().index)
    table = pd.DataFrame(
        {"loglik": grouped.max(), "loglik_spread": grouped.max() - worst}
    ).reset_index()
    table["n_params"] = [n_free_parameters(n_genes, n_samples, int(r), n_batches)
                         for r in table["rank"]]
    n_obs = n_genes * n_samples
    table["bic"] = -2.0 * table["loglik"] + table["n_params"] * np.log(n_obs)
    table["aic"] = -2.0 * table["loglik"] + 2.0 * table["n_params"]
    if cv is not None:
        table = table.merge(cv[["rank", "cv_loglik", "cv_se"]], on="rank", how="left",
                            validate="one_to_one")
        if table["cv_loglik"].isna().any():
            raise ValueError("cross-validation results lack some fitted rank(s)")
    if stability is not None:
        cols = ["rank", "n_near_best", "matched_cosine", "cophenetic"]
        table = table.merge(stability[cols], on="rank", how="left", validate="one_to_one")
        table["stable"] = _stable(table, min_stability)
    if cv_folds is not None and cv is None:
        raise ValueError("cv_folds needs cv (the per-rank summary of the same folds)")
    if cv is not None:
        pool = _candidates(table, min_stability)
        best = pool.loc[pool["cv_loglik"].idxmax()]  # the best stable rank
        if cv_folds is not None:
            table["cv_se_diff"] = paired_se(cv_folds, int(best["rank"])).reindex(
                table["rank"]).to_numpy()
        if baseline is not None:
            table["gain_share"] = gain_shares(table, baseline, float(best["cv_loglik"]),
                                              min_stability).to_numpy()
        if cv_folds is not None:
            beats = {high: ok for _, high, ok in _steps(cv_folds, pool["rank"])}
            table["beats_previous"] = pd.array([beats.get(int(r)) for r in table["rank"]],
                                               dtype="boolean")
        rule = {"min_stability": min_stability, "cv_folds": cv_folds, "min_gain": min_gain,
                "cap_when": cap_when, "min_gain_stopped": min_gain_stopped}
        table["selected"] = select_rank(table, **rule).to_numpy()
        if "matched_cosine" in table:
            table["passed_over"] = _passed_over(table, baseline, rule).to_numpy()
    else:
        table["selected"] = False
        table.loc[table["bic"].idxmin(), "selected"] = True
    return table


def _passed_over(table: pd.DataFrame, baseline: float | None, rule: dict) -> pd.Series:
    """Per rank: whether the rule (``rule``, :func:`select_rank`'s settings) would have
    selected it had its restarts agreed: an unstable rank marked stable, the gain shares
    taken again against the best stable rank. False for stable ranks, and for every rank
    when none is stable (the rule then treats all as stable)."""
    stable = _stable(table, rule["min_stability"])
    out = pd.Series(False, index=table.index)
    if not stable.any():
        return out
    for idx in table.index[~stable]:
        trial = table.assign(matched_cosine=table["matched_cosine"].mask(
            table.index == idx, 1.0))
        if baseline is not None:
            best = float(_candidates(trial, rule["min_stability"])["cv_loglik"].max())
            trial["gain_share"] = gain_shares(trial, baseline, best,
                                              rule["min_stability"])
        picked = trial.loc[select_rank(trial, **rule), "rank"].iat[0]
        out[idx] = bool(picked == table.loc[idx, "rank"])
    return out


def selected_rank(table: pd.DataFrame) -> int:
    """The rank a rank table (:func:`rank_table`, or ``rank_selection.tsv`` as read)
    marks ``selected``."""
    chosen = table.loc[table["selected"].astype(bool), "rank"]
    if len(chosen) != 1:
        raise ValueError(f"a rank table marks one rank selected, this one {len(chosen)}")
    return int(chosen.iat[0])


def next_rank(table: pd.DataFrame, extend_to: int | None) -> int | None:
    """The rank to fit next when the range should grow, else None.

    Parameters
    ----------
    table : DataFrame
        A rank table (:func:`rank_table`): ``rank`` and ``selected``.
    extend_to : int or None
        The largest rank the range may grow to (config ``selection.extend_to``);
        None = never grow.

    Returns
    -------
    int or None
        One above the largest fitted rank when the rule selected that largest rank, or
        when the held-out likelihood still rose there (:func:`still_rising`: the
        effect-size cap chose R, and may choose another with more ranks), and it is
        below ``extend_to``; None otherwise (the held-out likelihood stopped inside the
        range, or the range reached its limit).
    """
    top = int(table["rank"].max())
    chosen = selected_rank(table)
    if extend_to is None or top >= extend_to or (chosen < top and not still_rising(table)):
        return None
    return top + 1
