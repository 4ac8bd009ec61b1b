"""DataComp's CLIP-score baseline: `ScoreFilter` on the pool's precomputed CLIP B/32 or L/14
score (`arch`), with their threshold and fraction semantics (see score_filter.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.scores import clip_score_column
from curation.steps.score_filter import ScoreFilter


@dataclass
class ClipScore(ScoreFilter):
    arch: str = "l14"
    score_column: str = field(init=False, default="")
    name: str = field(init=False, default="clip_score")

    def __post_init__(self):
        self.score_column = clip_score_column(self.arch)
        super().__post_init__()

    def describe(self) -> dict:
        return {"step": self.name, "arch": self.arch, **{k: v for k, v in super().describe().items() if k != "step"}}
