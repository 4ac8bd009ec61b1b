"""DataComp's `no_filter` baseline: every sample of the pool (their apply_filter.py `load_uids`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.steps.base import Filter


@dataclass
class NoFilter(Filter):
    name: str = field(init=False, default="no_filter")

    @property
    def columns(self):
        return ()

    def keep(self, table: pa.Table) -> np.ndarray:
        return np.ones(table.num_rows, dtype=bool)
