"""The rows a law is fitted on, from the run registry or from a file."""

from __future__ import annotations

from pathlib import Path

from curascale.errors import UserError


def load_frame(law, *, db: str | None, where: str | None, csv: Path | None, mapping: dict[str, str], split: str | None, task: str | None):
    """The rows a law is fitted on: from the registry (runs joined with the target metric) or a CSV."""
    if csv is not None:
        from runs_db.ingest import apply_mapping, read_table

        frame = apply_mapping(read_table(csv), str(csv), mapping, {})
        return frame, str(csv)
    from runs_db.columns import RUN_COLUMNS
    from runs_db.registry import connect

    registry = connect(db)
    wanted = [c for c in (*law.inputs, law.group_by) if c and c in RUN_COLUMNS]
    frame = registry.frame(wanted, target=law.target, where=where, split=split, task=task)
    frame = frame.rename(columns={source: target for target, source in mapping.items()})
    if frame.empty:
        raise UserError(f"no runs in {registry.path} have '{law.target}'" + (f" where {where}" if where else ""))
    return frame, f"{registry.path}" + (f" where {where}" if where else "")
