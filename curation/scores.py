"""Score columns: their names, the values they can hold, and the rule that compares them.

- `CLIP_SCORE_COLUMNS`: the pool's precomputed CLIP scores by architecture (DataComp's names);
  the one definition every step, the demo pool and the WebDataset reader use.
- A CLIP score is a cosine similarity, so it lies in [-1, 1] (`score_range`); any score must be
  a finite number. `read_scores` marks each row valid, missing (null or NaN) or out of range:
  such rows are never kept by a score rule, and the engine counts them per shard.
- `at_least` compares in the column's stored dtype, as DataComp's pandas comparison
  `df[key] >= threshold` does: a float32 score equal to float32(threshold) is kept even where
  float32(threshold) < threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from curascale.errors import CurascaleError

if TYPE_CHECKING:  # numpy and pyarrow load where scores are read, so the CLI starts fast
    import numpy as np
    import pyarrow as pa

CLIP_SCORE_COLUMNS = {"b32": "clip_b32_similarity_score", "l14": "clip_l14_similarity_score"}
DEFAULT_SCORE_COLUMN = CLIP_SCORE_COLUMNS["l14"]
COSINE_COLUMNS = frozenset({*CLIP_SCORE_COLUMNS.values(), "tmars_score", "clip_score"})

VALID, MISSING, OUT_OF_RANGE = 0, 1, 2
SCORE_FAULTS = ("null score", "score out of range")  # the reasons of codes MISSING and OUT_OF_RANGE


def clip_score_column(arch: str) -> str:
    """The pool column of a CLIP architecture ('b32' or 'l14'); an error names the parameter."""
    if arch not in CLIP_SCORE_COLUMNS:
        raise CurascaleError(f"arch must be one of {', '.join(CLIP_SCORE_COLUMNS)}, got {arch!r}")
    return CLIP_SCORE_COLUMNS[arch]


def score_range(column: str) -> tuple[float, float]:
    """The closed interval a column's scores can lie in: [-1, 1] for cosine similarities (CLIP,
    T-MARS), else any finite number."""
    return (-1.0, 1.0) if column in COSINE_COLUMNS else (-math.inf, math.inf)


@dataclass(frozen=True)
class Scores:
    """One shard's scores: `values` (n,) in the stored float dtype (integers as float64), and
    `codes` (n,) uint8: VALID, MISSING or OUT_OF_RANGE per row."""

    values: np.ndarray
    codes: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.codes == VALID


def read_scores(table: pa.Table, column: str) -> Scores:
    """The scores of `column` in `table`; a column that does not hold numbers is an error naming it."""
    import numpy as np
    import pyarrow as pa

    array = table.column(column)
    if not (pa.types.is_floating(array.type) or pa.types.is_integer(array.type) or pa.types.is_null(array.type)):
        raise CurascaleError(f"column {column!r} holds {array.type}, not numbers")
    values = array.to_numpy(zero_copy_only=False)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    low, high = score_range(column)
    codes = np.zeros(values.size, dtype=np.uint8)
    missing = np.isnan(values)
    codes[missing] = MISSING
    with np.errstate(invalid="ignore"):
        codes[~missing & ~((values >= low) & (values <= high) & np.isfinite(values))] = OUT_OF_RANGE
    return Scores(values, codes)


def at_least(values: np.ndarray, threshold: float) -> np.ndarray:
    """values >= threshold, compared in the dtype of `values` (DataComp's pandas comparison)."""
    import numpy as np

    with np.errstate(invalid="ignore", over="ignore"):  # a threshold past float32's range becomes +-inf, as in pandas
        return values >= np.asarray(threshold, dtype=values.dtype)
