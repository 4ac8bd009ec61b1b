"""runs_db.ingest: what used to fail only at insert (or not at all) is caught while validating,
naming file, row (or line) and column; odd parquet types are stored as JSON or refused."""

import datetime
import decimal
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curascale.errors import IngestError
from runs_db import connect
from runs_db.ingest import read_runs


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, text, row, column, message",
    [
        # case 1.59: a step of 1e30 does not fit the evals' BIGINT
        ("step.csv", "run_id,params,tokens,loss,step\ns1,1e8,2e9,3,1e30\n", 1, "step", "whole number of steps"),
        ("frac.csv", "params,loss,step\n1e8,3,10.5\n", 1, "step", "whole number of steps"),
        ("negstep.csv", "params,loss,step\n1e8,3,-2\n", 1, "step", "must be >= 0"),
        # case 1.60: two columns give the same eval (error on task imagenet)
        ("twoerr.csv", "run_id,samples_seen,error_imagenet,err_imagenet\ne1,1e8,0.5,0.6\n", 1, "err_imagenet", "same error \\(task 'imagenet'\\) as column 'error_imagenet'"),
        ("twoloss.csv", "params,loss,loss_val,split\n1e8,3,3.1,val\n", 1, "loss_val", "same loss \\(split 'val'\\) as column 'loss'"),
        # case 1.27: booleans are not numbers
        ("bool.jsonl", '{"run_id":"t1","params":true,"tokens":2e9,"loss":3.0}\n', 1, "params", "a boolean \\(True\\) is not a number"),
        ("boolloss.jsonl", '{"params":1e8,"loss":false}\n', 1, "loss", "a boolean \\(False\\) is not a number"),
        ("listparams.jsonl", '{"params":[1e8],"loss":3}\n', 1, "params", "not a number: list"),
        ("dictfamily.jsonl", '{"params":1e8,"loss":3,"family":{"a":1}}\n', 1, "family", "must be text, got dict \\{'a': 1\\}"),
        # trust trial: error 0.5 beside accuracy 0.069 (1 - 0.069 = 0.931); row 2 disagrees by 2e-6, past 1e-6
        ("accerr.csv", "run_id,samples_seen,accuracy,error\na,1e8,0.069,0.5\n", 1, "error", "error 0.5 disagrees with accuracy 0.069 in column 'accuracy'"),
        ("accerr2.csv", "run_id,samples_seen,accuracy,error\na,1e8,0.25,0.75\nb,2e8,0.25,0.750002\n", 2, "error", "error 0.750002 disagrees"),
        ("acc1err.csv", "run_id,samples_seen,acc1,err\na,1e8,0.3,0.6\n", 1, "err", "in column 'acc1'"),
    ],
)
def test_rows_rejected_at_validation(tmp_path, name, text, row, column, message):
    registry = connect(tmp_path / "r.duckdb")
    path = write(tmp_path, name, text)
    with pytest.raises(IngestError, match=message) as caught:
        read_runs(path)  # validation alone, before any database
    assert (caught.value.file, caught.value.row, caught.value.column) == (str(path), row, column)
    with pytest.raises(IngestError, match=message):
        registry.ingest(path)
    assert not (tmp_path / "r.duckdb").exists()  # rejected before the registry is even opened


@pytest.mark.parametrize(
    "name, text, message",
    [
        # case 1.45: pandas would have renamed the second 'params' to 'params.1'
        ("duphdr.csv", "run_id,params,params,tokens,loss\nd1,1e8,9e9,2e9,3\n", "the header names column 'params' twice"),
        ("dupkey.jsonl", '{"params":1e8,"params":9e9,"loss":3}\n', "line 1: not a JSON object \\(the key 'params' appears twice"),
        # case 1.46: the broken line is named
        ("broken.jsonl", '{"run_id":"j1","params":1e8,"loss":3.0}\n{"run_id":"j2","params":1e8,"tok\n{"run_id":"j3","params":1e8,"loss":3.0}\n', "line 2, character 33: not valid JSON \\(Invalid control character\\)"),
        ("array.jsonl", '{"params":1e8,"loss":3}\n\n[1, 2]\n', "line 3: not a JSON object \\(one object per line\\)"),
    ],
)
def test_files_rejected_with_the_line_or_header(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(IngestError, match=message) as caught:
        read_runs(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_duplicate_parquet_column_names(tmp_path):
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1e8]), pa.array([2e8]), pa.array([3.0])], names=["params", "params", "loss"]), path)
    with pytest.raises(IngestError, match="names column 'params' twice"):
        read_runs(path)


def test_odd_parquet_types_are_stored_as_json(tmp_path):
    # case 1.50 (a list column) and its kin: timestamp, decimal, UTF-8 binary, struct
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({
        "run_id": ["p1"], "params": [1e8], "tokens": [2e9], "loss": [3.0],
        "tags": pa.array([[1, 2]]), "when": pa.array([datetime.datetime(2024, 5, 1, 12, 30)]),
        "price": pa.array([decimal.Decimal("1.25")]), "blob": pa.array([b"abc"]), "meta": pa.array([{"a": 1}]),
        "flops": pa.array([decimal.Decimal("6e17")], type=pa.decimal128(38, 0)),
    }), path)
    registry = connect(tmp_path / "r.duckdb")
    assert registry.ingest(path).inserted == 1
    run = registry.show("p1")
    assert json.loads(run["config"]) == {"tags": [1, 2], "when": "2024-05-01T12:30:00", "price": 1.25, "blob": "abc", "meta": {"a": 1}}
    assert run["flops"] == 6e17


def test_binary_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "bin.parquet"
    pq.write_table(pa.table({"params": [1e8], "loss": [3.0], "blob": pa.array([b"\x00\xff"])}), path)
    with pytest.raises(IngestError, match="row 1, column 'blob': binary values cannot be stored"):
        read_runs(path)


def test_one_source_mapped_to_several_targets_lands_in_all(tmp_path):
    path = write(tmp_path, "bits.csv", "run_id,params,tokens,b,loss\nq1,1e8,2e9,8,3.0\nq2,1e8,2e9,4,3.2\n")
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(path, mapping={"bits_weights": "b", "bits_activations": "b"})
    runs = registry.runs()
    assert runs.bits_weights.tolist() == [8.0, 4.0] and runs.bits_activations.tolist() == [8.0, 4.0]
    assert runs.config.isna().all()  # the mapped source is not kept a second time in config


def test_a_target_the_file_already_has_is_a_conflict(tmp_path):
    path = write(tmp_path, "clash.csv", "params,N,loss\n1e8,2e8,3\n")
    with pytest.raises(IngestError, match="two columns map to 'params' \\(the file's own and 'N'\\)"):
        read_runs(path, {"params": "N"})
    with pytest.raises(IngestError, match="--set params would overwrite"):
        read_runs(path, {}, {"params": "5"})
    filled = read_runs(write(tmp_path, "empty.csv", "params,family,loss\n1e8,,3\n"), {}, {"family": "mine"})[0].run
    assert filled["family"] == "mine"  # an empty column of the file is filled, not a conflict
    swapped = read_runs(path, {"params": "N", "flops": "params"})[0].run  # a swap is no conflict
    assert (swapped["params"], swapped["flops"]) == (2e8, 1e8)


@pytest.mark.parametrize("alias", ["acc1", "imagenet_acc", "top1", "zeroshot_accuracy"])
def test_accuracy_aliases_are_read_as_accuracy(tmp_path, alias):
    from scaling.frames import ACCURACY_COLUMNS

    assert alias in ACCURACY_COLUMNS  # the fits' list is the ingest's
    [record] = read_runs(write(tmp_path, "a.csv", f"run_id,samples_seen,{alias}\na,1e8,0.42\n"))
    assert record.evals == [{"metric": "accuracy", "value": 0.42, "split": "", "task": "", "step": -1}]


def test_an_error_that_agrees_with_accuracy_is_kept(tmp_path):
    [record] = read_runs(write(tmp_path, "ok.csv", "run_id,samples_seen,accuracy,error\na,1e8,0.25,0.7500005\n"))
    assert sorted(e["metric"] for e in record.evals) == ["accuracy", "error"]


@pytest.mark.parametrize("columns, hint", [("top1_pct", "--map accuracy=top1_pct"), ("val_err", "--map error=val_err"), ("ppl", "--map loss=ppl"), ("score", "--map loss=COLUMN")])
def test_a_file_without_metric_suggests_the_right_map(tmp_path, columns, hint):
    with pytest.raises(IngestError, match=f"no metric column: .*\\(or {hint}\\)"):
        read_runs(write(tmp_path, "m.csv", f"run_id,samples_seen,{columns}\na,1e8,0.5\n"))
