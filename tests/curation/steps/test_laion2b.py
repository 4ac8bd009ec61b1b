"""DataComp's laion2b baseline, row for row against a re-statement of their rule."""

import numpy as np
import pyarrow as pa
import pytest

from curascale.errors import UserError

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.steps import build_step
from curation.steps.laion2b import Laion2b, english
from datacomp_rules import fasttext_language, read_pool, uid_set


def test_matches_datacomp_on_the_edge_pool(edge_pool, tmp_path):
    LocalEngine(progress=False).run(Pool.open(edge_pool), [build_step({"step": "laion2b"})], tmp_path)
    frame = read_pool(edge_pool)
    english = frame["text"].map(lambda t: isinstance(t, str) and fasttext_language(t) == "en")
    expected = frame[english & (frame["clip_b32_similarity_score"] >= 0.28)]["uid"]
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), uid_set(expected))
    # the edges occurred: scores exactly at 0.28 kept, one float32 step below and missing dropped
    b32 = frame["clip_b32_similarity_score"]
    assert (english & (b32 == np.float32(0.28))).sum() > 10 and (english & (b32 < 0.28) & (b32 > 0.2799)).sum() > 10
    assert b32.isna().sum() > 10 and frame["text"].isna().sum() > 10


def test_each_rule():
    at = float(np.float32(0.28))
    rows = pa.table({"text": ["a dog on the beach", "a dog on the beach", "ein Hund am Strand im Sommer", None, "a dog on the beach"],
                     "clip_b32_similarity_score": pa.array([at, float(np.nextafter(np.float32(0.28), 0)), 0.4, 0.4, None], pa.float32())})
    # at 0.28: kept; below: dropped; German; no caption; no score
    assert Laion2b().keep(rows).tolist() == [True, False, False, False, False]
    # each dropped row names its rule: the score's first (a null score is counted as such), then the caption's
    assert Laion2b().judge(rows).reason_of().tolist() == [None, "score below threshold", "language", "caption missing", "null score"]


def test_gcld3_matches_datacomp_on_the_edge_pool(edge_pool, tmp_path):
    gcld3 = pytest.importorskip("gcld3")
    LocalEngine(progress=False).run(Pool.open(edge_pool), [build_step({"step": "laion2b", "language_id": "gcld3"})], tmp_path)
    frame = read_pool(edge_pool)
    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
    english = frame["text"].map(lambda t: isinstance(t, str) and identifier.FindLanguage(text=t.replace("\n", " ")).language == "en")
    expected = frame[english & (frame["clip_b32_similarity_score"] >= 0.28)]["uid"]
    np.testing.assert_array_equal(np.load(tmp_path / "subset.npy"), uid_set(expected))
    assert len(expected) > 50


def test_unknown_language_id():
    with pytest.raises(UserError, match="language_id must be one of fasttext, gcld3, got 'cld2'"):
        Laion2b(language_id="cld2")


def test_english_defaults_to_english_and_returns_a_boolean_mask():
    # the default language is "en" (lid.176's label, lower case); a missing caption is never English
    texts = ["a dog running on the beach at sunset", None, "un chien qui court sur la plage au coucher du soleil"]
    assert english(texts, None).tolist() == [True, False, False]
    assert english(texts, None, language="fr").tolist() == [False, False, True]
    # no caption at all: still a boolean mask (it indexes rows), not numpy's float default
    assert english([], None).dtype == np.bool_ and english([None], None).dtype == np.bool_
