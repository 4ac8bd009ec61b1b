"""`curate demo-pool --with-images` writes img2dataset's layout (what DataComp's resharder reads),
and T-MARS reads it and the older 5-digit names alike."""

import hashlib
import json
import re
import shutil
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.demo import write_demo_images, write_demo_pool


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("i2d")
    write_demo_pool(root / "pool", 40, shards=1, seed=9)
    write_demo_images(root / "pool", root / "images", 12, per_shard=5, seed=9)
    return root / "images"


def test_layout_is_img2datasets(images):
    names = sorted(p.name for p in images.iterdir())
    assert names == [f"0000000{i}{suffix}" for i in range(3) for suffix in (".parquet", ".tar", "_stats.json")]
    for index, tar_path in enumerate(sorted(images.glob("*.tar"))):
        with tarfile.open(tar_path) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        keys = sorted({name.split(".")[0] for name in members})
        assert keys == [f"{index:08d}{offset:04d}" for offset in range(len(keys))]  # shard digits then 4
        stats = json.loads((images / f"{tar_path.stem}_stats.json").read_text())
        assert stats["successes"] == stats["count"] == len(keys) == (5 if index < 2 else 2)
        table = pq.read_table(tar_path.with_suffix(".parquet")).to_pylist()
        assert [row["key"] for row in table] == keys and all(row["status"] == "success" for row in table)
        for row in table:
            meta = json.loads(members[f"{row['key']}.json"])
            assert row["uid"] == meta["uid"] and row["caption"] == members[f"{row['key']}.txt"].decode()
            assert row["sha256"] == hashlib.sha256(members[f"{row['key']}.jpg"]).hexdigest()


def test_resharder_finds_shards_and_sizes(images):
    """DataComp resharder's discovery: '{:08d}.tar' and '{:08d}_stats.json' for ids 0, 1, ..."""
    sizes = []
    shard_id = 0
    while (images / "{:08d}.tar".format(shard_id)).exists():
        sizes.append(int(json.loads((images / "{:08d}_stats.json".format(shard_id)).read_text())["successes"]))
        shard_id += 1
    assert sizes == [5, 5, 2]


def test_tmars_reads_both_layouts(images, tmp_path):
    pytest.importorskip("open_clip")
    pytest.importorskip("rapidocr_onnxruntime")
    from curation.tmars import TmarsOptions, run_tmars

    old = tmp_path / "old"
    old.mkdir()
    for tar_path in sorted(images.glob("*.tar")):
        shutil.copy(tar_path, old / f"{int(tar_path.stem):05d}.tar")  # 5-digit names, no stats or parquet
    assert sorted(p.name for p in old.iterdir()) == ["00000.tar", "00001.tar", "00002.tar"]
    options = TmarsOptions(clip_model="curascale-tiny-clip", pretrained=None, device="cpu")
    for source, out in ((images, tmp_path / "new_out"), (old, tmp_path / "old_out")):
        run_tmars(source, out, options=options, fraction=0.5, batch_size=8, workers=1, progress=False)
    new, legacy = np.load(tmp_path / "new_out" / "subset.npy"), np.load(tmp_path / "old_out" / "subset.npy")
    assert len(new) == 7 and np.array_equal(new, legacy)  # 12 readable images, top half by DataComp's rule: n = 6, index 6 kept
