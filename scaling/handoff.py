"""Handoff to training: the chosen plan's sample list, written through curation.manifest.

The plan's union of buckets is cut from the pool by the same percentile rule the buckets were
defined with (curation.steps.bucketize), on the score column the fit's buckets were cut on, and
written as one DataComp subset .npy, a parquet manifest whose `repetition_weight` is each
bucket's planned passes, and a sidecar that records the plan and the fit.

The passes are only right for the pool's own bucket sizes: `pool_bucket_sizes` gives them (the
same percentile ranks `Bucketize` cuts at), a plan for them is made with
`plan_data(..., bucket_sizes=pool_bucket_sizes(fit, pool))`, and `export_plan_manifest` refuses a
plan whose bucket sizes differ from the pool's by more than `SIZE_RTOL`, so the samples seen of the
manifest (sum over buckets of samples x repetition weight) are the plan's budget.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from curation.engines.local import LocalEngine
from curation.pool import Pool
from curation.scores import DEFAULT_SCORE_COLUMN
from curation.steps.bucketize import Bucketize
from curascale.errors import UserError
from curascale.notes import notes_to_dicts
from scaling.fit import Fit
from scaling.plan import DataPlan

SIZE_RTOL = 0.01  # a plan's bucket sizes may differ from the pool's by this much (rank rounding)


def _percentile_ranges(fit: Fit, buckets) -> dict[str, list[float]]:
    percentiles = fit.metadata.get("bucket_percentile_ranges", {})
    missing = [b for b in buckets if b not in percentiles]
    if missing:
        raise UserError(f"the fit does not record which percentiles bucket(s) {', '.join(missing)} cover; cannot cut them from a pool: "
                        f"register buckets of these names (curascale curate bucketize POOL --out DIR --edges 0,10,... --db REG) and plan with --db REG")
    return percentiles


def pool_bucket_sizes(fit: Fit, pool_dir: str | Path) -> dict[str, float]:
    """Samples of each nested bucket of `fit` in the pool at `pool_dir`: the rows between the
    bucket's percentile ranks, int(rows * hi / 100) - int(rows * lo / 100), as `Bucketize` cuts."""
    rows = Pool.open(pool_dir).rows()
    buckets = fit.metadata.get("nested_buckets") or list(fit.groups or [])
    percentiles = _percentile_ranges(fit, buckets)
    return {b: float(int(rows * percentiles[b][1] / 100) - int(rows * percentiles[b][0] / 100)) for b in buckets}


def export_plan_manifest(plan: DataPlan, fit: Fit, pool_dir: str | Path, out_dir: str | Path, *, score_column: str | None = None, workers: int | None = None):
    """Write the plan's chosen buckets of the pool (see the module docstring). Raises
    CurascaleError when the plan was made for other bucket sizes than the pool's."""
    chosen = next(c for c in plan.candidates if c.name == plan.best)
    percentiles = _percentile_ranges(fit, chosen.buckets)
    actual = pool_bucket_sizes(fit, pool_dir)
    planned = plan.bucket_size_samples
    differ = [b for b in chosen.buckets if b not in planned or abs(planned[b] - actual[b]) > SIZE_RTOL * actual[b]]
    if differ:
        shown = ", ".join(f"{b} {planned.get(b, float('nan')):.4g} vs {actual[b]:.4g}" for b in differ)
        raise UserError(
            f"the plan assumed other bucket sizes than pool {Path(pool_dir).name} has ({shown} samples): "
            "plan again on the pool's sizes (bucket_sizes=pool_bucket_sizes(fit, pool)) so the manifest's samples seen equal the budget"
        )
    ranges = sorted((percentiles[b][0], percentiles[b][1], b) for b in chosen.buckets)
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
    provenance = {
        "plan": {"budget_samples": plan.budget_samples, "best": asdict(chosen), "fit": plan.fit, "bucket_size_samples": planned, "notes": notes_to_dicts(plan.notes)},
        "fit": {"law": fit.law, "source": fit.source, "params": fit.params},
    }
    return LocalEngine(workers=workers).run(Pool.open(pool_dir), [step], out_dir, provenance=provenance)
