"""Every benchmark run's rank table and held-out folds, kept so that the rank rule can be
applied again with other settings without fitting anything.

A benchmark that runs :func:`moonlight.pipeline.analyse` passes each result to
:func:`records` with the run's keys and appends the rows, run by run, with
:func:`append_records` beside its results (``<name>_ranks.tsv``: one row per run and
fitted rank, with the rank-1 baseline's held-out log likelihood; ``<name>_folds.tsv``:
one row per run, rank and fold). :func:`reselect` applies
:func:`moonlight.selection.select_rank` to them again; from the command line it prints
the runs whose selected rank the given settings change. A run's rank 1, when it was
among the fitted ranks, is kept as the baseline only (its folds are the baseline's);
on the committed records of the grid and the calibration at every default this gives
back every recorded rank.

    .venv/bin/python benchmarks/rank_records.py benchmarks/results/selection_grid_defaults \\
        --min-gain-stopped 0.095
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from moonlight import read_tsv  # noqa: E402
from moonlight.config import default  # noqa: E402
from moonlight.pipeline import Analysis  # noqa: E402
from moonlight.selection import gain_shares, select_rank  # noqa: E402

__all__ = ["records", "append_records", "reselect"]

#: Columns of a rank table that :func:`reselect` needs.
TABLE_COLUMNS = ["rank", "cv_loglik", "cv_se", "matched_cosine", "gain_share", "selected"]


def records(keys: dict[str, Any], result: Analysis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's rank table (fitted ranks only, with ``baseline``, the rank-1 held-out
    log likelihood) and its per-fold held-out values, each row carrying ``keys``."""
    folds = result.heldout.drop_duplicates(["rank", "fold"])[["rank", "fold",
                                                              "heldout_loglik"]]
    table = result.table.loc[result.table["rank"] > 1,
                             [c for c in TABLE_COLUMNS if c in result.table]]
    baseline = float(folds.loc[folds["rank"] == 1, "heldout_loglik"].sum())
    return (table.assign(**keys, baseline=baseline)[[*keys, *table.columns, "baseline"]],
            folds.assign(**keys)[[*keys, *folds.columns]])


def append_records(out: Path, name: str, run: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Append one run's :func:`records` to ``<out>/<name>_ranks.tsv`` and
    ``<out>/<name>_folds.tsv`` (as the benchmarks append their rows, so that a stopped
    run resumes)."""
    for frame, kind in zip(run, ("ranks", "folds")):
        path = out / f"{name}_{kind}.tsv"
        frame.to_csv(path, sep="\t", index=False, mode="a", header=not path.is_file())


def reselect(ranks: pd.DataFrame, folds: pd.DataFrame, **rule: Any) -> pd.DataFrame:
    """Per run (the columns before ``rank``): the recorded selected rank and the rank
    :func:`moonlight.selection.select_rank` selects with ``rule`` (its keywords;
    the rest at their defaults). Runs that withheld structure (R = 1) are not redone."""
    keys = list(ranks.columns[:list(ranks.columns).index("rank")])
    floor = rule.get("min_stability", default("selection.min_stability"))
    rows = []
    for key, table in ranks.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        mask = (folds[keys] == pd.Series(key, index=keys)).all(axis=1)
        F = folds.loc[mask & folds["rank"].isin(table["rank"]), ["rank", "fold",
                                                                  "heldout_loglik"]]
        table = table.reset_index(drop=True)
        stable = table[table["matched_cosine"].fillna(1.0) >= floor]
        best = (stable if len(stable) else table)["cv_loglik"].max()
        baseline = folds.loc[mask & (folds["rank"] == 1)].drop_duplicates(["rank", "fold"])
        table["gain_share"] = gain_shares(table, float(baseline["heldout_loglik"].sum()), best)
        chosen = table.loc[table["selected"].astype(bool), "rank"]
        recorded = int(chosen.iat[0]) if len(chosen) else 1
        again = (int(table.loc[select_rank(table, cv_folds=F, **rule).to_numpy(),
                               "rank"].iat[0]) if recorded > 1 else 1)
        rows.append({**dict(zip(keys, key)), "recorded": recorded, "again": again})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", type=Path, help="<out>/<name>: the records' path prefix")
    parser.add_argument("--min-gain", type=float)
    parser.add_argument("--min-gain-stopped", type=float)
    parser.add_argument("--cap-when", choices=["always", "rising"])
    parser.add_argument("--min-stability", type=float)
    args = parser.parse_args()
    rule = {k: v for k, v in {"min_gain": args.min_gain,
                              "min_gain_stopped": args.min_gain_stopped,
                              "cap_when": args.cap_when,
                              "min_stability": args.min_stability}.items() if v is not None}
    prefix = str(args.prefix)
    out = reselect(read_tsv(prefix + "_ranks.tsv", index_col=None),
                   read_tsv(prefix + "_folds.tsv", index_col=None), **rule)
    changed = out[out["recorded"] != out["again"]]
    print(f"{len(out)} runs; {len(changed)} select another rank with {rule or 'the defaults'}")
    if len(changed):
        print(changed.to_string(index=False))


if __name__ == "__main__":
    main()
