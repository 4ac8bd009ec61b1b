"""Quality buckets by percentile of a score: edges 0,10,20,30,40 make `top0to10p` (the best 10%
of the pool), `top10to20p`, ... A bucket (lo, hi) holds the rows with t_hi <= score < t_lo, where
t_e is the score at 0-based index int(rows * e / 100) of the pool sorted descending (the same
threshold rule as the CLIP-score fraction filter; t_0 = +inf). Thresholds are exact, from one
streaming pass.

`names` relabels the ranges (e.g. with a fit's bucket names), `weights` gives each label a
repetition weight for the manifest, and `split=False` writes one manifest for all labels: that is
how a plan's union of buckets becomes the sample list for training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curascale.errors import UserError
from curation.steps.base import Labeler, Scan, top_values


def bucket_name(low: float, high: float) -> str:
    return f"top{low:g}to{high:g}p"


@dataclass
class Bucketize(Labeler):
    by: str = "clip_l14_similarity_score"
    edges: tuple[float, ...] = (0, 10, 20, 30, 40)
    names: tuple[str, ...] | None = None
    weights: dict[str, float] | None = None
    split: bool = True
    rows: int = 0
    name: str = field(init=False, default="bucketize")
    output: str = field(init=False, default="bucket")

    def __post_init__(self):
        self.edges = tuple(float(e) for e in self.edges)
        if len(self.edges) < 2 or list(self.edges) != sorted(set(self.edges)) or self.edges[0] < 0 or self.edges[-1] > 100:
            raise UserError(f"--edges must increase within [0, 100], got {','.join(map(str, self.edges))}")
        if self.names is not None and len(self.names) != len(self.edges) - 1:
            raise UserError(f"{len(self.edges) - 1} ranges need as many names, got {len(self.names)}")
        self.thresholds: list[float] = []

    @property
    def columns(self):
        return (self.by,)

    @property
    def manifest_columns(self):
        return (self.by,)

    @property
    def buckets(self) -> list[str]:
        if self.names is not None:
            return list(self.names)
        return [bucket_name(lo, hi) for lo, hi in zip(self.edges, self.edges[1:])]

    def prepare(self, scan: Scan) -> None:
        ranks = [int(self.rows * e / 100) for e in self.edges]
        top = top_values(scan, self.by, min(self.rows, max(ranks) + 1))
        self.thresholds = [np.inf if e == 0 else (float(top[r]) if r < top.size else -np.inf) for e, r in zip(self.edges, ranks)]

    def label(self, table: pa.Table) -> np.ndarray:
        scores = table.column(self.by).to_numpy(zero_copy_only=False)
        labels = np.full(len(scores), None, dtype=object)
        for name, upper, lower in zip(self.buckets, self.thresholds, self.thresholds[1:]):
            labels[(scores < upper) & (scores >= lower)] = name
        return labels

    def describe(self) -> dict:
        return {"step": self.name, "by": self.by, "edges": list(self.edges), "buckets": self.buckets, "weights": self.weights,
                "split": self.split, "thresholds": [None if not np.isfinite(t) else t for t in self.thresholds]}
