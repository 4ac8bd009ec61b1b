"""Pipeline steps, one per module; `build_step` makes one from a TOML/dict description."""

from __future__ import annotations

from pathlib import Path

from curascale.errors import UserError


def step_types():
    from curation.steps.basic import Basic
    from curation.steps.bucketize import Bucketize
    from curation.steps.clip_score import ClipScore

    from curation.steps.image_based import ImageBased, ImageBasedClipScore
    from curation.steps.laion2b import Laion2b
    from curation.steps.no_filter import NoFilter
    from curation.steps.text_based import TextBased

    return {"clip_score": ClipScore, "basic": Basic, "bucketize": Bucketize,
            # DataComp's other baselines (their apply_filter.py names)
            "no_filter": NoFilter, "laion2b": Laion2b, "text_based": TextBased, "image_based": ImageBased, "image_based_clip_score": ImageBasedClipScore}


PATH_PARAMETERS = ("targets", "centroids", "synsets", "wordnet", "lid_model")  # files a step reads


def build_step(entry: dict, *, source: str = "pipeline", base: Path | None = None):
    """A step from its description; with `base` (a pipeline file's folder), relative paths in
    the file parameters (`PATH_PARAMETERS`) are taken relative to it, like `pool` and `out`."""
    kinds = step_types()
    kind = entry.pop("step", None)
    if base is not None:
        entry = {k: str(base / v) if k in PATH_PARAMETERS and isinstance(v, str) and not Path(v).is_absolute() else v for k, v in entry.items()}
    if kind not in kinds:
        raise UserError(f"{source}: unknown step {kind!r} (known: {', '.join(kinds)})")
    try:
        return kinds[kind](**entry)
    except TypeError as error:
        raise UserError(f"{source}: bad parameters for {kind} ({error})") from None
