"""Pipeline steps, one per module; `build_step` makes one from a TOML/dict description."""

from __future__ import annotations

from curascale.errors import UserError


def step_types():
    from curation.steps.basic import Basic
    from curation.steps.bucketize import Bucketize
    from curation.steps.clip_score import ClipScore

    return {"clip_score": ClipScore, "basic": Basic, "bucketize": Bucketize}


def build_step(entry: dict, *, source: str = "pipeline"):
    kinds = step_types()
    kind = entry.pop("step", None)
    if kind not in kinds:
        raise UserError(f"{source}: unknown step {kind!r} (known: {', '.join(kinds)})")
    try:
        return kinds[kind](**entry)
    except TypeError as error:
        raise UserError(f"{source}: bad parameters for {kind} ({error})") from None
