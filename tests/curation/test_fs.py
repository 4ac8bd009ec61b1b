"""Pools on an S3-compatible server (moto's server mode on the loopback, started here): the same
shards, embeddings and subsets as the local copy."""

import json

import numpy as np
import pytest

from curascale.errors import UserError
from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
from curation.steps.image_based import ImageBased
from s3server import moto_s3

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with bucket 'pools' holding a demo pool (parquet + npz) under
    'demo/'; yields (s3 url, local copy)."""
    import s3fs

    patch = pytest.MonkeyPatch()
    with moto_s3(patch):
        local = tmp_path_factory.mktemp("s3src") / "demo"
        write_demo_pool(local, 1500, shards=3, with_npz=True, seed=6)
        fs = s3fs.S3FileSystem()
        fs.mkdir("pools")
        for path in sorted(local.iterdir()):
            fs.put(str(path), f"pools/demo/{path.name}")
        yield "s3://pools/demo", local
    patch.undo()


def s3_fingerprint(local):
    """The fingerprint's recipe with S3's token, restated: a single-part upload's ETag is the MD5
    of its bytes (AWS S3 docs, "Checking object integrity")."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(local.glob("*.parquet")):
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + str(len(data)).encode() + b"\0etag:" + hashlib.md5(data).hexdigest().encode() + b"\0")
    return digest.hexdigest()


def test_a_pool_on_s3_is_the_local_pool(s3):
    url, local = s3
    remote, here = Pool.open(url), Pool.open(local)
    assert [s.name for s in remote.shards] == [s.name for s in here.shards]
    assert remote.rows() == here.rows() == 1500
    assert remote.fingerprint() == s3_fingerprint(local)  # S3's ETags: no data read
    assert here.fingerprint(None) != remote.fingerprint()  # a local pool is hashed, not ETagged
    table = remote.read(remote.shards[2], ["uid", "l14_img", "clip_l14_similarity_score"])
    assert table.equals(here.read(here.shards[2], ["uid", "l14_img", "clip_l14_similarity_score"]))


def test_filters_give_the_same_subsets(s3, tmp_path):
    url, local = s3
    np.save(tmp_path / "targets.npy", np.load(local / "00000000.npz")["l14_img"][:20])
    for name, make in (("clip", lambda: ClipScore(arch="l14", fraction=0.3)), ("image", lambda: ImageBased(targets=str(tmp_path / "targets.npy"), clusters=15))):
        LocalEngine(progress=False).run(Pool.open(url), [make()], tmp_path / f"{name}-s3")
        LocalEngine(progress=False).run(Pool.open(local), [make()], tmp_path / f"{name}-local")
        remote, here = np.load(tmp_path / f"{name}-s3" / "subset.npy"), np.load(tmp_path / f"{name}-local" / "subset.npy")
        assert len(here) > 0 and np.array_equal(remote, here)
        assert json.loads((tmp_path / f"{name}-s3" / "manifest.json").read_text())["pool"]["path"] == url  # the URL, not the bucket's key


def test_missing_pool_and_mismatched_embeddings_name_the_s3_paths(s3):
    import s3fs

    url, local = s3
    with pytest.raises(UserError, match="s3://pools/nothing: no such pool directory"):
        Pool.open("s3://pools/nothing")
    fs = s3fs.S3FileSystem()
    fs.put(str(local / "00000000.npz"), "pools/bad/00000000.npz")
    fs.put(str(local / "00000001.parquet"), "pools/bad/00000000.parquet")  # 500 rows against a 500-row npz: fine
    fs.put(str(local / "00000001.parquet"), "pools/bad/00000001.parquet")
    pool = Pool.open("s3://pools/bad")
    with pytest.raises(UserError, match=r"pools/bad/00000001.parquet: no embeddings file"):
        pool.read(pool.shards[1], ["l14_img"])


def test_webdataset_tars_on_s3_read_as_the_local_ones(s3, image_shards):
    import s3fs

    from curation.webdataset import read_shard, shard_paths

    fs = s3fs.S3FileSystem()
    for path in sorted(image_shards.glob("*.tar")):
        fs.put(str(path), f"pools/images/{path.name}")
    remote, local = shard_paths("s3://pools/images"), shard_paths(image_shards)
    assert [p.name for p in remote] == [p.name for p in local] and [str(p) for p in remote][0] == "s3://pools/images/00000000.tar"
    assert [p.stat().st_size for p in remote] == [p.stat().st_size for p in local]
    for there, here in zip(remote, local):
        got, expected = read_shard(str(there)), read_shard(here)
        assert got.columns == expected.columns and got.errors == expected.errors and got.count == expected.count
    with pytest.raises(UserError, match="s3://pools/demo: no WebDataset .tar shards found"):
        shard_paths("s3://pools/demo")
