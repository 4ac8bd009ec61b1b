"""Reading and validating a file of runs, before anything is written.

`read_runs(path, mapping, constants)` returns the runs and their evals as plain records, or raises
`IngestError` naming the file, the row and the column of the first problem. It never touches the
database: the registry writes what this returns in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from runs_db.columns import EVAL_COORDINATES, METRIC_RULES, RUN_COLUMNS, SIZE_COLUMNS, metric_of
from curascale.errors import IngestError

READERS = {
    ".csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False),
    ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False, precise_float=True),
    ".json": lambda p: pd.read_json(p, lines=True, dtype=False, precise_float=True),
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


@dataclass
class RunRecord:
    """One validated row: the run's columns, its evals and its content hash."""

    row: int
    run: dict[str, Any]
    evals: list[dict[str, Any]] = field(default_factory=list)
    content_hash: str = ""
    repeated_rows: list[int] = field(default_factory=list)  # later rows identical to this one


def read_table(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(str(path), f"unknown format '{path.suffix}': use .csv, .jsonl or .parquet")
    if not path.exists():
        raise IngestError(str(path), "no such file")
    try:
        table = reader(path)
    except Exception as error:  # the reader's own message names what is wrong
        raise IngestError(str(path), f"cannot read: {str(error).splitlines()[0]}") from error
    if table.empty:
        raise IngestError(str(path), "the file has no rows")
    return table


def apply_mapping(table: pd.DataFrame, file: str, mapping: Mapping[str, str], constants: Mapping[str, Any]) -> pd.DataFrame:
    """`--map target=source` renames file columns; `--set column=value` adds a constant column."""
    missing = [source for source in mapping.values() if source not in table.columns]
    if missing:
        raise IngestError(file, f"--map names no such column: {', '.join(missing)} (the file has: {', '.join(map(str, table.columns))})")
    table = table.rename(columns={source: target for target, source in mapping.items()})
    duplicated = table.columns[table.columns.duplicated()].tolist()
    if duplicated:
        raise IngestError(file, f"two columns map to {duplicated[0]!r}: drop one or map it elsewhere")
    for column, value in constants.items():
        table[column] = value
    return table


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (isinstance(value, float) and math.isnan(value))


def _number(value: Any, rule: str, file: str, row: int, column: str) -> float | None:
    if _is_missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise IngestError(file, f"not a number: {value!r}", row=row, column=column) from None
    if not math.isfinite(number):
        raise IngestError(file, f"must be finite, got {value!r}", row=row, column=column)
    if rule == "positive" and number <= 0:
        raise IngestError(file, f"must be positive, got {number:g}", row=row, column=column)
    if rule == "nonnegative" and number < 0:
        raise IngestError(file, f"must be >= 0, got {number:g}", row=row, column=column)
    if rule == "unit" and not 0 <= number <= 1:
        raise IngestError(file, f"must be in [0, 1], got {number:g}", row=row, column=column)
    return number


def _json_value(value: Any, file: str, row: int, column: str) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise IngestError(file, f"not valid JSON: {value!r}", row=row, column=column) from None
    return json.dumps(value, sort_keys=True)


def _plain(value: Any) -> Any:
    """A JSON-safe scalar for the config column (numpy and pandas scalars included)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() and value.strip()[0] in "-0123456789" else value
        except json.JSONDecodeError:
            return value
    return value


def content_hash(run: Mapping[str, Any], evals: list[Mapping[str, Any]]) -> str:
    payload = {"run": {k: v for k, v in run.items() if k != "run_id"}, "evals": sorted(evals, key=lambda e: json.dumps(e, sort_keys=True))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _row_record(values: Mapping[str, Any], file: str, row: int, metric_columns: dict) -> RunRecord:
    run: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for column, value in values.items():
        rule = RUN_COLUMNS.get(column)
        if column in metric_columns or column in EVAL_COORDINATES:
            continue
        if rule is None:
            if not _is_missing(value):
                config[column] = _plain(value)
        elif rule.kind == "text":
            run[column] = None if _is_missing(value) else str(value)
        elif rule.kind == "json":
            run[column] = _json_value(value, file, row, column)
        else:
            run[column] = _number(value, rule.kind, file, row, column)
    if not any(run.get(column) is not None for column in SIZE_COLUMNS):
        raise IngestError(file, f"needs at least one of {', '.join(SIZE_COLUMNS)} (use --map target=source)", row=row)
    run["config"] = json.dumps(config, sort_keys=True) if config else None

    split = "" if _is_missing(values.get("split")) else str(values["split"])
    task = "" if _is_missing(values.get("task")) else str(values["task"])
    step_value = _number(values.get("step"), "nonnegative", file, row, "step") if "step" in values else None
    step = -1 if step_value is None else int(step_value)
    evals = []
    for column, target in metric_columns.items():
        value = _number(values[column], METRIC_RULES[target.metric], file, row, column)
        if value is not None:
            evals.append({"metric": target.metric, "value": value, "split": target.split or split, "task": target.task or task, "step": step})
    if not evals:
        raise IngestError(file, f"no metric value (columns read as metrics: {', '.join(metric_columns)})", row=row)
    digest = content_hash(run, evals)
    if run.get("run_id") is None:
        run["run_id"] = f"run-{digest[:16]}"
    return RunRecord(row=row, run=run, evals=evals, content_hash=digest)


def read_runs(path: str | Path, mapping: Mapping[str, str] | None = None, constants: Mapping[str, Any] | None = None, *, table: pd.DataFrame | None = None) -> list[RunRecord]:
    """Read, map and validate every row of `path`; raise on the first bad row, before any write.

    `table`: rows already read (a trainer's outputs, a shipped dataset); `path` then only names
    them in messages and in the runs' source_file."""
    file = str(path)
    table = apply_mapping(read_table(path) if table is None else table, file, mapping or {}, constants or {})
    table.columns = [str(c) for c in table.columns]
    metric_columns = {c: m for c in table.columns if (m := metric_of(c)) is not None}
    if not metric_columns:
        raise IngestError(file, "no metric column: name one loss, error or accuracy (or --map loss=COLUMN)")
    records = [
        _row_record(values, file, index + 1, metric_columns)
        for index, values in enumerate(table.to_dict(orient="records"))
    ]
    return drop_repeated_rows(records, file, explicit_ids="run_id" in table.columns)


def drop_repeated_rows(records: list[RunRecord], file: str, *, explicit_ids: bool) -> list[RunRecord]:
    """A run id given twice is an error. Without a run_id column, a row identical to an earlier
    one (same derived id) is the same observation written twice: it is kept once and counted."""
    seen: dict[str, RunRecord] = {}
    kept = []
    for record in records:
        run_id = record.run["run_id"]
        first = seen.get(run_id)
        if first is None:
            seen[run_id] = record
            kept.append(record)
        elif explicit_ids:
            raise IngestError(file, f"duplicate run id {run_id!r} (also row {first.row})", row=record.row, column="run_id")
        else:
            first.repeated_rows.append(record.row)
    return kept
