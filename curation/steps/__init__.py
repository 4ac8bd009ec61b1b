"""Pipeline steps, one per module; `build_step` makes one from a TOML/dict description.

Every step is registered under its `name`. Older spellings of a parameter are accepted:
`by` and `column` for `score_column`, `keep_fraction` for `fraction`.
"""

from __future__ import annotations

from pathlib import Path

from curascale.errors import UserError

ALIASES = {"by": "score_column", "column": "score_column", "keep_fraction": "fraction"}


def step_types() -> dict[str, type]:
    from curation.steps.basic import Basic
    from curation.steps.bucketize import Bucketize
    from curation.steps.clip_rescore import ClipRescore
    from curation.steps.clip_score import ClipScore
    from curation.steps.decode_images import DecodeImages
    from curation.steps.image_based import ImageBased, ImageBasedClipScore
    from curation.steps.laion2b import Laion2b
    from curation.steps.mask_text import MaskText
    from curation.steps.no_filter import NoFilter
    from curation.steps.score_filter import ScoreFilter
    from curation.steps.text_detect import TextDetect
    from curation.steps.text_based import TextBased
    from curation.steps.text_match import TextMatch, TextMatchScore

    kinds = (Basic, Bucketize, ClipScore, ScoreFilter, TextMatch, DecodeImages, TextDetect, TextMatchScore, MaskText, ClipRescore,
             NoFilter, Laion2b, TextBased, ImageBased, ImageBasedClipScore)  # the last five: DataComp's other baselines (their apply_filter.py names)
    return {kind.__dataclass_fields__["name"].default: kind for kind in kinds}


PATH_PARAMETERS = ("targets", "centroids", "synsets", "wordnet", "lid_model")  # files a step reads


def build_step(entry: dict, *, source: str = "pipeline", base: Path | None = None):
    """A step from its description; with `base` (a pipeline file's folder), relative paths in
    the file parameters (`PATH_PARAMETERS`) are taken relative to it, like `pool` and `out`."""
    kinds = step_types()
    entry = dict(entry)
    kind = entry.pop("step", None)
    if base is not None:
        entry = {k: str(base / v) if k in PATH_PARAMETERS and isinstance(v, str) and not Path(v).is_absolute() else v for k, v in entry.items()}
    if kind not in kinds:
        raise UserError(f"{source}: unknown step {kind!r} (known: {', '.join(kinds)})")
    for old, new in ALIASES.items():
        if old in entry and new not in entry and new in kinds[kind].__dataclass_fields__:
            entry[new] = entry.pop(old)
    accepted = [name for name, spec in kinds[kind].__dataclass_fields__.items() if spec.init]
    unknown = [name for name in entry if name not in accepted]
    if unknown:
        raise UserError(f"{source}: {kind} has no parameter {unknown[0]!r} (it has: {', '.join(accepted)})")
    try:
        return kinds[kind](**entry)
    except TypeError as error:
        raise UserError(f"{source}: bad parameters for {kind} ({error})") from None
    except UserError as error:
        raise UserError(f"{source}: {error}") from None
