import io
import tarfile

from tarfiles import write_tar

from curation.webdataset import chunks, read_shard


def test_samples_are_grouped_by_key_in_file_order(image_shards):
    samples = read_shard(image_shards / "00000000.tar")
    assert samples.count == 12 and samples.errors == []
    assert samples.columns["key"] == sorted(samples.columns["key"])
    assert all(len(uid) == 32 for uid in samples.columns["uid"])
    assert all(data[:2] == b"\xff\xd8" for data in samples.columns["image_bytes"])  # JPEG magic
    assert all(isinstance(score, float) for score in samples.columns["clip_l14_similarity_score"])


def test_a_sample_without_uid_is_reported_not_read(image_shards):
    samples = read_shard(image_shards / "00002.tar")
    assert samples.columns["key"] == ["b0", "b1"]  # b1's image is corrupt, but that is for the decoder
    assert samples.errors == [{"shard": "00002.tar", "key": "b2", "uid": None, "error": "no uid in its json"}]


def test_a_truncated_tar_keeps_the_samples_before_the_damage(tmp_path):
    members = [(f"k{i}.{ext}", data) for i in range(3) for ext, data in (("jpg", b"\xff\xd8" + bytes(600)), ("txt", b"caption"), ("json", b'{"uid": "%s"}' % (b"%032x" % i)))]
    write_tar(tmp_path / "whole.tar", members)
    data = (tmp_path / "whole.tar").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        third = next(m for m in tar.getmembers() if m.name == "k2.jpg")
    (tmp_path / "cut.tar").write_bytes(data[: third.offset_data + 100])
    samples = read_shard(tmp_path / "cut.tar")
    assert samples.columns["key"] == ["k0", "k1"]
    assert len(samples.errors) == 1 and samples.errors[0]["key"] is None and "unreadable after 2 samples" in samples.errors[0]["error"]


def test_chunks_are_consecutive_and_cover_every_sample():
    parts = chunks({"key": list("abcdefg"), "uid": list(range(7))}, 3)
    assert [p["key"] for p in parts] == [list("abc"), list("def"), ["g"]]
    assert [p["uid"] for p in parts][-1] == [6]
