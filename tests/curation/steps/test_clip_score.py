"""The CLIP-score filter matches DataComp's baseline semantics row for row."""

import numpy as np
import pandas as pd
import pytest

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
from runs_db import UserError


def datacomp_reference(pool_dir, column, threshold=None, fraction=None):
    """DataComp's baselines.py semantics: pandas reads uid and score, numpy sorts."""
    frame = pd.concat([pd.read_parquet(p, columns=["uid", column]) for p in sorted(pool_dir.glob("*.parquet"))])
    if fraction is not None:
        n = int(len(frame) * fraction)
        threshold = -np.sort(-frame[column].values)[n]
    uids = frame[frame[column] >= threshold]["uid"]
    return np.sort(np.array([(int(u[:16], 16), int(u[16:], 16)) for u in uids], np.dtype("u8,u8")))


@pytest.mark.parametrize("arch, column", [("b32", "clip_b32_similarity_score"), ("l14", "clip_l14_similarity_score")])
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.3, 0.9])
def test_fraction_matches_datacomp(demo_pool, tmp_path, arch, column, fraction):
    LocalEngine(progress=False).run(Pool.open(demo_pool), [ClipScore(arch=arch, fraction=fraction)], tmp_path)
    ours = np.load(tmp_path / "subset.npy")
    np.testing.assert_array_equal(ours, datacomp_reference(demo_pool, column, fraction=fraction))


@pytest.mark.parametrize("threshold", [0.25, 0.3, 0.33])
def test_threshold_matches_datacomp(demo_pool, tmp_path, threshold):
    LocalEngine(progress=False).run(Pool.open(demo_pool), [ClipScore(arch="b32", threshold=threshold)], tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), datacomp_reference(demo_pool, "clip_b32_similarity_score", threshold=threshold))


def test_ties_at_the_threshold_are_kept(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.demo import demo_shard

    table = demo_shard(np.random.default_rng(0), 100)
    scores = np.full(100, 0.2, np.float32)
    scores[:10] = 0.3
    table = table.set_column(table.schema.get_field_index("clip_l14_similarity_score"), "clip_l14_similarity_score", pa.array(scores))
    (tmp_path / "pool").mkdir()
    pq.write_table(table, tmp_path / "pool" / "0.parquet")
    LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [ClipScore(arch="l14", fraction=0.05)], tmp_path / "out")
    # n = 5; the score at index 5 is 0.3, and all ten rows at 0.3 are kept (DataComp keeps ties)
    assert len(np.load(tmp_path / "out" / "subset.npy")) == 10


def test_needs_exactly_one_rule():
    with pytest.raises(UserError, match="exactly one"):
        ClipScore(arch="l14")
    with pytest.raises(UserError, match="exactly one"):
        ClipScore(arch="l14", threshold=0.3, fraction=0.3)
    with pytest.raises(UserError, match="arch must be one of b32, l14, got 'h14'"):
        ClipScore(arch="h14", threshold=0.3)
