"""Quality buckets: disjoint, the requested shares, cut with the fraction filter's rule."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from curascale.errors import CurascaleError

from curation.engines.local import LocalEngine
from curation.pool import Pool, pair_to_uid
from curation.steps.bucketize import Bucketize
from curation.steps.clip_score import ClipScore


def test_buckets_are_disjoint_slices_by_percentile(demo_pool, tmp_path):
    step = Bucketize(score_column="clip_l14_similarity_score", edges=(0, 10, 20, 30, 40))
    report = LocalEngine(progress=False).run(Pool.open(demo_pool), [step], tmp_path / "buckets")
    subsets = {name: np.load(tmp_path / "buckets" / name / "subset.npy") for name in step.buckets}
    assert list(subsets) == ["top0to10p", "top10to20p", "top20to30p", "top30to40p"]
    everything = np.concatenate(list(subsets.values()))
    assert len(np.unique(everything)) == len(everything)
    for subset in subsets.values():
        assert abs(len(subset) - 2000) <= 5
    # the union of the top buckets is exactly the CLIP-score fraction filter's subset
    LocalEngine(progress=False).run(Pool.open(demo_pool), [ClipScore(arch="l14", fraction=0.2)], tmp_path / "top20")
    union = np.sort(np.concatenate([subsets["top0to10p"], subsets["top10to20p"]]))
    np.testing.assert_array_equal(union, np.load(tmp_path / "top20" / "subset.npy"))
    sidecar = json.loads((tmp_path / "buckets" / "top10to20p" / "manifest.json").read_text())
    assert sidecar["bucket"] == "top10to20p" and sidecar["samples"] == len(subsets["top10to20p"])
    assert report.outputs["top0to10p"]["samples"] == len(subsets["top0to10p"])


def ranked_pool(root, rows=1003, shards=3, missing=10, seed=4):
    """Distinct scores in random order across shards, all in a cosine's [-1, 1], `missing` of them
    NaN (a missing score)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    scores = rng.permutation(rows).astype(float) / rows * 0.8 + 0.1
    scores[rng.choice(rows, missing, replace=False)] = np.nan
    uids = [f"{i:032x}" for i in rng.permutation(10 * rows)[:rows]]
    root.mkdir(parents=True)
    bounds = np.linspace(0, rows, shards + 1).astype(int)
    for s, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        pq.write_table(pa.table({"uid": uids[lo:hi], "url": [f"u{i}" for i in range(lo, hi)], "text": [f"t{i}" for i in range(lo, hi)],
                                 "clip_l14_similarity_score": scores[lo:hi]}), root / f"{s:05d}.parquet")
    return uids, scores


def test_bucket_edges_are_exact_ranks(tmp_path):
    """A bucket (lo, hi) of a pool of R rows holds the samples ranked (int(R lo/100), int(R hi/100)]
    by descending score (rank 0 included for lo = 0), missing scores in none: the fraction filter's
    rule, restated on ranks. R = 1003 makes int() truncate (1003 * 33 / 100 = 330.99 -> 330)."""
    uids, scores = ranked_pool(tmp_path / "pool")
    edges = (0, 7, 20, 33, 50)
    step = Bucketize(score_column="clip_l14_similarity_score", edges=edges)
    LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [step], tmp_path / "out")
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")  # rank -> row; NaN last
    rank_of = np.empty(len(scores), dtype=int)
    rank_of[order] = np.arange(len(scores))
    ranks = [int(1003 * e / 100) for e in edges]
    assert ranks == [0, 70, 200, 330, 501]
    for (lo, hi), name in zip(zip(ranks, ranks[1:]), step.buckets):
        first = 0 if lo == 0 else lo + 1
        expected = sorted(uids[i] for i in range(len(uids)) if first <= rank_of[i] <= hi and not np.isnan(scores[i]))
        got = sorted(pair_to_uid(p) for p in np.load(tmp_path / "out" / name / "subset.npy"))
        assert got == expected, name
    assert np.load(tmp_path / "out" / "top0to7p" / "subset.npy").size == 71


def test_manifest_repetition_weights_and_default(tmp_path):
    """One manifest for two labelled ranges: rows of a weighted label carry its weight, others 1."""
    import pyarrow.parquet as pq

    uids, scores = ranked_pool(tmp_path / "pool")
    step = Bucketize(score_column="clip_l14_similarity_score", edges=(0, 10, 30), names=("best", "next"), weights={"best": 2.5}, split=False)
    report = LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [step], tmp_path / "out")
    table = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pandas()
    assert set(table["bucket"]) == {"best", "next"}
    np.testing.assert_array_equal(table["repetition_weight"].to_numpy(), np.where(table["bucket"] == "best", 2.5, 1.0))
    assert (table["bucket"] == "best").sum() == int(1003 * 0.1) + 1 and (table["bucket"] == "next").sum() == int(1003 * 0.3) - int(1003 * 0.1)
    assert report.outputs[""]["samples"] == len(table)
    by_uid = dict(zip(uids, scores))
    np.testing.assert_array_equal(table["clip_l14_similarity_score"].to_numpy(), [by_uid[u] for u in table["uid"]])
    no_weights = Bucketize(score_column="clip_l14_similarity_score", edges=(0, 10, 30), split=False)
    LocalEngine(progress=False).run(Pool.open(tmp_path / "pool"), [no_weights], tmp_path / "plain")
    assert set(pq.read_table(tmp_path / "plain" / "manifest.parquet").column("repetition_weight").to_pylist()) == {1.0}


def test_constant_and_mostly_null_columns_make_no_whole_pool_bucket(tmp_path):
    import subprocess
    import sys

    from pools import write_shards
    from runs_db import connect

    column = "clip_l14_similarity_score"
    constant = write_shards(tmp_path / "constant", [{column: [0.3] * 200}])
    mostly_null = write_shards(tmp_path / "mostly_null", [{column: [0.3 + 0.001 * i if i < 10 else None for i in range(200)]}])
    for pool, degenerate in ((constant, ["top0to10p", "top10to20p"]), (mostly_null, ["top0to10p", "top10to20p"])):
        step = Bucketize(score_column=column, edges=(0, 10, 20))
        report = LocalEngine(progress=False).run(Pool.open(pool), [step], tmp_path / f"out-{pool.name}")
        notes = [n for n in report.notes if n.code == "bucket-degenerate"]
        assert [n.details["bucket"] for n in notes] == degenerate
        sidecar = json.loads((tmp_path / f"out-{pool.name}" / "top0to10p" / "manifest.json").read_text())
        assert "bucket-degenerate" in [n["code"] for n in sidecar["notes"]]
        db = tmp_path / f"{pool.name}.duckdb"
        result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", "curate", "bucketize", str(pool), "--out", str(tmp_path / f"cli-{pool.name}"),
                                 "--edges", "0,10,20", "--db", str(db)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "bucket-degenerate" in result.stderr and "registered 0 of 2 buckets" in result.stdout
        assert connect(db).query("SELECT count(*) AS n FROM buckets")["n"].tolist() == [0]
    # the constant pool's top "10%" bucket would have held all 200 rows
    assert len(np.load(tmp_path / "out-constant" / "top0to10p" / "subset.npy")) == 200


def test_a_normal_column_has_no_degenerate_bucket(demo_pool, tmp_path):
    step = Bucketize(score_column="clip_l14_similarity_score", edges=(0, 10, 20, 30, 40))
    report = LocalEngine(progress=False).run(Pool.open(demo_pool), [step], tmp_path)
    assert [n for n in report.notes if n.code == "bucket-degenerate"] == []


@pytest.mark.parametrize("edges, message", [
    ((0, float("nan"), 20), "edges must be a number in \\[0, 100\\], got nan"),
    ((0, "ten"), "edges must be a number in \\[0, 100\\], got 'ten'"),
    ((0, 120), "edges must be a number in \\[0, 100\\], got 120"),
    ((20, 10), "edges must increase"),
    ((10,), "edges needs at least two percentiles .*got 10$"),
    ((), "edges needs at least two percentiles .*got none$"),
    ("0,10", "edges must be a list of percentiles"),
])
def test_bad_edges_are_one_line_errors(edges, message):
    with pytest.raises(CurascaleError, match=message):
        Bucketize(edges=edges)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "tab\there"])
def test_bucket_names_that_would_leave_the_output_folder_are_refused(name):
    with pytest.raises(CurascaleError, match="cannot be a folder name"):
        Bucketize(edges=(0, 10), names=(name,))


def test_close_edges_get_distinct_names_without_rounding():
    step = Bucketize(edges=(0, 10.0049996, 10.00500002, 10.0050004, 20))
    assert step.buckets == ["top0to10.0049996p", "top10.0049996to10.00500002p", "top10.00500002to10.0050004p", "top10.0050004to20p"]
    assert Bucketize(edges=(0, 2.5, 10, 100)).buckets == ["top0to2.5p", "top2.5to10p", "top10to100p"]  # short names as before


def test_colliding_bucket_names_are_refused():
    with pytest.raises(CurascaleError, match="bucket names collide: 'a'"):
        Bucketize(edges=(0, 10, 20), names=("a", "a"))


def test_a_pool_without_any_valid_score_is_an_error_not_empty_buckets(tmp_path):
    from pools import write_shards

    column = "clip_l14_similarity_score"
    pool = write_shards(tmp_path / "pool", [{column: [None] * 50}, {column: [float("nan")] * 30}])
    with pytest.raises(CurascaleError, match=f"no row of the pool has a valid {column}"):
        LocalEngine(progress=False).run(Pool.open(pool), [Bucketize(score_column=column, edges=(0, 10, 20))], tmp_path / "out")
    assert not (tmp_path / "out" / "top0to10p").exists()


def test_a_rerun_with_other_edges_replaces_the_bucket_set(demo_pool, tmp_path):
    out = tmp_path / "out"
    LocalEngine(progress=False).run(Pool.open(demo_pool), [Bucketize(edges=(0, 10, 20, 30, 40))], out)
    (out / "mine").mkdir()
    (out / "mine" / "notes.txt").write_text("kept")
    (out / "top0to10p" / "mine.txt").write_text("kept")  # a user's file in a listed folder: the folder stays with it
    LocalEngine(progress=False).run(Pool.open(demo_pool), [Bucketize(edges=(0, 50))], out)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["manifest.json", "mine", "top0to10p", "top0to50p"]
    assert sorted(p.name for p in (out / "top0to10p").iterdir()) == ["mine.txt"]
    top = json.loads((out / "manifest.json").read_text())
    assert [b["name"] for b in top["buckets"]] == ["top0to50p"]
    # the top 50% of 20,000 rows: ranks 0..9,999 (ties at the cut kept)
    assert top["buckets"][0]["samples"] == len(np.load(out / "top0to50p" / "subset.npy")) >= 10_000
    assert (out / "mine" / "notes.txt").read_text() == "kept"


def test_a_bucketize_run_lists_every_row_it_leaves_out(tmp_path):
    from pools import write_shards

    column = "clip_l14_similarity_score"
    scores = [0.9, 0.8, None, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # bucket (lo, hi]: descending ranks 0..int(10 hi/100) (module docstring): 0.9-0.7, then 0.6-0.4; the null in none
    pool = write_shards(tmp_path / "pool", [{column: scores}])
    out = tmp_path / "out"
    LocalEngine(progress=False).run(Pool.open(pool), [Bucketize(score_column=column, edges=(0, 20, 50))], out, exclusions=True)
    excluded = pq.read_table(out / "exclusions.parquet")
    assert sorted(excluded.column("row").to_pylist()) == [3, 8, 9, 10]  # 1-based: the null, and 0.3, 0.2, 0.1
    assert [len(np.load(out / name / "subset.npy")) for name in ("top0to20p", "top20to50p")] == [3, 3]
    top = json.loads((out / "manifest.json").read_text())
    assert list(top["sha256"]) == ["exclusions.parquet"]
    LocalEngine(progress=False).run(Pool.open(pool), [Bucketize(score_column=column, edges=(0, 20, 50))], out)
    assert not (out / "exclusions.parquet").exists()  # not asked for this time: the old list goes with the old set
