"""Handoff to training: the chosen plan's sample list, written through curation.manifest.

The plan's union of buckets is cut from the pool by the same percentile rule the buckets were
defined with (curation.steps.bucketize), on the score column the fit's buckets were cut on, and
written as one DataComp subset .npy, a parquet manifest whose `repetition_weight` is each
bucket's planned passes, and a sidecar that records the plan and the fit.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.scores import DEFAULT_SCORE_COLUMN
from curation.steps.bucketize import Bucketize
from curascale.errors import UserError
from scaling.fit import Fit
from scaling.plan import DataPlan


def export_plan_manifest(plan: DataPlan, fit: Fit, pool_dir: str | Path, out_dir: str | Path, *, score_column: str | None = None, workers: int | None = None):
    chosen = next(c for c in plan.candidates if c.name == plan.best)
    quantiles = fit.metadata.get("bucket_quantiles", {})
    missing = [b for b in chosen.buckets if b not in quantiles]
    if missing:
        raise UserError(f"the fit does not record which percentiles bucket(s) {', '.join(missing)} cover; cannot cut them from a pool")
    ranges = sorted((quantiles[b][0], quantiles[b][1], b) for b in chosen.buckets)
    if ranges[0][0] != 0 or any(high != next_low for (_, high, _), (next_low, _, _) in zip(ranges, ranges[1:])):
        raise UserError(f"the plan's buckets are not a contiguous top slice of the pool: {ranges}")
    column = score_column or fit.metadata.get("score_column", DEFAULT_SCORE_COLUMN)
    step = Bucketize(
        score_column=column,
        edges=tuple([ranges[0][0]] + [high for _, high, _ in ranges]),
        names=tuple(name for _, _, name in ranges),
        weights=dict(chosen.repetitions),
        split=False,
    )
    provenance = {"plan": {"budget_samples": plan.budget_samples, "best": asdict(chosen), "fit": plan.fit}, "fit": {"law": fit.law, "source": fit.source, "params": fit.params}}
    return LocalEngine(workers=workers).run(Pool.open(pool_dir), [step], out_dir, provenance=provenance)
