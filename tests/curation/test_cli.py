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


def run_cli(*args):
    return subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *map(str, args)], capture_output=True, text=True)


def test_demo_pool_refuses_a_non_empty_folder_and_overwrite_clears_it(tmp_path):
    pool = tmp_path / "pool"
    curascale("curate", "demo-pool", str(pool), "--rows", "3000", "--shards", "4", "--with-images", "10")
    before = {p.name: p.read_bytes() for p in pool.glob("*.parquet")}
    refused = run_cli("curate", "demo-pool", pool, "--rows", "100", "--shards", "2")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and "not empty" in refused.stderr
    assert {p.name: p.read_bytes() for p in pool.glob("*.parquet")} == before
    curascale("curate", "demo-pool", str(pool), "--rows", "100", "--shards", "2", "--overwrite")
    import pyarrow.parquet as pq

    # the README's tour wrote a small pool over a large one and left a mixed pool: now only the new shards
    assert sorted(p.name for p in pool.iterdir()) == ["00000000.parquet", "00000001.parquet"]
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in pool.glob("*.parquet")) == 100
    # a folder holding anything but a pool is never cleared
    (pool / "notes.txt").write_text("mine")
    refused = run_cli("curate", "demo-pool", pool, "--rows", "100", "--shards", "2", "--overwrite")
    assert refused.returncode == 2 and "notes.txt: not a file of a pool" in refused.stderr
    assert (pool / "notes.txt").read_text() == "mine" and len(list(pool.glob("*.parquet"))) == 2


def test_every_step_is_registered_for_pipelines_under_its_name():
    from curation.steps import build_step, step_types

    kinds = step_types()
    assert sorted(kinds) == sorted(["basic", "bucketize", "clip_score", "score_filter", "text_match", "decode_images", "text_detect", "text_match_score", "mask_text", "clip_rescore",
                                   "no_filter", "laion2b", "text_based", "image_based", "image_based_clip_score"])
    for name, kind in kinds.items():
        assert kind.__dataclass_fields__["name"].default == name
    # the older spellings of the score column and the fraction
    assert build_step({"step": "bucketize", "by": "tmars_score"}).score_column == "tmars_score"
    assert build_step({"step": "score_filter", "column": "tmars_score", "keep_fraction": 0.25}).fraction == 0.25


def test_pipeline_values_of_the_wrong_type_are_one_line(tmp_path):
    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "200", "--shards", "1")
    cases = {
        'step = "clip_score"\narch = "l14"\nfraction = "0.3"\n': "step 1: fraction must be a number in (0, 1], got '0.3'",
        'step = "clip_score"\narch = "l14"\nthreshold = nan\n': "step 1: threshold must be a number, got nan",
        'step = "bucketize"\nedges = [0, "ten"]\n': "step 1: edges must be a number in [0, 100], got 'ten'",
        'step = "bucketize"\nedges = [0, nan]\n': "step 1: edges must be a number in [0, 100], got nan",
        'step = "basic"\nmin_words = "three"\n': "step 1: min_words must be an integer in [0, inf], got 'three'",
        'step = "text_match"\nmax_overlap = [1]\n': "step 1: max_overlap must be a number in [0, 1], got [1]",
    }
    for step, message in cases.items():
        (tmp_path / "chain.toml").write_text(f'pool = "pool"\nout = "out"\n[[steps]]\n{step}')
        result = run_cli("curate", "run", tmp_path / "chain.toml")
        assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {tmp_path / 'chain.toml'}, {message}"], result.stderr
    (tmp_path / "chain.toml").write_text('pool = "pool"\nout = 3\n[[steps]]\nstep = "basic"\n')
    result = run_cli("curate", "run", tmp_path / "chain.toml")
    assert result.returncode == 2 and "'out' must be a string, got 3" in result.stderr


def test_old_option_names_are_hidden_aliases(tmp_path):
    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "2000", "--shards", "2")
    new = run_cli("curate", "bucketize", tmp_path / "pool", "--out", tmp_path / "new", "--score-column", "clip_b32_similarity_score", "--edges", "0,50", "--no-register")
    old = run_cli("curate", "bucketize", tmp_path / "pool", "--out", tmp_path / "old", "--by", "clip_b32_similarity_score", "--edges", "0,50", "--no-register")
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert (tmp_path / "new" / "top0to50p" / "subset.npy").read_bytes() == (tmp_path / "old" / "top0to50p" / "subset.npy").read_bytes()
    both = run_cli("curate", "bucketize", tmp_path / "pool", "--out", tmp_path / "x", "--score-column", "clip_b32_similarity_score", "--by", "clip_l14_similarity_score", "--no-register")
    assert both.returncode == 2 and "--by is an old name of --score-column" in both.stderr
    assert "--by" not in run_cli("curate", "bucketize", "--help").stdout
    tmars = run_cli("curate", "tmars", tmp_path, "--out", tmp_path / "t", "--fraction", "0.3", "--keep-fraction", "0.4")
    assert tmars.returncode == 2 and "--keep-fraction is an old name of --fraction" in tmars.stderr
    assert "--keep-fraction" not in run_cli("curate", "tmars", "--help").stdout


def test_a_pipeline_with_image_steps_runs_them_over_the_shards_first(image_shards, tmp_path):
    import pyarrow.parquet as pq

    (tmp_path / "chain.toml").write_text(f'pool = "{image_shards}"\nout = "out"\nbatch_size = 5\n'
                                         '[[steps]]\nstep = "decode_images"\n[[steps]]\nstep = "text_detect"\nrecognize = true\n[[steps]]\nstep = "text_match_score"\n'
                                         '[[steps]]\nstep = "text_match"\nmax_overlap = 0.0\n')
    curascale("curate", "run", str(tmp_path / "chain.toml"))
    scores = pq.read_table(tmp_path / "out" / "scores").to_pandas()
    assert len(scores) == 25  # 24 demo images and the one good sample of the damaged shard
    kept = set(pq.read_table(tmp_path / "out" / "manifest.parquet").column("uid").to_pylist())
    assert kept == set(scores[scores["text_match_overlap"] <= 0.0]["uid"]) and 0 < len(kept) < 25
    (tmp_path / "wrong.toml").write_text('pool = "x"\nout = "out"\n[[steps]]\nstep = "basic"\n[[steps]]\nstep = "decode_images"\n')
    result = run_cli("curate", "run", tmp_path / "wrong.toml")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {tmp_path / 'wrong.toml'}, step 2: image steps come before the steps over the pool's table"]


def test_unknown_pipeline_keys_and_step_parameters_are_named(tmp_path):
    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "200", "--shards", "1")
    allowed = "pool, out, steps, exclusions, on_duplicate, batch_size"
    cases = {
        'workers = -3\n[[steps]]\nstep = "basic"\n': f": unknown key 'workers' (allowed: {allowed})",
        'bogus = 1\n[[steps]]\nstep = "basic"\n': f": unknown key 'bogus' (allowed: {allowed})",
        'on_duplicate = "drop"\n[[steps]]\nstep = "basic"\n': ": 'on_duplicate' must be keep-first or error, got 'drop'",
        '[[steps]]\nstep = "clip_score"\nbogus = 1\n': ", step 1: clip_score has no parameter 'bogus' (it has: threshold, fraction, rows, arch)",
    }
    pipeline = tmp_path / "chain.toml"
    for body, message in cases.items():
        pipeline.write_text(f'pool = "pool"\nout = "out"\n{body}')
        assert one_line_error("curate", "run", pipeline) == f"error: {pipeline}{message}"
    assert not (tmp_path / "out").exists()


def one_line_error(*args) -> str:
    """The one line a failing command prints (it must exit 2 and print nothing else)."""
    result = run_cli(*args)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_run_help_shows_the_steps_tables_as_written():
    result = run_cli("curate", "run", "--help")
    assert result.returncode == 0 and "[[steps]]" in result.stdout and "\n  []\n" not in result.stdout


def test_exclusions_help_names_the_real_column_and_the_row_base():
    help_text = " ".join(run_cli("curate", "basic", "--help").stdout.split())
    assert "row (1-based, within the shard), step and reason" in help_text


def test_a_binary_uid_column_is_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "400", "--shards", "2")
    shard = tmp_path / "pool" / "00000001.parquet"
    table = pq.read_table(shard)
    pq.write_table(table.set_column(0, "uid", pa.array([bytes.fromhex(u) for u in table.column("uid").to_pylist()], pa.binary(16))), shard)
    result = run_cli("curate", "clip-score", tmp_path / "pool", "--out", tmp_path / "out", "--fraction", "0.5")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {shard}: column 'uid' holds fixed_size_binary[16], expected 32-hex strings"]


def test_on_duplicate_error_prints_only_the_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "400", "--shards", "2")
    first = pq.read_table(tmp_path / "pool" / "00000000.parquet").column("uid")[0].as_py()
    shard = tmp_path / "pool" / "00000001.parquet"
    table = pq.read_table(shard)
    uids = table.column("uid").to_pylist()
    uids[3] = first
    pq.write_table(table.set_column(0, "uid", pa.array(uids)), shard)
    result = run_cli("curate", "clip-score", tmp_path / "pool", "--out", tmp_path / "out", "--fraction", "0.5", "--on-duplicate", "error")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'pool'}: duplicate uid {first} at 00000000.parquet row 1 and 00000001.parquet row 4 "
        "(1 uids appear more than once; on_duplicate='keep-first' keeps the first copy of each)"]
    assert not (tmp_path / "out" / "subset.npy").exists()


def test_close_bucket_edges_register_every_bucket_under_its_own_name(tmp_path):
    curascale("curate", "demo-pool", str(tmp_path / "pool"), "--rows", "2000", "--shards", "1")
    db = tmp_path / "r.duckdb"
    result = curascale("curate", "bucketize", str(tmp_path / "pool"), "--out", str(tmp_path / "b"), "--edges", "0,10.0049996,10.00500002,10.0050004,20", "--db", str(db))
    rows = connect(db).query("SELECT name, quantile_lo, size_samples FROM buckets ORDER BY quantile_lo")
    names = ["top0to10.0049996p", "top10.0049996to10.00500002p", "top10.00500002to10.0050004p", "top10.0050004to20p"]
    assert rows["name"].tolist() == names and rows["quantile_lo"].tolist() == [0, 10.0049996, 10.00500002, 10.0050004]
    assert rows["size_samples"].tolist() == [len(np.load(tmp_path / "b" / n / "subset.npy")) for n in names]
    assert f"registered {len(rows)} of 4 buckets" in result.stdout
