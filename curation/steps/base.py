"""The step interface (datatrove style): a pipeline is a list of steps run by an engine.

A step names the columns it reads and, per shard, returns a boolean mask of rows to keep
(`Filter`) or a label per row (`Labeler`). A step that needs the whole pool first (a global
threshold) implements `prepare(scan)`, where `scan(columns)` streams the pool shard by shard;
the engine calls it before any shard is filtered. `describe()` is what the sidecar records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa

Scan = Callable[[tuple[str, ...]], Iterator[pa.Table]]


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

    def describe(self) -> dict:
        return {"step": self.name, **{k: v for k, v in asdict(self).items() if k != "name"}}


@dataclass
class Filter(Step):
    def keep(self, table: pa.Table) -> np.ndarray:
        """Boolean mask of the rows to keep."""
        raise NotImplementedError

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


def top_values(scan: Scan, column: str, count: int) -> np.ndarray:
    """The `count` largest values of a column over the whole pool, descending, in one streaming
    pass; memory grows with `count`, not with the pool. Shards are merged in batches of about
    `count` values; once `count` values are held, only values above the smallest of them can
    enter (a value equal to it would not change the multiset). NaN (a missing score) is skipped."""
    best, pending, pending_size, floor = np.empty(0), [], 0, -np.inf

    def merge(best, pending):
        merged = np.concatenate([best, *pending])
        return np.partition(merged, merged.size - count)[merged.size - count :] if merged.size > count else merged

    for table in scan((column,)):
        values = table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)
        values = values[values > floor]  # also drops missing (NaN) scores, which are never kept
        pending.append(values)
        pending_size += values.size
        if pending_size >= count:
            best, pending, pending_size = merge(best, pending), [], 0
            floor = best.min() if best.size == count else -np.inf
    return -np.sort(-merge(best, pending))


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
