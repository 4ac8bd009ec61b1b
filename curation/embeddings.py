"""The CLIP embeddings DataComp ships beside each metadata shard: `<shard>.npz` next to
`<shard>.parquet`, with one row per parquet row, in the parquet's row order.

Keys (DataComp's `download_upstream.py` layout): `b32_img`, `b32_txt` (CLIP ViT-B/32, 512 wide)
and `l14_img`, `l14_txt` (CLIP ViT-L/14, 768 wide), L2-normalised image and text features.
DataComp stores them as float16; they are read here as float32 (the dtype DataComp's
image-based baseline computes in). A key is requested like a parquet column: `Pool.read(shard,
["uid", "l14_img"])` returns the embedding as a fixed-size-list<float32> column, so it follows
the rows through every step's `take`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from curascale.errors import UserError

EMBEDDING_KEYS = ("b32_img", "b32_txt", "l14_img", "l14_txt")
EMBEDDING_FAULT = "embedding not finite"  # a row whose embedding holds NaN or inf: faulty data, counted per shard like a null score


def npz_path(shard: str | Path) -> Path:
    """The embeddings file of a parquet shard: the same name with `.npz`."""
    return Path(shard).with_suffix(".npz")


def read_embeddings(shard: str | Path, key: str, rows: int, *, opener=open) -> np.ndarray:
    """`key`'s (rows, width) float32 matrix from the `.npz` beside `shard`.

    Errors (one line, naming the shard and the npz): no such file, an unreadable npz, a missing
    key, not a 2-D matrix, or a row count different from the parquet's `rows`.
    `opener(path, mode)` opens the file (an fsspec filesystem's `open` for remote pools)."""
    if key not in EMBEDDING_KEYS:
        raise UserError(f"embedding key must be one of {', '.join(EMBEDDING_KEYS)}, got {key!r}")
    path = npz_path(shard)
    try:
        with opener(str(path), "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            keys = archive.files
            matrix = archive[key] if key in keys else None
    except FileNotFoundError:
        raise UserError(f"{shard}: no embeddings file {path} (needed for '{key}')") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: not a readable npz file ({str(error).splitlines()[0]})") from None
    if matrix is None:
        raise UserError(f"{path}: no '{key}' embeddings (has: {', '.join(keys) or 'nothing'}) for shard {shard}")
    if matrix.ndim != 2:
        raise UserError(f"{path}: '{key}' must be a 2-D matrix, got shape {matrix.shape}")
    if matrix.shape[0] != rows:
        raise UserError(f"{path}: '{key}' has {matrix.shape[0]} rows but shard {shard} has {rows}; the embeddings must be row-aligned with the parquet")
    return np.ascontiguousarray(matrix, dtype=np.float32)


def embedding_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A (rows, width) matrix as an arrow fixed-size-list<float32>[width] column."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])


def embedding_matrix(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The (rows, width) float32 matrix of an embedding column (after any `take`)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    width = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)


def finite_rows(matrix: np.ndarray) -> np.ndarray:
    """(rows,) bool: the rows of a (rows, width) embedding matrix with every value finite."""
    return np.isfinite(matrix).all(axis=1)


def with_embeddings(table: pa.Table, shard: str | Path, keys, *, opener=open) -> pa.Table:
    """`table` (all rows of `shard`, in order) with the embedding columns `keys` appended."""
    for key in keys:
        table = table.append_column(key, embedding_column(read_embeddings(shard, key, table.num_rows, opener=opener)))
    return table
