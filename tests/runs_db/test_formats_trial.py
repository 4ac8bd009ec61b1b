"""Defects a new-user trial of the trainer formats found (issues #14, #17): a folder walk that
follows links, evals merged, overridden or left out without a word. Each test is one instance of
the kind, with the value a correct reader gives, worked out by hand from the file written."""

import json
import os
from pathlib import Path

import pytest

from curascale.errors import CurascaleError, IngestError
from runs_db.formats import read_outputs
from runs_db.ingest_sources import resolve_source
from trainer_outputs import _datacomp_run, _open_clip_run


def _relative(root: Path, report) -> tuple[list[str], dict[str, str]]:
    read = sorted(Path(r.path).relative_to(root).as_posix() for r in report.read)
    return read, {Path(s.path).relative_to(root).as_posix(): s.reason for s in report.skipped}


# ---- 1. the folder walk reads every run once, under its real path, inside the folder ------------

def test_a_link_to_the_folder_itself_reads_the_run_once(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "run_a")
    os.symlink(".", root / "again")
    report = read_outputs(root)
    read, skipped = _relative(root, report)
    assert read == ["run_a"] and list(report.table.run_id) == ["run_a"]
    assert "again" in skipped and "symbolic link" in skipped["again"] and "inside the folder" in skipped["again"]


def test_a_latest_run_link_does_not_store_the_run_twice(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "run-2024")
    os.symlink("run-2024", root / "latest-run")  # wandb's habit
    report = read_outputs(root)
    assert list(report.table.run_id) == ["run-2024"]  # the real name, not the link's
    assert "links are not followed" in _relative(root, report)[1]["latest-run"]


def test_a_link_out_of_the_folder_is_not_walked(tmp_path):
    _datacomp_run(tmp_path / "elsewhere")
    root = tmp_path / "sweep"
    _datacomp_run(root / "mine")
    os.symlink("..", root / "loop")
    os.symlink(tmp_path / "elsewhere", root / "theirs")
    report = read_outputs(root)
    read, skipped = _relative(root, report)
    assert read == ["mine"]
    assert "outside the folder ingested" in skipped["loop"] and "outside the folder ingested" in skipped["theirs"]
    source = resolve_source(root)
    assert any(line.startswith(f"skipped {root / 'loop'}: a symbolic link") for line in source.account())


# ---- 3. open_clip: epochs from the schedule when the lines give none; epoch 0 reported ---------

def _open_clip_lines(folder: Path, lines, **params):
    _open_clip_run(folder, lines=lines)
    text = (folder / "params.txt").read_text() + "".join(f"{k}: {v}\n" for k, v in params.items())
    (folder / "params.txt").write_text(text)


def _notes(report) -> list[str]:
    return [r.what for r in report.remarks]


def test_open_clip_without_epochs_takes_them_from_the_zeroshot_schedule(tmp_path):
    # epochs 5, zeroshot_frequency 2: open_clip evaluates after epochs 2, 4 and 5 (the last)
    top1 = [0.09, 0.14, 0.15]
    _open_clip_lines(tmp_path / "run1", [{"imagenet-zeroshot-val-top1": v} for v in top1], zeroshot_frequency=2)
    (tmp_path / "run1" / "params.txt").write_text((tmp_path / "run1" / "params.txt").read_text().replace("epochs: 3", "epochs: 5"))
    report = read_outputs(tmp_path / "run1")
    assert list(report.table.checkpoint_epoch) == [2, 4, 5]
    assert list(report.table.samples_seen) == [2 * 2_560_000.0, 4 * 2_560_000.0, 5 * 2_560_000.0]
    assert list(report.table.accuracy_imagenet1k) == top1
    assert any("epochs 2, 4, 5 taken from their order" in note for note in _notes(report))


def test_open_clip_without_epochs_default_frequency_and_too_many_lines(tmp_path):
    _open_clip_lines(tmp_path / "run", [{"imagenet-zeroshot-val-top1": v} for v in (0.1, 0.2)])  # epochs 3, frequency 1 (default)
    report = read_outputs(tmp_path / "run")
    assert list(report.table.checkpoint_epoch) == [1, 2]
    assert any("2 of 3 scheduled evaluations present" in note for note in _notes(report))
    _open_clip_lines(tmp_path / "resumed", [{"imagenet-zeroshot-val-top1": 0.1}] * 4)
    with pytest.raises(IngestError, match=r"4 lines without an epoch, but params.txt \(epochs 3, zeroshot_frequency 1\) evaluates 3 epochs"):
        read_outputs(tmp_path / "resumed")


def test_open_clip_epoch_zero_duplicate_epoch_and_clip_val_loss_are_reported(tmp_path):
    _open_clip_lines(tmp_path / "run", [
        {"imagenet-zeroshot-val-top1": 0.001, "clip_val_loss": 3.0, "epoch": 0, "num_samples": 5000},
        {"imagenet-zeroshot-val-top1": 0.05, "clip_val_loss": 2.9, "epoch": 1, "image_to_text_R@1": 0.02},
        {"imagenet-zeroshot-val-top1": 0.09, "clip_val_loss": 2.8, "epoch": 2},
        {"imagenet-zeroshot-val-top1": 0.11, "clip_val_loss": 2.75, "epoch": 2},
    ])
    report = read_outputs(tmp_path / "run")
    assert list(report.table.checkpoint_epoch) == [1, 2]
    assert list(report.table.loss_val) == [2.9, 2.75]  # clip_val_loss is the loss on split val; the later epoch-2 line
    assert list(report.table.accuracy_imagenet1k) == [0.05, 0.11]
    notes = _notes(report)
    assert any(note.startswith("row 1: epoch 0") for note in notes)
    assert "epoch 2 evaluated twice (rows 3 and 4, a resumed run): row 4 kept" in notes
    assert "not read (no registry metric for them): image_to_text_R@1" in notes


# ---- 4, 7, 8, 13. lm-evaluation-harness: one model's files merge; n-shot in the task key -----

def _lm_eval(path: Path, results: dict, shots: dict, *, model_args="pretrained=EleutherAI/pythia-160m", **config):
    path.write_text(json.dumps({"results": results, "n-shot": shots,
                                "config": {"model": "hf", "model_args": model_args, "model_num_parameters": 162_322_944, **config}}))


def test_lm_eval_files_of_one_model_merge_and_n_shot_is_part_of_the_task(tmp_path):
    root = tmp_path / "evals"
    root.mkdir()
    _lm_eval(root / "results_2024-01-01.json", {"hellaswag": {"acc,none": 0.30}}, {"hellaswag": 0})
    _lm_eval(root / "results_2024-01-02.json", {"mmlu": {"acc,none": 0.25}}, {"mmlu": 5})
    _lm_eval(root / "results_2024-01-03.json", {"hellaswag": {"acc,none": 0.33}}, {"hellaswag": 10})
    report = read_outputs(root)
    assert len(report.table) == 1
    row = report.table.iloc[0]
    assert row.run_id == "EleutherAI/pythia-160m"
    assert (row["accuracy_hellaswag.0shot"], row["accuracy_mmlu.5shot"], row["accuracy_hellaswag.10shot"]) == (0.30, 0.25, 0.33)
    assert row.n_shot == {"hellaswag": [0, 10], "mmlu": 5}
    assert [(Path(r.path).name, r.rows) for r in report.read] == [("results_2024-01-01.json", 1), ("results_2024-01-02.json", 0), ("results_2024-01-03.json", 0)]
    assert sum("evals merged into run EleutherAI/pythia-160m" in note for note in _notes(report)) == 2


def test_lm_eval_conflicting_scores_are_reported_and_another_model_stays_apart(tmp_path):
    root = tmp_path / "evals"
    root.mkdir()
    _lm_eval(root / "a.json", {"hellaswag": {"acc,none": 0.30}}, {"hellaswag": 0})
    _lm_eval(root / "b.json", {"hellaswag": {"acc,none": 0.31}}, {"hellaswag": 0})
    _lm_eval(root / "c.json", {"hellaswag": {"acc,none": 0.40}}, {"hellaswag": 0}, model_args="pretrained=EleutherAI/pythia-410m")
    report = read_outputs(root)
    values = dict(zip(report.table.run_id, report.table["accuracy_hellaswag.0shot"]))
    assert values == {"EleutherAI/pythia-160m": 0.31, "EleutherAI/pythia-410m": 0.40}
    assert any(note.startswith("accuracy_hellaswag.0shot is 0.3 in ") and "0.31 here" in note for note in _notes(report))


def test_lm_eval_generation_metrics_go_to_config_and_limit_is_reported(tmp_path):
    from runs_db.registry import Registry

    _lm_eval(tmp_path / "gen.json", {
        "wikitext": {"alias": "wikitext", "word_perplexity,none": 35.2, "bits_per_byte,none": 0.93},
        "truthfulqa_gen": {"bleu_max,none": 12.3, "rouge1_max,none": 35.1},
        "arc_easy": {"acc,none": 0.44, "acc_stderr,none": "N/A"},
    }, {"wikitext": 0, "truthfulqa_gen": 0, "arc_easy": 0}, limit=10.0)
    report = read_outputs(tmp_path / "gen.json")
    notes = _notes(report)
    assert any("scores on 10 examples per task" in note for note in notes)
    assert any(note.startswith("kept in the run's config") and "wikitext.0shot.bits_per_byte" in note for note in notes)
    registry = Registry(tmp_path / "r.duckdb")
    registry.ingest("gen.json", table=report.table)
    run = registry.show("EleutherAI/pythia-160m")
    config = json.loads(run["config"])
    assert config["limit"] == 10.0
    assert (config["wikitext.0shot.word_perplexity"], config["wikitext.0shot.bits_per_byte"]) == (35.2, 0.93)
    assert (config["truthfulqa_gen.0shot.bleu_max"], config["truthfulqa_gen.0shot.rouge1_max"]) == (12.3, 35.1)
    assert config["model_args"] == {"pretrained": "EleutherAI/pythia-160m"}  # an object, not JSON text inside JSON
    assert config["n_shot"] == {"arc_easy": 0, "truthfulqa_gen": 0, "wikitext": 0}
    assert {e["task"]: e["value"] for e in run["evals"]} == {"arc_easy.0shot": 0.44}


# ---- 5-7. DataComp: info files must agree; overrides and missing scores are reported --------

def _results_lines(folder: Path, lines: list[dict]) -> None:
    (folder / "eval_results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_datacomp_info_json_and_pickle_that_disagree_is_an_error_naming_both(tmp_path):
    _datacomp_run(tmp_path / "run")  # info.pkl: small, 12,800,000 samples
    (tmp_path / "run" / "info.json").write_text(json.dumps({"scale": "medium", "scale_config": {"train_num_samples": 128_000_000}}))
    with pytest.raises(IngestError, match=r"info\.json, column 'scale': scale is 'medium' here but 'small' in .*info\.pkl"):
        read_outputs(tmp_path / "run")
    (tmp_path / "run" / "info.json").write_text(json.dumps({"scale": "small", "scale_config": {"train_num_samples": 12_800_000}}))
    row = read_outputs(tmp_path / "run").table.iloc[0]  # agreeing: the pickle's other fields are read too
    assert (row.experiment, row.samples_seen, row.batch_size) == ("small", 12_800_000, 4096)


def test_datacomp_task_twice_keeps_the_later_line_and_says_so(tmp_path):
    _datacomp_run(tmp_path / "run", keys=["imagenet1k", "cifar10"])
    _results_lines(tmp_path / "run", [
        {"key": "imagenet1k", "metrics": {"main_metric": 0.30}},
        {"key": "cifar10", "metrics": {"main_metric": 0.60}},
        {"key": "imagenet1k", "metrics": {"main_metric": 0.32}},
    ])
    report = read_outputs(tmp_path / "run")
    assert report.table.accuracy_imagenet1k[0] == 0.32
    notes = _notes(report)
    assert "task imagenet1k evaluated twice (rows 1 and 3): row 3 kept (0.3 -> 0.32)" in notes
    assert "average not computed: 2 of DataComp's 38 scored tasks" in notes


def test_datacomp_acc1_is_read_when_main_metric_is_missing(tmp_path):
    from trainer_outputs import DATACOMP_KEYS, UNSCORED

    _datacomp_run(tmp_path / "run")
    scored = [key for key in DATACOMP_KEYS if key not in UNSCORED]
    values = {key: round(0.1 + 0.01 * i, 4) for i, key in enumerate(scored)}
    lines = [{"key": key, "metrics": {"acc1": value} if key == "imagenet1k" else {"acc1": value, "main_metric": value}} for key, value in values.items()]
    _results_lines(tmp_path / "run", lines + [{"key": "fairness/fairface", "metrics": {"acc1": 0.4, "main_metric": None}}, {"key": "mytask", "metrics": {"acc_race_avg": 0.5}}])
    report = read_outputs(tmp_path / "run")
    row = report.table.iloc[0]
    assert row.accuracy_imagenet1k == values["imagenet1k"]
    assert row.accuracy_average == pytest.approx(sum(values.values()) / 38, rel=1e-12)  # 38 tasks: the average is back
    notes = _notes(report)
    assert "no main_metric, acc1 read as the score: imagenet1k" in notes
    assert "no main_metric or acc1, not read: mytask" in notes


# ---- 6. OpenLM: two sets in one val_data are their own split; a split twice is reported --------

def _openlm(path: Path, results: list[tuple[list[str], float]]):
    path.write_text(json.dumps({"name": path.stem, "hyperparameters": {"params": 10_569_312, "tokens": 211_386_240},
                                "results": [{"loss": loss, "val_data": shards} for shards, loss in results]}))


def test_openlm_several_sets_in_one_val_data_get_their_own_split(tmp_path):
    _openlm(tmp_path / "multi.json", [(["a/c4_val/0.tar", "b/paloma_ptb/0.tar"], 5.88), (["t/c4_val/shard-{0000000..0000010}.tar"], 4.77),
                                      (["t/paloma_ptb/00000001.tar"], 6.62)])
    report = read_outputs(tmp_path / "multi.json")
    row = report.table.iloc[0]
    assert (row["loss_c4_val+paloma_ptb"], row.loss_c4_val, row.loss_paloma_ptb) == (5.88, 4.77, 6.62)
    assert report.remarks == ()


def test_openlm_a_split_twice_keeps_the_later_and_says_so(tmp_path):
    _openlm(tmp_path / "dup.json", [(["training/eval_data/c4_val/shard-{0..10}.tar"], 4.77), (["other/eval/c4_val/shard-{0..10}.tar"], 4.70)])
    report = read_outputs(tmp_path / "dup.json")
    assert report.table.loss_c4_val[0] == 4.70
    assert _notes(report) == ["results 1 and 2 are both on split c4_val (4.77 and 4.7): result 2 kept"]


# ---- 10. a run can be renamed at ingest; a folder's runs can be given a prefix -------------------

def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *args], capture_output=True, text=True)


def test_two_datacomp_folders_with_the_default_exp_name_share_a_registry(tmp_path):
    from runs_db.registry import Registry

    _datacomp_run(tmp_path / "filtA" / "small_scale")
    _datacomp_run(tmp_path / "filtB" / "small_scale", keys=["imagenet1k", "cifar10"])
    db = str(tmp_path / "r.duckdb")
    assert _cli("runs", "ingest", str(tmp_path / "filtA" / "small_scale"), "--set", "family=dc", "--db", db).returncode == 0
    clash = _cli("runs", "ingest", str(tmp_path / "filtB" / "small_scale"), "--set", "family=dc", "--db", db)
    assert clash.returncode == 2 and "already stored with other values" in clash.stderr and "--set run_id=ID" in clash.stderr
    renamed = _cli("runs", "ingest", str(tmp_path / "filtB" / "small_scale"), "--set", "family=dc", "--set", "run_id=dcB", "--db", db)  # the advice works
    assert renamed.returncode == 0, renamed.stderr
    prefixed = _cli("runs", "ingest", str(tmp_path / "filtB"), "--set", "family=dc2", "--run-prefix", "hq/", "--db", db)
    assert prefixed.returncode == 0, prefixed.stderr
    assert set(Registry(db).runs().run_id) == {"small_scale", "dcB", "hq/small_scale"}
    folder = _cli("runs", "ingest", str(tmp_path / "filtB"), "--set", "run_id=x", "--db", db)
    assert folder.returncode == 2 and "folder of runs" in folder.stderr and "--run-prefix" in folder.stderr


def test_renaming_one_open_clip_run_or_lm_eval_file(tmp_path):
    _open_clip_run(tmp_path / "clip")
    source = resolve_source(tmp_path / "clip", constants={"run_id": "mine"})
    assert list(source.table.run_id) == ["mine@epoch1", "mine@epoch2", "mine@epoch3"]
    assert source.ingest_constants({"run_id": "mine", "family": "f"}) == {"family": "f"}
    _lm_eval(tmp_path / "r.json", {"hellaswag": {"acc,none": 0.3}}, {"hellaswag": 0})
    assert list(resolve_source(tmp_path / "r.json", constants={"run_id": "p160"}).table.run_id) == ["p160"]


# ---- 11. each shipped dataset has its own id namespace -------------------------------------

@pytest.mark.parametrize("pair", [("datablations", "datablations_all"), ("misfitting_li2025", "misfitting_li2025_checkpoints")])
def test_two_shipped_datasets_share_one_registry(tmp_path, pair):
    from curascale.datasets import load_dataset
    from runs_db.registry import Registry

    registry = Registry(tmp_path / "r.duckdb")
    for name in pair:
        source = resolve_source(None, dataset=name)
        report = registry.ingest(source.name, table=source.table, constants=source.ingest_constants({}), run_prefix=source.run_prefix)
        assert report.inserted + report.repeated_rows == len(load_dataset(name))  # misfitting_li2025 holds one row twice
    runs = registry.runs()
    for name in pair:
        ids = runs.run_id[runs.family == name]
        assert len(ids) == len(load_dataset(name).drop_duplicates()) and all(i.startswith(f"{name}/") for i in ids)


# ---- 12. messages say what is missing or wrong ----------------------------------------------

def test_skipped_things_say_what_they_lack(tmp_path):
    root = tmp_path / "sweep"
    _open_clip_run(root / "noparams")
    (root / "noparams" / "params.txt").unlink()
    (root / "bad.json").write_text('{"results": {')
    (root / "runs.csv").write_text("run_id,params,loss\nr1,1e6,3.0\n")
    (root / "other.json").write_text('{"a": 1}')
    _datacomp_run(root / "ok")
    _, skipped = _relative(root, read_outputs(root))
    assert skipped["noparams"].startswith("an open_clip log folder without params.txt")
    assert skipped["bad.json"] == "not valid JSON: line 1, column 14: Expecting property name enclosed in double quotes"
    assert skipped["runs.csv"].startswith("a table file, not a trainer's output: ingest it on its own")
    assert skipped["other.json"].startswith("JSON, but neither lm-evaluation-harness results")
    with pytest.raises(IngestError, match=r"noparams: an open_clip log folder without params.txt"):
        read_outputs(root / "noparams", "open_clip")


def test_the_account_counts_rows_as_rows(tmp_path):
    _open_clip_run(tmp_path / "clip")
    db = str(tmp_path / "r.duckdb")
    result = _cli("runs", "ingest", str(tmp_path / "clip"), "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["1 read (3 rows), 0 skipped", f"{tmp_path / 'clip'}: 3 new rows, 0 replaced, 0 unchanged, 10 evals"]  # 3 + 4 + 3 (top-1, top-5, v2 at epoch 2, loss)
