"""The rows a law is fitted on, from the run registry or from a file of runs.

A file goes through the same validator as `curascale runs ingest` (`runs_db.ingest.read_runs`:
file, row and column named for a bad value) and the same selection of the target metric as the
registry (`Registry.frame`), through a registry in memory; its rows keep the file's order.

Accuracy is a first-class metric: a law that predicts `error` fits runs that report accuracy
(`ACCURACY_COLUMNS` in a file, the `accuracy` metric in the registry) with error = 1 - accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curascale.errors import UserError

from runs_db.columns import ACCURACY_COLUMNS  # noqa: E402  (one list of accuracy names, ingest and fits alike)


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


def load_frame(law, *, db: str | None, where: str | None, csv: Path | None, mapping: dict[str, str], split: str | None, task: str | None, notes: list | None = None):
    """(frame, source): the law's input columns (float64), its group column if any, `run_id` and
    the target metric, one row per run; from the registry `db` (runs matching `where`, the
    registry's columns renamed by `mapping` {target: source}) or the file `csv` (mapped by
    `mapping` as at ingest). Raises `CurascaleError` for bad rows or no matching runs. `notes`, a
    list, receives what reading found (`scaling.diagnostics.repeated_rows`)."""
    from runs_db.columns import RUN_COLUMNS
    from runs_db.registry import connect

    wanted = [c for c in (*law.inputs, law.group_by) if c and c in RUN_COLUMNS]
    if csv is not None:
        from runs_db.ingest import read_runs, read_table

        if law.target == "error":
            mapping = {**_accuracy_alias(read_table(csv).columns, mapping), **mapping}
        records = read_runs(csv, mapping)
        if notes is not None:
            from scaling.diagnostics import repeated_rows

            notes += repeated_rows(records, str(csv))
        registry = connect(":memory:")
        registry.store(records, str(csv))
        frame = _target_frame(registry, wanted, law.target, None, split, task, str(csv))
        row_of = {record.run["run_id"]: record.row for record in records}
        frame = frame.iloc[np.argsort([row_of[run_id] for run_id in frame["run_id"]], kind="stable")].reset_index(drop=True)
        source = str(csv)
    else:
        from runs_db.ingest import apply_mapping

        registry = connect(db)
        unknown = sorted(set(mapping.values()) - set(RUN_COLUMNS))
        if unknown:
            raise UserError(f"--map names no run column {unknown[0]!r} (run columns: {', '.join(RUN_COLUMNS)})")
        selected = list(dict.fromkeys([c for c in wanted if c not in mapping] + list(mapping.values())))
        source = f"{registry.path}" + (f" where {where}" if where else "")
        frame = _target_frame(registry, selected, law.target, where, split, task, source)
        frame = apply_mapping(frame, source, mapping, {})
    if frame.empty:
        raise UserError(f"no runs in {source} have '{law.target}'")
    return numeric_inputs(frame, law, source), source


def numeric_inputs(frame, law, source: str):
    """The frame with every law input as float64, each value checked under the registry's rule for
    its column (`IngestError` naming source, row and column): what fitting and `scaling.plots`
    read, so no text column reaches them (np.geomspace on text crashed the --plot)."""
    frame = frame.copy()
    for column in law.inputs:
        if column in frame and frame[column].dtype != np.float64:
            frame[column] = validated_column(frame[column].tolist(), column, source)
    return frame


def validated_column(values, column: str, source: str) -> np.ndarray:
    """A law input's values as float64 under the registry's rule for the column (missing -> NaN)."""
    from runs_db.columns import RUN_COLUMNS
    from runs_db.ingest import number_under_rule

    rule = RUN_COLUMNS[column].kind if column in RUN_COLUMNS else "positive"
    checked = [number_under_rule(value, rule, source, row + 1, column) for row, value in enumerate(values)]
    return np.array([np.nan if v is None else v for v in checked], dtype=float)


def _accuracy_alias(columns, mapping: dict[str, str]) -> dict[str, str]:
    """{'accuracy': COLUMN} when a file names its accuracy in one of ACCURACY_COLUMNS that the
    registry would not recognise as a metric by itself (acc1, top1, imagenet_acc, ...)."""
    if any(target in ("error", "accuracy") for target in mapping) or "error" in columns or "accuracy" in columns:
        return {}
    alias = next((c for c in ACCURACY_COLUMNS if c in columns and c not in ("accuracy", "acc")), None)
    return {} if alias is None else {"accuracy": alias}


def _target_frame(registry, columns, target: str, where, split, task, source: str):
    """Registry.frame for `target`; for `error`, runs that report only accuracy give 1 - accuracy."""
    frame = registry.frame(columns, target=target, where=where, split=split, task=task)
    if frame.empty and target == "error":
        frame = error_from_accuracy(registry.frame(columns, target="accuracy", where=where, split=split, task=task), source)
    return frame


def load_points(path: Path, law, mapping: dict[str, str]):
    """The points to predict at, read from a file of runs (CSV, JSONL or parquet) and mapped as at
    ingest: each of the law's input columns present is validated under the registry's rule for
    that column (a bad value raises `IngestError` naming file, row and column) and becomes
    float64; the law's group column stays text. Columns the law does not read are dropped."""
    import pandas as pd

    from runs_db.ingest import apply_mapping, read_table

    file = str(path)
    table = apply_mapping(read_table(path), file, mapping, {})
    frame = pd.DataFrame(index=range(len(table)))
    for column in law.inputs:
        if column in table:
            frame[column] = validated_column(table[column].tolist(), column, file)
    if law.group_by is not None and law.group_by in table:
        frame[law.group_by] = table[law.group_by].astype(str).to_numpy()
    from scaling.problem import law_inputs

    law_inputs(law, frame, source=file)  # a missing column or empty cell is named with the file, before predicting
    return frame


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
        "bucket_percentile_ranges": {b: [float(r.quantile_lo), float(r.quantile_hi)] for b, r in newest.items()},
        "nested_buckets": [b for b in names if b in newest],
        "score_column": next(iter(newest.values())).score_column,
        "pool": next(iter(newest.values())).pool,
    }
