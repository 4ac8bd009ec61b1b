"""Errors that mean "the input is wrong": the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a state the user can fix; shown as one line, never a traceback."""


class IngestError(UserError):
    """A rejected file: names the file, the row (1-based, header excluded) and the column."""

    def __init__(self, file: str, message: str, *, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.reason = file, row, column, message
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")


class DatabaseLocked(UserError):
    """Another process holds the registry's write lock past our wait."""
