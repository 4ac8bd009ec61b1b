"""`curascale curate` flags through the CLI; the subsets are recomputed from the pool with numpy
(DataComp's fraction rule: keep score >= the score at 0-based rank int(R f) of the pool, descending)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from cli import curascale
from curation.pool import pair_to_uid


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate") / "pool"
    curascale("curate", "demo-pool", root, "--rows", "2000", "--shards", "2", "--seed", "9")
    return root, pd.concat([pd.read_parquet(p) for p in sorted(root.glob("*.parquet"))], ignore_index=True)


def top_fraction(frame, column, fraction):
    scores = frame[column].to_numpy()
    threshold = np.sort(scores[~np.isnan(scores)])[::-1][int(len(frame) * fraction)]
    return set(frame.loc[scores >= threshold, "uid"])


def subset(path):
    return [pair_to_uid(p) for p in np.load(path)]


def test_clip_score_fraction_and_exclusions(pool, tmp_path):
    root, frame = pool
    curascale("curate", "clip-score", root, "--out", tmp_path / "c", "--arch", "b32", "--fraction", "0.3", "--exclusions")
    kept = subset(tmp_path / "c" / "subset.npy")
    assert set(kept) == top_fraction(frame, "clip_b32_similarity_score", 0.3) and kept == sorted(kept)
    excluded = pd.read_parquet(tmp_path / "c" / "exclusions.parquet")
    assert set(excluded["uid"]) == set(frame["uid"]) - set(kept) and excluded["reason"].notna().all()
    manifest = pd.read_parquet(tmp_path / "c" / "manifest.parquet")
    assert set(manifest["uid"]) == set(kept)
    curascale("curate", "clip-score", root, "--out", tmp_path / "s", "--arch", "b32", "--fraction", "0.3", "--subset-only")
    assert (tmp_path / "s" / "subset.npy").read_bytes() == (tmp_path / "c" / "subset.npy").read_bytes()
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if not p.name.startswith(".")) == ["manifest.json", "subset.npy"]


def test_basic_lid_model(pool, tmp_path):
    from curation.steps.basic import default_lid_model

    root, _ = pool
    model = tmp_path / "my-lid.ftz"
    shutil.copyfile(default_lid_model(), model)
    curascale("curate", "basic", root, "--out", tmp_path / "default")
    curascale("curate", "basic", root, "--out", tmp_path / "given", "--lid-model", model)
    assert (tmp_path / "given" / "subset.npy").read_bytes() == (tmp_path / "default" / "subset.npy").read_bytes()
    sidecar = json.loads((tmp_path / "given" / "manifest.json").read_text())
    assert sidecar["chain"][0]["lid_model"] == "my-lid.ftz"
    assert 0 < sidecar["samples"] < 2000


def test_basic_lid_model_missing_is_one_line(pool, tmp_path):
    root, _ = pool
    result = curascale("curate", "basic", root, "--out", tmp_path / "x", "--lid-model", tmp_path / "none.bin", check=False)
    assert result.returncode == 2 and "none.bin" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bucketize_by_and_registration(pool, tmp_path):
    from runs_db import connect

    root, frame = pool
    db = tmp_path / "r.duckdb"
    curascale("curate", "bucketize", root, "--out", tmp_path / "k", "--by", "clip_b32_similarity_score", "--edges", "0,25", "--db", db)
    assert set(subset(tmp_path / "k" / "top0to25p" / "subset.npy")) == top_fraction(frame, "clip_b32_similarity_score", 0.25)
    buckets = connect(db).query("SELECT name, score_column, quantile_lo, quantile_hi, size_samples FROM buckets")
    assert buckets.to_dict(orient="records") == [{"name": "top0to25p", "score_column": "clip_b32_similarity_score", "quantile_lo": 0.0,
                                                  "quantile_hi": 25.0, "size_samples": len(top_fraction(frame, "clip_b32_similarity_score", 0.25))}]
    quiet = tmp_path / "quiet.duckdb"
    result = curascale("curate", "bucketize", root, "--out", tmp_path / "q", "--edges", "0,25", "--db", quiet, "--no-register")
    assert not quiet.exists() and "registered" not in result.stdout
    assert set(subset(tmp_path / "q" / "top0to25p" / "subset.npy")) == top_fraction(frame, "clip_l14_similarity_score", 0.25)
