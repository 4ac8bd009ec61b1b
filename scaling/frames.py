"""The rows a law is fitted on, from the run registry or from a file.

Accuracy is a first-class metric: a law that predicts `error` fits runs that report accuracy
(`ACCURACY_COLUMNS` in a file, the `accuracy` metric in the registry) with error = 1 - accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curascale.errors import UserError

ACCURACY_COLUMNS = ("accuracy", "acc", "acc1", "top1", "imagenet_acc", "imagenet_accuracy", "zeroshot_accuracy")


def error_from_accuracy(frame, source: str):
    """`frame` with an `error` column = 1 - its accuracy column (the first of ACCURACY_COLUMNS it
    has), or unchanged when it already has `error` or no accuracy. Accuracy must lie in [0, 1]."""
    if "error" in frame:
        return frame
    column = next((c for c in ACCURACY_COLUMNS if c in frame), None)
    if column is None:
        return frame
    import pandas as pd

    accuracy = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~((accuracy >= 0) & (accuracy <= 1)))
    if bad.size:
        raise UserError(f"{source}: row {bad[0] + 1}, column '{column}': accuracy must be a fraction in [0, 1], got {frame[column].iloc[bad[0]]!r}")
    return frame.assign(error=1.0 - accuracy)


def load_frame(law, *, db: str | None, where: str | None, csv: Path | None, mapping: dict[str, str], split: str | None, task: str | None):
    """The rows a law is fitted on: from the registry (runs joined with the target metric) or a CSV."""
    if csv is not None:
        from runs_db.ingest import apply_mapping, read_table

        frame = apply_mapping(read_table(csv), str(csv), mapping, {})
        return (error_from_accuracy(frame, str(csv)) if law.target == "error" else frame), str(csv)
    from runs_db.columns import RUN_COLUMNS
    from runs_db.registry import connect

    registry = connect(db)
    wanted = [c for c in (*law.inputs, law.group_by) if c and c in RUN_COLUMNS]
    frame = registry.frame(wanted, target=law.target, where=where, split=split, task=task)
    if frame.empty and law.target == "error":
        frame = error_from_accuracy(registry.frame(wanted, target="accuracy", where=where, split=split, task=task), str(registry.path))
    frame = frame.rename(columns={source: target for target, source in mapping.items()})
    if frame.empty:
        raise UserError(f"no runs in {registry.path} have '{law.target}'" + (f" where {where}" if where else ""))
    return frame, f"{registry.path}" + (f" where {where}" if where else "")


def bucket_metadata(db: str | None, names) -> dict:
    """What the registry knows of the buckets `names` (the newest pool's, if several): sizes in
    samples, percentile ranges [lo, hi] of the score (stored as quantile_lo/hi), the score column,
    the pool, and the nested buckets (those with a percentile range) - the metadata a data plan and
    its manifest export need. Empty when none is registered."""
    from runs_db.registry import connect

    names = list(names or [])
    if not names:
        return {}
    rows = connect(db).query(
        "SELECT b.pool, b.name, b.score_column, b.quantile_lo, b.quantile_hi, b.size_samples FROM buckets b JOIN pools p ON p.name = b.pool "
        f"WHERE b.name IN ({', '.join('?' * len(names))}) ORDER BY p.created_at",
        names,
    )
    if rows.empty:
        return {}
    newest = {row.name: row for row in rows.itertuples()}  # later (newer) pools win
    return {
        "bucket_size_samples": {b: float(r.size_samples) for b, r in newest.items()},
        "bucket_quantiles": {b: [float(r.quantile_lo), float(r.quantile_hi)] for b, r in newest.items()},
        "nested_buckets": [b for b in names if b in newest],
        "score_column": next(iter(newest.values())).score_column,
        "pool": next(iter(newest.values())).pool,
    }
