"""Outputs to an S3-compatible server (moto's server mode on the loopback): `--out s3://...` writes
the same bytes as a local run, publishes the set with its manifest.json last, resumes and
replaces on a rerun, and never leaves a partial set that looks complete."""

import hashlib
import json

import numpy as np
import pytest

from cli import curascale
from curascale import io_remote
from curascale.errors import CurascaleError
from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.bucketize import Bucketize
from curation.steps.clip_score import ClipScore

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from s3server import fail_after, folder_for_test, moto_s3, remote_keys  # noqa: E402

OUTPUTS = ["manifest.json", "manifest.parquet", "subset.npy"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """moto on the loopback with an empty bucket 'outs' and a 1,200-row local demo pool."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))  # the staging folders
    with moto_s3(patch):
        import s3fs

        s3fs.S3FileSystem().mkdir("outs")
        pool = tmp_path_factory.mktemp("pool") / "demo"
        write_demo_pool(pool, 1200, shards=3, seed=11)
        yield pool
    patch.undo()


@pytest.fixture
def out(server, request):
    return folder_for_test(request, "outs")


def test_an_s3_output_holds_the_local_run_bytes(server, out, tmp_path):
    url, fs, prefix = out
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], tmp_path / "local")
    assert remote_keys(fs, prefix) == [".curascale-set.json", *OUTPUTS]  # no work files, staged keys, journal or lock
    for name in OUTPUTS:
        assert fs.cat(f"{prefix}/{name}") == (tmp_path / "local" / name).read_bytes(), name
    record = json.loads(fs.cat(f"{prefix}/manifest.json"))
    assert record["sha256"]["subset.npy"] == hashlib.sha256(fs.cat(f"{prefix}/subset.npy")).hexdigest()
    assert 360 <= len(np.load(tmp_path / "local" / "subset.npy")) < 1200  # 30% of 1,200, ties kept


def test_a_rerun_replaces_the_set_and_buckets_go_with_it(server, out, tmp_path):
    url, fs, prefix = out
    report = LocalEngine(progress=False).run(Pool.open(server), [Bucketize(edges=(0, 10, 50))], url)
    assert set(report.outputs) == {"top0to10p", "top10to50p"}
    assert remote_keys(fs, prefix) == sorted([".curascale-set.json", "manifest.json", *(f"{b}/{n}" for b in ("top0to10p", "top10to50p") for n in OUTPUTS)])
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    assert remote_keys(fs, prefix) == [".curascale-set.json", *OUTPUTS]  # the bucket folders were the old set's
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], tmp_path / "local")
    assert fs.cat(f"{prefix}/subset.npy") == (tmp_path / "local" / "subset.npy").read_bytes()


def test_a_killed_run_publishes_nothing_and_the_rerun_resumes(server, out, monkeypatch):
    url, fs, prefix = out
    from curation.engines import local

    calls = []
    real = local.LocalEngine._shard

    def dies_on_the_third_shard(self, pool, shard, *args, **kwargs):
        calls.append(shard.name)
        if shard.name == "00000002.parquet":
            raise KeyboardInterrupt  # a kill, as far as the run can tell
        return real(self, pool, shard, *args, **kwargs)

    monkeypatch.setattr(local.LocalEngine, "_shard", dies_on_the_third_shard)
    with pytest.raises(KeyboardInterrupt):
        LocalEngine(workers=1, progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    monkeypatch.undo()
    assert remote_keys(fs, prefix) == []  # nothing published, not even in part
    report = LocalEngine(workers=1, progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    assert report.resumed_shards == 2 and remote_keys(fs, prefix) == [".curascale-set.json", *OUTPUTS]


def test_an_upload_cut_short_is_never_complete_and_the_rerun_finishes_it(server, out, tmp_path, monkeypatch):
    url, fs, prefix = out
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.5)], url)
    fail_after(monkeypatch, io_remote.filesystem(url)[0], "copy", 1, "connection reset")  # after one file is moved in
    with pytest.raises(CurascaleError, match="cannot write"):
        LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    monkeypatch.undo()
    assert "manifest.json" not in remote_keys(fs, prefix)  # half the new set, half the old: no marker says complete
    report = LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], url)
    LocalEngine(progress=False).run(Pool.open(server), [ClipScore(arch="l14", fraction=0.3)], tmp_path / "local")
    assert remote_keys(fs, prefix) == [".curascale-set.json", *OUTPUTS]
    for name in OUTPUTS:
        assert fs.cat(f"{prefix}/{name}") == (tmp_path / "local" / name).read_bytes(), name
    assert report.outputs[""]["samples"] == len(np.load(tmp_path / "local" / "subset.npy"))


def test_the_cli_and_a_pipeline_write_to_s3(server, out, tmp_path):
    url, fs, prefix = out
    result = curascale("curate", "laion2b", server, "--out", f"{url}/laion")
    assert f"{url}/laion: " in result.stdout
    assert remote_keys(fs, f"{prefix}/laion") == [".curascale-set.json", *OUTPUTS]
    (tmp_path / "pipe.toml").write_text(f'pool = "{server}"\nout = "{url}/pipe/"\n[[steps]]\nstep = "no_filter"\n')
    curascale("curate", "run", tmp_path / "pipe.toml")
    assert len(np.load(fs.open(f"{prefix}/pipe/subset.npy"))) == 1200


def test_remote_faults_are_one_line_exit_2(server, out, monkeypatch):
    url, fs, prefix = out
    result = curascale("curate", "no-filter", server, "--out", "s3://no-such-bucket/out", check=False)
    assert result.returncode == 2 and result.stderr.splitlines() == ["error: s3://no-such-bucket/out: cannot write (no such bucket: no-such-bucket)"]
    result = curascale("curate", "no-filter", "s3://outs/no-such-pool", "--out", url, check=False)
    assert result.returncode == 2 and result.stderr.splitlines() == ["error: s3://outs/no-such-pool: no such pool directory"]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    result = curascale("curate", "no-filter", server, "--out", url, check=False)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {url}: cannot write (no credentials: Unable to locate credentials")
    result = curascale("curate", "no-filter", "s3://outs/pool", "--out", str(server.parent / "x"), check=False)
    assert result.returncode == 2 and result.stderr.startswith("error: s3://outs/pool: cannot list (no credentials") and len(result.stderr.splitlines()) == 1
    assert remote_keys(fs, prefix) == []


def test_an_output_inside_a_remote_pool_is_refused(server):
    with pytest.raises(CurascaleError, match="output folder s3://outs/pool/out is the pool s3://outs/pool or inside it"):
        from curation.out_dir import claim

        with claim("s3://outs/pool/out", pool="s3://outs/pool/"):
            pass


def test_tmars_scores_and_subset_go_to_s3_as_one_set(server, out, image_shards, tmp_path):
    pytest.importorskip("open_clip")
    from curation.tmars import TmarsOptions, run_tmars

    url, fs, prefix = out
    tiny = TmarsOptions(clip_model="curascale-tiny-clip", pretrained=None, device="cpu")
    run_tmars(image_shards, url, options=tiny, fraction=0.5, batch_size=5, workers=1, progress=False)
    run_tmars(image_shards, tmp_path / "local", options=tiny, fraction=0.5, batch_size=5, workers=1, progress=False)
    local = sorted(p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local").rglob("*") 
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(tmp_path / "local").parts))  # not the work files
    assert [name for name in local if name.startswith("scores/")] == ["scores/00000000.parquet", "scores/00000001.parquet", "scores/00002.parquet"]
    assert remote_keys(fs, prefix) == sorted([".curascale-set.json", *local])
    for name in local:
        assert fs.cat(f"{prefix}/{name}") == (tmp_path / "local" / name).read_bytes(), name
