"""Defects a new user found in the registry: --map losing recognised columns, numbers too long to
read, messages echoing whole cells, FIFO and SQLite registries, config keys in --where."""

import json
import os
import sqlite3

import pytest

from curascale.errors import CurascaleError, DatabaseError, IngestError
from runs_db import connect
from runs_db.ingest import read_runs
from runs_db.text import quoted


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def stored(tmp_path, text, mapping):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(write(tmp_path, "m2.csv", text), mapping=mapping)
    return registry.runs().iloc[0]


def test_mapping_a_recognised_column_elsewhere_keeps_it(tmp_path):
    run = stored(tmp_path, "params,tokens,loss\n100,2000,2.5\n", {"flops": "params"})
    assert (run.params, run.flops, run.tokens) == (100.0, 100.0, 2000.0)


def test_two_targets_one_of_them_a_recognised_source(tmp_path):
    run = stored(tmp_path, "N_params,tokens,loss\n200,3000,2.5\n", {"params": "N_params", "flops": "tokens"})
    assert (run.params, run.tokens, run.flops) == (200.0, 3000.0, 3000.0)
    assert run.config is None  # an unrecognised source appears only under its target


def test_a_source_feeding_its_own_name_and_another(tmp_path):
    run = stored(tmp_path, "params,tokens,loss\n100,2000,2.5\n", {"params": "params", "flops": "params"})
    assert (run.params, run.flops) == (100.0, 100.0)


def test_swapping_two_recognised_columns(tmp_path):
    run = stored(tmp_path, "params,tokens,loss\n100,2000,2.5\n", {"params": "tokens", "tokens": "params"})
    assert (run.params, run.tokens) == (2000.0, 100.0)


@pytest.mark.parametrize("column", ["loss", "lr"])
def test_a_number_too_long_to_read_is_one_line(tmp_path, column):
    cells = {"loss": "2.5", "lr": "0.1", column: "1" * 5000}
    path = write(tmp_path, "big.csv", f"params,tokens,loss,lr\n1,2,{cells['loss']},{cells['lr']}\n")
    with pytest.raises(IngestError) as error:
        read_runs(path)
    assert (error.value.file, error.value.row, error.value.column) == (str(path), 1, column)
    assert "too long" in str(error.value) and len(str(error.value)) < 300 and "\n" not in str(error.value)


def test_messages_quote_at_most_60_characters_of_a_cell(tmp_path):
    path = write(tmp_path, "long.csv", "params,tokens,loss\n1,2," + "x" * 5000 + "\n")
    with pytest.raises(IngestError, match=r"not a number: 'x{59}\.\.\. \(5000 characters\)") as error:
        read_runs(path)
    assert len(str(error.value)) - len(str(path)) < 120  # the cell is quoted short, whatever the path
    assert quoted("ab") == "'ab'" and quoted("a" * 100) == "'" + "a" * 59 + "... (100 characters)"


def test_a_fifo_as_registry_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(DatabaseError, match="is not a regular file"):
        connect(tmp_path / "fifo").runs()


def test_a_sqlite_file_is_named_as_one_and_left_alone(tmp_path):
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="is a SQLite database, not a curascale registry"):
        connect(path).ingest(write(tmp_path, "r.csv", "params,loss\n1,2\n"))
    assert path.read_bytes() == before


def test_a_config_key_in_where_is_pointed_at_config(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(write(tmp_path, "r.csv", "run_id,params,loss,lr\na,1,2,0.1\nb,2,2,0.3\n"))
    with pytest.raises(CurascaleError, match=r"config->>'lr'") as error:
        registry.runs("lr > 0")
    assert "\n" not in str(error.value)
    assert registry.runs("CAST(config->>'lr' AS DOUBLE) > 0.2").run_id.tolist() == ["b"]
    with pytest.raises(CurascaleError, match="did you mean 'params'"):
        registry.runs("param > 0")


def test_control_characters_in_text_columns_are_refused(tmp_path):
    path = write(tmp_path, "esc.csv", 'run_id,params,loss\n"a\x1b[31mX",1,2\n')
    with pytest.raises(IngestError, match=r"control character '\\x1b' in text") as error:
        read_runs(path)
    assert (error.value.row, error.value.column) == (1, "run_id")
