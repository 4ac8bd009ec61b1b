"""Keep the high-scoring rows of any score column, with DataComp's baseline semantics (their
baselines.py):

- `threshold`: keep rows with score >= threshold;
- `fraction`: n = int(rows * fraction); threshold = the score at 0-based index n of the pool's
  scores sorted descending; keep score >= threshold (ties at the threshold can keep more than n).
The fraction's threshold is computed exactly before filtering, in memory bounded by the shard
(curation/select.py). Missing
(null) scores are never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curascale.errors import UserError
from curation.select import pool_kth_largest
from curation.steps.base import Filter, Scan


def fraction_threshold(scan: Scan, column: str, rows: int, fraction: float) -> float:
    n = int(rows * fraction)
    if n >= rows:
        return -np.inf
    found = pool_kth_largest(scan, column, n + 1)  # exact, memory bounded by the shard
    if found is None:
        raise UserError(f"{column}: fewer than {n + 1} non-missing scores, the fraction {fraction} of {rows} rows needs them")
    return found


@dataclass
class ScoreFilter(Filter):
    column: str = "tmars_score"
    threshold: float | None = None
    fraction: float | None = None
    rows: int = 0  # pool rows, set by the engine before prepare()
    name: str = field(init=False, default="score_filter")

    def __post_init__(self):
        if (self.threshold is None) == (self.fraction is None):
            raise UserError(f"{self.name} takes exactly one of a threshold or a fraction")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise UserError(f"the fraction must be in (0, 1], got {self.fraction}")
        self.applied_threshold = self.threshold

    @property
    def columns(self):
        return (self.column,)

    @property
    def manifest_columns(self):
        return (self.column,)

    def prepare(self, scan: Scan) -> None:
        if self.fraction is not None:
            self.applied_threshold = fraction_threshold(scan, self.column, self.rows, self.fraction)

    def keep(self, table: pa.Table) -> np.ndarray:
        scores = table.column(self.column).to_numpy(zero_copy_only=False).astype(np.float64)
        return np.nan_to_num(scores, nan=-np.inf) >= self.applied_threshold

    def describe(self) -> dict:
        return {"step": self.name, "column": self.column, "threshold": self.threshold, "fraction": self.fraction, "applied_threshold": self.applied_threshold}
