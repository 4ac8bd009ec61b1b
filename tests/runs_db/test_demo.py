"""The example DataComp run folder reads back as DataComp's outputs: 38 scored tasks and their
average, the samples seen of info.pkl (through the restricted unpickler); same seed, same bytes."""

import json

import pytest

from curascale.errors import CurascaleError
from runs_db.demo import write_datacomp_run
from runs_db.formats import DATACOMP_SCORED_TASKS, read_info_pickle, read_outputs
from runs_db.registry import Registry


def test_the_example_run_ingests_as_a_datacomp_run(tmp_path):
    folder = write_datacomp_run(tmp_path / "small_scale", samples_seen=25.6e6, seed=3)
    lines = [json.loads(line) for line in (folder / "eval_results.jsonl").read_text().splitlines()]
    scores = {line["key"]: line["metrics"]["main_metric"] for line in lines if line["metrics"]["main_metric"] is not None}
    assert len(lines) == 40 and len(scores) == 38 == DATACOMP_SCORED_TASKS
    assert read_info_pickle(folder / "info.pkl")["scale_config"]["train_num_samples"] == 25_600_000
    report = read_outputs(folder)
    assert [r.format for r in report.read] == ["datacomp"]
    registry = Registry(tmp_path / "r.duckdb")
    assert registry.ingest(folder, table=report.table).evals == 39  # 38 tasks and the average
    run = registry.show("small_scale")
    evals = {e["task"]: e["value"] for e in run["evals"]}
    assert run["samples_seen"] == 25.6e6 and run["experiment"] == "small"
    assert evals["imagenet1k"] == scores["imagenet1k"]
    assert evals["average"] == pytest.approx(sum(scores.values()) / 38, rel=1e-12)


def test_same_seed_same_bytes_and_no_overwrite(tmp_path):
    one, two, other = (write_datacomp_run(tmp_path / name, seed=seed) for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    for name in ("eval_results.jsonl", "info.pkl"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
    assert (one / "eval_results.jsonl").read_bytes() != (other / "eval_results.jsonl").read_bytes()
    with pytest.raises(CurascaleError, match="not an empty folder"):
        write_datacomp_run(one)
    with pytest.raises(CurascaleError, match="scale must be one of"):
        write_datacomp_run(tmp_path / "d", scale="huge")
    assert not (tmp_path / "d").exists()
