"""Duplicate uids within and across shards (/work/shared/cases/03 and 4.26), upper-case uids:
found over the whole pool, reported with shard, row and uid, written once."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from curascale.errors import CurascaleError
from curation.engines.local import LocalEngine
from curation.pool import Pool, duplicate_uids, uid_pairs
from curation.steps.bucketize import Bucketize
from curation.steps.clip_score import ClipScore
from pools import datacomp_uids, write_shards

L14 = "clip_l14_similarity_score"
ACROSS, WITHIN = "5f82c2d9cfeb0fa321d7d982f8bd1045", "bf7fdca1e7012b8bedbf568f07e860ef"


def case_03_pool(root):
    """2 shards x 10 rows: ACROSS at shard 0 row 1 and shard 1 row 1 (0-based), WITHIN at shard 0
    rows 5 and 6; scores high enough that every copy passes a top-half filter."""
    rng = np.random.default_rng(3)
    uids = [[f"{int(v):032x}" for v in rng.integers(1, 2**62, size=10)] for _ in range(2)]
    uids[0][1] = uids[1][1] = ACROSS
    uids[0][5] = uids[0][6] = WITHIN
    scores = [[0.1 + 0.01 * i for i in range(10)] for _ in range(2)]
    for shard, row in ((0, 1), (1, 1), (0, 5), (0, 6)):
        scores[shard][row] = 0.45 - 0.01 * shard
    return write_shards(root, [{"uid": uids[0], L14: scores[0]}, {"uid": uids[1], L14: scores[1]}])


def test_duplicate_uids_finds_every_copy_in_pool_order():
    parts = [uid_pairs(["0" * 32, "1" * 32, "2" * 32, "1" * 32]), uid_pairs(["3" * 32, "0" * 32, "1" * 32])]
    found = duplicate_uids(parts)
    assert [(d.uid, d.copies) for d in found] == [("0" * 32, ((0, 0), (1, 1))), ("1" * 32, ((0, 1), (0, 3), (1, 2)))]
    assert duplicate_uids([uid_pairs([f"{i:032x}" for i in range(100)])]) == []
    # the same high half, different low halves: not duplicates
    assert duplicate_uids([uid_pairs(["a" * 16 + "0" * 16, "a" * 16 + "1" * 16])]) == []


def test_case_03_subset_holds_each_uid_once_and_the_duplicates_are_reported(tmp_path):
    pool = case_03_pool(tmp_path / "pool")
    report = LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.5)], tmp_path / "out", exclusions=True)
    frame = pd.concat([pd.read_parquet(p) for p in sorted(pool.glob("*.parquet"))], ignore_index=True)
    threshold = -np.sort(-frame[L14].values)[int(len(frame) * 0.5)]
    datacomp = datacomp_uids(frame[frame[L14] >= threshold]["uid"])  # DataComp's apply_filter: 11 entries, 9 uids
    assert len(datacomp) == 11 and len(np.unique(datacomp)) == 9
    subset = np.load(tmp_path / "out" / "subset.npy")
    np.testing.assert_array_equal(subset, np.unique(datacomp))
    manifest = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pandas()
    assert manifest["uid"].is_unique and len(manifest) == 9
    sidecar = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sidecar["duplicates"]["uids"] == 2 and sidecar["duplicates"]["extra_copies"] == 2 and sidecar["duplicates"]["excluded"] == 2
    assert sidecar["duplicates"]["listed"] == [
        {"uid": ACROSS, "copies": [{"shard": "00000000.parquet", "row": 2}, {"shard": "00000001.parquet", "row": 2}]},
        {"uid": WITHIN, "copies": [{"shard": "00000000.parquet", "row": 6}, {"shard": "00000000.parquet", "row": 7}]},
    ]
    assert sidecar["counts"] == [{"step": "clip_score", "in": 20, "out": 11}, {"step": "duplicates", "in": 11, "out": 9}]
    excluded = pq.read_table(tmp_path / "out" / "exclusions.parquet").to_pandas()
    duplicates = excluded[excluded["reason"] == "duplicate uid"]
    assert sorted(zip(duplicates["uid"], duplicates["shard"], duplicates["row"])) == sorted([(ACROSS, "00000001.parquet", 2), (WITHIN, "00000000.parquet", 7)])
    note = next(n for n in report.notes if n.code == "duplicate-uids")
    assert ACROSS in note.message and "00000000.parquet row 2" in note.message and "00000001.parquet row 2" in note.message


def test_the_first_copy_that_passes_is_the_one_kept(tmp_path):
    # ACROSS's first copy (shard 0) fails the threshold, its second passes: the uid is kept once,
    # with the second copy's score
    uid = ACROSS
    pool = write_shards(tmp_path / "pool", [{"uid": [uid, "a" * 32], L14: [0.1, 0.4]}, {"uid": ["b" * 32, uid], L14: [0.4, 0.35]}])
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.3)], tmp_path / "out")
    manifest = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pandas().set_index("uid")
    assert sorted(manifest.index) == sorted(["a" * 32, "b" * 32, uid])
    assert manifest.loc[uid, L14] == pytest.approx(0.35)


def test_on_duplicate_error_rejects_the_pool_naming_shard_row_and_uid(tmp_path):
    pool = case_03_pool(tmp_path / "pool")
    with pytest.raises(CurascaleError, match=rf"duplicate uid {ACROSS} at 00000000.parquet row 2 and 00000001.parquet row 2 \(2 uids"):
        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.5)], tmp_path / "out", on_duplicate="error")
    assert not (tmp_path / "out" / "subset.npy").exists()
    with pytest.raises(CurascaleError, match="on_duplicate must be one of keep-first, error"):
        LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", fraction=0.5)], tmp_path / "out", on_duplicate="last")


def test_bucket_sizes_count_unique_samples(tmp_path):
    pool = case_03_pool(tmp_path / "pool")
    step = Bucketize(score_column=L14, edges=(0, 50, 100))
    report = LocalEngine(progress=False).run(Pool.open(pool), [step], tmp_path / "out")
    subsets = {name: np.load(tmp_path / "out" / name / "subset.npy") for name in step.buckets}
    everything = np.concatenate(list(subsets.values()))
    assert len(everything) == len(np.unique(everything)) == 18  # 20 rows, 18 distinct uids
    for name, subset in subsets.items():
        assert report.outputs[name]["samples"] == len(subset) == len(np.unique(subset))


def test_upper_case_uids_are_accepted_and_written_lower_case(tmp_path):
    uids = ["ABCDEF0123456789ABCDEF0123456789", "abcdef0123456789abcdef012345678a", "0000000000000000000000000000000F"]
    pool = write_shards(tmp_path / "pool", [{"uid": uids, L14: [0.4, 0.3, 0.5]}])
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.0)], tmp_path / "out")
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "subset.npy"), datacomp_uids(uids))  # DataComp: int(uid, 16)
    assert sorted(pq.read_table(tmp_path / "out" / "manifest.parquet").column("uid").to_pylist()) == sorted(u.lower() for u in uids)
    # the same sample spelled in both cases is one uid
    pool = write_shards(tmp_path / "pool2", [{"uid": [uids[0], uids[0].lower()], L14: [0.4, 0.3]}])
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=0.0)], tmp_path / "out2")
    assert len(np.load(tmp_path / "out2" / "subset.npy")) == 1
