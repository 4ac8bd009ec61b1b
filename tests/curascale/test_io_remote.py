"""The one writer's remote branch (curascale/io_remote.py) against an S3-compatible server (moto's
server mode on the loopback): files appear whole, sets appear together with their marker last, an
interrupted publish is never visible as complete and is rolled forward, a new set replaces the
old one, and every failure is one line naming the URL."""

import hashlib
import json

import pytest

from curascale import io, io_remote
from curascale.errors import CurascaleError

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from s3server import fail_after, folder_for_test, moto_s3, remote_keys  # noqa: E402


@pytest.fixture(scope="module")
def server():
    patch = pytest.MonkeyPatch()
    with moto_s3(patch) as endpoint:
        import s3fs

        s3fs.S3FileSystem().mkdir("outs")
        yield endpoint
    patch.undo()


@pytest.fixture
def folder(server, request):
    return folder_for_test(request, "outs")


def staged_files(tmp_path, files):
    paths = {}
    for name, data in files.items():
        path = tmp_path / "staged" / name.replace("/", "__")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[name] = path
    return paths


def test_a_file_is_written_whole_through_a_temporary_key(folder):
    url, fs, prefix = folder
    io.write_json(f"{url}/fit.json", {"a": 1})
    assert fs.cat(f"{prefix}/fit.json") == b'{\n "a": 1\n}\n'
    io.write_text(f"{url}/fit.json", "second")
    assert fs.cat(f"{prefix}/fit.json") == b"second"
    assert remote_keys(fs, prefix) == ["fit.json"]  # no temporary key left


def test_a_failed_write_leaves_the_old_object_and_no_temporary_key(folder):
    url, fs, prefix = folder
    io.write_text(f"{url}/table.csv", "old")
    with pytest.raises(RuntimeError, match="writer failed"):
        with io.open_atomic(f"{url}/table.csv") as handle:
            handle.write("half a ")
            raise RuntimeError("writer failed")
    assert fs.cat(f"{prefix}/table.csv") == b"old" and remote_keys(fs, prefix) == ["table.csv"]


def test_a_set_is_published_with_its_index_and_replaces_the_previous_set(folder, tmp_path):
    url, fs, prefix = folder
    first = {"subset.npy": b"first subset", "low/subset.npy": b"low", "manifest.json": b'{"set": 1}'}
    io.publish_set(url, staged_files(tmp_path / "1", first))
    fs.pipe_file(f"{prefix}/notes.txt", b"the user's own file")
    assert remote_keys(fs, prefix) == [".curascale-set.json", "low/subset.npy", "manifest.json", "notes.txt", "subset.npy"]
    assert {name: fs.cat(f"{prefix}/{name}") for name in first} == first
    assert io_remote.published_names(url) == ["low/subset.npy", "subset.npy", "manifest.json"]  # the marker last

    second = {"subset.npy": b"second subset", "manifest.json": b'{"set": 2}'}
    io.publish_set(url, staged_files(tmp_path / "2", second))
    assert remote_keys(fs, prefix) == [".curascale-set.json", "manifest.json", "notes.txt", "subset.npy"]  # low/ was the old set's; notes.txt never was
    assert {name: fs.cat(f"{prefix}/{name}") for name in second} == second


def test_an_interrupted_publish_is_never_complete_and_rolls_forward(folder, tmp_path, monkeypatch):
    url, fs, prefix = folder
    io.publish_set(url, staged_files(tmp_path / "old", {"subset.npy": b"old", "manifest.parquet": b"old rows", "manifest.json": b"old marker"}))
    new = {"subset.npy": b"new subset", "manifest.parquet": b"new rows", "manifest.json": b"new marker " + hashlib.sha256(b"new subset").hexdigest().encode()}
    fail_after(monkeypatch, io_remote.filesystem(url)[0], "copy", 1, "the network went away")  # after one file is moved in
    with pytest.raises(CurascaleError, match=rf"^{url}: cannot write \(ConnectionError: the network went away\)$"):
        io.publish_set(url, staged_files(tmp_path / "new", new))
    monkeypatch.undo()
    present = remote_keys(fs, prefix)
    assert "manifest.json" not in present  # one new file and one old one: no marker claims either set complete
    assert fs.cat(f"{prefix}/manifest.parquet") == b"new rows" and fs.cat(f"{prefix}/subset.npy") == b"old"
    assert ".publishing.json" in present

    assert io.recover_set(url) is True
    assert remote_keys(fs, prefix) == [".curascale-set.json", "manifest.json", "manifest.parquet", "subset.npy"]
    assert {name: fs.cat(f"{prefix}/{name}") for name in new} == new
    assert io.recover_set(url) is False  # nothing left to finish


def test_a_publish_that_dies_while_uploading_changes_nothing(folder, tmp_path, monkeypatch):
    url, fs, prefix = folder
    old = {"subset.npy": b"old", "manifest.json": b"old marker"}
    io.publish_set(url, staged_files(tmp_path / "old", old))
    fail_after(monkeypatch, io_remote.filesystem(url)[0], "put_file", 1, "reset by peer")  # on the second upload
    with pytest.raises(CurascaleError, match="cannot write"):
        io.publish_set(url, staged_files(tmp_path / "new", {"subset.npy": b"new", "manifest.json": b"new marker"}))
    monkeypatch.undo()
    assert {name: fs.cat(f"{prefix}/{name}") for name in old} == old  # the old set, complete, with its marker
    assert any(key.startswith(".staged.") for key in remote_keys(fs, prefix))
    assert io.recover_set(url) is False  # no journal: the staged upload is only removed
    assert remote_keys(fs, prefix) == [".curascale-set.json", "manifest.json", "subset.npy"]


def test_names_that_leave_the_folder_are_refused(folder, tmp_path):
    url, fs, prefix = folder
    for name in ("../escape", "/etc/passwd", "a/../../b"):
        with pytest.raises(CurascaleError, match="would leave"):
            io.publish_set(url, staged_files(tmp_path, {name: b"x"}))
    assert remote_keys(fs, prefix) == []


def test_a_missing_bucket_and_missing_credentials_are_one_line(server, monkeypatch):
    import s3fs

    with pytest.raises(CurascaleError, match=r"^s3://no-such-bucket/out: cannot write \(no such bucket: no-such-bucket\)$"):
        io_remote.check_folder("s3://no-such-bucket/out")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        with pytest.raises(CurascaleError, match=r"^s3://outs/x: cannot write \(no credentials: .*\)$") as caught:
            io_remote.check_folder("s3://outs/x")
        assert "\n" not in str(caught.value)
        with pytest.raises(CurascaleError, match=r"^s3://outs/x/a.txt: cannot write \(no credentials"):
            io.write_text("s3://outs/x/a.txt", "a")
    finally:
        s3fs.S3FileSystem.clear_instance_cache()


def test_a_protocol_without_its_package_names_the_package(monkeypatch):
    import fsspec.core

    def missing(url, **kwargs):
        raise ImportError("Install gcsfs to access Google Storage")

    monkeypatch.setattr(fsspec.core, "url_to_fs", missing)
    with pytest.raises(CurascaleError, match=r"^gs://bucket/out: cannot open this filesystem \(gs:// needs the package gcsfs; pip install gcsfs\)$"):
        io_remote.filesystem("gs://bucket/out")
    with pytest.raises(CurascaleError, match=r"^nosuch://x: cannot open this filesystem"):
        monkeypatch.undo()
        io_remote.filesystem("nosuch://x")


def test_urls_and_paths():
    assert io_remote.is_url("s3://b/k") and io_remote.is_url("hf://datasets/org/name") and io_remote.is_url("memory://x")
    assert not io_remote.is_url("out/dir") and not io_remote.is_url(json)  # only strings with a protocol
    assert io_remote.protocol("GS://bucket/x") == "gs"
