"""runs_db.ingest.ingest_notes: likely unit mistakes are said at ingest time, with the fit's own
rule (scaling.diagnostics.unit_mistakes), as notes in the ingest report; the runs are stored."""

import pandas as pd
import pytest

from cli import curascale
from paths import CASES
from runs_db import connect

BILLIONS = CASES / "07-tokens-in-billions-plan-nonsense/chin240_Dbillions.csv"


def test_tokens_in_billions_are_noted_at_ingest_and_the_runs_stored():
    frame = pd.read_csv(BILLIONS)
    registry = connect(":memory:")
    report = registry.ingest(BILLIONS, mapping={"params": "N_params", "tokens": "D_tokens"})
    assert report.inserted == len(frame) == len(registry.runs())  # a note, not a refusal
    [note] = report.notes
    assert (note.code, note.severity, note.details["input"]) == ("unit-mistake", "warning", "tokens")
    assert note.details["min"] == frame["D_tokens"].min() and note.details["max"] == frame["D_tokens"].max() < 1e3
    # params are raw counts (1.7e9 and up): nothing said about them
    assert frame["N_params"].min() > 1e3


@pytest.mark.parametrize(
    "column, values, noted",
    [
        ("samples_seen", [12.8, 128.0], True),  # samples seen in millions
        ("params", [70.0, 400.0], True),  # parameters in millions
        ("samples_seen", [999.0, 1.28e8], True),  # one value below 1e3 is enough
        ("samples_seen", [1000.0, 1.28e8], False),  # 1e3 itself is a possible (tiny) count
        ("flops", [1.0, 2.0], False),  # not a count column of the rule
    ],
)
def test_every_count_column_below_a_thousand(tmp_path, column, values, noted):
    path = tmp_path / "runs.csv"
    pd.DataFrame({column: values, "loss": [3.0, 2.5]}).to_csv(path, index=False)
    notes = connect(":memory:").ingest(path).notes
    assert [(n.code, n.details["input"], n.details["min"]) for n in notes] == ([("unit-mistake", column, min(values))] if noted else [])


def test_the_ingest_command_prints_the_note(tmp_path):
    result = curascale("runs", "ingest", BILLIONS, "--map", "params=N_params", "--map", "tokens=D_tokens", "--db", tmp_path / "r.duckdb")
    assert "240 new rows" in result.stdout and "(unit-mistake): tokens goes down to" in result.stdout
