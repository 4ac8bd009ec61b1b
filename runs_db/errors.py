"""The registry's errors live in the one hierarchy of `curascale.errors`; re-exported here."""

from curascale.errors import CurascaleError, DatabaseError, DatabaseLocked, IngestError, UserError

__all__ = ["CurascaleError", "DatabaseError", "DatabaseLocked", "IngestError", "UserError"]
