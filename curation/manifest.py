"""Manifests that training jobs consume, written atomically and deterministically:

- `subset.npy`: np.save of the sorted np.dtype("u8,u8") uid array (DataComp's resharder input);
- `manifest.parquet`: uid, url, text, the scores used, bucket, repetition weight;
- `manifest.json`: pool fingerprint, the filter chain with its parameters, counts in and out per
  step, the sha256 of every output, the tool version. No timestamps: same inputs, same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation.pool import sort_pairs


def atomic_write(path: Path, data: bytes) -> str:
    """Write bytes to a temp name beside `path`, then rename; returns their sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
    return hashlib.sha256(data).hexdigest()


def subset_bytes(pairs: np.ndarray) -> bytes:
    pairs = sort_pairs(pairs)
    buffer = io.BytesIO()
    np.save(buffer, pairs)
    return buffer.getvalue()


def write_subset(path: Path, pairs: np.ndarray) -> str:
    return atomic_write(path, subset_bytes(pairs))


def write_parquet(path: Path, tables: Iterable[pa.Table], schema: pa.Schema, *, compression: str = "zstd", digest: bool = True) -> str | None:
    """Stream tables into one parquet file (atomic); returns its sha256 (None without `digest`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with pq.ParquetWriter(temporary, schema, compression=compression) as writer:
        for table in tables:
            writer.write_table(table.select(schema.names).cast(schema))
    sha256 = hashlib.sha256(temporary.read_bytes()).hexdigest() if digest else None
    temporary.replace(path)
    return sha256


def tool_version() -> str:
    try:
        return metadata.version("curascale")
    except metadata.PackageNotFoundError:
        return "unknown"


def write_sidecar(path: Path, record: dict[str, Any]) -> str:
    payload = {**record, "tool": "curascale", "tool_version": tool_version()}
    return atomic_write(path, (json.dumps(payload, indent=1, sort_keys=True, default=float) + "\n").encode())
