"""Quality buckets by percentile of a score: edges 0,10,20,30,40 make `top0to10p` (the best 10%
of the pool), `top10to20p`, ... A bucket (lo, hi) holds the rows with t_hi <= score < t_lo, where
t_e is the score at 0-based index int(rows * e / 100) of the pool sorted descending (the same
threshold rule as the CLIP-score fraction filter; t_0 = +inf). Thresholds are exact, from one
streaming pass. Rows with a missing or out-of-range score (`curation.scores`) are in no bucket.

`names` relabels the ranges (e.g. with a fit's bucket names), `weights` gives each label a
repetition weight for the manifest, and `split=False` writes one manifest for all labels: that is
how a plan's union of buckets becomes the sample list for training.

A bucket is `degenerate` (a `bucket-degenerate` note; `register_buckets` leaves it out of the
registry) when it is not the percentile slice its name promises: its lower edge's rank reaches past
the scored rows (a mostly-null column), or ties make it hold more than twice its share, or ties
leave it empty (a constant column puts the whole pool in the top bucket).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curascale.errors import CurascaleError
from curascale.notes import Note
from curation.scores import DEFAULT_SCORE_COLUMN, SCORE_FAULTS, read_scores
from curation.steps.base import Labeler, Scan, TopValues, Verdict, finite_or_none, label_names, number, top_values


def edge_text(edge: float) -> str:
    """An edge as written in a bucket name: `:g` when that reads back as the same number (10, 2.5),
    else every digit needed (10.0049996), so distinct edges never share a name."""
    short = f"{edge:g}"
    return short if float(short) == edge else np.format_float_positional(edge, trim="-")


def bucket_name(low: float, high: float) -> str:
    return f"top{edge_text(low)}to{edge_text(high)}p"


@dataclass
class Bucketize(Labeler):
    score_column: str = DEFAULT_SCORE_COLUMN
    edges: tuple[float, ...] = (0, 10, 20, 30, 40)
    names: tuple[str, ...] | None = None
    weights: dict[str, float] | None = None
    split: bool = True
    rows: int = 0
    name: str = field(init=False, default="bucketize")
    output: str = field(init=False, default="bucket")

    def __post_init__(self):
        if isinstance(self.edges, (str, bytes)) or not hasattr(self.edges, "__iter__"):
            raise CurascaleError(f"edges must be a list of percentiles, got {self.edges!r}")
        self.edges = tuple(number(e, "edges", low=0, high=100) for e in self.edges)
        if len(self.edges) < 2:
            raise CurascaleError(f"edges needs at least two percentiles (a bucket lies between two edges, e.g. 0,50,100), got {','.join(f'{e:g}' for e in self.edges) or 'none'}")
        if list(self.edges) != sorted(set(self.edges)):
            raise CurascaleError(f"edges must increase within [0, 100], got {','.join(map(str, self.edges))}")
        if self.names is not None:
            self.names = tuple(self.names)
            if len(self.names) != len(self.edges) - 1:
                raise CurascaleError(f"{len(self.edges) - 1} ranges need as many names, got {len(self.names)}")
        label_names(self.buckets)
        if self.weights is not None:
            self.weights = {str(k): number(v, f"weights[{k!r}]", low=0) for k, v in dict(self.weights).items()}
        self.thresholds: list[float] = []
        self._top: TopValues | None = None

    @property
    def columns(self):
        return (self.score_column,)

    @property
    def manifest_columns(self):
        return (self.score_column,)

    @property
    def buckets(self) -> list[str]:
        if self.names is not None:
            return list(self.names)
        return [bucket_name(lo, hi) for lo, hi in zip(self.edges, self.edges[1:])]

    @property
    def ranks(self) -> list[int]:
        return [int(self.rows * e / 100) for e in self.edges]

    def prepare(self, scan: Scan) -> None:
        self._top = top = top_values(scan, self.score_column, min(self.rows, max(self.ranks) + 1))
        if self.rows and not top.scored:
            raise CurascaleError(f"no row of the pool has a valid {self.score_column}: every bucket would be empty")
        self.thresholds = [np.inf if e == 0 else (float(top.values[r]) if r < top.values.size else -np.inf) for e, r in zip(self.edges, self.ranks)]

    def label(self, table: pa.Table) -> np.ndarray:
        scores = read_scores(table, self.score_column)
        labels = np.full(table.num_rows, None, dtype=object)
        with np.errstate(invalid="ignore"):
            for name, upper, lower in zip(self.buckets, self.thresholds, self.thresholds[1:]):
                labels[scores.valid & (scores.values < upper) & (scores.values >= lower)] = name
        return labels

    def unlabelled(self, table: pa.Table) -> Verdict:
        codes = read_scores(table, self.score_column).codes.copy()
        codes[codes == 0] = len(SCORE_FAULTS) + 1
        return Verdict(codes, (*SCORE_FAULTS, "outside every bucket"))

    def degenerate(self, sizes: dict[str, int]) -> list[Note]:
        """One `bucket-degenerate` note per bucket that is not the slice its name promises, given
        the unique samples each bucket holds (see the module docstring)."""
        notes = []
        scored = self._top.scored if self._top is not None else self.rows
        for name, rank_lo, rank_hi in zip(self.buckets, self.ranks, self.ranks[1:]):
            share, size = rank_hi - rank_lo, sizes.get(name, 0)
            if rank_hi > scored:
                why = f"its lower edge is rank {rank_hi:,} but only {scored:,} of {self.rows:,} rows have a valid {self.score_column}"
            elif share and size > 2 * share + 1:
                why = f"ties in {self.score_column} put {size:,} samples in it, {size / share:.1f}x its share of {share:,}"
            elif share and size == 0:
                why = f"ties in {self.score_column} leave it empty (its share is {share:,} samples)"
            else:
                continue
            notes.append(Note("bucket-degenerate", f"bucket {name} is not a percentile slice of the pool: {why}; it is not registered",
                              details={"bucket": name, "samples": size, "share": share, "scored": scored, "rows": self.rows}))
        return notes

    def describe(self) -> dict:
        return {"step": self.name, "score_column": self.score_column, "edges": list(self.edges), "buckets": self.buckets, "weights": self.weights,
                "split": self.split, "thresholds": [finite_or_none(t) for t in self.thresholds]}
