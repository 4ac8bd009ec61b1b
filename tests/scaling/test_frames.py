"""Law inputs from files and the registry (scaling/frames.py): a column under the registry's rule,
and the bucket metadata a data plan takes from the registry (the newest pool wins)."""

import time

import numpy as np
import pytest

from curascale.errors import IngestError
from runs_db.registry import connect
from scaling.frames import bucket_metadata, validated_column


def test_a_column_is_read_under_its_registry_rule():
    values = validated_column([1, "2", None, 3.5, np.int64(7)], "samples_seen", "runs.csv")
    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, [1.0, 2.0, np.nan, 3.5, 7.0])
    with pytest.raises(IngestError) as raised:
        validated_column([5, -1], "samples_seen", "runs.csv")
    assert str(raised.value) == "runs.csv, row 2, column 'samples_seen': must be positive, got -1"
    with pytest.raises(IngestError, match=r"^runs.csv, row 1, column 'domain_fraction': must be in \[0, 1\], got 1.5$"):
        validated_column([1.5], "domain_fraction", "runs.csv")
    np.testing.assert_array_equal(validated_column([0, 2.5], "epochs", "runs.csv"), [0.0, 2.5])  # nonnegative: 0 is a value
    # a column the registry does not know is held to the law inputs' rule: positive
    with pytest.raises(IngestError, match="^f.csv, row 3, column 'my_input': must be positive, got 0$"):
        validated_column([1, 2, 0], "my_input", "f.csv")


def test_bucket_metadata_takes_the_newest_pools_buckets(tmp_path):
    db = str(tmp_path / "r.duckdb")
    registry = connect(db)
    assert bucket_metadata(db, []) == {}
    for pool, size, column in (("old", 12_800_000, "clip_score"), ("new", 25_600_000, "tmars_score")):
        registry.register_pool(pool, source="test", size_samples=4 * size, fingerprint=pool)
        registry.register_buckets(pool, [{"name": name, "score_column": column, "quantile_lo": lo, "quantile_hi": lo + 10, "size_samples": size}
                                         for name, lo in (("top10", 0), ("top20", 10))])
        time.sleep(0.01)  # pools are ordered by their registration time
    assert bucket_metadata(db, ["top20", "top10", "missing"]) == {
        "bucket_size_samples": {"top20": 25.6e6, "top10": 25.6e6},
        "bucket_percentile_ranges": {"top20": [10.0, 20.0], "top10": [0.0, 10.0]},
        "nested_buckets": ["top20", "top10"],
        "score_column": "tmars_score",
        "pool": "new",
    }
    assert bucket_metadata(db, ["missing"]) == {} and bucket_metadata(db, None) == {}
