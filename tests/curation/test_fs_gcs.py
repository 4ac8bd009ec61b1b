"""gs:// pools and outputs against a local Google Cloud Storage emulator (gcp-storage-emulator, in
this process on the loopback; gcsfs reaches it through STORAGE_EMULATOR_HOST): the same shards,
subsets and output set as the local copy."""

import json
import socket

import numpy as np
import pytest

from cli import curascale
from curascale import io_remote
from curascale.errors import CurascaleError
from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
from s3server import remote_keys

gcsfs = pytest.importorskip("gcsfs")
emulator = pytest.importorskip("gcp_storage_emulator.server")

OUTPUTS = ["manifest.json", "manifest.parquet", "subset.npy"]


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """The emulator with buckets 'pools' (a 900-row demo pool with embeddings under 'demo/') and
    'outs'; yields (gcsfs filesystem, local copy of the pool)."""
    import fsspec
    import gcsfs.core

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = emulator.create_server("127.0.0.1", port, in_memory=True)
    server.start()
    patch = pytest.MonkeyPatch()
    patch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    patch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # for the CLI's processes: no gRPC bucket-type lookups the emulator lacks
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    fsspec.register_implementation("gs", gcsfs.core.GCSFileSystem, clobber=True)  # the plain client in this process too
    gcsfs.core.GCSFileSystem.clear_instance_cache()
    fs = gcsfs.core.GCSFileSystem(token="anon")
    fs.mkdir("pools")
    fs.mkdir("outs")
    local = tmp_path_factory.mktemp("gcs") / "demo"
    write_demo_pool(local, 900, shards=3, with_npz=True, seed=4)
    for path in sorted(local.iterdir()):
        fs.put_file(str(path), f"pools/demo/{path.name}")
    yield fs, local
    gcsfs.core.GCSFileSystem.clear_instance_cache()
    fsspec.register_implementation("gs", "gcsfs.GCSFileSystem", clobber=True)
    patch.undo()
    server.stop()


def test_a_pool_on_gcs_is_the_local_pool(gcs):
    fs, local = gcs
    remote, here = Pool.open("gs://pools/demo"), Pool.open(local)
    assert [s.name for s in remote.shards] == [s.name for s in here.shards] and remote.rows() == 900
    assert remote.fingerprint() == remote.fingerprint() != here.fingerprint(None)  # the store's checksums, not a local content hash
    assert remote.read(remote.shards[1], ["uid", "b32_img"]).equals(here.read(here.shards[1], ["uid", "b32_img"]))


def test_outputs_on_gcs_are_the_local_outputs_and_a_rerun_replaces_them(gcs, tmp_path):
    fs, local = gcs
    for fraction in (0.5, 0.2):
        LocalEngine(progress=False).run(Pool.open("gs://pools/demo"), [ClipScore(arch="b32", fraction=fraction)], "gs://outs/clip")
        LocalEngine(progress=False).run(Pool.open(local), [ClipScore(arch="b32", fraction=fraction)], tmp_path / str(fraction))
        assert remote_keys(fs, "outs/clip") == [".curascale-set.json", *OUTPUTS]
        for name in ("subset.npy", "manifest.parquet"):
            assert fs.cat(f"outs/clip/{name}") == (tmp_path / str(fraction) / name).read_bytes()
        record = json.loads(fs.cat("outs/clip/manifest.json"))
        assert record["samples"] == len(np.load(tmp_path / str(fraction) / "subset.npy")) and record["chain"][0]["fraction"] == fraction


def test_gcs_faults_are_one_line(gcs):
    with pytest.raises(CurascaleError, match=r"^gs://no-such-bucket/out: cannot write \(no such bucket: no-such-bucket\)$"):
        io_remote.check_folder("gs://no-such-bucket/out")
    result = curascale("curate", "no-filter", "gs://pools/nothing", "--out", "gs://outs/x", check=False)
    assert result.returncode == 2 and result.stderr.splitlines() == ["error: gs://pools/nothing: no such pool directory"]


def test_the_cli_writes_to_gcs(gcs):
    fs, _ = gcs
    result = curascale("curate", "no-filter", "gs://pools/demo", "--out", "gs://outs/all", "--subset-only")
    assert "gs://outs/all: 900 samples" in result.stdout
    assert remote_keys(fs, "outs/all") == [".curascale-set.json", "manifest.json", "subset.npy"]
    assert len(np.load(fs.open("outs/all/subset.npy"))) == 900
