"""One error hierarchy: every error that means "the input or the state is wrong" is a
`CurascaleError`. The command line's boundary (`curascale.cli.app`) turns it into one line on
stderr and exit status 2; library callers catch it like any `ValueError`.

Messages name parameters and values (and file, row, column for files), never CLI flags.
"""

from __future__ import annotations


class CurascaleError(ValueError):
    """Bad input or a state the user can fix; shown as one line, never a traceback."""


UserError = CurascaleError  # the name wave 1 used; kept so older imports keep working


class IngestError(CurascaleError):
    """A rejected file: names the file, the row (1-based, header excluded) and the column."""

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.reason = file, row, column, message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


class DatabaseLocked(CurascaleError):
    """Another process holds the registry's write lock past our wait."""


class DatabaseError(CurascaleError):
    """The registry file cannot be used: corrupt, truncated, of another format, read-only."""
