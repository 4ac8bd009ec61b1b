"""Keep the high-scoring rows of any score column, with DataComp's baseline semantics (their
baselines/apply_filter.py, `get_threshold` and `load_uids_with_clip_score_helper`):

- `threshold`: keep rows with score >= threshold, compared in the column's stored dtype (DataComp's
  pandas comparison: a float32 score equal to float32(threshold) is kept);
- `fraction`: n = int(rows * fraction), where `rows` counts the whole pool, rows without a score
  included (DataComp's `len(df)`); threshold = the score at 0-based index n of the pool's scores
  sorted descending; keep score >= threshold (ties at the threshold can keep more than n).

Where DataComp does not define a useful answer we do better, and say so:
- Missing (null, NaN) and out-of-range scores (see `curation.scores`) are never kept; they are
  counted, per shard, with their reason. DataComp's comparison drops NaN too.
- When n reaches past the scored rows (DataComp's threshold becomes NaN, which keeps nothing, or
  its index runs off the array), every scored row is kept and a `fraction-capped` note says so;
  `fraction=1.0` therefore keeps every scored row.
The fraction's threshold is computed exactly before filtering: one streaming pass holding the top
n+1 scores while n+1 is within `curation.select.BUDGET` (4M), else the radix select of
`curation.select.kth_largest`, in memory bounded by the shard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curascale.errors import CurascaleError
from curascale.notes import Note
from curation.scores import SCORE_FAULTS, at_least, read_scores
from curation.select import BUDGET, column_values, kth_largest
from curation.steps.base import Filter, Scan, TopValues, Verdict, finite_or_none, number, top_values

BELOW = "score below threshold"


def check_rule(threshold, fraction) -> None:
    """Exactly one of a finite threshold or a fraction in (0, 1]; one-line errors otherwise."""
    if (threshold is None) == (fraction is None):
        raise CurascaleError("a score filter takes exactly one of threshold or fraction")
    if threshold is not None:
        number(threshold, "threshold")
    else:
        number(fraction, "fraction", low=0, high=1, low_open=True)


def fraction_threshold(top: TopValues, rows: int, fraction: float) -> float:
    """DataComp's threshold for keeping `fraction` of `rows`: the score at 0-based index
    int(rows * fraction) of the pool's scores sorted descending; -inf (keep every scored row)
    where that index reaches past the scored rows. `top` holds at least that many top scores."""
    n = int(rows * fraction)
    return float(top.values[n]) if n < top.scored else -np.inf


@dataclass
class ScoreFilter(Filter):
    score_column: str = "tmars_score"
    threshold: float | None = None
    fraction: float | None = None
    rows: int = 0  # pool rows, set by the engine before prepare()
    name: str = field(init=False, default="score_filter")

    def __post_init__(self):
        check_rule(self.threshold, self.fraction)
        self.applied_threshold = None if self.threshold is None else float(self.threshold)
        self._top: TopValues | None = None

    @property
    def columns(self):
        return (self.score_column,)

    @property
    def manifest_columns(self):
        return (self.score_column,)

    def prepare(self, scan: Scan) -> None:
        if self.fraction is None:
            return
        n = int(self.rows * self.fraction)
        if n + 1 <= BUDGET:
            self._top = top_values(scan, self.score_column, min(self.rows, n + 1))
            self.applied_threshold = fraction_threshold(self._top, self.rows, self.fraction)
        else:  # holding n+1 values would grow with the pool: count, then radix-select the valid scores
            self._top = top_values(scan, self.score_column, 0)
            found = kth_largest(column_values(scan, self.score_column), n + 1) if n < self._top.scored else None
            self.applied_threshold = -np.inf if found is None else found

    def notes(self) -> list[Note]:
        top = self._top
        if top is None or int(self.rows * self.fraction) < top.scored or top.scored == self.rows:  # (all scored: fraction 1.0 keeps all, nothing to say)
            return []
        n = int(self.rows * self.fraction)
        return [Note("fraction-capped", f"fraction {self.fraction:g} of {self.rows:,} rows puts the threshold at rank {n:,}, but only {top.scored:,} rows have a valid "
                     f"{self.score_column} ({top.missing:,} missing, {top.out_of_range:,} out of range): keeping every scored row",
                     details={"column": self.score_column, "fraction": self.fraction, "rows": self.rows, "rank": n, "scored": top.scored,
                              "missing": top.missing, "out_of_range": top.out_of_range})]

    def judge(self, table: pa.Table) -> Verdict:
        scores = read_scores(table, self.score_column)
        codes = scores.codes.copy()
        codes[(codes == 0) & ~at_least(scores.values, self.applied_threshold)] = len(SCORE_FAULTS) + 1
        return Verdict(codes, (*SCORE_FAULTS, BELOW))

    def describe(self) -> dict:
        return {"step": self.name, "score_column": self.score_column, "threshold": self.threshold, "fraction": self.fraction, "applied_threshold": finite_or_none(self.applied_threshold)}
