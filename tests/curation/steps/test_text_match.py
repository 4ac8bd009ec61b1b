import numpy as np
import pyarrow as pa
import pytest

from curation.steps.text_match import TextMatch, TextMatchScore, caption_overlap


@pytest.mark.parametrize("recognised, caption, expected", [
    ("SALE TODAY", "big sale today only", 2 / 4),
    ("StadtFrauein", "Stadt Frau ein blau", 3 / 4),  # OCR runs words together; "blau" is not in the image
    ("", "a photo of a dog", 0.0),
    (None, "a photo of a dog", 0.0),
    ("dog", "a of", 0.0),  # no caption word of 3+ letters
    ("Ünïcode café", "café crème", 1 / 2),
])
def test_caption_overlap(recognised, caption, expected):
    assert caption_overlap(recognised, caption) == pytest.approx(expected)


def test_score_step_and_filter():
    batch = {"key": ["a", "b", "c"], "text": ["big sale today", "a dog on a beach", "x"], "ocr_text": ["SALE TODAY", "", None], "error": [None, None, "cannot decode image"]}
    scores = TextMatchScore()(batch)["text_match_overlap"]
    assert scores == [pytest.approx(2 / 3), 0.0, None]
    keep = TextMatch(max_overlap=0.5).keep(pa.table({"text_match_overlap": [2 / 3, 0.0, 0.5]}))
    assert np.array_equal(keep, [False, True, True])
