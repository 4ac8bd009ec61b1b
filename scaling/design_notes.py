"""The notes of a pilot design (`curascale design-pilots`): the same notes the planner gives for
the plan the pilots are for (the fit's, extrapolation, edges of the search; `scaling.plan`), then
the design's own. A design is not refused when the fit does not identify a parameter that decides
the plan: those parameters are exactly what pilots should pin down, so a `pilots-should-pin-down`
note names them, and the design never claims that no pilot can improve the decision, since its
plausible truths (bootstrap or Laplace draws) understate the uncertainty of such parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from curascale.errors import CurascaleError
from curascale.notes import Note, listed, merge
from scaling import diagnostics
from scaling.fit import Fit

NO_PILOT_VALUE = "no-pilot-value"  # the design's note when every truth agrees on the plan


def plan_notes(fit: Fit, budget: float, *, unit: str, bucket_sizes: Mapping[str, float] | None = None, unique_tokens: float | None = None) -> list[Note]:
    """The planner's notes for `fit` at `budget` (samples seen or FLOPs), as if forced, without the
    `forced` note itself: the design does not refuse. `unique_tokens`: the unique tokens of a
    language-model plan (the same plan `scaling.design.model_problem` designs for). A plan the
    planner cannot make at all (the fit's own optimum undefined) leaves the fit's notes."""
    from scaling.plan import plan_data, plan_model

    try:
        plan = (plan_data(fit, budget, bucket_sizes=dict(bucket_sizes) if bucket_sizes else None, force=True) if unit == "samples"
                else plan_model(budget, [fit], unique_tokens=unique_tokens, force=True))
    except CurascaleError:
        return list(fit.notes)
    return [note for note in plan.notes if note.code != "forced"]


def unidentified(fit: Fit, unit: str) -> list[str]:
    """The parameters deciding the plan (`scaling.plan.DATA_PLAN_PARAMETERS` for data plans,
    `scaling.diagnostics.MODEL_PLAN_PARAMETERS` for language models) that the fit's notes say it
    does not identify."""
    from scaling.plan import DATA_PLAN_PARAMETERS

    deciding = set(DATA_PLAN_PARAMETERS if unit == "samples" else diagnostics.MODEL_PLAN_PARAMETERS)
    return sorted({name for note in fit.notes if note.code in diagnostics.IDENTIFIABILITY_CODES and note.severity == "error"
                   for name in note.details.get("parameters", []) if name.split("[", 1)[0] in deciding})


def pin_down(parameters: list[str], truths_source: str) -> list[Note]:
    """`pilots-should-pin-down`: the unidentified deciding parameters are the pilots' target."""
    if not parameters:
        return []
    shown = ", ".join(parameters)
    return [Note("pilots-should-pin-down", f"the runs do not identify {shown}, which decide the plan: pilots that vary what {shown} describe "
                 f"should pin them down; the {truths_source or 'plausible'} truths understate their uncertainty, so the pilots' values are "
                 "lower bounds and a decision all truths agree on is not settled", "warning", {"parameters": parameters})]


PILOT_INPUTS = {"samples": "samples_seen", "unique_samples": "unique_samples", "params": "params", "tokens": "tokens", "unique_tokens": "unique_tokens"}  # pilot spec -> fit input


def pilot_extrapolation(fit: Fit, pilots) -> list[Note]:
    """`pilot-extrapolation`: the candidate pilots (`scaling.design.PilotValue`, in ranked order)
    with an input more than `scaling.diagnostics.EXTRAPOLATION_FACTOR` outside the fit's
    input_ranges, per input (`diagnostics.extrapolation`): their values are the law's guesses where
    no run was. Details: input, pilots, factor (the farthest), threshold."""
    notes = []
    for key, column in PILOT_INPUTS.items():
        named = [(p.pilot, p.spec[key]) for p in pilots if key in p.spec]
        for note in diagnostics.extrapolation(fit.input_ranges or {}, {column: [value for _, value in named]}):
            outside = [named[row - 1][0] for row in note.details["rows"]]
            notes.append(Note("pilot-extrapolation", f"{len(outside)} candidate pilot{'s' if len(outside) > 1 else ''} ({listed(outside)}) {'lie' if len(outside) > 1 else 'lies'} outside the fit's "
                              f"{column} range: {note.message}; their values are the law's guesses where no run was", "warning",
                              {**note.details, "pilots": outside}))
    return notes


def union_pilots(fit: Fit, pilots) -> list[Note]:
    """`pilot-not-fittable`: candidate data pilots on a union of buckets (`scaling.design.PilotValue`s
    whose pool is not one of the fit's buckets). The data-filtering fit takes runs of one bucket
    (LAWS.md §3, per-bucket utility and half-life), so a union's run cannot be refitted: its value
    is what a team that updates its belief on it would gain, not what `curascale fit` can use.
    Details: pilots."""
    buckets = set(fit.groups or [])
    named = [p.pilot for p in pilots if "pool" in p.spec and buckets and p.spec["pool"] not in buckets]
    if not named:
        return []
    return [Note("pilot-not-fittable", f"{listed(named)} train{'s' if len(named) == 1 else ''} on a union of buckets: the fit takes runs of one bucket, so "
                 "such a run cannot be refitted; its value assumes a team that updates on it", "warning", {"pilots": named})]


def with_plan_notes(design, fit: Fit, *, unit: str, bucket_sizes: Mapping[str, float] | None = None, unique_tokens: float | None = None):
    """`design` (a `scaling.design.Design`) with its notes: the planner's for the same fit, budget
    (and `unique_tokens`), then `pin_down`, then `pilot_extrapolation`, then `union_pilots`, then the design's own (without the no-pilot-value claim when a
    deciding parameter is not identified)."""
    missing = unidentified(fit, unit)
    own = [note for note in design.notes if not (missing and note.code == NO_PILOT_VALUE)]
    notes = merge(plan_notes(fit, design.budget, unit=unit, bucket_sizes=bucket_sizes, unique_tokens=unique_tokens), pin_down(missing, design.truths_source),
                  pilot_extrapolation(fit, design.pilots), union_pilots(fit, design.pilots), own)
    return dataclasses.replace(design, notes=tuple(notes))
