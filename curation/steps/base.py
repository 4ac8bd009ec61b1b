"""The step interface (datatrove style): a pipeline is a list of steps run by an engine.

A step names the columns it reads and, per shard, returns a `Verdict` (keep, or the rule that
dropped each row: `Filter.judge`) or a label per row (`Labeler`). A step that needs the whole pool
first (a global threshold) implements `prepare(scan)`, where `scan(columns)` streams the pool
shard by shard; the engine calls it before any shard is filtered. `describe()` is what the
sidecar records, `notes()` the warnings the step found (e.g. a capped fraction).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

from curascale.errors import CurascaleError
from curascale.notes import Note
from curation.embeddings import EMBEDDING_FAULT
from curation.scores import read_scores

Scan = Callable[[tuple[str, ...]], Iterator[pa.Table]]

# reasons that say the pool's data is faulty (not that a rule judged the sample): the engine
# reports them per shard
DATA_FAULTS = frozenset({"null score", "score out of range", "caption missing", "image size missing", EMBEDDING_FAULT})


def number(value, name: str, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False, integer: bool = False) -> float:
    """`value` as a finite number within [low, high] (or (low, high] with `low_open`), or a
    one-line error naming the parameter and the value (a string, NaN, a bool: all refused)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    ok = ok and math.isfinite(value) and (not integer or float(value).is_integer())
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        bounds = "" if (low, high) == (-math.inf, math.inf) else f" in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise CurascaleError(f"{name} must be {kind}{bounds}, got {value!r}")
    return int(value) if integer else float(value)


def finite_or_none(value: float | None) -> float | None:
    """A threshold for JSON records: None stands for an infinite one (keep all, or none above)."""
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class Verdict:
    """A step's decision on each row of a table: `codes` (n,) uint8, 0 keeps the row and k > 0
    drops it for `reasons[k - 1]` (the rule, in words: "caption too short", "null score", ...)."""

    codes: np.ndarray
    reasons: tuple[str, ...]

    @property
    def kept(self) -> np.ndarray:
        return self.codes == 0

    def reason_of(self) -> np.ndarray:
        """The reason of every row as an object array (None where kept)."""
        names = np.array([None, *self.reasons], dtype=object)
        return names[self.codes]


def refine(first: Verdict, rows: np.ndarray, second: Verdict) -> Verdict:
    """`first`, with the rows it kept at `rows` judged again by `second` (a verdict on those rows
    alone, in order): every row carries the first rule it failed, `first`'s rules before `second`'s."""
    codes = first.codes.copy()
    codes[rows] = np.where(second.codes == 0, 0, second.codes.astype(np.int64) + len(first.reasons))
    return Verdict(codes.astype(np.uint8), (*first.reasons, *second.reasons))


@dataclass
class Step:
    name: str = field(init=False, default="step")

    @property
    def columns(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def manifest_columns(self) -> tuple[str, ...]:
        """The scores this step used, carried into the parquet manifest (default: none)."""
        return ()

    def prepare(self, scan: Scan) -> None:
        """A pass over the whole pool before filtering (default: none needed)."""

    def notes(self) -> list[Note]:
        """Warnings found by `prepare` (default: none)."""
        return []

    def describe(self) -> dict:
        return {"step": self.name, **{k: v for k, v in asdict(self).items() if k != "name"}}


@dataclass
class Filter(Step):
    """Override `judge` (a reason per dropped row) or `keep` (a mask; one reason, the step's)."""

    def keep(self, table: pa.Table) -> np.ndarray:
        """Boolean mask of the rows to keep."""
        return self.judge(table).kept

    def judge(self, table: pa.Table) -> Verdict:
        """Keep or the reason for dropping, per row."""
        return Verdict((~np.asarray(self.keep(table), dtype=bool)).astype(np.uint8), (self.reason(),))

    def reason(self) -> str:
        return self.name


@dataclass
class Labeler(Step):
    """Labels rows; `buckets` lists the labels, `weights` maps a label to its repetition weight
    (default 1), and `split` writes one set of manifests per label (else one for all)."""

    output: str = field(init=False, default="label")
    split = True
    weights = None

    def label(self, table: pa.Table) -> np.ndarray:
        """One label per row (None: the row belongs to no label and is dropped)."""
        raise NotImplementedError

    def unlabelled(self, table: pa.Table) -> Verdict:
        """Why each row would get no label (read only where `label` gave None)."""
        return Verdict(np.ones(table.num_rows, dtype=np.uint8), ("outside every bucket",))


def label_names(names) -> None:
    """Labels become folder names under the output folder: each must be a plain name (not
    empty, no path separator, no leading dot, no control character, at most 255 bytes) and name one
    bucket only."""
    names = list(names)
    for name in names:
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name \
                or any(ord(c) < 32 or ord(c) == 127 for c in name) or len(name.encode()) > 255:
            raise CurascaleError(f"bucket name {name!r} cannot be a folder name (a plain name: no '/', no leading '.')")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CurascaleError(f"bucket names collide: {', '.join(map(repr, repeated))} names more than one range; each bucket needs its own name")


@dataclass(frozen=True)
class TopValues:
    """The largest valid scores of a column, descending (float64), and how many rows had a valid,
    missing or out-of-range score (see `curation.scores`)."""

    values: np.ndarray
    scored: int
    missing: int
    out_of_range: int


def top_values(scan: Scan, column: str, count: int) -> TopValues:
    """The `count` largest valid values of a column over the whole pool, descending, in one
    streaming pass; memory grows with `count`, not with the pool. Shards are merged in batches of
    about `count` values; once `count` values are held, only values above the smallest of them can
    enter (a value equal to it would not change the multiset). Missing (null, NaN) and
    out-of-range scores are counted and skipped: they are never kept."""
    best, pending, pending_size, floor = np.empty(0), [], 0, -np.inf
    counts = np.zeros(3, dtype=np.int64)

    def merge(best, pending):
        merged = np.concatenate([best, *pending])
        return np.partition(merged, merged.size - count)[merged.size - count :] if merged.size > count else merged

    for table in scan((column,)):
        scores = read_scores(table, column)
        counts += np.bincount(scores.codes, minlength=3)
        values = scores.values[scores.valid].astype(np.float64)
        values = values[values > floor] if count else values[:0]
        pending.append(values)
        pending_size += values.size
        if count and pending_size >= count:
            best, pending, pending_size = merge(best, pending), [], 0
            floor = best.min() if best.size == count else -np.inf
    top = -np.sort(-merge(best, pending)) if count else np.empty(0)
    return TopValues(top, int(counts[0]), int(counts[1]), int(counts[2]))


# ---- steps over image batches (the T-MARS pipeline) ------------------------------------------
Batch = dict[str, list]


@dataclass
class ImageStep:
    """A step over a batch of images: a dict of columns, one list entry per sample, returned with
    the step's output columns added. Rows whose `error` is set (an unreadable image) pass through
    untouched. Outputs must not depend on how rows are batched beyond float rounding, nor on
`threads`. `outputs()` maps each new column to its parquet type, or None for a transient
    column (an image) that is not stored. A `heavy` step loads a model in `setup()`: engines call
    it once per worker (Ray: one actor pool per heavy step); `uses_gpu` asks for GPUs there."""

    name: str = field(init=False, default="image_step")
    heavy = False
    uses_gpu = False

    def outputs(self) -> dict[str, pa.DataType | None]:
        raise NotImplementedError

    def setup(self, threads: int | None = None) -> None:
        """Load models (default: nothing to load); `threads`: the CPU threads this worker may use
        (None: the library's default)."""

    def __call__(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"step": self.name, **{k: v for k, v in asdict(self).items() if k != "name"}}


def readable(batch: Batch) -> list[int]:
    """Indices of the rows without an error."""
    errors = batch.get("error") or [None] * len(batch["key"])
    return [i for i, error in enumerate(errors) if error is None]


def with_column(batch: Batch, name: str, rows: list[int], values: list, fill=None) -> Batch:
    """`batch` plus a column holding `values` at `rows` and `fill` elsewhere."""
    column = [fill] * len(batch["key"])
    for row, value in zip(rows, values):
        column[row] = value
    return {**batch, name: column}
