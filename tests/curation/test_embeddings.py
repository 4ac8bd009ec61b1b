"""The .npz embeddings beside each parquet shard: read row-aligned, checked against the parquet."""

import io

import numpy as np
import pytest

from curascale.errors import UserError
from curation.demo import write_demo_pool
from curation.embeddings import EMBEDDING_KEYS, embedding_matrix, read_embeddings
from curation.pool import Pool


@pytest.fixture()
def pool(tmp_path):
    write_demo_pool(tmp_path / "pool", 300, shards=2, with_npz=True, seed=4)
    return Pool.open(tmp_path / "pool")


def test_every_key_comes_row_aligned(pool):
    table = pool.read(pool.shards[1], ["uid", *EMBEDDING_KEYS])
    with np.load(pool.shards[1].with_suffix(".npz")) as archive:
        for key, width in zip(EMBEDDING_KEYS, (512, 512, 768, 768)):
            np.testing.assert_array_equal(embedding_matrix(table.column(key)), archive[key])
            assert embedding_matrix(table.column(key)).shape == (150, width)
    assert table.column_names == ["uid", *EMBEDDING_KEYS]


def test_float16_embeddings_are_read_as_float32(pool):
    """DataComp ships float16 embeddings."""
    path = pool.shards[0].with_suffix(".npz")
    with np.load(path) as archive:
        half = {k: archive[k].astype(np.float16) for k in archive.files}
    np.savez(path, **half)
    matrix = read_embeddings(pool.shards[0], "l14_img", 150)
    assert matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, half["l14_img"].astype(np.float32))


def test_row_count_mismatch_names_the_shard(pool):
    path = pool.shards[1].with_suffix(".npz")
    with np.load(path) as archive:
        short = {k: archive[k][:-1] for k in archive.files}
    np.savez(path, **short)
    with pytest.raises(UserError, match=rf"'l14_img' has 149 rows but shard {pool.shards[1]} has 150"):
        pool.read(pool.shards[1], ["uid", "l14_img"])


def test_missing_key_file_and_garbage(pool):
    path = pool.shards[0].with_suffix(".npz")
    np.savez(path, b32_img=np.zeros((150, 512), np.float32))
    with pytest.raises(UserError, match=r"^\S+00000000.npz: no 'l14_img' embeddings \(has: b32_img\) for shard"):
        pool.read(pool.shards[0], ["l14_img"])
    path.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable npz file"):
        pool.read(pool.shards[0], ["l14_img"])
    path.unlink()
    with pytest.raises(UserError, match=rf"{pool.shards[0]}: no embeddings file"):
        pool.read(pool.shards[0], ["l14_img"])
    buffer = io.BytesIO()
    np.savez(buffer, l14_img=np.zeros(150, np.float32))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UserError, match=r"must be a 2-D matrix, got shape \(150,\)"):
        pool.read(pool.shards[0], ["l14_img"])
