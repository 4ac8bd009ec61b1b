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
