"""The one check of a user's `where` condition, for every query that takes one (runs list and
delete, fit --where, `Registry.frame`).

A condition is ONE boolean SQL expression over the columns of the runs table, e.g.
``family = 'chinchilla' AND config->>'in_besiroglu_fit' = '1'``. It is parsed by DuckDB's own
parser (`json_serialize_sql` of ``SELECT * FROM runs WHERE (<condition>)``) and accepted only when

- the text is exactly one SELECT statement whose every part but the WHERE clause is the template's
  (no second statement, UNION, ORDER BY, LIMIT, GROUP BY: nothing closes the parenthesis);
- the expression holds only column references, constants, operators, comparisons, casts, CASE
  and scalar functions: no subquery, table function (`read_csv`, `read_text`), window, aggregate,
  lambda or prepared-statement parameter;
- every column it names is a column of the runs table (an unknown one is an error naming it and
  the near misses);
- it binds to a BOOLEAN against an empty copy of the schema in memory.

The checked text is then run as a subquery by the registry, on connections with DuckDB's external
access disabled and the configuration locked (`runs_db.db`): the check is the first fence, the
connection the second.
"""

from __future__ import annotations

from runs_db.text import quoted

import difflib
import functools
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from curascale.errors import CurascaleError

_TEMPLATE = "SELECT * FROM runs WHERE (\n{}\n)"
_EXPRESSIONS = {"COLUMN_REF", "CONSTANT", "COMPARISON", "CONJUNCTION", "OPERATOR", "FUNCTION", "CAST", "BETWEEN", "CASE", "COLLATE", "TYPE"}
_DENIED_FUNCTIONS = {"current_setting", "getenv", "nextval", "currval", "setseed"}
_POSITIONS = ("query_location", "query_location_length")


@dataclass(frozen=True)
class Where:
    """A checked condition: `select` is the statement ``SELECT * FROM runs WHERE (...)`` that was
    parsed and bound, to be used as a subquery (``FROM (<select>) AS r``)."""

    condition: str
    select: str
    columns: tuple[str, ...]


def _error(where: str, reason: str) -> CurascaleError:
    return CurascaleError(f"where {quoted(where)}: {reason}")


@functools.lru_cache(maxsize=1)
def _schema() -> duckdb.DuckDBPyConnection:
    """An in-memory registry with no rows: what conditions are parsed and bound against."""
    from runs_db.db import open_connection

    return open_connection(":memory:")


@functools.lru_cache(maxsize=1)
def run_columns() -> tuple[str, ...]:
    """The columns of the runs table, from the schema itself."""
    return tuple(row[1] for row in _schema().execute("PRAGMA table_info('runs')").fetchall())


@functools.lru_cache(maxsize=1)
def _scalar_functions() -> frozenset[str]:
    rows = _schema().execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('scalar', 'macro')").fetchall()
    return frozenset(name for (name,) in rows) - _DENIED_FUNCTIONS


def _parse(sql: str) -> dict[str, Any]:
    return json.loads(_schema().execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])


def _without_positions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_positions(v) for k, v in node.items() if k not in _POSITIONS}
    if isinstance(node, list):
        return [_without_positions(v) for v in node]
    return node


@functools.lru_cache(maxsize=1)
def _template_frame() -> str:
    parsed = _parse(_TEMPLATE.format("true"))
    node = dict(parsed["statements"][0]["node"], where_clause=None)
    return json.dumps(_without_positions(node), sort_keys=True)


class UnknownColumn(CurascaleError):
    """A condition names a column the runs table lacks; `name` is that column."""

    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.name = name


def unknown_column_hint(name: str, columns: tuple[str, ...], config_keys: frozenset[str] = frozenset()) -> str:
    """What to suggest for an unknown column: a key of the runs' config JSON (config->>'lr'), a
    near column name, or quotes for a text value."""
    if name in config_keys:
        return f"{name} is a key of the runs' config: write config->>'{name}' (text) or CAST(config->>'{name}' AS DOUBLE)"
    near = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    return f"did you mean {' or '.join(repr(n) for n in near)}?" if near else f"a text value needs quotes ({quoted(name)})"


def _unknown_column(where: str, name: str, columns: tuple[str, ...]) -> CurascaleError:
    message = str(_error(where, f"unknown column {quoted(name)}: {unknown_column_hint(name, columns)} (columns: {', '.join(columns)})"))
    return UnknownColumn(message, name)


def _check_node(where: str, node: Any, columns: tuple[str, ...]) -> None:
    """Walk the parsed expression; raise on anything but a plain expression over `columns`."""
    if isinstance(node, list):
        for item in node:
            _check_node(where, item, columns)
        return
    if not isinstance(node, dict):
        return
    if "subquery" in node or node.get("type") in ("SELECT_NODE", "SET_OPERATION_NODE", "TABLE_FUNCTION", "BASE_TABLE"):
        raise _error(where, "subqueries and tables are not allowed: give one condition on the runs' columns")
    kind = node.get("class")
    if kind is not None and kind not in _EXPRESSIONS:
        what = {"SUBQUERY": "a subquery", "WINDOW": "a window function", "STAR": "*", "PARAMETER": "a parameter", "LAMBDA": "a lambda"}.get(kind, kind.lower())
        raise _error(where, f"{what} is not allowed: give one condition on the runs' columns")
    if kind == "COLUMN_REF":
        names = node.get("column_names", [])
        if len(names) == 2 and names[0] == "runs":
            names = names[1:]
        if len(names) != 1:
            raise _error(where, f"unknown column {quoted('.'.join(names))} (columns: {', '.join(columns)})")
        if names[0].lower() not in columns:
            raise _unknown_column(where, names[0], columns)
    if kind == "FUNCTION":
        name = node.get("function_name", "")
        if node.get("schema") or node.get("catalog") or name not in _scalar_functions():
            raise _error(where, f"function {quoted(name)} is not allowed: only scalar functions of a run's columns")
        if node.get("filter") is not None or node.get("distinct") or node.get("order_bys", {}).get("orders"):
            raise _error(where, f"function {quoted(name)}: aggregates are not allowed")
    for value in node.values():
        _check_node(where, value, columns)


def check_where(where: str) -> Where:
    """Check `where` (see the module docstring); raise `CurascaleError` with one line if it is not
    one boolean condition over the runs' columns."""
    if not isinstance(where, str) or not where.strip():
        raise CurascaleError("where: give a condition, e.g. family = 'chinchilla'")
    select = _TEMPLATE.format(where)
    parsed = _parse(select)
    if parsed.get("error"):
        raise _error(where, f"not one SQL condition ({parsed.get('error_message', 'parse error')})")
    statements = parsed["statements"]
    if len(statements) != 1:
        raise _error(where, "give one condition, not several statements")
    node = statements[0]["node"]
    frame = json.dumps(_without_positions(dict(node, where_clause=None)), sort_keys=True)
    if frame != _template_frame():
        raise _error(where, "give one condition: no UNION, ORDER BY, GROUP BY, LIMIT or other clauses")
    columns = run_columns()
    _check_node(where, node.get("where_clause"), columns)
    try:
        kind = _schema().execute(f"DESCRIBE SELECT (\n{where}\n) AS condition FROM runs").fetchall()[0][1]
    except duckdb.Error as error:
        raise _error(where, str(error).strip().splitlines()[0]) from None
    if kind not in ("BOOLEAN", '"NULL"', "NULL"):
        raise _error(where, f"is a {kind}, not a condition (true or false for each run)")
    return Where(condition=where, select=select, columns=columns)
