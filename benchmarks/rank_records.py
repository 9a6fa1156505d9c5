"""Every benchmark run's rank table and held-out folds, kept so that the rank rule can be
applied again with other settings without fitting anything.

A benchmark that runs :func:`moonlight.pipeline.analyse` passes each result to
:func:`records` with the run's keys and appends the rows, run by run, with
:func:`append_records` beside its results (``<name>_ranks.tsv``: one row per run and
fitted rank; ``<name>_folds.tsv``: one row per run, rank and fold, rank 1 included).
:func:`reselect` applies :func:`moonlight.selection.select_rank` to them again with the
recorded step shares; from the command line it prints the runs whose selected rank the
given settings change. A run's rank 1, when it was among the fitted ranks, is left out
of the table (its folds are the baseline's); on the committed records of the grid and
the calibrations this gives back every recorded rank.

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
from moonlight.pipeline import Analysis  # noqa: E402
from moonlight.selection import select_rank  # noqa: E402

__all__ = ["records", "append_records", "reselect"]

#: Columns of a rank table that :func:`reselect` needs.
TABLE_COLUMNS = ["rank", "cv_loglik", "cv_se", "matched_cosine", "gain_share", "selected"]


def records(keys: dict[str, Any], result: Analysis) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's rank table (fitted ranks above 1) and its per-fold held-out values,
    each row carrying ``keys``."""
    folds = result.heldout[["rank", "fold", "heldout_loglik"]]
    table = result.table.loc[result.table["rank"] > 1,
                             [c for c in TABLE_COLUMNS if c in result.table]]
    return (table.assign(**keys)[[*keys, *table.columns]],
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
    the rest at their defaults) from the recorded table, step shares included. Runs
    that withheld structure (R = 1) are not redone."""
    keys = list(ranks.columns[:list(ranks.columns).index("rank")])
    folds_of = dict(iter(folds.groupby(keys, sort=False)))
    rows = []
    for key, table in ranks.groupby(keys, sort=False):
        F = folds_of[key]
        F = F.loc[F["rank"].isin(table["rank"]), ["rank", "fold", "heldout_loglik"]]
        table = table.reset_index(drop=True)
        chosen = table.loc[table["selected"].astype(bool), "rank"]
        recorded = int(chosen.iat[0]) if len(chosen) else 1
        again = (int(table.loc[select_rank(table, cv_folds=F, **rule).to_numpy(),
                               "rank"].iat[0]) if recorded > 1 else 1)
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))),
                     "recorded": recorded, "again": again})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefix", type=Path, help="<out>/<name>: the records' path prefix")
    parser.add_argument("--min-gain", type=float)
    parser.add_argument("--min-gain-stopped", type=float)
    parser.add_argument("--cap-when", choices=["always", "rising"])
    args = parser.parse_args()
    rule = {k: v for k, v in {"min_gain": args.min_gain,
                              "min_gain_stopped": args.min_gain_stopped,
                              "cap_when": args.cap_when}.items() if v is not None}
    prefix = str(args.prefix)
    out = reselect(read_tsv(prefix + "_ranks.tsv", index_col=None),
                   read_tsv(prefix + "_folds.tsv", index_col=None), **rule)
    changed = out[out["recorded"] != out["again"]]
    print(f"{len(out)} runs; {len(changed)} select another rank with {rule or 'the defaults'}")
    if len(changed):
        print(changed.to_string(index=False))


if __name__ == "__main__":
    main()
