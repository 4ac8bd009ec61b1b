"""The text-match baseline of T-MARS (Maini et al. 2023): drop pairs whose caption is largely
written in the image. `caption_overlap` is the share of the caption's words (lowercased letters and
digits, 3+ characters) found in the recognised text (lowercased, spaces and punctuation removed,
since OCR often runs words together). `TextMatchScore` stores it per image as
`text_match_overlap` (needs `TextDetect(recognize=True)`); the `TextMatch` filter keeps the rows
whose overlap is at most `max_overlap`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from curation.steps.base import Batch, Filter, ImageStep, number, readable, with_column

_WORD = re.compile(r"[^\W_]+")


def caption_overlap(recognised: str | None, caption: str) -> float:
    words = [w for w in _WORD.findall(caption.lower()) if len(w) >= 3]
    letters = "".join(_WORD.findall((recognised or "").lower()))
    if not words or not letters:
        return 0.0
    return sum(word in letters for word in words) / len(words)


@dataclass
class TextMatchScore(ImageStep):
    name: str = field(init=False, default="text_match_score")

    def outputs(self):
        return {"text_match_overlap": pa.float64()}

    def __call__(self, batch: Batch) -> Batch:
        rows = readable(batch)
        return with_column(batch, "text_match_overlap", rows, [caption_overlap(batch["ocr_text"][row], batch["text"][row]) for row in rows])


@dataclass
class TextMatch(Filter):
    max_overlap: float = 0.5
    name: str = field(init=False, default="text_match")

    def __post_init__(self):
        self.max_overlap = number(self.max_overlap, "max_overlap", low=0, high=1)

    @property
    def columns(self):
        return ("text_match_overlap",)

    @property
    def manifest_columns(self):
        return ("text_match_overlap",)

    def keep(self, table: pa.Table) -> np.ndarray:
        return table.column("text_match_overlap").to_numpy(zero_copy_only=False).astype(np.float64) <= self.max_overlap
