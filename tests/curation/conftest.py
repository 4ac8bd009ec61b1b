import pytest

from curation.demo import write_demo_pool
from tarfiles import write_tar


@pytest.fixture(scope="session")
def demo_pool(tmp_path_factory):
    """A 20,000-sample demo pool in 5 shards (session-wide; tests must not modify it)."""
    root = tmp_path_factory.mktemp("pool") / "demo"
    write_demo_pool(root, 20_000, shards=5, seed=7)
    return root


@pytest.fixture(scope="session")
def image_shards(tmp_path_factory):
    """Two demo image shards of 12 samples (half with rendered text) and a third with one good
    sample, one corrupt JPEG and one sample without a uid (session-wide; do not modify)."""
    import json
    import tarfile

    from curation.demo import write_demo_images

    root = tmp_path_factory.mktemp("images")
    write_demo_pool(root / "pool", 60, shards=1, seed=3)
    write_demo_images(root / "pool", root / "shards", 24, per_shard=12, seed=3)
    with tarfile.open(root / "shards" / "00000000.tar") as tar:
        good = {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in tar.getmembers()[:3]}
    meta = json.loads(good["json"])
    bad_uid = "f" * 32
    write_tar(root / "shards" / "00002.tar", [
        ("b0.jpg", good["jpg"]), ("b0.txt", good["txt"]), ("b0.json", json.dumps({**meta, "uid": "e" * 32}).encode()),
        ("b1.jpg", good["jpg"][: len(good["jpg"]) // 3]), ("b1.txt", b"a broken picture"), ("b1.json", json.dumps({"uid": bad_uid}).encode()),
        ("b2.jpg", good["jpg"]), ("b2.txt", b"no uid here"), ("b2.json", b"{}"),
    ])
    return root / "shards"
