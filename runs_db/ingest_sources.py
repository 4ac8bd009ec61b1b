"""Where `curascale runs ingest` takes its rows from: a table file, a trainer's outputs
(runs_db.formats) or a dataset shipped with curascale (curascale.datasets).

`resolve_source(path, dataset=, fmt=)` returns a `Source`; the registry then ingests
`Registry.ingest(source.name, table=source.table, constants=source.constants)` (a table of None
means "read the file `name`").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from curascale.errors import CurascaleError
from runs_db.formats import FormatReport, detect_format, read_outputs

TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet", ".pq", ".json")


@dataclass(frozen=True)
class Source:
    name: str  # names the rows in messages and in the runs' source_file
    table: pd.DataFrame | None = None  # None: the registry reads the file `name`
    constants: Mapping[str, Any] = field(default_factory=dict)  # defaults; the user's --set wins
    report: FormatReport | None = None
    run_prefix: str = ""  # before every run id: a shipped dataset's own namespace
    consumed: tuple[str, ...] = ()  # the user's constants already applied in reading (run_id renames a trainer's run)

    def ingest_constants(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The constants the registry applies: this source's defaults, then the user's `given`,
        less those the reading already applied."""
        return {key: value for key, value in {**self.constants, **given}.items() if key not in self.consumed}

    def account(self) -> list[str]:
        """One line per run read, per thing skipped (with why) and per remark on what was read
        (merged, overridden or left out), then a count; [] for a table file."""
        if self.report is None:
            return []
        lines = [f"read {r.path} ({r.format}, {r.rows} {'row' if r.rows == 1 else 'rows'})" for r in self.report.read]
        lines += [f"skipped {s.path}: {s.reason}" for s in self.report.skipped]
        lines += [f"note {r.path}: {r.what}" for r in self.report.remarks]
        rows = sum(r.rows for r in self.report.read)
        lines.append(f"{len(self.report.read)} read ({rows} {'row' if rows == 1 else 'rows'}), {len(self.report.skipped)} skipped")
        return lines

    def check(self) -> None:
        """Raise CurascaleError when a folder of runs gave nothing to ingest."""
        if self.report is not None and self.report.table is None:
            raise CurascaleError(f"{self.name}: no run could be read ({len(self.report.skipped)} skipped)")


def _is_trainer_output(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() not in TABLE_SUFFIXES or detect_format(path) is not None


def resolve_source(path: str | Path | None, *, dataset: str | None = None, fmt: str | None = None, mapping: Mapping[str, str] | None = None, constants: Mapping[str, Any] | None = None) -> Source:
    """The rows to ingest: the shipped `dataset` (family = its name), the trainer outputs at `path`
    (recognised by content, or read as `fmt`), or the table file at `path`. `mapping` and
    `constants` are the ones the ingest will apply: trainer outputs are checked with them; a
    constant run_id renames a single trainer run (`Source.consumed`). A shipped dataset's run
    ids are prefixed with its name (``datablations/``), so datasets that share runs
    (datablations and datablations_all) can share one registry."""
    if (path is None) == (dataset is None):
        raise CurascaleError("give either a file or folder of runs, or a dataset name, not both or neither")
    if dataset is not None:
        if fmt is not None:
            raise CurascaleError("format applies to files and folders, not to a shipped dataset")
        from curascale.datasets import get_dataset, load_dataset

        if not get_dataset(dataset).runs:
            raise CurascaleError(f"dataset {dataset!r} holds fitted parameters, not runs: load it with curascale.load_dataset")
        return Source(f"curascale:datasets/{dataset}", load_dataset(dataset), {"family": dataset}, run_prefix=f"{dataset}/")
    path = Path(path)
    if fmt is None and not _is_trainer_output(path):
        return Source(str(path))
    constants = dict(constants or {})
    run_id = constants.pop("run_id", None)
    report = read_outputs(path, fmt, mapping=mapping, constants=constants, run_id=run_id)
    return Source(str(path), report.table, {}, report, consumed=("run_id",) if run_id is not None else ())
