"""Opening the DuckDB registry file: default location, schema migrations, and the write lock.

DuckDB lets one process write a database file at a time; a second writer waits here up to
`lock_timeout_s` seconds (default `DEFAULT_LOCK_TIMEOUT_S`, 10 s) and then fails with
`DatabaseLocked` ("database is locked, retry").
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Iterator

import duckdb

from curascale.errors import DatabaseError, DatabaseLocked, UserError

DEFAULT_DB = "curascale.duckdb"
MEMORY = ":memory:"

DEFAULT_LOCK_TIMEOUT_S = 10.0  # how long a second writer waits for the write lock (seconds)


def default_path() -> str:
    """`CURASCALE_DB` if set, else ./curascale.duckdb."""
    return os.environ.get("CURASCALE_DB", DEFAULT_DB)


def migrations() -> list[tuple[int, str]]:
    """(version, sql) in order: schema.sql is version 1, migrations/NNNN_*.sql the later ones;
    found beside this file, whatever folders the working directory holds."""
    package = Path(__file__).resolve().parent
    steps = [(1, (package / "schema.sql").read_text())]
    for entry in sorted(package.joinpath("migrations").iterdir(), key=lambda p: p.name):
        match = re.match(r"(\d+)_.*\.sql$", entry.name)
        if match:
            steps.append((int(match.group(1)), entry.read_text()))
    versions = [v for v, _ in steps]
    if versions != sorted(set(versions)) or versions[0] != 1:
        raise RuntimeError(f"migration numbers must be unique and increasing: {versions}")
    return steps


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to date in one transaction; returns the schema version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    pending = [(v, sql) for v, sql in migrations() if v > current]
    if not pending:
        return current
    con.execute("BEGIN TRANSACTION")
    try:
        for version, sql in pending:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [version])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return pending[-1][0]


def _is_lock_error(error: Exception) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


# Every connection: no file, network or extension access beyond the registry file itself, and
# the configuration locked so that no statement can switch it back on.
LOCKED_DOWN = {"enable_external_access": False, "autoload_known_extensions": False, "autoinstall_known_extensions": False}


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def unusable(path: str, error: BaseException) -> DatabaseError:
    """A DuckDB error about the registry file as one line naming the file."""
    return DatabaseError(f"registry {path}: {first_line(error)}")


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}


def _check_schema(con: duckdb.DuckDBPyConnection, path: str, *, read_only: bool) -> None:
    """A registry has a schema_version table. A DuckDB file without tables (a first write killed
    early) is healed by a write and is an error to read; a file with other tables is not ours."""
    tables = _tables(con)
    if tables and "schema_version" not in tables:
        raise DatabaseError(f"registry {path}: a DuckDB file but not a curascale registry (it has tables {', '.join(sorted(tables))}); give another --db")
    if read_only and "runs" not in tables:
        raise DatabaseError(f"registry {path}: holds no runs table yet (an interrupted first ingest?): ingest runs to create it")


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path, read_only=read_only, config=LOCKED_DOWN)
    con.execute("SET lock_configuration = true")
    return con


SQLITE_HEADER = b"SQLite format 3\0"


def check_registry_file(path: str) -> None:
    """Refuse, as one `DatabaseError`, a registry path that exists but is not a regular file (a
    directory, a FIFO that would block forever, a device) or that is a SQLite database."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise DatabaseError(f"registry {path}: cannot read it ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise DatabaseError(f"registry {path}: is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise DatabaseError(f"registry {path}: is not a regular file (a FIFO, socket or device); give a file name")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise DatabaseError(f"registry {path}: cannot read it ({error.strerror})") from None
    if header == SQLITE_HEADER:
        raise DatabaseError(f"registry {path}: is a SQLite database, not a curascale registry (a DuckDB file)")


def open_connection(path: str, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S) -> duckdb.DuckDBPyConnection:
    """Open (and migrate, when writable) the registry at `path`, waiting out another writer's lock.

    Raises `DatabaseLocked` after `lock_timeout_s`, `DatabaseError` for a file that is not a
    usable registry (truncated, corrupt, of another format, unwritable), naming the file; a file
    that cannot be opened is left as it was."""
    if path != MEMORY:
        check_registry_file(path)
    if read_only and path != MEMORY and not Path(path).exists():
        raise UserError(f"no registry at {path}: ingest runs first (curascale runs ingest FILE --db {path})")
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            con = _connect(path, read_only)
            break
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise unusable(path, error) from None
            if time.monotonic() >= deadline:
                raise DatabaseLocked(
                    f"database is locked by another process: {path}; retry when it finishes "
                    f"(waited {lock_timeout_s:g} s)"
                ) from error
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        _check_schema(con, path, read_only=read_only)
        if not read_only:
            migrate(con)
    except duckdb.Error as error:
        con.close()
        raise unusable(path, error) from None
    except BaseException:
        con.close()
        raise
    return con


class Database:
    """A registry location. File databases are opened per operation so other processes can write
    between our operations; an in-memory database keeps its one connection."""

    def __init__(self, path: str | os.PathLike | None = None, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S):
        self.path = str(path) if path is not None else default_path()
        self.lock_timeout_s = lock_timeout_s
        self._memory = open_connection(MEMORY) if self.path == MEMORY else None

    @contextlib.contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._memory is not None:
            try:
                yield self._memory
            except duckdb.Error as error:
                raise unusable(self.path, error) from None
            return
        con = open_connection(self.path, read_only=read_only, lock_timeout_s=self.lock_timeout_s)
        try:
            yield con
        except duckdb.Error as error:
            raise unusable(self.path, error) from None
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction: everything in the block lands, or nothing does."""
        with self.connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
