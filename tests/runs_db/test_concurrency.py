"""Faults and concurrency of the registry: a writer killed mid-ingest loses nothing already
committed and leaves no partial file; a second writer waits for the lock or fails clearly."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from runs_db import DatabaseLocked, connect

GOOD = "run_id,params,tokens,loss\nr1,1e8,2e9,3.1\nr2,2e8,4e9,2.9\n"

# A writer that stops inside its transaction (after writing, before commit) and waits there.
WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from runs_db import connect
    db, source, signal_file, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    def stage(name):
        if name == "written":
            pathlib.Path(signal_file).write_text("in transaction")
            time.sleep(hold)
    report = connect(db).ingest(source, on_stage=stage)
    print(report.inserted)
    """
)


def start_writer(tmp_path, db, source, hold):
    signal_file = tmp_path / f"signal-{time.monotonic_ns()}"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(source), str(signal_file), str(hold)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"writer never reached its transaction: {process.communicate()}")
        time.sleep(0.05)
    return process


def big_file(tmp_path, rows=5000):
    path = tmp_path / "big.csv"
    path.write_text("params,tokens,loss\n" + "".join(f"{1e8 + i},{2e9},{3 + i / 1e5}\n" for i in range(rows)))
    return path


def test_killed_mid_ingest_leaves_the_database_as_it_was(tmp_path):
    db = tmp_path / "r.duckdb"
    (tmp_path / "seed.csv").write_text(GOOD)
    connect(db).ingest(tmp_path / "seed.csv")
    writer = start_writer(tmp_path, db, big_file(tmp_path), hold=120)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    registry = connect(db)
    assert sorted(registry.runs()["run_id"]) == ["r1", "r2"]
    assert len(registry.query("SELECT * FROM evals")) == 2
    # and the file is fully usable: the same ingest now completes
    assert registry.ingest(big_file(tmp_path)).inserted == 5000


def test_second_writer_gets_a_clear_locked_error(tmp_path):
    db = tmp_path / "r.duckdb"
    (tmp_path / "seed.csv").write_text(GOOD)
    connect(db).ingest(tmp_path / "seed.csv")
    writer = start_writer(tmp_path, db, big_file(tmp_path), hold=5)
    try:
        with pytest.raises(DatabaseLocked, match="database is locked by another process.*retry"):
            connect(db, lock_timeout_s=0.5).ingest(tmp_path / "seed.csv")
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert len(connect(db).runs()) == 5002


def test_second_writer_waits_and_both_succeed(tmp_path):
    db = tmp_path / "r.duckdb"
    (tmp_path / "other.csv").write_text(GOOD)
    writer = start_writer(tmp_path, db, big_file(tmp_path), hold=2)
    report = connect(db, lock_timeout_s=60).ingest(tmp_path / "other.csv")
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert out.strip() == "5000" and report.inserted == 2
    assert len(connect(db).runs()) == 5002


@pytest.mark.parametrize("message, locked", [
    ('IO Error: Could not set lock on file "r.duckdb": Conflicting lock is held in python (PID 12)', True),
    ("Conflicting lock is held in another process", True),  # either phrase with "lock" is a lock error
    ('IO Error: Could not set lock on file "r.duckdb"', True),
    ("IO Error: could not open file: no such file", False),  # neither phrase
    ("Conflicting writes to the catalog", False),  # a phrase without "lock"
])
def test_lock_errors_are_told_by_their_message(message, locked):
    from runs_db.db import _is_lock_error

    assert _is_lock_error(RuntimeError(message)) is locked


def test_every_entry_point_waits_the_documented_ten_seconds_by_default(tmp_path):
    """runs_db/db.py's docstring: a second writer waits 10 s by default; the registry, `connect`
    and the database all take that one default (a changed default in any of them fails here)."""
    from runs_db.db import DEFAULT_LOCK_TIMEOUT_S, Database
    from runs_db.registry import Registry

    assert DEFAULT_LOCK_TIMEOUT_S == 10.0
    path = tmp_path / "r.duckdb"
    assert connect(path).db.lock_timeout_s == Registry(path).db.lock_timeout_s == Database(path).lock_timeout_s == 10.0
