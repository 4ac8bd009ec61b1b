"""A pool whose text columns are large_string (what pandas 3 and polars write) curates to the same
bytes as the same pool written with string columns: subset, manifest and exclusions alike."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.demo import write_demo_pool
from curation.engines.local import LocalEngine
from curation.pool import Pool, with_narrow_types
from curation.steps.basic import Basic
from curation.steps.laion2b import Laion2b


def _large(kind: pa.DataType) -> pa.DataType:
    return pa.large_string() if pa.types.is_string(kind) else pa.large_binary() if pa.types.is_binary(kind) else kind


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    root = tmp_path_factory.mktemp("pools")
    write_demo_pool(root / "plain", 1500, shards=2, seed=4)
    (root / "large").mkdir()
    for shard in sorted((root / "plain").glob("*.parquet")):
        table = pq.read_table(shard)
        table = table.cast(pa.schema([field.with_type(_large(field.type)) for field in table.schema]))
        assert pa.types.is_large_string(table.schema.field("uid").type)
        pq.write_table(table, root / "large" / shard.name)
    return root


@pytest.mark.parametrize("step", [Basic, Laion2b])
@pytest.mark.parametrize("outputs", [{"exclusions": True}, {}, {"subset_only": True}])
def test_large_string_pool_gives_the_same_outputs(pools, tmp_path, step, outputs):
    engine = LocalEngine(progress=False)
    for name in ("plain", "large"):
        engine.run(Pool.open(pools / name), [step()], tmp_path / name, **outputs)
    assert (tmp_path / "large" / "subset.npy").read_bytes() == (tmp_path / "plain" / "subset.npy").read_bytes()
    assert 0 < len(np.load(tmp_path / "large" / "subset.npy")) < 1500
    for table in ("manifest.parquet", "exclusions.parquet"):
        if (tmp_path / "plain" / table).exists():
            assert pq.read_table(tmp_path / "large" / table).equals(pq.read_table(tmp_path / "plain" / table))
    assert (tmp_path / "large" / "exclusions.parquet").exists() == bool(outputs.get("exclusions"))


def test_narrow_types_inside_lists_and_binary():
    table = pa.table({"t": pa.array(["a"], pa.large_string()), "b": pa.array([b"x"], pa.large_binary()),
                      "l": pa.array([["u"]], pa.large_list(pa.large_string())), "n": pa.array([1.5])})
    narrow = with_narrow_types(table)
    assert narrow.schema.types == [pa.string(), pa.binary(), pa.list_(pa.string()), pa.float64()]
    assert narrow.to_pylist() == table.to_pylist()
