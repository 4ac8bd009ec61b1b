"""DataComp-format pools: a folder of parquet shards (+ optional .npz embeddings beside each).

Columns: uid (32 hex digits), url, text, original_width, original_height, sha256,
clip_b32_similarity_score, clip_l14_similarity_score, face_bboxes. A uid goes into subset files
as two big-endian halves (int(uid[:16], 16), int(uid[16:], 16)) in a sorted np.dtype("u8,u8")
array, as DataComp's resharder expects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curascale.errors import UserError

UID_DTYPE = np.dtype("u8,u8")


def _lower_hex(digits: bytes) -> bool:
    """Whether every byte is one of 0-9 a-f (deleting those leaves nothing; one C pass)."""
    return not digits.translate(None, b"0123456789abcdef")
POOL_COLUMNS = (
    "uid", "url", "text", "original_width", "original_height", "sha256",
    "clip_b32_similarity_score", "clip_l14_similarity_score", "face_bboxes",
)


def uid_pairs(uids: pa.Array | pa.ChunkedArray | Sequence[str], *, shard: str = "pool") -> np.ndarray:
    """32-hex uids -> structured (u8, u8) array, vectorised; a malformed uid names its shard and
    row (1-based)."""
    import pyarrow.compute as pc

    array = pa.array(uids, type=pa.string()) if not isinstance(uids, (pa.Array, pa.ChunkedArray)) else uids
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    array = array.cast(pa.string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    digits = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].tobytes() if len(array) else b""
    if array.null_count or not (np.diff(offsets) == 32).all() or not _lower_hex(digits):
        valid = pc.fill_null(pc.match_substring_regex(array, r"^[0-9a-f]{32}$"), False).to_numpy(zero_copy_only=False)
        row = int(np.flatnonzero(~valid)[0])
        raise UserError(f"{shard}, row {row + 1}: malformed uid {array[row].as_py()!r} (expected 32 lowercase hex digits)")
    halves = np.frombuffer(bytes.fromhex(digits.decode("ascii")), dtype=">u8").reshape(len(array), 2)
    out = np.empty(len(array), dtype=UID_DTYPE)
    out["f0"], out["f1"] = halves[:, 0], halves[:, 1]
    return out


def sort_pairs(pairs: np.ndarray) -> np.ndarray:
    """Sorted (u8, u8) uids, as np.sort would order them, much faster: one argsort on the high
    half, and the exact two-key sort only when high halves repeat."""
    pairs = np.asarray(pairs, dtype=UID_DTYPE)
    order = np.argsort(pairs["f0"], kind="stable")
    ordered = pairs[order]
    high = ordered["f0"]
    if high.size > 1 and np.any(high[1:] == high[:-1]):
        ordered = pairs[np.lexsort((pairs["f1"], pairs["f0"]))]
    return ordered


def pair_to_uid(pair) -> str:
    return f"{int(pair[0]):016x}{int(pair[1]):016x}"


@dataclass(frozen=True)
class Pool:
    """A pool on disk: its directory and sorted shard paths."""

    root: Path
    shards: tuple[Path, ...]
    fs: object = None  # an fsspec filesystem when the pool was given as a URL (curation/fs.py)

    @classmethod
    def open(cls, root: str | Path) -> "Pool":
        from curation.fs import is_url, remote_files

        if is_url(root):
            fs, folder, shards = remote_files(root, "*.parquet")
            if not shards:
                raise UserError(f"{root}: no parquet shards in the pool")
            return cls(folder, shards, fs)
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"{root}: no such pool directory")
        shards = tuple(sorted(root.glob("*.parquet")))
        if not shards:
            raise UserError(f"{root}: no parquet shards in the pool")
        return cls(root, shards)

    @property
    def name(self) -> str:
        return self.root.name

    def read(self, shard: Path, columns: Iterable[str]) -> pa.Table:
        """The named columns of one shard, or a one-line error naming the shard; an embedding key
        (`l14_img`, ...) comes from the shard's `.npz`, row-aligned (see curation/embeddings.py)."""
        from curation.embeddings import EMBEDDING_KEYS, with_embeddings
        from curation.fs import opener

        columns = list(dict.fromkeys(columns))
        embeddings = [c for c in columns if c in EMBEDDING_KEYS]  # from the .npz beside the shard
        columns = [c for c in columns if c not in EMBEDDING_KEYS]
        try:
            schema = pq.read_schema(str(shard) if self.fs else shard, filesystem=self.fs)
        except Exception as error:
            raise UserError(f"{shard}: not a readable parquet file ({str(error).splitlines()[0]})") from error
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise UserError(f"{shard}: missing column {', '.join(repr(c) for c in missing)}")
        try:
            table = pq.read_table(str(shard) if self.fs else shard, columns=columns, filesystem=self.fs)
        except Exception as error:
            raise UserError(f"{shard}: corrupt parquet data ({str(error).splitlines()[0]})") from error
        return with_embeddings(table, shard, embeddings, opener=opener(self.fs)) if embeddings else table

    def rows(self) -> int:
        from curation.fs import opener

        total = 0
        for shard in self.shards:
            try:
                with opener(self.fs)(shard, "rb") as handle:
                    total += pq.ParquetFile(handle).metadata.num_rows
            except Exception as error:
                raise UserError(f"{shard}: not a readable parquet file ({str(error).splitlines()[0]})") from error
        return total

    def fingerprint(self) -> str:
        """sha256 over every shard's name, size and parquet footer (schema, row groups, column
        chunk offsets, sizes and statistics): changes with any rewrite of a shard, without
        reading the pool's data."""
        from curation.fs import opener, size as file_size

        digest = hashlib.sha256()
        for shard in self.shards:
            size = file_size(self.fs, shard)
            with opener(self.fs)(shard, "rb") as handle:
                handle.seek(max(0, size - 8))
                tail = handle.read(8)
                if len(tail) < 8 or tail[4:] != b"PAR1":
                    raise UserError(f"{shard}: not a readable parquet file (no parquet footer)")
                footer = int.from_bytes(tail[:4], "little")
                handle.seek(max(0, size - 8 - footer))
                digest.update(shard.name.encode() + b"\0" + str(size).encode() + b"\0" + handle.read(footer + 8))
        return digest.hexdigest()
