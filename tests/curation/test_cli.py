"""`curascale curate ...` end to end, pipelines from TOML, registered buckets."""

import subprocess
import sys

import numpy as np

from runs_db import connect


def curascale(*args):
    result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


def test_demo_pool_is_deterministic(tmp_path):
    for name in ("a", "b"):
        curascale("curate", "demo-pool", str(tmp_path / name), "--rows", "3000", "--shards", "2", "--with-npz", "--seed", "5")
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    embeddings = np.load(tmp_path / "a" / "00000000.npz")
    assert embeddings["l14_img"].shape == (1500, 768) and embeddings["b32_txt"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings["b32_img"], axis=1), 1, rtol=1e-5)


def test_pipeline_toml_and_bucket_registration(tmp_path):
    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "4000", "--shards", "2")
    (tmp_path / "chain.toml").write_text('pool = "pool"\nout = "out"\n[[steps]]\nstep = "basic"\n[[steps]]\nstep = "clip_score"\narch = "l14"\nfraction = 0.5\n')
    curascale("curate", "run", str(tmp_path / "chain.toml"))
    assert len(np.load(tmp_path / "out" / "subset.npy")) > 0
    db = tmp_path / "r.duckdb"
    curascale("curate", "bucketize", str(tmp_path / "pool"), "--out", str(tmp_path / "buckets"), "--edges", "0,25,50", "--db", str(db))
    buckets = connect(db).query("SELECT name, quantile_lo, quantile_hi, size_samples FROM buckets ORDER BY quantile_lo")
    assert buckets["name"].tolist() == ["top0to25p", "top25to50p"]
    assert buckets["size_samples"].tolist() == [len(np.load(tmp_path / "buckets" / n / "subset.npy")) for n in buckets["name"]]


def test_demo_images_are_webdataset_shards_with_rendered_text(tmp_path):
    import io
    import json
    import tarfile

    from PIL import Image

    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "300", "--shards", "1", "--with-images", "120")
    tars = sorted((tmp_path / "pool" / "images").glob("*.tar"))
    assert len(tars) == 1
    with tarfile.open(tars[0]) as tar:
        names = tar.getnames()
        assert len(names) == 360 and names[:3] == ["000000000000.jpg", "000000000000.txt", "000000000000.json"]
        records = [json.loads(tar.extractfile(n).read()) for n in names if n.endswith(".json")]
        image = Image.open(io.BytesIO(tar.extractfile("000000000000.jpg").read()))
    uids = __import__("pyarrow.parquet", fromlist=["x"]).read_table(tmp_path / "pool" / "00000000.parquet").column("uid").to_pylist()
    assert [r["uid"] for r in records] == uids[:120]
    with_text = [r for r in records if r["text_boxes"]]
    assert 0.3 < len(with_text) / len(records) < 0.7
    assert image.size == (224, 224)
    for record in with_text:
        for x0, y0, x1, y1 in record["text_boxes"]:
            assert 0 <= x0 < x1 <= 224 and 0 <= y0 < y1 <= 224
