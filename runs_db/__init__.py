"""The run registry: an embedded DuckDB database of pools, buckets, training runs, evals and fits.

Run identity (the natural key) is the row's `run_id`, or for a row without one the sha256 of the
row as its file wrote it, before any mapping (`runs_db.ingest`): re-ingesting a file with another
`--map` cannot store its runs twice. A run with the same inputs and evals as a stored one under
another id is refused at ingest and listed by `Registry.duplicates` (`runs_db.registry`). Every
`where` is one boolean condition over the runs' columns (`runs_db.where`); every connection has
DuckDB's external access disabled (`runs_db.db`).

The registry (DuckDB, pandas) loads on first use, so importing `runs_db.errors` from the curation
engine stays cheap."""

from curascale.errors import DatabaseLocked, IngestError, UserError

__all__ = ["connect", "Registry", "IngestReport", "UserError", "IngestError", "DatabaseLocked"]


def __getattr__(name):
    if name in ("connect", "Registry", "IngestReport"):
        from runs_db import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'runs_db' has no attribute {name!r}")
