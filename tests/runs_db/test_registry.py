"""runs_db.registry and runs_db.ingest: validated ingest, idempotence, conflicts, queries."""

import json

import pandas as pd
import pytest

from runs_db import IngestError, UserError, connect


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "run_id,params,tokens,loss,err_arc_easy\nr1,1e8,2e9,3.1,0.4\nr2,2e8,4e9,2.9,0.35\n"


def test_ingest_csv_and_query(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    report = registry.ingest(write(tmp_path, "runs.csv", GOOD), constants={"family": "toy"})
    assert (report.inserted, report.evals) == (2, 4)
    frame = registry.frame(["params", "tokens"], target="loss", where="family = 'toy'")
    assert frame["loss"].tolist() == [3.1, 2.9]
    errors = registry.frame(["params"], target="error", task="arc_easy")
    assert errors["error"].tolist() == [0.4, 0.35]
    assert registry.show("r1")["evals"][0]["metric"] in {"loss", "error"}


def test_jsonl_and_parquet(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    rows = [{"params": 1e8, "samples_seen": 1.28e7, "error": 0.7, "bucket": "top10"}, {"params": 1e8, "samples_seen": 2.56e7, "error": 0.6, "bucket": "top10"}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    pd.DataFrame(rows).assign(error=[0.5, 0.4]).to_parquet(tmp_path / "b.parquet")
    assert registry.ingest(tmp_path / "a.jsonl").inserted == 2
    assert registry.ingest(tmp_path / "b.parquet").inserted == 2
    frame = registry.frame(["samples_seen", "bucket"], target="error")
    assert sorted(frame["error"]) == [0.4, 0.5, 0.6, 0.7]
    assert frame["run_id"].str.startswith("run-").all()


def test_reingest_is_a_noop_and_conflicts_need_replace(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    path = write(tmp_path, "runs.csv", GOOD)
    registry.ingest(path)
    again = registry.ingest(path)
    assert (again.inserted, again.unchanged) == (0, 2)
    changed = write(tmp_path, "changed.csv", GOOD.replace("3.1", "3.0"))
    with pytest.raises(IngestError, match=r"changed.csv, row 1, column 'run_id'.*--replace"):
        registry.ingest(changed)
    assert registry.frame(["params"], target="loss")["loss"].tolist() == [3.1, 2.9]
    report = registry.ingest(changed, replace=True)
    assert (report.replaced, report.unchanged) == (1, 1)
    assert registry.frame(["params"], target="loss")["loss"].tolist() == [3.0, 2.9]


def test_content_ids_are_stable(tmp_path):
    text = "params,tokens,loss\n1e8,2e9,3.1\n"
    first = connect(tmp_path / "a.duckdb")
    second = connect(tmp_path / "b.duckdb")
    first.ingest(write(tmp_path, "x.csv", text))
    second.ingest(write(tmp_path, "y.csv", text))
    assert first.runs()["run_id"].tolist() == second.runs()["run_id"].tolist()


@pytest.mark.parametrize(
    "text, row, column, message",
    [
        ("params,tokens\n1e8,2e9\n", None, None, "no metric column"),
        ("loss,split\n3.1,val\n", 1, None, "needs at least one of params"),
        ("params,loss\n1e8,abc\n", 1, "loss", "not a number"),
        ("params,loss\n1e8,3\n-5,3\n", 2, "params", "must be positive"),
        ("params,loss\n1e8,inf\n", 1, "loss", "must be finite"),
        ("params,loss\n0,3\n", 1, "params", "must be positive"),
        ("params,loss\n1e8,-1\n", 1, "loss", "must be positive"),
        ("params,error\n1e8,1.5\n", 1, "error", r"must be in \[0, 1\]"),
        ("params,accuracy\n1e8,-0.1\n", 1, "accuracy", r"must be in \[0, 1\]"),
        ("params,epochs,loss\n1e8,-1,3\n", 1, "epochs", "must be >= 0"),
        ("params,domain_fraction,loss\n1e8,2,3\n", 1, "domain_fraction", r"must be in \[0, 1\]"),
        ("run_id,params,loss\na,1e8,3\na,2e8,3\n", 2, "run_id", "duplicate run id 'a' \\(also row 1\\)"),
        ("params,mixture,loss\n1e8,{bad,3\n", 1, "mixture", "not valid JSON"),
        ("params,loss\n1e8,\n", 1, None, "no metric value"),
    ],
)
def test_every_validation_rule_names_file_row_column_and_writes_nothing(tmp_path, text, row, column, message):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(write(tmp_path, "seed.csv", GOOD))
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(IngestError, match=message) as caught:
        registry.ingest(path)
    assert caught.value.file == str(path)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert str(path) in str(caught.value)
    assert len(registry.runs()) == 2


def test_file_level_errors(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    with pytest.raises(IngestError, match="no such file"):
        registry.ingest(tmp_path / "missing.csv")
    with pytest.raises(IngestError, match="unknown format"):
        registry.ingest(write(tmp_path, "runs.txt", GOOD))
    with pytest.raises(IngestError, match="--map names no such column: N"):
        registry.ingest(write(tmp_path, "runs.csv", GOOD), mapping={"params": "N"})
    with pytest.raises(IngestError, match="has no rows"):
        registry.ingest(write(tmp_path, "empty.csv", "params,loss\n"))


def test_frame_asks_for_a_split_when_ambiguous(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(write(tmp_path, "runs.csv", "params,loss_c4,loss_pile\n1e8,3,3.5\n"))
    with pytest.raises(UserError, match=r"choose a split \(c4, pile\)$"):
        registry.frame(["params"], target="loss")
    assert registry.frame(["params"], target="loss", split="pile")["loss"].tolist() == [3.5]
    registry.ingest(write(tmp_path, "tasks.csv", "run_id,samples_seen,accuracy_imagenet1k,accuracy_average\nd1,1e7,0.3,0.25\n"))
    with pytest.raises(UserError, match=r"several 'accuracy' evals per run: choose a task \(average, imagenet1k\)$"):  # no empty split list
        registry.frame(["samples_seen"], target="accuracy")


def test_pools_buckets_and_export(tmp_path):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(write(tmp_path, "runs.csv", GOOD))
    registry.register_pool("medium", source="/pools/medium", size_samples=128, fingerprint="abc")
    registry.register_buckets("medium", [{"name": "top10", "score_column": "tmars_score", "quantile_lo": 0, "quantile_hi": 10, "size_samples": 13}])
    assert registry.query("SELECT name, size_samples FROM buckets").values.tolist() == [["top10", 13]]
    with pytest.raises(UserError, match="no pool named"):
        registry.register_buckets("nope", [])
    assert registry.export(tmp_path / "out.csv", "csv") == 4
    assert registry.export(tmp_path / "out.parquet", "parquet") == 4
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 4
