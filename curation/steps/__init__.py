"""Pipeline steps, one per module; `build_step` makes one from a TOML/dict description."""

from __future__ import annotations

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


def build_step(entry: dict, *, source: str = "pipeline"):
    kinds = step_types()
    kind = entry.pop("step", None)
    if kind not in kinds:
        raise UserError(f"{source}: unknown step {kind!r} (known: {', '.join(kinds)})")
    try:
        return kinds[kind](**entry)
    except TypeError as error:
        raise UserError(f"{source}: bad parameters for {kind} ({error})") from None
