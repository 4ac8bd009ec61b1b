"""The rows a law is fitted on, from the run registry or from a file of runs.

A file goes through the same validator as `curascale runs ingest` (`runs_db.ingest.read_runs`:
file, row and column named for a bad value) and the same selection of the target metric as the
registry (`Registry.frame`), through a registry in memory; its rows keep the file's order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curascale.errors import UserError


def load_frame(law, *, db: str | None, where: str | None, csv: Path | None, mapping: dict[str, str], split: str | None, task: str | None):
    """(frame, source): the law's input columns (float64), its group column if any, `run_id` and
    the target metric, one row per run; from the registry `db` (runs matching `where`, the
    registry's columns renamed by `mapping` {target: source}) or the file `csv` (mapped by
    `mapping` as at ingest). Raises `CurascaleError` for bad rows or no matching runs."""
    from runs_db.columns import RUN_COLUMNS
    from runs_db.registry import connect

    wanted = [c for c in (*law.inputs, law.group_by) if c and c in RUN_COLUMNS]
    if csv is not None:
        from runs_db.ingest import read_runs

        records = read_runs(csv, mapping)
        registry = connect(":memory:")
        registry.store(records, str(csv))
        frame = registry.frame(wanted, target=law.target, split=split, task=task)
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
        frame = registry.frame(selected, target=law.target, where=where, split=split, task=task)
        source = f"{registry.path}" + (f" where {where}" if where else "")
        frame = apply_mapping(frame, source, mapping, {})
    if frame.empty:
        raise UserError(f"no runs in {source} have '{law.target}'")
    return frame, source


def load_points(path: Path, law, mapping: dict[str, str]):
    """The points to predict at, read from a file of runs (CSV, JSONL or parquet) and mapped as at
    ingest: each of the law's input columns present is validated under the registry's rule for
    that column (a bad value raises `IngestError` naming file, row and column) and becomes
    float64; the law's group column stays text. Columns the law does not read are dropped."""
    import pandas as pd

    from runs_db.columns import RUN_COLUMNS
    from runs_db.ingest import apply_mapping, number_under_rule, read_table

    file = str(path)
    table = apply_mapping(read_table(path), file, mapping, {})
    frame = pd.DataFrame(index=range(len(table)))
    for column in law.inputs:
        if column in table:
            rule = RUN_COLUMNS[column].kind if column in RUN_COLUMNS else "positive"
            values = [number_under_rule(value, rule, file, row + 1, column) for row, value in enumerate(table[column].tolist())]
            frame[column] = np.array([np.nan if v is None else v for v in values], dtype=float)
    if law.group_by is not None and law.group_by in table:
        frame[law.group_by] = table[law.group_by].astype(str).to_numpy()
    return frame
