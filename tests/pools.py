"""Small pools for curation tests: a demo pool's rows with chosen uids and scores."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.demo import demo_shard


def write_shards(root: Path, shards: list[dict], seed: int = 0) -> Path:
    """One parquet shard per dict of column overrides (each dict: column -> list of values, all
    the same length: that is the shard's row count); other columns come from the demo pool."""
    root.mkdir(parents=True, exist_ok=True)
    for index, columns in enumerate(shards):
        rows = len(next(iter(columns.values())))
        table = demo_shard(np.random.default_rng([seed, index]), rows)
        for name, values in columns.items():
            kind = pa.float32() if name.startswith("clip_") else table.schema.field(name).type if name in table.column_names else None
            array = pa.array(values, type=kind)
            table = table.set_column(table.schema.get_field_index(name), name, array) if name in table.column_names else table.append_column(name, array)
        pq.write_table(table, root / f"{index:08d}.parquet")
    return root


def datacomp_uids(uids) -> np.ndarray:
    """DataComp's conversion (baselines/apply_filter.py): int(uid[:16], 16), int(uid[16:32], 16), sorted."""
    return np.sort(np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], np.dtype("u8,u8")))
