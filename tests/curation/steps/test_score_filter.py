"""Score filters on faulty pools: missing and out-of-range scores, the fraction capped at the scored
rows, the threshold compared in the stored dtype; row for row against a plain re-statement of
DataComp's rule (baselines/apply_filter.py: n = int(len(df) * fraction); threshold =
-np.sort(-df[key].values)[n]; keep df[key] >= threshold)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from curascale.errors import CurascaleError
from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.clip_score import ClipScore
from curation.steps.score_filter import ScoreFilter
from pools import datacomp_uids, write_shards

L14 = "clip_l14_similarity_score"


def datacomp_fraction(frame: pd.DataFrame, column: str, fraction: float) -> pd.Series:
    """DataComp's fraction rule, except where its threshold is NaN (n reaches past the scored
    rows): then every scored row (our documented choice; DataComp keeps none)."""
    n = int(len(frame) * fraction)
    ordered = -np.sort(-frame[column].values)  # NaN sorts last
    scored = int(frame[column].notna().sum())
    if n >= scored:
        return frame[column].notna()
    return frame[column] >= ordered[n]


def read_pool(root) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p, columns=["uid", L14]) for p in sorted(root.glob("*.parquet"))], ignore_index=True)


def scores_with_gaps(rng, rows, missing_share):
    scores = rng.normal(0.28, 0.04, size=rows).astype(np.float32).tolist()
    for row in rng.choice(rows, size=int(rows * missing_share), replace=False):
        scores[row] = None if row % 2 else float("nan")  # nulls and NaNs both mean "no score"
    return scores


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.7, 0.75, 0.8, 0.9, 1.0])
@pytest.mark.parametrize("missing_share", [0.0, 0.2, 0.5])
def test_fraction_with_missing_scores_matches_datacomp_row_for_row(tmp_path, fraction, missing_share):
    rng = np.random.default_rng(int(fraction * 100) + int(missing_share * 10))
    pool = write_shards(tmp_path / "pool", [{L14: scores_with_gaps(rng, 700, missing_share)}, {L14: scores_with_gaps(rng, 300, missing_share)}])
    report = LocalEngine(progress=False, workers=2).run(Pool.open(pool), [ClipScore(arch="l14", fraction=fraction)], tmp_path / "out")
    frame = read_pool(pool)
    expected = datacomp_uids(frame[datacomp_fraction(frame, L14, fraction)]["uid"])
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "subset.npy"), expected)
    missing = int(frame[L14].isna().sum())
    capped = missing and int(len(frame) * fraction) >= len(frame) - missing
    assert [n.code for n in report.notes if n.code == "fraction-capped"] == (["fraction-capped"] if capped else [])
    sidecar = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sum(e["rows"] for e in sidecar["integrity"] if e["reason"] == "null score") == missing
    assert [(e["shard"], e["rows"]) for e in sidecar["integrity"]] == [(p.name, int(pd.read_parquet(p)[L14].isna().sum())) for p in sorted(pool.glob("*.parquet")) if missing]


def test_case_01_fraction_past_the_scored_rows_keeps_every_scored_row_and_says_so(tmp_path):
    # /work/shared/cases/01: 20 rows, rows 2, 4, 6, 8 (1-based) without a score, --fraction 0.8
    # crashed with IndexError (index 16 of 16 scored rows)
    scores = [0.2 + 0.01 * i for i in range(20)]
    for row in (1, 3, 5, 7):
        scores[row] = None
    pool = write_shards(tmp_path / "pool", [{L14: scores}])
    for extra in ([], ["--subset-only"]):
        out = tmp_path / f"out{len(extra)}"
        result = subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", "curate", "clip-score", str(pool), "--out", str(out), "--fraction", "0.8", *extra],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "fraction-capped" in result.stderr
        frame = read_pool(pool)
        np.testing.assert_array_equal(np.load(out / "subset.npy"), datacomp_uids(frame[frame[L14].notna()]["uid"]))
        sidecar = json.loads((out / "manifest.json").read_text())
        assert sidecar["samples"] == 16
        assert [n["code"] for n in sidecar["notes"]] == ["fraction-capped", "faulty-rows"]
        assert sidecar["notes"][0]["details"]["scored"] == 16 and sidecar["notes"][0]["details"]["missing"] == 4
        assert sidecar["integrity"] == [{"shard": "00000000.parquet", "step": "clip_score", "reason": "null score", "rows": 4}]


def test_threshold_is_compared_in_the_stored_dtype(tmp_path):
    threshold = 0.7
    assert float(np.float32(threshold)) < threshold  # the case where a float64 comparison drops the row
    scores = [float(np.float32(threshold)), float(np.nextafter(np.float32(threshold), np.float32(0))), 0.9, 0.1]
    pool = write_shards(tmp_path / "pool", [{L14: scores}])
    LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=threshold)], tmp_path / "out")
    frame = read_pool(pool)
    assert frame[L14].dtype == np.float32
    expected = datacomp_uids(frame[frame[L14] >= threshold]["uid"])  # DataComp's pandas comparison
    assert len(expected) == 2
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "subset.npy"), expected)


def test_out_of_range_and_non_finite_scores_are_counted_per_shard_and_never_kept(tmp_path):
    pool = write_shards(tmp_path / "pool", [{L14: [0.3, 1.5, -1.0, 1.0, float("inf")]}, {L14: [0.5, -2.0, None, 0.4, 0.2]}])
    report = LocalEngine(progress=False).run(Pool.open(pool), [ClipScore(arch="l14", threshold=-1.0)], tmp_path / "out", exclusions=True)
    frame = read_pool(pool)
    valid = frame[L14].between(-1, 1)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "subset.npy"), datacomp_uids(frame[valid]["uid"]))
    sidecar = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sidecar["integrity"] == [
        {"shard": "00000000.parquet", "step": "clip_score", "reason": "score out of range", "rows": 2},
        {"shard": "00000001.parquet", "step": "clip_score", "reason": "null score", "rows": 1},
        {"shard": "00000001.parquet", "step": "clip_score", "reason": "score out of range", "rows": 1},
    ]
    assert "faulty-rows" in [n.code for n in report.notes]
    excluded = pq.read_table(tmp_path / "out" / "exclusions.parquet").to_pylist()
    assert [(e["shard"], e["row"], e["reason"]) for e in excluded] == [
        ("00000000.parquet", 2, "score out of range"), ("00000000.parquet", 5, "score out of range"),
        ("00000001.parquet", 2, "score out of range"), ("00000001.parquet", 3, "null score")]


def test_a_column_that_is_not_numbers_is_one_line(tmp_path):
    pool = write_shards(tmp_path / "pool", [{"tmars_score": ["high", "low"]}])
    with pytest.raises(CurascaleError, match="column 'tmars_score' holds string, not numbers"):
        LocalEngine(progress=False).run(Pool.open(pool), [ScoreFilter(score_column="tmars_score", threshold=0.1)], tmp_path / "out")


@pytest.mark.parametrize("arguments, message", [
    ({"threshold": float("nan")}, "threshold must be a number, got nan"),
    ({"threshold": "0.3"}, "threshold must be a number, got '0.3'"),
    ({"fraction": float("nan")}, r"fraction must be a number in \(0, 1\], got nan"),
    ({"fraction": 0}, r"fraction must be a number in \(0, 1\], got 0"),
    ({"fraction": 1.5}, r"fraction must be a number in \(0, 1\], got 1.5"),
    ({"fraction": True}, r"fraction must be a number in \(0, 1\], got True"),
    ({}, "exactly one of threshold or fraction"),
    ({"threshold": 0.3, "fraction": 0.3}, "exactly one of threshold or fraction"),
])
def test_bad_rules_are_one_line_errors(arguments, message):
    for kind in (lambda **k: ScoreFilter(score_column="tmars_score", **k), lambda **k: ClipScore(arch="b32", **k)):
        with pytest.raises(CurascaleError, match=message):
            kind(**arguments)
