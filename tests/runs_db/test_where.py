"""runs_db.where: a user's condition is one boolean expression over the runs' columns, checked by
DuckDB's parser; nothing outside the registry is read or written, whatever the condition says."""

import hashlib
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from curascale.errors import CurascaleError
from runs_db import connect

RUNS = "run_id,family,params,tokens,loss,note\na,chinchilla,1e8,2e9,3.1,x\nb,chinchilla,2e8,4e9,2.9,y\nc,other,4e8,8e9,2.7,x\n"


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=cwd)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def registries(tmp_path):
    (tmp_path / "runs.csv").write_text(RUNS)
    connect(tmp_path / "db.duckdb").ingest(tmp_path / "runs.csv")
    connect(tmp_path / "victim.duckdb").ingest(tmp_path / "runs.csv")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT\n")
    return tmp_path


INJECTIONS = [
    # the adversarial run's strings (cases 3.04, 3.07, 3.10) and their kin
    "1=0 UNION ALL SELECT content, " + ", ".join(["NULL"] * 22) + " FROM read_text('secret.txt')",
    "1=0 UNION ALL SELECT content, " + ", ".join(["NULL"] * 22) + " FROM read_text('/etc/passwd')",
    "1=1; COPY (SELECT 42 AS x) TO 'copied.csv'; SELECT * FROM runs WHERE 1=1",
    "1=1; ATTACH 'victim.duckdb' AS v (READ_ONLY false); DELETE FROM v.runs; SELECT * FROM runs WHERE 1=1",
    "run_id IN (SELECT content FROM read_text('secret.txt'))",
    "CAST((SELECT content FROM read_text('secret.txt')) AS INTEGER) = 1",
    "run_id IN (SELECT column0 FROM read_csv('secret.txt'))",
    "EXISTS (SELECT 1 FROM read_text('secret.txt'))",
    "1=1) UNION (SELECT * FROM runs",
    "1=1) ORDER BY (params",
    "1=1) GROUP BY (params",
    "1=1\n); COPY runs TO 'copied.csv'; SELECT (1",
    "current_setting('enable_external_access')",
    "sum(params) > 0",
    "row_number() OVER () > 0",
]


COMMANDS = [("runs", "list", "--limit", "0"), ("runs", "delete", "--yes"), ("fit", "chinchilla")]


@pytest.mark.parametrize("where, commands", [(w, COMMANDS if i < 4 else COMMANDS[:1]) for i, w in enumerate(INJECTIONS)])
def test_injections_are_one_line_errors_and_touch_nothing(registries, where, commands):
    before = {name: digest(registries / name) for name in ("db.duckdb", "victim.duckdb", "secret.txt")}
    listing = sorted(p.name for p in registries.iterdir())
    for args in commands:
        result = cli(*args, "--db", "db.duckdb", "--where", where, cwd=registries)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: where") and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr
        for secret in ("TOP-SECRET", "root:"):
            assert secret not in result.stdout + result.stderr
    assert {name: digest(registries / name) for name in before} == before
    assert sorted(p.name for p in registries.iterdir()) == listing  # no copied.csv, no stray file
    assert len(connect(registries / "victim.duckdb").runs()) == 3


@pytest.mark.parametrize("method", ["runs", "frame", "delete"])
def test_every_query_that_takes_where_checks_it(registries, method):
    registry = connect(registries / "db.duckdb")
    call = {"runs": lambda w: registry.runs(w), "frame": lambda w: registry.frame(["params"], where=w), "delete": lambda w: registry.delete(w)}[method]
    with pytest.raises(CurascaleError, match="not one SQL condition"):
        call("1=1; DELETE FROM runs")
    with pytest.raises(CurascaleError, match="subqueries"):
        call("run_id IN (SELECT content FROM read_text('secret.txt'))")
    assert len(registry.runs()) == 3


@pytest.mark.parametrize(
    "where, message",
    [
        ("famly = 'chinchilla'", "unknown column 'famly': did you mean 'family'?"),
        ("family = chinchilla", r"unknown column 'chinchilla': a text value needs quotes \('chinchilla'\)"),
        ("family = ", r"^where 'family = ': not one SQL condition \(syntax error at or near \"\)\"\)$"),  # the text and DuckDB's reason
        ("params", "is a DOUBLE, not a condition"),
        ("1=1) UNION SELECT * FROM runs WHERE (1=1", r"^where '1=1\) UNION SELECT \* FROM runs WHERE \(1=1': give one condition: no UNION, ORDER BY"),
        ("1=1); SELECT (1", r"^where '1=1\); SELECT \(1': give one condition, not several statements$"),  # closes the template's parenthesis
        ("v.runs.params > 1", "unknown column 'v.runs.params'"),
        ("read_text('secret.txt') IS NULL", "function 'read_text' is not allowed"),
        ("", "give a condition"),
        ("family + 1 > 2", r": Binder Error: No function matches the given name and argument types '\+\(VARCHAR, INTEGER_LITERAL\)'\. You might"),
    ],
)
def test_typos_and_non_conditions_are_named(registries, where, message):
    with pytest.raises(CurascaleError, match=message) as caught:
        connect(registries / "db.duckdb").runs(where)
    if where:  # one line that starts with the condition as given (its repr)
        assert str(caught.value).startswith(f"where {where!r}: ") and "\n" not in str(caught.value)


def test_a_null_condition_is_a_condition(registries):
    """NULL (no run matches) is accepted, as a comparison with NULL is: DuckDB types it NULL."""
    registry = connect(registries / "db.duckdb")
    assert len(registry.runs("NULL")) == 0 and len(registry.runs("params IS NULL AND NULL")) == 0 and len(registry.runs()) == 3


def test_unknown_column_from_the_cli_is_one_line_exit_2(registries):
    result = cli("runs", "list", "--db", "db.duckdb", "--where", "famly = 'x'", cwd=registries)
    assert result.returncode == 2 and "unknown column 'famly': did you mean 'family'?" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "where, expected",
    [
        ("family = 'chinchilla' AND params > 1.5e8", lambda t: (t.family == "chinchilla") & (t.params > 1.5e8)),
        ("config->>'note' = 'x'", lambda t: t.note == "x"),
        ("family LIKE 'chin%' OR tokens >= 8e9", lambda t: t.family.str.startswith("chin") | (t.tokens >= 8e9)),
        ("run_id IN ('a', 'c')", lambda t: t.run_id.isin(["a", "c"])),
        ("params BETWEEN 1e8 AND 2e8 AND experiment IS NULL", lambda t: t.params.between(1e8, 2e8)),
        ("NOT (lower(FAMILY) = 'other')", lambda t: t.family.str.lower() != "other"),
        ("CASE WHEN params > 1e8 THEN tokens > 5e9 ELSE true END", lambda t: (t.params <= 1e8) | (t.tokens > 5e9)),
    ],
)
def test_conditions_select_what_pandas_selects(registries, where, expected):
    table = pd.read_csv(registries / "runs.csv")
    wanted = sorted(table[expected(table)].run_id)
    registry = connect(registries / "db.duckdb")
    assert registry.runs(where).run_id.tolist() == wanted
    assert registry.frame(["params"], where=where).run_id.tolist() == wanted
    assert registry.delete(where, dry_run=True).runs == len(wanted)


def test_connections_cannot_reach_files_or_unlock_themselves(registries):
    registry = connect(registries / "db.duckdb")
    for read_only in (True, False):
        with registry.db.connection(read_only=read_only) as con:
            with pytest.raises(duckdb.Error, match="(?i)disabled|permission"):
                con.execute(f"SELECT * FROM read_text('{registries / 'secret.txt'}')").fetchall()
            with pytest.raises(duckdb.Error, match="(?i)disabled|permission"):
                con.execute(f"COPY (SELECT 1) TO '{registries / 'copied.csv'}'")
            with pytest.raises(duckdb.Error, match="(?i)lock"):
                con.execute("SET enable_external_access = true")
    assert not (registries / "copied.csv").exists()


def test_a_checked_condition_keeps_its_text_and_the_columns_it_was_checked_against():
    from runs_db.where import check_where, run_columns

    checked = check_where("family = 'chinchilla' AND params > 1e8")
    assert checked.condition == "family = 'chinchilla' AND params > 1e8" and checked.columns == run_columns()
    assert checked.select == "SELECT * FROM runs WHERE (\nfamily = 'chinchilla' AND params > 1e8\n)"
