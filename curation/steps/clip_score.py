"""DataComp's CLIP-score baseline: `ScoreFilter` on the pool's precomputed CLIP B/32 or L/14
score (`--arch`), with their threshold and fraction semantics (see score_filter.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from curascale.errors import UserError
from curation.steps.score_filter import ScoreFilter

ARCH_COLUMNS = {"b32": "clip_b32_similarity_score", "l14": "clip_l14_similarity_score"}


def score_column(arch: str) -> str:
    if arch not in ARCH_COLUMNS:
        raise UserError(f"--arch must be one of {', '.join(ARCH_COLUMNS)}, got {arch!r}")
    return ARCH_COLUMNS[arch]


@dataclass
class ClipScore(ScoreFilter):
    arch: str = "l14"
    column: str = field(init=False, default="")
    name: str = field(init=False, default="clip_score")

    def __post_init__(self):
        self.column = score_column(self.arch)
        if (self.threshold is None) == (self.fraction is None):
            raise UserError("clip_score takes exactly one of --threshold or --fraction")
        super().__post_init__()

    def describe(self) -> dict:
        return {"step": self.name, "arch": self.arch, **{k: v for k, v in super().describe().items() if k != "step"}}
