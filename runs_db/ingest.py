"""Reading and validating a file of runs, before anything is written.

`read_runs(path, mapping, constants)` returns the runs and their evals as plain records, or raises
`IngestError` naming the file, the row and the column of the first problem. It never touches the
database: the registry writes what this returns in one transaction.

Run identity (the natural key): a run is the `run_id` its row gives (a `run_id` column, or one
mapped to it); a row without one is identified by `row_key`, the sha256 of the row as the FILE
wrote it (its own column names and values, before `--map` and `--set`), and gets the id
``run-<first 16 hex digits of row_key>``. So re-ingesting a file with a different mapping gives the
same ids, and the registry reports the conflict instead of storing the runs twice. The registry
also refuses a run whose inputs and evals equal a stored run's under another id
(`Registry.ingest`, `Registry.duplicates`).
"""

from __future__ import annotations

from runs_db.text import quoted

import csv
import datetime
import decimal
import hashlib
import json
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import pandas as pd

from runs_db.columns import EVAL_COORDINATES, METRIC_RULES, RUN_COLUMNS, SIZE_COLUMNS, metric_of
from curascale.errors import IngestError

STEP_MAX = 2**63 - 1  # the evals table stores a step as BIGINT


def _read_csv(path: Path) -> pd.DataFrame:
    """Every cell as text; a header naming a column twice is an error (pandas would rename it)."""
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    _refuse_repeated_names(str(path), header)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"the key {quoted(repeated[0])} appears twice in one object")
    return dict(pairs)


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped); a broken line is an error naming it."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as error:
                raise IngestError(str(path), f"line {number}, character {error.colno}: not valid JSON ({error.msg.removesuffix(' at')})") from None
            except ValueError as error:
                raise IngestError(str(path), f"line {number}: not a JSON object ({error})") from None
            if not isinstance(record, dict):
                raise IngestError(str(path), f"line {number}: not a JSON object (one object per line)")
            records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    _refuse_repeated_names(str(path), pq.read_schema(path).names)
    return pd.read_parquet(path)


def _refuse_repeated_names(file: str, names: list[str]) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IngestError(file, f"the header names column {quoted(repeated[0])} twice: rename one")


READERS = {".csv": _read_csv, ".jsonl": _read_jsonl, ".json": _read_jsonl, ".parquet": _read_parquet, ".pq": _read_parquet}


@dataclass
class RunRecord:
    """One validated row: the run's columns, its evals and its content hash."""

    row: int
    run: dict[str, Any]
    evals: list[dict[str, Any]] = field(default_factory=list)
    content_hash: str = ""
    row_key: str = ""
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
    except IngestError:
        raise
    except Exception as error:  # the reader's own message names what is wrong
        raise IngestError(str(path), f"cannot read: {str(error).splitlines()[0]}") from error
    if table.empty:
        raise IngestError(str(path), "the file has no rows")
    return table


def apply_mapping(table: pd.DataFrame, file: str, mapping: Mapping[str, str], constants: Mapping[str, Any]) -> pd.DataFrame:
    """`mapping` {target: source} reads column TARGET from file column SOURCE (one source may feed
    several targets, its own name included). A mapped source that is itself a recognised column
    (a run column, a metric or an eval coordinate) keeps its own values too, unless it is itself
    a target; an unrecognised source (e.g. N_params) appears only under its targets. `constants`
    {column: value} give every row a value (a column the file has, but empty, is filled). A target
    that is also an unmapped file column, or a constant over a file column with values, is an
    error naming both."""
    missing = sorted({source for source in mapping.values() if source not in table.columns})
    if missing:
        raise IngestError(file, f"--map names no such column: {', '.join(missing)} (the file has: {', '.join(map(str, table.columns))})")
    sources = set(mapping.values())
    kept = [c for c in table.columns if c not in sources or (is_recognised(c) and c not in mapping)]
    clashes = [target for target in mapping if target in kept]
    if clashes:
        raise IngestError(file, f"two columns map to {quoted(clashes[0])} (the file's own and {quoted(mapping[clashes[0]])}): drop one or map it elsewhere")
    mapped = pd.DataFrame({**{c: table[c] for c in kept}, **{target: table[source] for target, source in mapping.items()}}, index=table.index)
    for column, value in constants.items():
        if column in mapped.columns and not all(_is_missing(v) for v in mapped[column]):
            raise IngestError(file, f"--set {column} would overwrite the values of the file's column {quoted(column)}: map it elsewhere or drop --set")
        mapped[column] = value
    return mapped


def is_recognised(column: str) -> bool:
    """A file column the registry reads by name: a run column, a metric or an eval coordinate."""
    return column in RUN_COLUMNS or column in EVAL_COORDINATES or metric_of(column) is not None


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "") or (isinstance(value, float) and math.isnan(value))


def number_under_rule(value: Any, rule: str, file: str, row: int, column: str) -> float | None:
    """A value of a numeric column under its rule ("positive", "nonnegative", "unit", "step")."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        raise IngestError(file, f"a boolean ({value}) is not a number", row=row, column=column)
    if not isinstance(value, (str, int, float, decimal.Decimal, np.integer, np.floating)):
        raise IngestError(file, f"not a number: {_shown(value)}", row=row, column=column)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise IngestError(file, f"not a number: {quoted(value)}", row=row, column=column) from None
    if not math.isfinite(number):
        raise IngestError(file, f"must be finite, got {quoted(value)}", row=row, column=column)
    if rule == "positive" and number <= 0:
        raise IngestError(file, f"must be positive, got {number:g}", row=row, column=column)
    if rule in ("nonnegative", "step") and number < 0:
        raise IngestError(file, f"must be >= 0, got {number:g}", row=row, column=column)
    if rule == "unit" and not 0 <= number <= 1:
        raise IngestError(file, f"must be in [0, 1], got {number:g}", row=row, column=column)
    if rule == "step" and (number != int(number) or number > STEP_MAX):
        raise IngestError(file, f"must be a whole number of steps up to {STEP_MAX}, got {quoted(value)}", row=row, column=column)
    return number


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {quoted(value)}"


def _text(value: Any, file: str, row: int, column: str) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, float, np.integer, np.floating)):
        raise IngestError(file, f"must be text, got {_shown(value)}", row=row, column=column)
    text = str(value)
    control = next((char for char in text if unicodedata.category(char) == "Cc"), None)
    if control is not None:  # ESC, BEL, newlines...: a run id or name must not drive a terminal
        raise IngestError(file, f"control character {control!r} in text: {quoted(text)}", row=row, column=column)
    return text


def _json_value(value: Any, file: str, row: int, column: str) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise IngestError(file, f"not valid JSON: {quoted(value)}", row=row, column=column) from None
        except ValueError as error:  # Python's limit on the digits of an int read from text
            raise _too_long(error, value, file, row, column) from None
    return json.dumps(_plain(value, file, row, column), sort_keys=True, allow_nan=False)


def _plain(value: Any, file: str, row: int, column: str) -> Any:
    """A JSON value for the config column: numpy and pandas scalars, lists and arrays, timestamps
    (ISO 8601 text), decimals (numbers) and UTF-8 bytes (text); anything else is an error."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, (np.generic,)):
        value = value.item()
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise IngestError(file, f"must be finite, got {quoted(value)}", row=row, column=column)
        return value
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() and value.strip()[0] in "-0123456789" else value
        except json.JSONDecodeError:
            return value
        except ValueError as error:  # Python's limit on the digits of an int read from text
            raise _too_long(error, value, file, row, column) from None
    if isinstance(value, decimal.Decimal):
        return _plain(float(value), file, row, column)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):  # pandas.Timestamp included
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(file, "binary values cannot be stored: convert the column to text", row=row, column=column) from None
    if isinstance(value, (list, tuple)):
        return [_plain(item, file, row, column) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, file, row, column) for k, v in value.items()}
    raise IngestError(file, f"cannot store a value of type {type(value).__name__}: convert the column to text or numbers", row=row, column=column)


def _too_long(error: ValueError, value: str, file: str, row: int, column: str) -> IngestError:
    """A number too long to read (more than `sys.get_int_max_str_digits()` digits) as one line."""
    import sys

    return IngestError(file, f"a number of {len(value.strip())} characters is too long to read (at most {sys.get_int_max_str_digits()} digits): {quoted(value)}", row=row, column=column)


def row_key(raw: Mapping[str, Any], file: str, row: int) -> str:
    """sha256 of a row as the file wrote it (its own column names, before mapping): the identity
    of a run without a run_id (see the module docstring)."""
    plain = {str(k): _plain(v, file, row, str(k)) for k, v in raw.items() if not _is_missing(v)}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()


def content_hash(run: Mapping[str, Any], evals: list[Mapping[str, Any]]) -> str:
    payload = {"run": {k: v for k, v in run.items() if k != "run_id"}, "evals": sorted(evals, key=lambda e: json.dumps(e, sort_keys=True))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _row_record(values: Mapping[str, Any], file: str, row: int, metric_columns: dict, key: str) -> RunRecord:
    run: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for column, value in values.items():
        rule = RUN_COLUMNS.get(column)
        if column in metric_columns or column in EVAL_COORDINATES:
            continue
        if rule is None:
            if not _is_missing(value):
                config[column] = _plain(value, file, row, column)
        elif rule.kind == "text":
            run[column] = _text(value, file, row, column)
        elif rule.kind == "json":
            run[column] = _json_value(value, file, row, column)
        else:
            run[column] = number_under_rule(value, rule.kind, file, row, column)
    if not any(run.get(column) is not None for column in SIZE_COLUMNS):
        raise IngestError(file, f"needs at least one of {', '.join(SIZE_COLUMNS)} (use --map target=source)", row=row)
    run["config"] = json.dumps(config, sort_keys=True) if config else None

    split = _text(values.get("split"), file, row, "split") or ""
    task = _text(values.get("task"), file, row, "task") or ""
    step_value = number_under_rule(values.get("step"), "step", file, row, "step") if "step" in values else None
    step = -1 if step_value is None else int(step_value)
    evals = []
    given_by: dict[tuple, str] = {}
    for column, target in metric_columns.items():
        value = number_under_rule(values[column], METRIC_RULES[target.metric], file, row, column)
        if value is None:
            continue
        eval_ = {"metric": target.metric, "value": value, "split": target.split or split, "task": target.task or task, "step": step}
        key_ = (eval_["metric"], eval_["split"], eval_["task"], step)
        if key_ in given_by:
            where = ", ".join(f"{name} {quoted(eval_[name])}" for name in ("split", "task") if eval_[name])
            raise IngestError(file, f"gives the same {target.metric}{' (' + where + ')' if where else ''} as column {quoted(given_by[key_])}: keep one of them", row=row, column=column)
        given_by[key_] = column
        evals.append(eval_)
    require_agreeing_accuracy(evals, given_by, file, row)
    if not evals:
        raise IngestError(file, f"no metric value (columns read as metrics: {', '.join(metric_columns)})", row=row)
    digest = content_hash(run, evals)
    if run.get("run_id") is None:
        run["run_id"] = f"run-{key[:16]}"
    return RunRecord(row=row, run=run, evals=evals, content_hash=digest, row_key=key)


ERROR_ACCURACY_ATOL = 1e-6  # a row's error and accuracy must satisfy error = 1 - accuracy within this


def require_agreeing_accuracy(evals: list[Mapping[str, Any]], columns: Mapping[tuple, str], file: str, row: int) -> None:
    """A row that gives both an error and an accuracy for the same split, task and step must have
    |error - (1 - accuracy)| <= `ERROR_ACCURACY_ATOL`; otherwise IngestError naming the file, the
    row and both columns (`columns`: the file column of each (metric, split, task, step))."""
    accuracies = {(e["split"], e["task"], e["step"]): e for e in evals if e["metric"] == "accuracy"}
    for error in (e for e in evals if e["metric"] == "error"):
        where = (error["split"], error["task"], error["step"])
        accuracy = accuracies.get(where)
        if accuracy is not None and abs(error["value"] - (1 - accuracy["value"])) > ERROR_ACCURACY_ATOL:
            raise IngestError(file, f"error {error['value']:.6g} disagrees with accuracy {accuracy['value']:.6g} in column {quoted(columns[('accuracy', *where)])} "
                              "(error must be 1 - accuracy): keep one of the columns", row=row, column=columns[("error", *where)])


def metric_hint(columns: list[str]) -> str:
    """The --map to suggest for a file without a metric column: accuracy=COLUMN for the first
    accuracy-like name (acc, top1, top5), error=COLUMN for an error-like one, else loss=COLUMN."""
    for target, marks in (("accuracy", ("acc", "top1", "top5")), ("error", ("err",)), ("loss", ("loss", "ppl", "nll"))):
        found = next((c for c in columns if any(m in str(c).lower() for m in marks)), None)
        if found is not None:
            return f"{target}={found}"
    return "loss=COLUMN"


def read_runs(path: str | Path, mapping: Mapping[str, str] | None = None, constants: Mapping[str, Any] | None = None, *, table: pd.DataFrame | None = None, run_prefix: str = "") -> list[RunRecord]:
    """Read, map and validate every row of `path`; raise on the first bad row, before any write.

    `table`: rows already read (a trainer's outputs, a shipped dataset); `path` then only names
    them in messages and in the runs' source_file. `run_prefix` is put before every run id,
    given or derived (``hq/`` + ``small_scale``; a shipped dataset's name): one namespace per
    source, so two sources with the same ids can share one registry."""
    file = str(path)
    raw = read_table(path) if table is None else table.copy()
    raw.columns = [str(c) for c in raw.columns]
    _refuse_repeated_names(file, list(raw.columns))
    table = apply_mapping(raw, file, mapping or {}, constants or {})
    metric_columns = {c: m for c in table.columns if (m := metric_of(c)) is not None}
    if not metric_columns:
        raise IngestError(file, f"no metric column: name one loss, error or accuracy (or --map {metric_hint(list(table.columns))})")
    records = [
        _row_record(values, file, index + 1, metric_columns, row_key(raw_values, file, index + 1))
        for index, (values, raw_values) in enumerate(zip(table.to_dict(orient="records"), raw.to_dict(orient="records")))
    ]
    if run_prefix:
        prefix = _text(run_prefix, file, 0, "run_prefix") or ""
        for record in records:
            record.run["run_id"] = prefix + record.run["run_id"]
    return drop_repeated_rows(records, file, explicit_ids="run_id" in table.columns)


def ingest_notes(records: list[RunRecord]) -> list:
    """The notes of a file of runs, read at ingest time with the fit's own rule
    (`scaling.diagnostics.unit_mistakes`): a count column (params, tokens, samples_seen, ...) going
    below 1e3, i.e. likely given in millions or billions. A note, not a refusal: the runs are stored."""
    from scaling.diagnostics import COUNT_COLUMNS, unit_mistakes

    columns = {name: [r.run[name] for r in records if r.run.get(name) is not None] for name in COUNT_COLUMNS}
    return unit_mistakes({name: values for name, values in columns.items() if values})


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
            raise IngestError(file, f"duplicate run id {quoted(run_id)} (also row {first.row})", row=record.row, column="run_id")
        else:
            first.repeated_rows.append(record.row)
    return kept
