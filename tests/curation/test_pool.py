"""curation.pool: uid conversion (DataComp's), shard reading errors, fingerprints."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.pool import UID_DTYPE, Pool, pair_to_uid, sort_pairs, uid_pairs
from runs_db import UserError


def test_uid_pairs_match_datacomp_conversion():
    rng = np.random.default_rng(0)
    uids = [f"{int(a):016x}{int(b):016x}" for a, b in rng.integers(0, 2**63, size=(1000, 2), dtype=np.int64)] + ["f" * 32, "0" * 32]
    pairs = uid_pairs(uids)
    assert pairs.dtype == UID_DTYPE
    assert [(int(u[:16], 16), int(u[16:], 16)) for u in uids] == [(int(a), int(b)) for a, b in pairs]
    assert [pair_to_uid(p) for p in pairs] == uids


@pytest.mark.parametrize("bad", ["xyz", "0" * 31, None, "g" * 32, "G" * 32, "X" * 32, "0" * 33])  # upper-case hex is valid (DataComp accepts it)
def test_malformed_uid_names_shard_and_row(bad):
    with pytest.raises(UserError, match=r"shard-7, row 3: malformed uid"):
        uid_pairs(pa.array(["0" * 32, "1" * 32, bad], pa.string()), shard="shard-7")


def test_read_errors_name_the_shard(tmp_path):
    root = tmp_path / "pool"
    root.mkdir()
    pq.write_table(pa.table({"uid": ["0" * 32], "text": ["a caption here"]}), root / "a.parquet")
    (root / "b.parquet").write_bytes(b"not parquet at all")
    pool = Pool.open(root)
    with pytest.raises(UserError, match=r"a.parquet: missing column 'url'"):
        pool.read(pool.shards[0], ["uid", "url"])
    with pytest.raises(UserError, match=r"b.parquet: not a readable parquet file"):
        pool.read(pool.shards[1], ["uid"])
    with pytest.raises(UserError, match="no parquet shards"):
        Pool.open(tmp_path)


def test_fingerprint_changes_with_content(demo_pool, tmp_path):
    pool = Pool.open(demo_pool)
    assert pool.fingerprint() == Pool.open(demo_pool).fingerprint()
    assert pool.rows() == 20_000


# ---- the fingerprint: any change to any shard changes it ----------------------------------------
def write_shards(root, tables, **options):
    root.mkdir(parents=True, exist_ok=True)
    for i, table in enumerate(tables):
        pq.write_table(table, root / f"{i:05d}.parquet", **options)


def shard_table(seed, rows=200):
    rng = np.random.default_rng(seed)
    return pa.table({"uid": [f"{seed:08x}{i:024x}" for i in range(rows)], "text": [f"caption {i:04d}" for i in range(rows)],
                     "clip_l14_similarity_score": rng.uniform(0.1, 0.4, rows)})


def rewrite_one_value(table, row, column="text", value="caption XXXX"):
    values = table.column(column).to_pylist()
    values[row] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values, table.schema.field(column).type))


@pytest.mark.parametrize("shard", [0, 1, 2])
def test_fingerprint_changes_when_any_shard_changes(tmp_path, shard):
    tables = [shard_table(s) for s in range(3)]
    write_shards(tmp_path / "pool", tables)
    before = Pool.open(tmp_path / "pool").fingerprint()
    assert before == Pool.open(tmp_path / "pool").fingerprint()  # stable when nothing changed
    tables[shard] = rewrite_one_value(tables[shard], 117)
    write_shards(tmp_path / "pool", tables)
    assert Pool.open(tmp_path / "pool").fingerprint() != before


def test_fingerprint_changes_with_the_shard_set(tmp_path):
    tables = [shard_table(s) for s in range(3)]
    write_shards(tmp_path / "pool", tables)
    before = Pool.open(tmp_path / "pool").fingerprint()
    (tmp_path / "pool" / "00002.parquet").rename(tmp_path / "pool" / "00009.parquet")  # same bytes, another name
    renamed = Pool.open(tmp_path / "pool").fingerprint()
    pq.write_table(shard_table(7), tmp_path / "pool" / "00010.parquet")
    added = Pool.open(tmp_path / "pool").fingerprint()
    assert len({before, renamed, added}) == 3
    (tmp_path / "pool" / "00010.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(UserError, match="00010.parquet: not a readable parquet file"):
        Pool.open(tmp_path / "pool").fingerprint()


@pytest.mark.parametrize("cached", [False, True])
def test_fingerprint_changes_when_a_value_changes_at_the_same_size(tmp_path, cached):
    """An uncompressed shard with one value rewritten keeps its size, footer and statistics; only
    its bytes differ. With a cache, the rewrite lands in the same second as the first hash, so
    only the racy-entry rule (a fresh shard is not cached) keeps the stale hash out."""
    cache = tmp_path / "hashes.json" if cached else None
    tables = [shard_table(s) for s in range(3)]
    options = {"compression": "NONE", "use_dictionary": False}
    write_shards(tmp_path / "pool", tables, **options)
    before, size = Pool.open(tmp_path / "pool").fingerprint(cache), (tmp_path / "pool" / "00001.parquet").stat().st_size
    tables[1] = rewrite_one_value(tables[1], 117, "clip_l14_similarity_score", 0.25)  # inside [min, max]: same statistics
    write_shards(tmp_path / "pool", tables, **options)
    assert (tmp_path / "pool" / "00001.parquet").stat().st_size == size
    assert Pool.open(tmp_path / "pool").fingerprint(cache) != before


# ---- the fingerprint's cache of shard hashes -----------------------------------------------------
def age(root, seconds=60):
    """Set every shard's mtime `seconds` into the past (an old, settled pool)."""
    import os
    import time

    for path in sorted(root.glob("*.parquet")):
        past = time.time_ns() - seconds * 1_000_000_000
        os.utime(path, ns=(past, past))


@pytest.fixture
def opened(monkeypatch):
    """The shard files the fingerprint opens, in order (a spy on curation.fs.opener)."""
    import curation.fs

    seen, real = [], curation.fs.opener

    def spy(fs):
        inner = real(fs)

        def open_(path, mode="rb"):
            seen.append(Path(path).name)
            return inner(path, mode)

        return open_

    monkeypatch.setattr(curation.fs, "opener", spy)
    return seen


def test_cache_reads_only_the_changed_shard(tmp_path, opened):
    import os

    cache = tmp_path / "hashes.json"
    tables = [shard_table(s) for s in range(3)]
    options = {"compression": "NONE", "use_dictionary": False}
    write_shards(tmp_path / "pool", tables, **options)
    age(tmp_path / "pool")
    first = Pool.open(tmp_path / "pool").fingerprint(cache)
    assert opened == ["00000.parquet", "00001.parquet", "00002.parquet"] and cache.is_file()
    opened.clear()
    assert Pool.open(tmp_path / "pool").fingerprint(cache) == first
    assert opened == []  # nothing re-read
    assert Pool.open(tmp_path / "pool").fingerprint(None) == first  # the cached hashes are the true ones
    opened.clear()
    # shard 2 rewritten at the same size, its mtime put back: only its ctime tells
    shard = tmp_path / "pool" / "00002.parquet"
    status = shard.stat()
    pq.write_table(rewrite_one_value(tables[2], 5, "clip_l14_similarity_score", 0.25), shard, **options)
    os.utime(shard, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert shard.stat().st_size == status.st_size and shard.stat().st_mtime_ns == status.st_mtime_ns
    changed = Pool.open(tmp_path / "pool").fingerprint(cache)
    assert changed != first and opened == ["00002.parquet"]
    assert changed == Pool.open(tmp_path / "pool").fingerprint(None)


def test_a_fresh_shard_is_hashed_but_not_cached(tmp_path, opened):
    cache = tmp_path / "hashes.json"
    write_shards(tmp_path / "pool", [shard_table(s) for s in range(2)])
    age(tmp_path / "pool")
    pq.write_table(shard_table(9), tmp_path / "pool" / "00001.parquet")  # modified just now
    first = Pool.open(tmp_path / "pool").fingerprint(cache)
    opened.clear()
    assert Pool.open(tmp_path / "pool").fingerprint(cache) == first
    assert opened == ["00001.parquet"]  # the settled shard came from the cache, the fresh one is read again


def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path, opened):
    import json

    cache = tmp_path / "hashes.json"
    write_shards(tmp_path / "pool", [shard_table(s) for s in range(2)])
    age(tmp_path / "pool")
    cache.write_text('{"format": 1, "shards": ')
    first = Pool.open(tmp_path / "pool").fingerprint(cache)
    assert len(opened) == 2 and first == Pool.open(tmp_path / "pool").fingerprint(None)
    assert sorted(Path(k).name for k in json.loads(cache.read_text())["shards"]) == ["00000.parquet", "00001.parquet"]
    # a cache of another format is not read: every shard is hashed again
    record = json.loads(cache.read_text())
    cache.write_text(json.dumps({**record, "format": 2}))
    opened.clear()
    assert Pool.open(tmp_path / "pool").fingerprint(cache) == first and len(opened) == 2
    # a forged entry with the right stat key but a wrong hash is believed: the key is the contract
    record = json.loads(cache.read_text())
    for entry in record["shards"].values():
        entry["token"] = "blake2b:" + "0" * 64
    cache.write_text(json.dumps(record))
    assert Pool.open(tmp_path / "pool").fingerprint(cache) != first


def test_the_default_cache_is_one_file_per_pool_in_the_user_cache(tmp_path, monkeypatch, opened):
    import hashlib

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write_shards(tmp_path / "pool", [shard_table(s) for s in range(2)])
    age(tmp_path / "pool")
    first = Pool.open(tmp_path / "pool").fingerprint()
    name = hashlib.sha256(str((tmp_path / "pool").resolve()).encode()).hexdigest()[:16] + ".json"
    assert [p.name for p in (tmp_path / "xdg" / "curascale" / "pool-hashes").iterdir()] == [name]
    opened.clear()
    assert Pool.open(tmp_path / "pool").fingerprint() == first and opened == []


def test_sort_pairs_is_numpys_sort():
    rng = np.random.default_rng(1)
    pairs = np.empty(5000, dtype=UID_DTYPE)
    pairs["f0"] = rng.integers(0, 50, 5000)  # repeated high halves: the two-key path
    pairs["f1"] = rng.integers(0, 2**63, 5000)
    np.testing.assert_array_equal(sort_pairs(pairs), np.sort(pairs))
    pairs["f0"] = rng.permutation(5000)  # distinct high halves: the one-key path
    np.testing.assert_array_equal(sort_pairs(pairs), np.sort(pairs))


def test_rows_counts_every_shard(tmp_path):
    write_shards(tmp_path / "pool", [shard_table(0, 10), shard_table(1, 25), shard_table(2, 1)])
    assert Pool.open(tmp_path / "pool").rows() == 36


@pytest.mark.parametrize("values", [
    [(5, 1), (5, 0)],  # two rows, one high half
    [(7, 3), (7, 1), (7, 2)],  # every high half the same
    [(1, 5), (3, 2), (3, 1)],  # repeats, but not of the first row's high half
    [(9, 0), (2, 4), (4, 4)],  # no repeats
])
def test_sort_pairs_small_cases(values):
    pairs = np.array(values, dtype=UID_DTYPE)
    assert [tuple(map(int, p)) for p in sort_pairs(pairs)] == sorted(values)


def test_read_returns_the_named_columns(tmp_path):
    write_shards(tmp_path / "pool", [shard_table(0, 5)])
    pool = Pool.open(tmp_path / "pool")
    table = pool.read(pool.shards[0], ["text", "uid", "text"])
    assert table.column_names == ["text", "uid"]
    assert table.to_pydict() == {"text": [f"caption {i:04d}" for i in range(5)], "uid": [f"{0:08x}{i:024x}" for i in range(5)]}
    assert pool.name == "pool" and [s.name for s in pool.shards] == ["00000.parquet"]


def test_uid_pairs_of_chunked_sliced_and_empty_arrays():
    uids = [f"{i:032x}" for i in (1, 2**70, 3, 2**127)]
    expected = [(int(u[:16], 16), int(u[16:], 16)) for u in uids]
    chunked = uid_pairs(pa.chunked_array([uids[:1], uids[1:]]))
    assert [tuple(map(int, p)) for p in chunked] == expected
    sliced = uid_pairs(pa.array(uids).slice(1, 2))  # an array that starts inside its buffers
    assert [tuple(map(int, p)) for p in sliced] == expected[1:3]
    empty = uid_pairs([])
    assert empty.dtype == UID_DTYPE and empty.size == 0


@pytest.mark.parametrize("chunk", [None, 7])  # 7 bytes: many reads, the closing magic split across two
def test_fingerprint_is_sha256_of_names_sizes_and_content(tmp_path, monkeypatch, chunk):
    """The documented recipe, restated: sha256 over each shard (sorted by name) of its name, NUL,
    its size in decimal, NUL, "blake2b:" + the blake2b-256 hex of its bytes, NUL. Stored
    fingerprints stay comparable only if this does not drift."""
    import hashlib

    if chunk:
        monkeypatch.setattr("curation.pool.HASH_CHUNK", chunk)
    write_shards(tmp_path / "pool", [shard_table(s, 30 + s) for s in range(3)])
    digest = hashlib.sha256()
    for path in sorted((tmp_path / "pool").glob("*.parquet")):
        data = path.read_bytes()
        token = "blake2b:" + hashlib.blake2b(data, digest_size=32).hexdigest()
        digest.update(path.name.encode() + b"\0" + str(len(data)).encode() + b"\0" + token.encode() + b"\0")
    assert Pool.open(tmp_path / "pool").fingerprint(None) == digest.hexdigest()


def test_malformed_uid_without_a_shard_names_the_pool():
    with pytest.raises(UserError, match=r"^pool, row 2: malformed uid 'xyz'"):
        uid_pairs(["0" * 32, "xyz"])


@pytest.mark.parametrize("kind, values, shown", [
    (pa.binary(16), [bytes.fromhex("0123456789abcdef" * 2)] * 2, "fixed_size_binary[16]"),
    (pa.binary(), [b"\xff" * 16, b"\x00" * 16], "binary"),
    (pa.int64(), [1, 2], "int64"),
    (pa.list_(pa.string()), [["a"], ["b"]], "list<item: string>"),
])
def test_a_uid_column_that_is_not_text_is_one_line_naming_shard_and_column(kind, values, shown):
    with pytest.raises(UserError) as caught:
        uid_pairs(pa.array(values, type=kind), shard="pool/00000001.parquet")
    assert str(caught.value) == f"pool/00000001.parquet: column 'uid' holds {shown}, expected 32-hex strings"


def test_large_and_dictionary_strings_are_uids_like_plain_strings():
    uids = ["0123456789abcdef" + "fedcba9876543210", "ffffffffffffffff" + "0000000000000001"]
    expected = np.array([(0x0123456789ABCDEF, 0xFEDCBA9876543210), (2**64 - 1, 1)], dtype=UID_DTYPE)
    for array in (pa.array(uids, pa.large_string()), pa.array(uids).dictionary_encode()):
        assert uid_pairs(array).tolist() == expected.tolist()


def test_a_file_given_as_the_pool_says_it_is_a_file(tmp_path):
    shard = tmp_path / "00000000.parquet"
    pq.write_table(pa.table({"uid": ["0" * 32]}), shard)
    with pytest.raises(UserError, match="is a file, not a folder"):
        Pool.open(shard)
    with pytest.raises(UserError, match="no such pool directory"):
        Pool.open(tmp_path / "missing")


def test_a_remote_pool_without_checksums_is_hashed_by_content(tmp_path):
    """fsspec's memory filesystem publishes no ETag: its shards are hashed like local ones, so the
    fingerprint is the local pool's, and follows a rewrite."""
    import fsspec

    write_shards(tmp_path / "pool", [shard_table(s) for s in range(2)])
    fs = fsspec.filesystem("memory")
    for path in sorted((tmp_path / "pool").glob("*.parquet")):
        fs.pipe(f"/fp-pool/{path.name}", path.read_bytes())
    try:
        assert Pool.open("memory://fp-pool").fingerprint() == Pool.open(tmp_path / "pool").fingerprint(None)
        before = Pool.open("memory://fp-pool").fingerprint()
        buffer = pa.BufferOutputStream()
        pq.write_table(rewrite_one_value(shard_table(1), 3), buffer)
        fs.pipe("/fp-pool/00001.parquet", buffer.getvalue().to_pybytes())
        assert Pool.open("memory://fp-pool").fingerprint() != before
    finally:
        fs.rm("/fp-pool", recursive=True)


class Published:
    """A stand-in remote filesystem whose `info` publishes the given fields and that refuses reads:
    a shard with a published checksum is never opened."""

    def __init__(self, **info):
        self.fields = info

    def info(self, path):
        return {"name": path, "size": 1, "type": "file", **self.fields}

    def open(self, path, mode="rb"):
        raise AssertionError(f"{path} was read although its checksum is published")


@pytest.mark.parametrize("key, token", [
    ("ETag", 'etag:9b2cf535f27731c974343645a3985328'),  # S3 quotes its ETags; the quotes are not part of it
    ("etag", "etag:0x8DC2"), ("md5Hash", "md5hash:rL0Y20zC+Fzt72VPzMSk2A=="), ("md5", "md5:d41d8cd9"),
    ("crc32c", "crc32c:AAAAAA=="), ("checksum", "checksum:12345"), ("blob_id", "blob_id:e69de29b"),
])
def test_a_published_checksum_is_the_token(key, token):
    from curation.pool import shard_token

    value = token.split(":", 1)[1]
    assert shard_token(Published(**{key: f'"{value}"' if key == "ETag" else value}), "bucket/pool/00000.parquet") == token


def test_the_first_published_checksum_wins_and_empty_ones_are_skipped():
    from curation.pool import shard_token

    assert shard_token(Published(ETag='"abc"', md5="def"), "p") == "etag:abc"
    assert shard_token(Published(ETag="", md5Hash=None, crc32c="xyz"), "p") == "crc32c:xyz"


def test_sort_pairs_takes_any_sequence_of_pairs():
    assert [tuple(map(int, p)) for p in sort_pairs([(3, 1), (1, 9), (1, 2)])] == [(1, 2), (1, 9), (3, 1)]


def test_read_appends_an_embedding_from_the_npz_beside_the_shard(tmp_path):
    """`Pool.read(shard, ["uid", "l14_img"])`: the parquet's uid and the `.npz`'s l14_img rows, as
    float32, in row order (curation/embeddings.py)."""
    write_shards(tmp_path / "pool", [shard_table(0, 6)])
    vectors = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float16)
    np.savez(tmp_path / "pool" / "00000.npz", l14_img=vectors)
    pool = Pool.open(tmp_path / "pool")
    table = pool.read(pool.shards[0], ["uid", "l14_img"])
    assert table.column_names == ["uid", "l14_img"]
    np.testing.assert_array_equal(np.array(table.column("l14_img").to_pylist(), dtype=np.float32), vectors.astype(np.float32))
    assert table.column("uid").to_pylist() == shard_table(0, 6).column("uid").to_pylist()


def test_a_remote_pool_reads_rows_and_columns_through_its_filesystem(tmp_path):
    """A memory:// pool (fsspec) whose paths do not exist on the local disk: reading the schema,
    the columns and the row counts must all go through the pool's filesystem."""
    import fsspec

    tables = [shard_table(0, 7), shard_table(1, 5)]
    write_shards(tmp_path / "pool", tables)
    vectors = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float16)
    np.savez(tmp_path / "pool" / "00001.npz", b32_txt=vectors)
    fs = fsspec.filesystem("memory")
    for path in sorted((tmp_path / "pool").iterdir()):
        fs.pipe(f"/read-pool/{path.name}", path.read_bytes())
    try:
        pool = Pool.open("memory://read-pool")
        assert pool.name == "read-pool" and pool.rows() == 12
        table = pool.read(pool.shards[1], ["uid", "text", "b32_txt"])
        assert table.column("uid").to_pylist() == tables[1].column("uid").to_pylist()
        np.testing.assert_array_equal(np.array(table.column("b32_txt").to_pylist(), dtype=np.float32), vectors.astype(np.float32))
        with pytest.raises(UserError, match="missing column 'url'"):
            pool.read(pool.shards[0], ["uid", "url"])
    finally:
        fs.rm("/read-pool", recursive=True)


def test_upper_case_uids_are_hex():
    """DataComp's int(uid, 16) takes either case; outputs are lower-case."""
    upper = ["0123456789ABCDEF" * 2, "FEDCBA9876543210" + "aBcDeF0123456789"]
    pairs = uid_pairs(upper)
    assert [(int(p[0]), int(p[1])) for p in pairs] == [(int(u[:16], 16), int(u[16:], 16)) for u in upper]
    assert [pair_to_uid(p) for p in pairs] == [u.lower() for u in upper]


@pytest.mark.parametrize("first", ["A" * 32, "a" * 32])
def test_the_malformed_row_is_found_past_valid_rows_of_either_case(first):
    with pytest.raises(UserError, match=r"^pool, row 2: malformed uid 'xyz'"):
        uid_pairs([first, "xyz", "0" * 32])


@pytest.mark.parametrize("data", [b"PAR1", b"", b"PAR1PAR"])
def test_a_shard_shorter_than_a_footer_is_refused(tmp_path, data):
    (tmp_path / "pool").mkdir()
    (tmp_path / "pool" / "00000.parquet").write_bytes(data)
    with pytest.raises(UserError, match="00000.parquet: not a readable parquet file"):
        Pool.open(tmp_path / "pool").fingerprint(None)
