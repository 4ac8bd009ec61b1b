"""T-MARS (Maini et al. 2023) as a pipeline: an image stage (decode, detect text, mask it,
re-score the masked image against its caption with CLIP; optionally the text-match baseline) run
by an engine over WebDataset shards, then the keep rule on the scores with the local engine:
`TextMatch` (when asked) and `ScoreFilter` on `tmars_score` (the top `fraction` of the
readable images, DataComp's fraction rule, or a threshold). Outputs: OUT_DIR/scores/ (every
readable image's scores, a pool for `curate bucketize --by tmars_score`), and the manifests
(subset.npy, manifest.parquet, manifest.json with the image chain and the unreadable samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curation.steps.base import ImageStep


@dataclass(frozen=True)
class TmarsOptions:
    detector: str = "rapidocr"
    clip_model: str = "ViT-L-14"
    pretrained: str | None = "openai"
    ring_width: int = 3
    text_match: float | None = None  # drop pairs whose caption overlap with the image text exceeds this
    unmasked_score: bool = False  # also score the unmasked image with the same model (`clip_score`)
    device: str | None = None
    seed: int = 0


def image_steps(options: TmarsOptions) -> list[ImageStep]:
    from curation.steps.clip_rescore import ClipRescore
    from curation.steps.decode_images import DecodeImages
    from curation.steps.mask_text import MaskText
    from curation.steps.text_detect import TextDetect
    from curation.steps.text_match import TextMatchScore

    clip = {"model": options.clip_model, "pretrained": options.pretrained, "device": options.device, "seed": options.seed}
    steps: list[ImageStep] = [DecodeImages(), TextDetect(detector=options.detector, recognize=options.text_match is not None)]
    if options.text_match is not None:
        steps.append(TextMatchScore())
    steps += [MaskText(ring_width=options.ring_width), ClipRescore(**clip, image_column="masked_image", output="tmars_score")]
    if options.unmasked_score:
        steps.append(ClipRescore(**clip, image_column="image", output="clip_score"))
    return steps


def run_tmars(shards_dir: str | Path, out_dir: str | Path, *, options: TmarsOptions = TmarsOptions(), fraction: float | None = 0.5, threshold: float | None = None, engine=None, batch_size: int = 32, workers: int | None = None, progress: bool = True):
    """Score the shards, keep the best pairs (`threshold`, else the top `fraction`); returns the
    local engine's RunReport of the keep rule (its sidecar record holds the image stage under
    "images"). The output folder is claimed (locked) for the whole run."""
    from curation.engines.local import LocalEngine
    from curation.images import run_with_images
    from curation.steps.score_filter import ScoreFilter
    from curation.steps.text_match import TextMatch

    keep = [ScoreFilter(score_column="tmars_score", threshold=threshold, fraction=None if threshold is not None else fraction)]
    if options.text_match is not None:
        keep.insert(0, TextMatch(max_overlap=options.text_match))
    return run_with_images(shards_dir, image_steps(options), keep, out_dir, local=LocalEngine(workers=workers, progress=progress), engine=engine, batch_size=batch_size)
