"""`curascale runs` end to end: export writes through links, devices and FIFOs, `-` is standard
output, a directory is one line; user strings in tables are shown as text, never as markup."""

import io
import os
import subprocess
import sys
import threading

import pandas as pd
import pytest

RUNS = "run_id,params,tokens,loss\na,1e8,2e9,3.0\nb,2e8,4e9,2.9\n"


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def registry(tmp_path):
    (tmp_path / "r.csv").write_text(RUNS)
    assert cli("runs", "ingest", "r.csv", "--db", "db.duckdb", cwd=tmp_path).returncode == 0
    return tmp_path


def exported_ids(text):
    return pd.read_csv(io.StringIO(text)).run_id.tolist()


def test_export_through_a_symlink_keeps_the_link(registry):
    (registry / "real.csv").write_text("old\n")
    os.symlink("real.csv", registry / "link.csv")
    result = cli("runs", "export", "link.csv", "--db", "db.duckdb", cwd=registry)
    assert result.returncode == 0, result.stderr
    assert (registry / "link.csv").is_symlink() and os.readlink(registry / "link.csv") == "real.csv"
    assert exported_ids((registry / "real.csv").read_text()) == ["a", "b"]


def test_export_to_standard_output(registry):
    result = cli("runs", "export", "-", "--db", "db.duckdb", cwd=registry)
    assert result.returncode == 0
    assert exported_ids(result.stdout) == ["a", "b"]  # the notice goes to stderr, not into the CSV
    assert "wrote 2 rows to standard output" in result.stderr
    assert not (registry / "-").exists()


def test_export_into_a_fifo_writes_through_it(registry):
    fifo = registry / "pipe.csv"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = cli("runs", "export", "pipe.csv", "--db", "db.duckdb", cwd=registry)
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert exported_ids(received[0]) == ["a", "b"]
    assert fifo.is_fifo()  # still a FIFO, not replaced by a regular file


def test_export_to_dev_stdout_style_device(registry):
    result = cli("runs", "export", "/dev/null", "--db", "db.duckdb", cwd=registry)
    assert result.returncode == 0 and os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_export_to_a_directory_is_one_line_and_leaves_nothing(registry):
    # case 3.29
    (registry / "adir").mkdir()
    listing = sorted(p.name for p in registry.iterdir())
    result = cli("runs", "export", "adir", "--db", "db.duckdb", cwd=registry)
    assert result.returncode == 2 and result.stderr.strip() == "error: adir: is a directory; give a file name"
    assert sorted(p.name for p in registry.iterdir()) == listing and not any((registry / "adir").iterdir())


@pytest.mark.parametrize("run_id", ["[/bold]", "[red]x[/red]", "[link=file:///etc]a"])
def test_markup_in_run_ids_is_shown_as_text(tmp_path, run_id):
    # case 3.32: '[/bold]' crashed `runs list`; '[red]' was rendered as colour
    (tmp_path / "mk.csv").write_text(f'run_id,family,params,tokens,loss\n"{run_id}",mk,1e8,2e9,3.0\n')
    assert cli("runs", "ingest", "mk.csv", "--db", "db.duckdb", cwd=tmp_path).returncode == 0
    result = cli("runs", "list", "--db", "db.duckdb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert run_id in result.stdout
    dupes = cli("runs", "duplicates", "--db", "db.duckdb", cwd=tmp_path)
    assert dupes.returncode == 0 and "0 groups" in dupes.stdout
