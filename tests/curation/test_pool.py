"""curation.pool: uid conversion (DataComp's), shard reading errors, fingerprints."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.pool import UID_DTYPE, Pool, pair_to_uid, uid_pairs
from runs_db import UserError


def test_uid_pairs_match_datacomp_conversion():
    rng = np.random.default_rng(0)
    uids = [f"{int(a):016x}{int(b):016x}" for a, b in rng.integers(0, 2**63, size=(1000, 2), dtype=np.int64)] + ["f" * 32, "0" * 32]
    pairs = uid_pairs(uids)
    assert pairs.dtype == UID_DTYPE
    assert [(int(u[:16], 16), int(u[16:], 16)) for u in uids] == [(int(a), int(b)) for a, b in pairs]
    assert [pair_to_uid(p) for p in pairs] == uids


@pytest.mark.parametrize("bad", ["xyz", "0" * 31, None, "g" * 32, "G" * 32])
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
