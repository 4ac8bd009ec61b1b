"""Manifests that training jobs consume, written deterministically through the one writer
(`curascale.io`):

- `subset.npy`: np.save of the sorted np.dtype("u8,u8") uid array (DataComp's resharder input);
- `manifest.parquet`: uid, url, text, the scores used, bucket, repetition weight;
- `exclusions.parquet` (when asked for): uid, shard, row (1-based, within the
  shard), step and reason of every dropped row;
- `manifest.json`: pool fingerprint, the filter chain with its parameters, counts in and out per
  step, excluded rows per step and reason, faulty data per shard, duplicate uids (rows 1-based),
  notes, the sha256 of every output, the tool version. No timestamps: same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import io as memory
import json
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curascale import io
from curation.pool import sort_pairs

OUTPUT_NAMES = ("subset.npy", "manifest.parquet", "exclusions.parquet", "manifest.json")


def atomic_write(path: Path, data: bytes) -> str:
    """Write bytes atomically (`curascale.io`); returns their sha256."""
    io.write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = memory.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def subset_bytes(pairs: np.ndarray) -> bytes:
    return npy_bytes(sort_pairs(pairs))


def write_subset(path: Path, pairs: np.ndarray) -> str:
    return atomic_write(path, subset_bytes(pairs))


def write_parquet(path: Path, tables: Iterable[pa.Table], schema: pa.Schema, *, compression: str = "zstd", digest: bool = True) -> str | None:
    """Stream tables into one parquet file (atomic); returns its sha256 (None without `digest`)."""
    with io.atomic_path(path) as temporary:
        with pq.ParquetWriter(temporary, schema, compression=compression) as writer:
            for table in tables:
                writer.write_table(table.select(schema.names).cast(schema))
        return hashlib.sha256(temporary.read_bytes()).hexdigest() if digest else None


def tool_version() -> str:
    try:
        return metadata.version("curascale")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_sidecar(path: Path, record: dict[str, Any]) -> str:
    payload = {**record, "tool": "curascale", "tool_version": tool_version()}
    return atomic_write(path, (json.dumps(payload, indent=1, sort_keys=True, default=float) + "\n").encode())
