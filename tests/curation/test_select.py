"""The bounded-memory exact k-th largest (radix select) against a plain sort, and the fraction
threshold it gives against the previous exact selection (top_values) on a demo pool."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.select import column_values, key_value, kth_largest, order_keys, pool_kth_largest
from curation.steps.base import top_values
from curation.steps import score_filter
from curation.steps.score_filter import ScoreFilter


def sorted_kth(shards, k):
    values = np.concatenate(shards).astype(np.float64)
    values = values[~np.isnan(values)]
    return -np.sort(-values)[k - 1] if k <= values.size else None


@pytest.fixture(scope="module")
def awkward_shards():
    """float32 scores with ties, NaN, signed zeros, infinities and negatives, in 6 shards."""
    rng = np.random.default_rng(1)
    shards = [rng.normal(0.3, 0.05, 2000).astype(np.float32) for _ in range(6)]
    shards[1][:300] = np.nan
    shards[2][:400] = np.float32(0.3)
    shards[3][:5], shards[3][5:10] = -0.0, 0.0
    shards[4][:3], shards[4][3:6] = -np.inf, np.inf
    shards[5][:100] = -2.5
    shards.append(np.empty(0, np.float32))  # an empty shard
    return shards


@pytest.mark.parametrize("budget,bits", [(1 << 22, 20), (0, 20), (0, 7), (5, 16), (100, 3)])
def test_kth_largest_is_the_sorted_value(awkward_shards, budget, bits):
    total = sum(int((~np.isnan(s)).sum()) for s in awkward_shards)
    for k in (1, 2, 6, 7, 500, 3000, 3601, total - 1, total):
        assert kth_largest(lambda: iter(awkward_shards), k, budget=budget, bits=bits) == sorted_kth(awkward_shards, k), k
    assert kth_largest(lambda: iter(awkward_shards), total + 1) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=40), min_size=1, max_size=5), st.integers(1, 200), st.integers(0, 8))
def test_kth_largest_property(shards, k, budget):
    arrays = [np.array(s, dtype=np.float32) for s in shards]
    got = kth_largest(lambda: iter(arrays), k, budget=budget, bits=11)
    expected = sorted_kth(arrays, k)
    assert got == expected if expected is not None else got is None


def test_order_keys_round_trip():
    values = np.array([-np.inf, -3.5, -1e-300, -0.0, 0.0, 5e-324, 0.28, 1.0, np.inf])
    keys = order_keys(values)
    assert (np.diff(keys.astype(object)) > 0).all()  # strictly increasing with the values
    assert [key_value(int(key)) for key in keys] == values.tolist()


def test_fraction_threshold_is_the_previous_exact_selection(demo_pool, monkeypatch):
    """Both of ScoreFilter's selections (the top n+1 held, and the radix select past the budget)
    give the score at index n of the pool's scores sorted descending (a plain numpy sort)."""
    import pandas as pd

    pool = Pool.open(demo_pool)
    engine = LocalEngine(progress=False)
    scan = lambda columns: engine.scan(pool, columns)  # noqa: E731
    rows = pool.rows()
    frame = pd.concat([pd.read_parquet(p) for p in sorted(demo_pool.glob("*.parquet"))])
    for column in ("clip_b32_similarity_score", "clip_l14_similarity_score"):
        values = frame[column].to_numpy(dtype=np.float64)
        values = -np.sort(-values[~np.isnan(values)])
        for fraction in (0.0001, 0.1, 0.3, 0.9, 0.99995):
            n = int(rows * fraction)
            expected = values[n]
            assert float(top_values(scan, column, n + 1).values[n]) == expected
            assert kth_largest(column_values(scan, column), n + 1, budget=0, bits=8) == expected
            assert pool_kth_largest(scan, column, n + 1, budget=n) == pool_kth_largest(scan, column, n + 1, budget=n + 1) == expected  # radix, then top_values
            for budget in (0, n + 1):  # past the budget: the radix select; within it: the top n+1 held
                monkeypatch.setattr(score_filter, "BUDGET", budget)
                step = ScoreFilter(score_column=column, fraction=fraction)
                step.rows = rows
                step.prepare(scan)
                assert step.applied_threshold == expected


def test_radix_threshold_skips_null_and_out_of_range_scores(tmp_path, monkeypatch):
    """Past the budget, the threshold is still taken over the valid scores alone (nulls and
    out-of-range cosines skipped, as the held top does), and a fraction reaching past them is
    capped with its note."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool_dir = tmp_path / "pool"
    pool_dir.mkdir()
    scores = [0.9, None, 1.5, 0.7, 0.5, -3.0, 0.3, 0.1]  # 5 valid: 0.9, 0.7, 0.5, 0.3, 0.1
    pq.write_table(pa.table({"uid": [f"{i:032x}" for i in range(8)], "url": ["u"] * 8, "text": ["t"] * 8,
                             "clip_l14_similarity_score": pa.array(scores, pa.float64())}), pool_dir / "00000000.parquet")
    pool = Pool.open(pool_dir)
    scan = lambda columns: LocalEngine(progress=False).scan(pool, columns)  # noqa: E731
    monkeypatch.setattr(score_filter, "BUDGET", 0)
    for fraction, threshold, notes in ((0.25, 0.5, []), (0.75, -np.inf, ["fraction-capped"])):  # n = 2 -> 3rd valid; n = 6 > 5 valid
        step = ScoreFilter(score_column="clip_l14_similarity_score", fraction=fraction)
        step.rows = 8
        step.prepare(scan)
        assert step.applied_threshold == threshold
        assert [note.code for note in step.notes()] == notes


def test_score_filter_subset_is_datacomps(demo_pool, tmp_path):
    step = ScoreFilter(score_column="clip_l14_similarity_score", fraction=0.3)
    LocalEngine(progress=False).run(Pool.open(demo_pool), [step], tmp_path, subset_only=True)
    import pandas as pd

    frame = pd.concat([pd.read_parquet(p, columns=["uid", "clip_l14_similarity_score"]) for p in sorted(demo_pool.glob("*.parquet"))])
    threshold = -np.sort(-frame["clip_l14_similarity_score"].values)[int(len(frame) * 0.3)]
    uids = frame[frame["clip_l14_similarity_score"] >= threshold]["uid"]
    expected = np.sort(np.array([(int(u[:16], 16), int(u[16:], 16)) for u in uids], np.dtype("u8,u8")))
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), expected)
