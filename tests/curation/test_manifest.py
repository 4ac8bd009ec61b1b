"""curation.manifest: the subset file is DataComp's sorted (u8, u8) array, every writer returns
the sha256 of exactly the bytes it left on disk, sidecars are deterministic, nothing half-written."""

import hashlib
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curation import manifest
from curation.pool import UID_DTYPE


def pairs(values):
    out = np.empty(len(values), dtype=UID_DTYPE)
    out["f0"], out["f1"] = zip(*values)
    return out


def test_subset_is_the_sorted_uid_array_as_np_save_writes_it(tmp_path):
    unsorted = pairs([(5, 1), (2, 9), (5, 0), (2**64 - 1, 3), (0, 0)])
    digest = manifest.write_subset(tmp_path / "sub" / "subset.npy", unsorted)
    loaded = np.load(tmp_path / "sub" / "subset.npy")
    assert loaded.dtype == UID_DTYPE
    assert [tuple(map(int, p)) for p in loaded] == [(0, 0), (2, 9), (5, 0), (5, 1), (2**64 - 1, 3)]
    buffer = io.BytesIO()
    np.save(buffer, np.sort(unsorted))
    assert (tmp_path / "sub" / "subset.npy").read_bytes() == buffer.getvalue()
    assert digest == hashlib.sha256(buffer.getvalue()).hexdigest()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["subset.npy"]  # no temporary left


def test_atomic_write_replaces_and_hashes(tmp_path):
    target = tmp_path / "a" / "b.bin"
    assert manifest.atomic_write(target, b"first") == hashlib.sha256(b"first").hexdigest()
    assert manifest.atomic_write(target, b"second") == hashlib.sha256(b"second").hexdigest()
    assert target.read_bytes() == b"second" and [p.name for p in target.parent.iterdir()] == ["b.bin"]


def test_parquet_streams_every_table_cast_to_the_schema(tmp_path):
    schema = pa.schema([("uid", pa.string()), ("score", pa.float64())])
    tables = [pa.table({"score": pa.array([0.5, 0.25], pa.float32()), "uid": ["a", "b"], "extra": [1, 2]}), pa.table({"uid": ["c"], "score": [1.0]})]
    digest = manifest.write_parquet(tmp_path / "m.parquet", tables, schema)
    written = pq.read_table(tmp_path / "m.parquet")
    assert written.schema == schema
    assert written.to_pydict() == {"uid": ["a", "b", "c"], "score": [0.5, 0.25, 1.0]}
    assert digest == hashlib.sha256((tmp_path / "m.parquet").read_bytes()).hexdigest()
    assert pq.ParquetFile(tmp_path / "m.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
    assert manifest.write_parquet(tmp_path / "n.parquet", tables, schema, digest=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.parquet", "n.parquet"]


def test_sidecar_is_sorted_json_with_the_tool_and_same_bytes_twice(tmp_path):
    record = {"samples": 3, "chain": [{"step": "basic"}], "pool": {"fingerprint": "abc"}, "score": np.float32(0.5)}
    first = manifest.write_sidecar(tmp_path / "a.json", record)
    second = manifest.write_sidecar(tmp_path / "b.json", dict(reversed(list(record.items()))))
    assert first == second and (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    text = (tmp_path / "a.json").read_text()
    loaded = json.loads(text)
    assert loaded == {"samples": 3, "chain": [{"step": "basic"}], "pool": {"fingerprint": "abc"}, "score": 0.5,
                      "tool": "curascale", "tool_version": manifest.tool_version()}
    assert list(loaded) == sorted(loaded) and text.endswith("}\n") and text.startswith('{\n "chain"')
    assert first == hashlib.sha256(text.encode()).hexdigest()
