"""Unusable registry files: one line naming the file, exit 2, no traceback, nothing written."""

import os
import sqlite3
import subprocess
import sys

import duckdb
import pytest

from curascale.errors import DatabaseError
from runs_db import connect

RUNS = "run_id,params,tokens,loss\na,1e8,2e9,3\n"


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=cwd)


def good_registry(path):
    registry = connect(path)
    (path.parent / "seed.csv").write_text("params,tokens,loss\n" + "".join(f"{1e8 * (i + 1)},{2e9 + i},{3 + i / 1e4}\n" for i in range(3000)))
    registry.ingest(path.parent / "seed.csv")
    return path.read_bytes()


def truncated(path):
    path.write_bytes(good_registry(path)[:100])


def half(path):
    data = good_registry(path)
    path.write_bytes(data[: len(data) // 2])


def checksum_corrupt(path):
    data = bytearray(good_registry(path))
    for i in range(12288 + 64, 12288 + 128):  # inside the first data block, past its checksum
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def other_format_text(path):
    path.write_text("run_id,params\nx,1\n")


def other_format_sqlite(path):
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a)")


def foreign_duckdb(path):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE people (name VARCHAR)")


FAULTS = {
    "truncated": (truncated, "Could not read enough bytes"),
    "half": (half, "Could not read enough bytes"),
    "checksum-corrupt": (checksum_corrupt, "(?i)corrupt|checksum"),
    "text file": (other_format_text, "not a valid DuckDB database file"),
    "sqlite file": (other_format_sqlite, "is a SQLite database, not a curascale registry"),
    "another DuckDB database": (foreign_duckdb, "not a curascale registry"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_unusable_registry_is_one_line_and_left_as_it_was(tmp_path, name):
    make, message = FAULTS[name]
    db = tmp_path / "db.duckdb"
    make(db)
    (tmp_path / "runs.csv").write_text(RUNS)
    before = db.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    for args in (("runs", "list"), ("runs", "ingest", "runs.csv"), ("runs", "export", "out.csv")):
        result = cli(*args, "--db", "db.duckdb", cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("error: registry db.duckdb: ")
    with pytest.raises(DatabaseError, match=message):
        connect(db).runs()
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_a_registry_without_tables_is_an_error_to_read_and_healed_by_a_write(tmp_path):
    db = tmp_path / "x.duckdb"
    duckdb.connect(str(db)).close()  # what a kill within ~20 ms of creating a registry leaves (case 2.10)
    (tmp_path / "r.csv").write_text(RUNS)
    for args in (("runs", "list"), ("runs", "export", "e.csv")):
        result = cli(*args, "--db", "x.duckdb", cwd=tmp_path)
        assert result.returncode == 2 and "holds no runs table yet" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "e.csv").exists()
    assert cli("runs", "ingest", "r.csv", "--db", "x.duckdb", cwd=tmp_path).returncode == 0
    assert connect(db).runs().run_id.tolist() == ["a"]


def test_a_directory_as_registry_is_one_line(tmp_path):
    (tmp_path / "adir").mkdir()
    with pytest.raises(DatabaseError, match="is a directory"):
        connect(tmp_path / "adir").runs()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_and_file(tmp_path):
    (tmp_path / "r.csv").write_text(RUNS)
    locked = tmp_path / "locked"
    locked.mkdir()
    good_registry(locked / "db.duckdb")
    before = (locked / "db.duckdb").read_bytes()
    (locked / "db.duckdb").chmod(0o444)
    locked.chmod(0o555)
    try:
        for db in ("locked/new.duckdb", "locked/db.duckdb"):
            result = cli("runs", "ingest", "r.csv", "--db", db, cwd=tmp_path)
            assert result.returncode == 2 and "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert len(connect(locked / "db.duckdb").runs()) == 3000  # reading still works
    finally:
        locked.chmod(0o755)
    assert (locked / "db.duckdb").read_bytes() == before and not (locked / "new.duckdb").exists()


def test_sql_errors_inside_the_registry_are_database_errors(tmp_path):
    registry = connect(tmp_path / "db.duckdb")
    (tmp_path / "r.csv").write_text(RUNS)
    registry.ingest(tmp_path / "r.csv")
    with pytest.raises(DatabaseError, match="registry .*db.duckdb: .*no_such_table"):
        registry.query("SELECT * FROM no_such_table")
