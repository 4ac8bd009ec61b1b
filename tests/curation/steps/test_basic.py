"""DataComp's basic filter, rule by rule and row for row on the demo pool."""

import numpy as np
import pandas as pd
import pyarrow as pa

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps.basic import Basic, default_lid_model, languages


def table(texts, widths, heights):
    return pa.table({"text": texts, "original_width": widths, "original_height": heights})


def test_each_rule():
    step = Basic()
    rows = table(
        ["a dog on the beach", "two words", "a b c", "a photo of a dog", "a photo of a dog", "a photo of a dog", "ein Hund am Strand im Sommer", "a photo of a dog", None],
        [400, 400, 400, 199, 900, 600, 400, 200, 400],
        [400, 400, 400, 400, 299, 200, 400, 600, 400],
    )
    keep = step.keep(rows)
    # kept; 2 words; 5 characters; short side 199; aspect 3.01; aspect exactly 3 (kept); German; aspect 3 (kept); no text
    assert keep.tolist() == [True, False, False, False, False, True, False, True, False]


def test_matches_a_direct_implementation_on_the_demo_pool(demo_pool, tmp_path):
    LocalEngine(progress=False).run(Pool.open(demo_pool), [Basic()], tmp_path)
    frame = pd.concat([pd.read_parquet(p) for p in sorted(demo_pool.glob("*.parquet"))])
    words = frame["text"].str.split().str.len() > 2
    chars = frame["text"].str.len() > 5
    shorter = np.minimum(frame["original_width"], frame["original_height"])
    longer = np.maximum(frame["original_width"], frame["original_height"])
    english = languages(frame["text"].tolist(), default_lid_model()) == "en"
    expected = frame[words & chars & (shorter >= 200) & (longer / shorter <= 3) & english]["uid"]
    expected = np.sort(np.array([(int(u[:16], 16), int(u[16:], 16)) for u in expected], np.dtype("u8,u8")))
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), expected)
    assert 0.2 < len(expected) / len(frame) < 0.8


def test_each_dropped_row_gets_the_first_rule_it_fails():
    rows = table(
        [None, "two words", "a photo of a dog", "a photo of a dog", "a photo of a dog", "ein Hund am Strand im Sommer", "a dog on the beach", None],
        [400, 400, None, 150, 900, 400, 400, 10],
        [400, 400, 400, 400, 299, 400, 400, 10],
    )
    verdict = Basic().judge(rows)
    # null caption (a crash in DataComp's len(x.split())); 2 words; null width; 150 px; aspect 3.01; German; kept; null caption before size
    assert verdict.reason_of().tolist() == ["caption missing", "caption too short", "image size missing", "image too small", "aspect ratio", "language", None, "caption missing"]
    assert Basic().keep(rows).tolist() == [r is None for r in verdict.reason_of().tolist()]


def test_exclusions_record_the_rule_row_for_row(demo_pool, tmp_path):
    import pyarrow.parquet as pq

    LocalEngine(progress=False).run(Pool.open(demo_pool), [Basic()], tmp_path, exclusions=True)
    frame = pd.concat([pd.read_parquet(p).assign(shard=p.name, row=np.arange(1, len(pd.read_parquet(p)) + 1)) for p in sorted(demo_pool.glob("*.parquet"))], ignore_index=True)
    short = ~((frame["text"].str.split().str.len() > 2) & (frame["text"].str.len() > 5))
    shorter = np.minimum(frame["original_width"], frame["original_height"])
    longer = np.maximum(frame["original_width"], frame["original_height"])
    small, wide = shorter < 200, longer / shorter > 3
    english = pd.Series(False, index=frame.index)
    rest = ~(short | small | wide)
    english[rest] = languages(frame.loc[rest, "text"].tolist(), default_lid_model()) == "en"
    expected = np.select([short, small, wide, ~english], ["caption too short", "image too small", "aspect ratio", "language"], None)
    frame["expected"] = expected
    dropped = frame[frame["expected"].notna()]
    excluded = pq.read_table(tmp_path / "exclusions.parquet").to_pandas()
    assert list(zip(excluded["shard"], excluded["row"], excluded["uid"], excluded["reason"])) == list(zip(dropped["shard"], dropped["row"], dropped["uid"], dropped["expected"]))
    assert set(excluded["step"]) == {"basic"}
