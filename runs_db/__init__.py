"""The run registry: an embedded DuckDB database of pools, buckets, training runs, evals and fits.

The registry (DuckDB, pandas) loads on first use, so importing `runs_db.errors` from the curation
engine stays cheap."""

from curascale.errors import DatabaseLocked, IngestError, UserError

__all__ = ["connect", "Registry", "IngestReport", "UserError", "IngestError", "DatabaseLocked"]


def __getattr__(name):
    if name in ("connect", "Registry", "IngestReport"):
        from runs_db import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'runs_db' has no attribute {name!r}")
