"""The local engine: byte-identical reruns, resume after a kill, clear errors, nothing partial."""

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from curation.demo import write_demo_pool
from curation.engines.local import WORK, LocalEngine
from curation.pool import Pool
from curation.steps.basic import Basic
from curation.steps.clip_score import ClipScore
from runs_db import UserError

OUTPUTS = ("subset.npy", "manifest.parquet", "manifest.json")


def read_outputs(directory):
    return {name: (directory / name).read_bytes() for name in OUTPUTS}


def test_subset_only_writes_the_same_subset_and_no_manifest(demo_pool, tmp_path):
    steps = lambda: [Basic(), ClipScore(arch="l14", fraction=0.3)]  # noqa: E731  (fresh steps per run)
    full = LocalEngine(progress=False).run(Pool.open(demo_pool), steps(), tmp_path / "full")
    subset = LocalEngine(progress=False).run(Pool.open(demo_pool), steps(), tmp_path / "subset", subset_only=True)
    assert (tmp_path / "subset" / "subset.npy").read_bytes() == (tmp_path / "full" / "subset.npy").read_bytes()
    assert not (tmp_path / "subset" / "manifest.parquet").exists()
    assert set(subset.outputs[""]["sha256"]) == {"subset.npy"} and subset.counts == full.counts


def test_same_inputs_same_bytes(demo_pool, tmp_path):
    for run in ("a", "b"):
        LocalEngine(workers=2 if run == "a" else 1, progress=False).run(Pool.open(demo_pool), [ClipScore(arch="l14", fraction=0.3)], tmp_path / run)
    assert read_outputs(tmp_path / "a") == read_outputs(tmp_path / "b")
    sidecar = json.loads((tmp_path / "a" / "manifest.json").read_text())
    import hashlib

    for name in ("subset.npy", "manifest.parquet"):
        assert sidecar["sha256"][name] == hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest()
    assert sidecar["counts"] == [{"step": "clip_score", "in": 20_000, "out": sidecar["samples"]}]
    manifest = pq.read_table(tmp_path / "a" / "manifest.parquet")
    assert manifest.column_names == ["uid", "url", "text", "clip_l14_similarity_score", "bucket", "repetition_weight"]
    assert manifest.num_rows == sidecar["samples"]


def test_chain_counts_and_exclusions(demo_pool, tmp_path):
    report = LocalEngine(progress=False).run(Pool.open(demo_pool), [Basic(), ClipScore(arch="b32", threshold=0.3)], tmp_path, exclusions=True)
    (basic, clip) = report.counts
    assert basic["in"] == 20_000 and clip["in"] == basic["out"] and clip["out"] == report.outputs[""]["samples"]
    excluded = pq.read_table(tmp_path / "exclusions.parquet").to_pandas()
    assert len(excluded) == 20_000 - clip["out"]
    assert excluded["step"].value_counts().to_dict() == {"basic": 20_000 - basic["out"], "clip_score": basic["out"] - clip["out"]}
    assert set(excluded[excluded["step"] == "clip_score"]["reason"]) == {"score below threshold"}
    assert set(excluded[excluded["step"] == "basic"]["reason"]) <= {"caption too short", "image too small", "aspect ratio", "language"}


def test_killed_run_resumes_to_identical_outputs(tmp_path):
    pool = tmp_path / "pool"
    write_demo_pool(pool, 30_000, shards=30, seed=3)
    command = [sys.executable, "-c", "from curascale.cli.app import main; main()", "curate", "basic", str(pool), "--workers", "1"]
    killed = subprocess.Popen([*command, "--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "killed").glob(f"{WORK}/*/*.done.json"))) < 3:
        assert killed.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    finished = len(list((tmp_path / "killed").glob(f"{WORK}/*/*.done.json")))
    assert 3 <= finished < 30
    assert not any((tmp_path / "killed" / name).exists() for name in OUTPUTS)  # nothing passes for complete
    resumed = subprocess.run([*command, "--out", str(tmp_path / "killed")], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    subprocess.run([*command, "--out", str(tmp_path / "clean")], check=True, capture_output=True)
    assert read_outputs(tmp_path / "killed") == read_outputs(tmp_path / "clean")


def test_bad_shards_fail_clearly_and_leave_no_outputs(demo_pool, tmp_path):
    import shutil

    pool = tmp_path / "pool"
    shutil.copytree(demo_pool, pool)
    shard = sorted(pool.glob("*.parquet"))[2]
    table = pq.read_table(shard)
    uids = table.column("uid").to_pylist()
    uids[41] = "not-a-uid"
    import pyarrow as pa

    pq.write_table(table.set_column(0, "uid", pa.array(uids)), shard)
    with pytest.raises(UserError, match=rf"{shard.name}, row 42: malformed uid 'not-a-uid'"):
        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.2)], tmp_path / "out")
    assert not (tmp_path / "out" / "subset.npy").exists()
    shard.write_bytes(b"garbage")
    with pytest.raises(UserError, match=rf"{shard.name}: not a readable parquet file"):
        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.2)], tmp_path / "out")
    pq.write_table(table.drop(["clip_l14_similarity_score"]), shard)
    with pytest.raises(UserError, match=rf"{shard.name}: missing column 'clip_l14_similarity_score'"):
        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.2)], tmp_path / "out")


def test_work_files_are_removed_once_the_outputs_are_published(demo_pool, tmp_path):
    for fraction in (0.3, 0.5):  # one work folder per parameter set, none left after success
        LocalEngine(progress=False).run(Pool.open(demo_pool), [ClipScore(arch="l14", fraction=fraction)], tmp_path)
        assert not (tmp_path / WORK).exists()
        assert (tmp_path / "subset.npy").exists()


def test_row_numbers_are_declared_one_based(tmp_path):
    from pools import write_shards

    column = "clip_l14_similarity_score"
    pool = write_shards(tmp_path / "pool", [{column: [0.9, 0.1, 0.9, 0.9]}])  # the 2nd row (1-based) is below the threshold
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.5)], tmp_path / "out", exclusions=True)
    excluded = pq.read_table(tmp_path / "out" / "exclusions.parquet")
    assert excluded.column("row").to_pylist() == [2]
    assert excluded.schema.field("row").metadata == {b"description": b"1-based row within the shard"}
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["duplicates"]["rows"] == "1-based, within the shard"


def test_an_output_folder_inside_the_pool_is_refused_before_anything_is_written(demo_pool, tmp_path):
    import re

    from curascale.errors import CurascaleError

    before = sorted(path.name for path in demo_pool.iterdir())
    with pytest.raises(CurascaleError, match=re.escape(f"output folder {demo_pool / 'out'} is the pool {demo_pool} or inside it")):
        LocalEngine(progress=False).run(Pool.open(demo_pool), [Basic()], demo_pool / "out")
    assert sorted(path.name for path in demo_pool.iterdir()) == before


def test_bucket_folders_are_checked_before_any_shard_is_read_and_only_when_written(tmp_path):
    from curascale.errors import CurascaleError
    from curation.steps.bucketize import Bucketize

    pool, out, elsewhere = tmp_path / "pool", tmp_path / "out", tmp_path / "elsewhere"
    write_demo_pool(pool, 60, shards=2, seed=3)
    out.mkdir()
    elsewhere.mkdir()
    (out / "top0to50p").symlink_to(elsewhere)  # a bucket folder that is a link out of the output folder
    # not split: no bucket folder is written, so the link is no concern
    LocalEngine(progress=False).run(Pool.open(pool), [Bucketize(edges=(0, 50), split=False)], out)
    assert (out / "subset.npy").exists() and list(elsewhere.iterdir()) == []
    # split: refused before any shard is read (else the broken shard would be the error)
    opened = Pool.open(pool)
    sorted(pool.glob("*.parquet"))[0].write_bytes(b"not a parquet file")
    with pytest.raises(CurascaleError, match="output name 'top0to50p' would leave the output folder"):
        LocalEngine(progress=False).run(opened, [Bucketize(edges=(0, 50))], out)
    assert list(elsewhere.iterdir()) == []
