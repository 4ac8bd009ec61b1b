"""DataComp-format pools: a folder of parquet shards (+ optional .npz embeddings beside each).

Columns: uid (32 hex digits), url, text, original_width, original_height, sha256,
clip_b32_similarity_score, clip_l14_similarity_score, face_bboxes. A uid goes into subset files
as two big-endian halves (int(uid[:16], 16), int(uid[16:], 16)) in a sorted np.dtype("u8,u8")
array, as DataComp's resharder expects. Hex digits may be upper or lower case (DataComp's
`int(uid, 16)` accepts both); outputs write them lower-case.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curascale.errors import UserError
from curation.scores import CLIP_SCORE_COLUMNS

UID_DTYPE = np.dtype("u8,u8")


def _hex(digits: bytes) -> bool:
    """Whether every byte is one of 0-9 a-f A-F (deleting those leaves nothing; one C pass)."""
    return not digits.translate(None, b"0123456789abcdefABCDEF")


POOL_COLUMNS = ("uid", "url", "text", "original_width", "original_height", "sha256", *CLIP_SCORE_COLUMNS.values(), "face_bboxes")


def uid_pairs(uids: pa.Array | pa.ChunkedArray | Sequence[str], *, shard: str = "pool") -> np.ndarray:
    """32-hex uids -> structured (u8, u8) array, vectorised; a malformed uid names its shard and
    row (1-based)."""
    import pyarrow.compute as pc

    array = pa.array(uids, type=pa.string()) if not isinstance(uids, (pa.Array, pa.ChunkedArray)) else uids
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    text = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    if not (pa.types.is_string(text) or pa.types.is_large_string(text) or pa.types.is_null(text)):  # the one check of a uid column's type
        raise UserError(f"{shard}: column 'uid' holds {array.type}, expected 32-hex strings")
    array = array.cast(pa.string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    digits = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].tobytes() if len(array) else b""
    if array.null_count or not (np.diff(offsets) == 32).all() or not _hex(digits):
        valid = pc.fill_null(pc.match_substring_regex(array, r"^[0-9a-fA-F]{32}$"), False).to_numpy(zero_copy_only=False)
        row = int(np.flatnonzero(~valid)[0])
        raise UserError(f"{shard}, row {row + 1}: malformed uid {array[row].as_py()!r} (expected 32 hex digits)")
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
class Duplicate:
    """A uid held by more than one row: `copies` are (part index, 0-based row) in pool order."""

    pair: tuple[int, int]
    copies: tuple[tuple[int, int], ...]

    @property
    def uid(self) -> str:
        return pair_to_uid(self.pair)


def duplicate_uids(parts: Sequence[np.ndarray]) -> list[Duplicate]:
    """Every uid that occurs more than once in `parts` (one (u8, u8) array per shard, in row
    order), ordered by its first copy. One stable argsort on the high halves; the exact two-key
    comparison only among rows whose high halves repeat (rare for random uids). Memory: about
    32 bytes per row of the pool (the uids and one sort)."""
    sizes = [len(part) for part in parts]
    if not sum(sizes):
        return []
    pairs = np.concatenate([np.asarray(part, dtype=UID_DTYPE) for part in parts])
    high = np.sort(pairs["f0"])  # the common case, no repeated high half, needs only this (SIMD) sort
    if not (high[1:] == high[:-1]).any():
        return []
    order = np.argsort(pairs["f0"], kind="stable")
    high = pairs["f0"][order]
    repeated = high[1:] == high[:-1]
    if not repeated.any():
        return []
    flagged = np.zeros(pairs.size, dtype=bool)
    flagged[1:] |= repeated
    flagged[:-1] |= repeated
    candidates = np.sort(order[flagged])  # global positions, pool order
    sub = pairs[candidates]
    ranked = candidates[np.lexsort((candidates, sub["f1"], sub["f0"]))]
    starts = np.cumsum([0, *sizes])
    found = []
    begin = 0
    for end in range(1, ranked.size + 1):
        if end == ranked.size or pairs[ranked[end]] != pairs[ranked[begin]]:
            if end - begin > 1:
                copies = tuple((int(np.searchsorted(starts, g, side="right") - 1), int(g - starts[np.searchsorted(starts, g, side="right") - 1])) for g in ranked[begin:end])
                found.append((int(ranked[begin]), Duplicate((int(pairs[ranked[begin]][0]), int(pairs[ranked[begin]][1])), copies)))
            begin = end
    return [duplicate for _, duplicate in sorted(found, key=lambda item: item[0])]


def _narrow(kind: pa.DataType) -> pa.DataType:
    """The 32-bit-offset twin of a 64-bit-offset type (large_string -> string, large_binary ->
    binary, large_list -> list, inside lists, structs and dictionaries too); other types as they are."""
    if pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_narrow(kind.value_type)))
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(kind.value_field.with_type(_narrow(kind.value_type)), kind.list_size)
    if pa.types.is_struct(kind):
        return pa.struct([kind.field(i).with_type(_narrow(kind.field(i).type)) for i in range(kind.num_fields)])
    if pa.types.is_dictionary(kind):
        return pa.dictionary(kind.index_type, _narrow(kind.value_type), kind.ordered)
    return kind


def with_narrow_types(table: pa.Table) -> pa.Table:
    """`table` with string, binary and list columns in their 32-bit-offset types, whichever of
    the two the writer chose (pandas 3 and polars write large_string): the ONE place a pool's
    column types are made uniform, so every table built from pool columns (manifests, exclusions,
    subsets, scores) meets one type."""
    schema = pa.schema([field.with_type(_narrow(field.type)) for field in table.schema], metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)


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
        if root.exists() and not root.is_dir():
            raise UserError(f"{root}: is a file, not a folder; give the pool's folder of parquet shards")
        if not root.is_dir():
            raise UserError(f"{root}: no such pool directory")
        shards = tuple(sorted(root.glob("*.parquet")))
        if not shards:
            raise UserError(f"{root}: no parquet shards in the pool")
        return cls(root, shards)

    @property
    def location(self) -> str | Path:
        """The pool's folder as the user gave it: a URL for a remote pool, else the local path."""
        return self.fs.unstrip_protocol(str(self.root)) if self.fs is not None else self.root

    @property
    def name(self) -> str:
        return self.root.name

    def read(self, shard: Path, columns: Iterable[str]) -> pa.Table:
        """The named columns of one shard (text and binary columns as string and binary whether
        the file holds them large or not: `with_narrow_types`), or a one-line error naming the shard; an embedding key
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
        try:
            table = with_narrow_types(table)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:  # a column past 2 GiB in one row group
            raise UserError(f"{shard}: a text or binary column cannot be read as 32-bit offsets ({str(error).splitlines()[0]}); write smaller row groups") from error
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

    def fingerprint(self, cache: str | os.PathLike | None = "user") -> str:
        """sha256 over every shard (sorted by name) of its name, NUL, its size in decimal, NUL, a
        token of its content, NUL: changes when any byte of any shard changes, when a shard is
        renamed, added or removed.

        The token (`shard_token`) is "blake2b:" + the blake2b-256 of the shard's bytes (streamed),
        or, on a remote filesystem that publishes one, the file's checksum ("etag:...",
        "md5hash:..."; no data read). Hashing a local pool reads it once: the hashes are kept in
        `cache`, a JSON file keyed by (path, size, mtime_ns, ctime_ns, inode), so a rerun reads
        only the shards that changed. `cache`: "user" (default: one file per pool under
        $XDG_CACHE_HOME/curascale/pool-hashes/), a path, or None (no cache). Errors: a shard that
        is not parquet (no closing magic) is a `UserError` naming it."""
        from curation.fs import size as file_size

        if cache == "user":
            cache = None if self.fs else default_hash_cache(self.root)
        known = _read_hash_cache(cache) if cache is not None else {}
        kept = {}
        digest = hashlib.sha256()
        for shard in self.shards:
            token, entry = (shard_token(self.fs, shard), None) if self.fs else _local_token(shard, known.get(str(Path(shard).resolve())))
            if entry is not None:
                kept[str(Path(shard).resolve())] = entry
            digest.update(shard.name.encode() + b"\0" + str(file_size(self.fs, shard)).encode() + b"\0" + token.encode() + b"\0")
        if cache is not None and kept != known:  # the pool's current shards only
            _write_hash_cache(cache, kept)
        return digest.hexdigest()


# ---- content tokens for the fingerprint ---------------------------------------------------------
HASH_CHUNK = 1 << 20  # bytes read at a time
STABLE_NS = 2_000_000_000  # a shard modified less than this before it was hashed is not cached:
# a rewrite within the same clock tick can leave size, mtime and inode as they were ("racy git")
HASH_CACHE_FORMAT = 1
REMOTE_CHECKSUMS = ("ETag", "etag", "md5Hash", "md5", "crc32c", "checksum", "blob_id")  # fsspec info keys, first found wins


def content_hash(handle, name) -> str:
    """blake2b-256 hex digest of a binary file's bytes, read in HASH_CHUNK pieces; `name` names
    it in the error raised when the bytes do not end with parquet's closing magic."""
    digest = hashlib.blake2b(digest_size=32)
    tail = b""
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
        tail = (tail + chunk)[-8:]
    if len(tail) < 8 or tail[4:] != b"PAR1":
        raise UserError(f"{name}: not a readable parquet file (no parquet footer)")
    return digest.hexdigest()


def shard_token(fs, shard) -> str:
    """The content token of one shard: the remote filesystem's checksum when it publishes one,
    else "blake2b:" + `content_hash` of its bytes."""
    from curation.fs import opener

    if fs is not None:
        info = fs.info(str(shard))
        for key in REMOTE_CHECKSUMS:
            if info.get(key):
                return f"{key.lower()}:{str(info[key]).strip(chr(34))}"
    with opener(fs)(shard, "rb") as handle:
        return "blake2b:" + content_hash(handle, shard)


def _stat_key(status: os.stat_result) -> dict:
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "ctime_ns": status.st_ctime_ns, "inode": status.st_ino}


def _local_token(shard: Path, entry: dict | None) -> tuple[str, dict | None]:
    """(token, the cache entry to keep or None) of a local shard: the cached hash when its stat
    key is unchanged, else a fresh hash, cached only when the shard was stable while it was read."""
    status = os.stat(shard)
    if entry is not None and {k: entry.get(k) for k in ("size", "mtime_ns", "ctime_ns", "inode")} == _stat_key(status):
        return entry["token"], entry
    started = time.time_ns()
    token = shard_token(None, shard)
    after = os.stat(shard)
    stable = _stat_key(after) == _stat_key(status) and after.st_mtime_ns < started - STABLE_NS
    return token, ({**_stat_key(after), "token": token} if stable else None)


def default_hash_cache(root: Path) -> Path:
    """The user-cache file of a local pool's shard hashes (one per pool folder)."""
    from curascale.io import cache_directory

    return cache_directory("pool-hashes", hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16] + ".json")


def _read_hash_cache(path) -> dict:
    """The cached entries, {} when the file is missing or unreadable (a cache is never an error)."""
    try:
        record = json.loads(Path(path).read_text())
        return dict(record["shards"]) if record.get("format") == HASH_CACHE_FORMAT else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _write_hash_cache(path, entries: dict) -> None:
    """Write the cache through curascale.io; a cache that cannot be written is skipped."""
    from curascale.errors import CurascaleError
    from curascale.io import write_json

    try:
        write_json(path, {"format": HASH_CACHE_FORMAT, "shards": dict(sorted(entries.items()))})
    except (CurascaleError, OSError):
        pass
