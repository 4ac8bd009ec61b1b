"""`curascale curate ...` end to end, pipelines from TOML, registered buckets."""

import subprocess
import sys

import numpy as np

from runs_db import connect


def curascale(*args):
    result = subprocess.run([sys.executable, "-c", "from scaling.cli import app; app()", *args], capture_output=True, text=True)
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
