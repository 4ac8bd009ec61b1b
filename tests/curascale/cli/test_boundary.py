"""The command line's one boundary: any DuckDB error (raised from the `_duckdb` module) or
CurascaleError ends as one line on stderr and exit status 2."""

import sys

import duckdb
import pytest
import typer

from curascale.cli.app import run
from curascale.errors import DatabaseError


def app_raising(error):
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise error

    return app


@pytest.mark.parametrize(
    "error, line",
    [
        (duckdb.CatalogException("Catalog Error: Table with name runs does not exist!\nDid you mean ...?"), "error: registry: Catalog Error: Table with name runs does not exist!"),
        (duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2"), "error: registry: Corrupt database file: computed checksum 1 does not match stored checksum 2"),
        (DatabaseError("registry x.duckdb: IO Error: Could not read enough bytes"), "error: registry x.duckdb: IO Error: Could not read enough bytes"),
    ],
)
def test_database_errors_are_one_line_exit_2(monkeypatch, capsys, error, line):
    if not isinstance(error, DatabaseError):
        assert type(error).__module__ == "_duckdb"  # what a test of the module name "duckdb" missed
    monkeypatch.setattr(sys, "argv", ["curascale"])
    with pytest.raises(SystemExit) as exit_:
        run(app_raising(error))
    assert exit_.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_other_errors_are_not_swallowed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["curascale"])
    with pytest.raises(ZeroDivisionError):
        run(app_raising(ZeroDivisionError("a bug must stay visible")))


@pytest.mark.parametrize("args, line", [
    (("curate", "demo-pool", "pool-out", "--rows", "10", "--seed", "-1"), "error: --seed must be >= 0, got -1"),
    (("fit", "chinchilla", "--csv", "runs.csv", "--seed", "-2"), "error: --seed must be >= 0, got -2"),
    (("design-pilots", "--fit", "fit.json", "--budget", "1B", "--pilot-budget", "1M", "--seed", "-1"), "error: --seed must be >= 0, got -1"),
    (("design-pilots", "--fit", "fit.json", "--budget", "1B", "--pilot-budget", "1M", "--top", "0"), "error: --top must be >= 1, got 0"),
])
def test_integer_options_below_their_floor_are_one_line_exit_2(tmp_path, args, line):
    """A negative --seed reached numpy's generator (a traceback, exit 1) in design-pilots and curate
    demo-pool; `--top 0` printed an empty table. Refused while the options are parsed (the
    `at_least` callback), before any file is read or written."""
    from tests.cli import curascale

    result = curascale(*args, check=False, cwd=tmp_path)
    assert (result.returncode, result.stderr.strip()) == (2, line) and list(tmp_path.iterdir()) == []
