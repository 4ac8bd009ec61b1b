"""Run identity does not depend on the mapping; a re-ingest that would store runs twice is
reported; duplicates can be listed and runs deleted with a count."""

import subprocess
import sys

import pytest

from curascale.errors import IngestError
from runs_db import connect
from runs_db.ingest import read_runs

ROWS = "N,D,U,val_loss,seed\n" + "".join(f"{1e8 * k},{2e9 * k},{1e9 * k},{3 - k / 10},{k}\n" for k in range(1, 6))
FIRST = {"params": "N", "tokens": "D", "loss": "val_loss"}
SECOND = {**FIRST, "unique_tokens": "U"}


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=cwd)


def test_derived_ids_do_not_depend_on_the_mapping(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text(ROWS)
    first = [r.run["run_id"] for r in read_runs(path, FIRST)]
    second = [r.run["run_id"] for r in read_runs(path, SECOND, {"family": "x"})]
    assert first == second and len(set(first)) == 5


def test_reingest_with_another_mapping_is_reported_not_stored_twice(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text(ROWS)
    registry = connect(tmp_path / "r.duckdb")
    assert registry.ingest(path, mapping=FIRST).inserted == 5
    with pytest.raises(IngestError, match="row 1, column 'run_id'.*already stored with other values"):
        registry.ingest(path, mapping=SECOND)
    assert len(registry.frame(["params", "tokens"], target="loss")) == 5  # the next fit sees 5 points, not 10
    report = registry.ingest(path, mapping=SECOND, replace=True)
    assert (report.inserted, report.replaced) == (0, 5)
    assert sorted(registry.runs().unique_tokens) == [1e9 * k for k in range(1, 6)]


def test_same_runs_under_other_ids_are_refused_or_replaced(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    (tmp_path / "a.csv").write_text("run_id,params,tokens,loss\na1,1e8,2e9,3.0\na2,2e8,2e9,2.9\n")
    (tmp_path / "b.csv").write_text("name,params,tokens,loss\nb1,3e8,2e9,2.8\nb2,2e8,2e9,2.9\n")
    registry.ingest(tmp_path / "a.csv")
    with pytest.raises(IngestError, match=r"b.csv, row 2: duplicates 1 stored run\(s\), e.g. 'a2' from .*a.csv"):
        registry.ingest(tmp_path / "b.csv", mapping={"run_id": "name"})
    assert registry.runs().run_id.tolist() == ["a1", "a2"]
    report = registry.ingest(tmp_path / "b.csv", mapping={"run_id": "name"}, replace=True)
    assert (report.inserted, report.replaced_duplicates) == (2, 1)
    assert registry.runs().run_id.tolist() == ["a1", "b1", "b2"]


def test_duplicates_listed_and_deleted_with_a_count(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    # two ids for one measurement within one file (no stored twin: the file is taken as given)
    (tmp_path / "d.csv").write_text("run_id,family,params,tokens,loss,loss_c4\nx1,f,1e8,2e9,3.0,3.2\nx2,f,1e8,2e9,3.0,3.2\nx3,f,1e8,2e9,3.0,3.3\ny1,g,5e8,2e9,2.5,2.6\ny2,g,5e8,2e9,2.5,2.6\n")
    registry.ingest(tmp_path / "d.csv")
    table = registry.duplicates()
    assert table.groupby("group").run_id.apply(list).tolist() == [["x1", "x2"], ["y1", "y2"]]
    listing = cli("runs", "duplicates", "--db", "r.duckdb", cwd=tmp_path)
    assert listing.returncode == 0 and "2 groups of duplicate runs" in listing.stdout
    dry = cli("runs", "delete", "--where", "run_id IN ('x2', 'y2')", "--db", "r.duckdb", cwd=tmp_path)
    assert dry.returncode == 0 and "2 runs and 4 evals match; pass --yes" in dry.stdout
    assert len(registry.runs()) == 5
    done = cli("runs", "delete", "--where", "run_id IN ('x2', 'y2')", "--yes", "--db", "r.duckdb", cwd=tmp_path)
    assert done.returncode == 0 and "deleted 2 runs and 4 evals" in done.stdout
    assert registry.runs().run_id.tolist() == ["x1", "x3", "y1"]
    assert registry.query("SELECT count(*) AS n FROM evals").n[0] == 6
    assert registry.duplicates().empty


def test_delete_from_a_missing_registry_creates_nothing(tmp_path):
    result = cli("runs", "delete", "--where", "true", "--yes", "--db", "none.duckdb", cwd=tmp_path)
    assert result.returncode == 2 and "no registry at none.duckdb" in result.stderr
    assert not (tmp_path / "none.duckdb").exists()
