"""The run registry: an embedded DuckDB database of pools, buckets, training runs, evals and fits."""

from runs_db.errors import DatabaseLocked, IngestError, UserError
from runs_db.registry import IngestReport, Registry, connect

__all__ = ["connect", "Registry", "IngestReport", "UserError", "IngestError", "DatabaseLocked"]
