"""Trainer outputs in, registry rows out: each format on a small file written from the fields its
trainer documents (DataComp evaluate.py/train.py, open_clip main.py/train.py, lm-evaluation-harness
evaluator.py, OpenLM run JSON of mlfoundations/scaling exp_data/models)."""

import json
import os
import pickle
from pathlib import Path, PurePosixPath

import pytest

from curascale.errors import CurascaleError, IngestError
from runs_db.formats import DATACOMP_SCORED_TASKS, detect_format, openlm_split, read_info_pickle, read_outputs
from runs_db.demo import DATACOMP_TASKS
from runs_db.ingest_sources import resolve_source
from runs_db.registry import Registry

DATACOMP_KEYS = list(DATACOMP_TASKS)  # DataComp's tasklist.yml: 40 tasks, 38 with a main metric (FairFace and UTKFace have none)
UNSCORED = {"fairness/fairface", "fairness/utkface"}


def _datacomp_run(folder: Path, *, keys=DATACOMP_KEYS, info_as="pkl", scale="small") -> dict[str, float]:
    """A run folder as DataComp's train.py and evaluate.py leave it; returns the main metrics."""
    folder.mkdir(parents=True)
    scores = {}
    with open(folder / "eval_results.jsonl", "w") as f:
        for i, key in enumerate(keys):
            main = None if key in UNSCORED else round(0.05 + 0.02 * i, 4)
            metrics = {"acc1": main, "acc5": None if main is None else min(1.0, main + 0.1), "mean_per_class_recall": main, "main_metric": main}
            f.write(json.dumps({"key": key, "dataset": key.split("/")[-1], "metrics": metrics}) + "\n")
            if main is not None:
                scores[key] = main
    info = {
        "scale": scale,
        "checkpoint": Path("/runs") / folder.name / "checkpoints" / "epoch_latest.pt",
        "scale_config": {"batch_size": 4096, "learning_rate": 5e-4, "train_num_samples": 12_800_000, "warmup": 500, "model": "ViT-B-32", "beta2": None},
        "data_dir": Path("/data/small/shards"),
    }
    if info_as == "pkl":
        with open(folder / "info.pkl", "wb") as f:
            pickle.dump(info, f)
    else:
        (folder / "info.json").write_text(json.dumps({**info, "checkpoint": str(info["checkpoint"]), "data_dir": str(info["data_dir"])}))
    return scores


def test_datacomp_run_folder_gives_every_scored_task_and_the_average(tmp_path):
    scores = _datacomp_run(tmp_path / "small_scale")
    assert detect_format(tmp_path / "small_scale") == "datacomp"
    report = read_outputs(tmp_path / "small_scale")
    assert len(report.table) == 1 and report.read[0].format == "datacomp"
    registry = Registry(tmp_path / "r.duckdb")
    result = registry.ingest(tmp_path / "small_scale", table=report.table)
    assert (result.inserted, result.evals) == (1, DATACOMP_SCORED_TASKS + 1)  # 38 tasks and the average
    run = registry.show("small_scale")
    assert run["samples_seen"] == 12_800_000 and run["experiment"] == "small"
    config = json.loads(run["config"])
    assert config["model"] == "ViT-B-32" and config["data_dir"] == "/data/small/shards"
    evals = {e["task"]: e["value"] for e in run["evals"]}
    assert evals["imagenet1k"] == scores["imagenet1k"] and evals["vtab/caltech101"] == scores["vtab/caltech101"]
    assert "fairness/fairface" not in evals
    assert evals["average"] == pytest.approx(sum(scores.values()) / 38, rel=1e-12)


def test_datacomp_without_all_38_tasks_has_no_average_and_json_sidecar_works(tmp_path):
    _datacomp_run(tmp_path / "partial", keys=["imagenet1k", "cifar10"], info_as="json")
    table = read_outputs(tmp_path / "partial").table
    assert {c for c in table.columns if c.startswith("accuracy_")} == {"accuracy_imagenet1k", "accuracy_cifar10"}
    assert table.samples_seen[0] == 12_800_000


class _RunsCode:
    """Unpickling this calls os.system: the attack a restricted unpickler must stop."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_info_pickle_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "evil"
    _datacomp_run(folder)
    with open(folder / "info.pkl", "wb") as f:
        pickle.dump({"scale": "small", "scale_config": _RunsCode(marker)}, f)
    with pytest.raises(IngestError, match=r"info\.pkl: refused: the pickle refers to (posix|os)\.system"):
        read_outputs(folder)
    assert not marker.exists()
    # a class of ours is refused as well: only paths are admitted by name
    with open(folder / "info.pkl", "wb") as f:
        pickle.dump({"scale": PurePosixPath("x"), "other": IngestError("f", "m")}, f)
    with pytest.raises(IngestError, match="refers to curascale.errors.IngestError"):
        read_info_pickle(folder / "info.pkl")


def test_info_pickle_paths_come_back_as_text(tmp_path):
    with open(tmp_path / "info.pkl", "wb") as f:
        pickle.dump({"checkpoint": Path("/a/b.pt"), "n": [1, 2.5, None, True], "t": (1,), "s": {3}}, f)
    assert read_info_pickle(tmp_path / "info.pkl") == {"checkpoint": "/a/b.pt", "n": [1, 2.5, None, True], "t": (1,), "s": {3}}


def _open_clip_run(folder: Path, *, per_epoch="2560000", lines=None):
    """logs/<name>/params.txt and checkpoints/results.jsonl as open_clip's main.py writes them."""
    (folder / "checkpoints").mkdir(parents=True)
    params = {"batch_size": "256", "epochs": "3", "model": "ViT-B-32", "name": folder.name, "train_num_samples": per_epoch, "train_data": "/data/{00000..00099}.tar"}
    (folder / "params.txt").write_text("".join(f"{k}: {v}\n" for k, v in sorted(params.items())))
    lines = lines if lines is not None else [
        {"imagenet-zeroshot-val-top1": 0.02, "imagenet-zeroshot-val-top5": 0.07, "epoch": 0, "num_samples": 10000},
        {"imagenet-zeroshot-val-top1": 0.11, "imagenet-zeroshot-val-top5": 0.27, "val_loss": 3.9, "epoch": 1, "num_samples": 10000},
        {"imagenet-zeroshot-val-top1": 0.17, "imagenet-zeroshot-val-top5": 0.36, "imagenetv2-zeroshot-val-top1": 0.14, "val_loss": 3.4, "epoch": 2, "num_samples": 10000},
        {"imagenet-zeroshot-val-top1": 0.21, "imagenet-zeroshot-val-top5": 0.41, "val_loss": 3.1, "epoch": 3, "num_samples": 10000},
    ]
    (folder / "checkpoints" / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_open_clip_curve_becomes_one_point_per_epoch(tmp_path):
    _open_clip_run(tmp_path / "clip-run")
    assert detect_format(tmp_path / "clip-run") == "open_clip"
    table = read_outputs(tmp_path / "clip-run" / "checkpoints" / "results.jsonl").table  # the results file stands for its run
    assert list(table.run_id) == ["clip-run@epoch1", "clip-run@epoch2", "clip-run@epoch3"]
    assert list(table.samples_seen) == [2_560_000.0, 5_120_000.0, 7_680_000.0]  # epoch 0 (untrained) left out
    assert list(table.accuracy_imagenet1k) == [0.11, 0.17, 0.21]
    assert list(table.accuracy_imagenet1k_top5) == [0.27, 0.36, 0.41]
    assert table.accuracy_imagenetv2[1] == 0.14 and list(table.loss_val) == [3.9, 3.4, 3.1]
    registry = Registry(tmp_path / "r.duckdb")
    registry.ingest("clip-run", table=table, constants={"family": "clip"})
    frame = registry.frame(["samples_seen"], target="accuracy", task="imagenet1k", where="family = 'clip'")
    assert list(frame.accuracy) == [0.11, 0.17, 0.21]


def test_open_clip_without_samples_per_epoch_names_the_parameter(tmp_path):
    _open_clip_run(tmp_path / "run", per_epoch="None")
    with pytest.raises(IngestError, match=r"params\.txt, column 'train_num_samples': train_num_samples is 'None'"):
        read_outputs(tmp_path / "run")


def _lm_eval_results(path: Path, *, params=160_000_000, revision="step143000"):
    """lm-evaluation-harness v0.4 results_<date>.json: results, n-shot and config."""
    path.write_text(json.dumps({
        "results": {
            "arc_easy": {"alias": "arc_easy", "acc,none": 0.437, "acc_stderr,none": 0.0102, "acc_norm,none": 0.401, "acc_norm_stderr,none": 0.0101},
            "lambada_openai": {"alias": "lambada_openai", "perplexity,none": 31.2, "acc,none": 0.329},
            "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.012, "exact_match,flexible-extract": 0.019},
        },
        "n-shot": {"arc_easy": 0, "lambada_openai": 0, "gsm8k": 5},
        "config": {"model": "hf", "model_args": f"pretrained=EleutherAI/pythia-160m,revision={revision}", "model_num_parameters": params,
                   "model_dtype": "torch.float16", "batch_size": 16, "device": "cuda:0", "limit": None},
        "git_hash": "abc1234", "date": 1718000000.0,
    }))


def test_lm_eval_results_become_task_accuracies(tmp_path):
    _lm_eval_results(tmp_path / "results_2024-06-10.json")
    assert detect_format(tmp_path / "results_2024-06-10.json") == "lm_eval"
    registry = Registry(tmp_path / "r.duckdb")
    source = resolve_source(tmp_path / "results_2024-06-10.json")
    registry.ingest(source.name, table=source.table, constants={"tokens": "3e11"})
    run = registry.show("EleutherAI/pythia-160m@step143000")
    assert run["params"] == 160_000_000 and run["tokens"] == 3e11
    evals = {e["task"]: e["value"] for e in run["evals"]}
    assert evals == {"arc_easy": 0.437, "arc_easy.acc_norm": 0.401, "lambada_openai": 0.329,
                     "gsm8k.exact_match.strict-match": 0.012, "gsm8k.exact_match.flexible-extract": 0.019}
    assert json.loads(json.loads(run["config"])["n_shot"]) == {"arc_easy": 0, "gsm8k": 5, "lambada_openai": 0}


def test_lm_eval_without_a_size_is_rejected_naming_the_file(tmp_path):
    _lm_eval_results(tmp_path / "r.json", params=-1)  # the harness writes -1 when it cannot count
    with pytest.raises(IngestError, match=r"r\.json, row 1: needs at least one of params"):
        read_outputs(tmp_path / "r.json")


def _openlm_run(path: Path, name="rw_original-d=96_l=8_h=4-1.0", params=10569312, tokens=211386240):
    """One exp_data/models/*.json of Gadre et al.: hyperparameters and one loss per validation set."""
    sets = {
        "training/eval_data/val_tok_mult/openlm/shard_00000000.tar": 6.108,
        "training/eval_data/c4_val/shard-{0000000..0000010}.tar": 5.272,
        "training/eval_data/val_tok_mult/paloma_c4_en/00000001.tar": 5.307,
        "training/eval_data/val_tok_mult/de-en/val_de-en_100.tar": 7.770,
    }
    path.write_text(json.dumps({
        "name": name, "dataset_name": "rw_original",
        "hyperparameters": {"model": "scaling/open_lm_configs/d=96_l=8_h=4.json", "tokens": tokens, "warmup": 100, "lr": 0.003, "wd": 0.033,
                            "global_bs": 64, "params": params, "params_no_embed": 5727840, "chinchilla_multiplier": 1.0},
        "results": [{"loss": loss, "loss_sequences_lower_95": loss - 0.1, "val_data": [shard], "model": "d=96_l=8_h=4"} for shard, loss in sets.items()],
        "open_lm_version": "0.0.21",
    }))


def test_openlm_run_json_gives_one_loss_per_validation_set(tmp_path):
    _openlm_run(tmp_path / "run.json")
    assert detect_format(tmp_path / "run.json") == "openlm"
    table = read_outputs(tmp_path / "run.json").table
    row = table.iloc[0]
    assert row.run_id == "rw_original-d=96_l=8_h=4-1.0" and (row.params, row.tokens) == (10569312, 211386240)
    # the split names of Gadre et al.'s runs_summary.csv
    assert (row.loss_openlm, row.loss_c4_val, row.loss_paloma_c4_en, row["loss_val_de-en_100"]) == (6.108, 5.272, 5.307, 7.770)
    assert row.model == "d=96_l=8_h=4" and row.chinchilla_multiplier == 1.0


@pytest.mark.parametrize("shard, split", [
    ("a/b/openlm/shard_00000000.tar", "openlm"), ("x/c4_val/shard-{0000000..0000010}.tar", "c4_val"),
    ("x/paloma_ptb/00000001.tar", "paloma_ptb"), ("x/de-en/val_de-en_100.tar", "val_de-en_100"),
])
def test_openlm_split_names(shard, split):
    assert openlm_split([shard]) == split


def test_folder_of_runs_reports_read_and_skipped(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "datacomp" / "small_a")
    _datacomp_run(root / "datacomp" / "small_b", keys=["imagenet1k"])
    _open_clip_run(root / "clip" / "run1")
    (root / "openlm").mkdir()
    _openlm_run(root / "openlm" / "m1.json")
    _openlm_run(root / "openlm" / "m2.json", name="other", params=-5)  # a negative size: skipped with the reason
    (root / "notes.txt").write_text("hello")
    (root / "openlm" / "stray.json").write_text(json.dumps({"a": 1}))
    report = read_outputs(root)
    assert sorted((Path(r.path).relative_to(root).as_posix(), r.format, r.rows) for r in report.read) == [
        ("clip/run1", "open_clip", 3), ("datacomp/small_a", "datacomp", 1), ("datacomp/small_b", "datacomp", 1), ("openlm/m1.json", "openlm", 1)]
    skipped = {Path(s.path).relative_to(root).as_posix(): s.reason for s in report.skipped}
    assert set(skipped) == {"notes.txt", "openlm/stray.json", "openlm/m2.json"}
    assert "column 'params': must be positive" in skipped["openlm/m2.json"]
    assert set(report.table.run_id) == {"datacomp/small_a", "datacomp/small_b", "clip/run1@epoch1", "clip/run1@epoch2", "clip/run1@epoch3", "rw_original-d=96_l=8_h=4-1.0"}
    only = read_outputs(root, "datacomp")
    assert len(only.read) == 2 and any(s.reason == "a open_clip run, not datacomp" for s in only.skipped)


def test_format_override_and_unknown_format(tmp_path):
    _openlm_run(tmp_path / "run.json")
    with pytest.raises(IngestError, match="no 'results': not an lm_eval file|results must be a JSON object"):
        read_outputs(tmp_path / "run.json", "lm_eval")
    _datacomp_run(tmp_path / "dc")
    with pytest.raises(IngestError, match="dc: a openlm run is a JSON file, not a folder"):
        read_outputs(tmp_path / "dc", "openlm")
    with pytest.raises(CurascaleError, match="unknown format 'tensorboard'"):
        read_outputs(tmp_path / "run.json", "tensorboard")


def test_plain_tables_still_go_to_the_table_reader(tmp_path):
    (tmp_path / "runs.csv").write_text("params,loss\n1e6,3.0\n")
    assert resolve_source(tmp_path / "runs.csv").table is None
    with pytest.raises(CurascaleError, match="not both or neither"):
        resolve_source(tmp_path / "runs.csv", dataset="chinchilla")


def test_lm_eval_v03_results(tmp_path):
    """lm-evaluation-harness 0.3 wrote plain metric names and config.num_fewshot."""
    (tmp_path / "gpt2.json").write_text(json.dumps({
        "results": {"hellaswag": {"acc": 0.289, "acc_stderr": 0.0045, "acc_norm": 0.311}, "wikitext": {"word_perplexity": 37.4}},
        "versions": {"hellaswag": 0, "wikitext": 1},
        "config": {"model": "gpt2", "model_args": "pretrained=gpt2", "num_fewshot": 0, "batch_size": None},
    }))
    with pytest.raises(IngestError, match="needs at least one of params"):  # no parameter count in 0.3 files
        read_outputs(tmp_path / "gpt2.json")
    registry = Registry(tmp_path / "r.duckdb")
    source = resolve_source(tmp_path / "gpt2.json", constants={"params": "124e6"})  # the size the user gives (--set)
    registry.ingest(source.name, table=source.table, constants={"params": "124e6"})
    assert registry.show("gpt2")["params"] == 124e6
    run = registry.show("gpt2")
    assert {e["task"]: e["value"] for e in run["evals"]} == {"hellaswag": 0.289, "hellaswag.acc_norm": 0.311}
    assert json.loads(run["config"])["n_shot"] == 0


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *args], capture_output=True, text=True)


def test_cli_ingests_a_folder_of_runs_and_a_shipped_dataset(tmp_path):
    root = tmp_path / "sweep"
    _datacomp_run(root / "small_a")
    (root / "readme.txt").write_text("x")
    db = str(tmp_path / "r.duckdb")
    result = _cli("runs", "ingest", str(root), "--set", "family=pilot", "--db", db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"read {root / 'small_a'} (datacomp, 1 row)",
        f"skipped {root / 'readme.txt'}: not a run format this reads",
        "1 runs read, 1 skipped",
        f"{root}: 1 new runs, 0 replaced, 0 unchanged, 39 evals",
    ]
    shipped = _cli("runs", "ingest", "--dataset", "datablations", "--db", db)
    assert shipped.stdout.strip() == "curascale:datasets/datablations: 182 new runs, 0 replaced, 0 unchanged, 182 evals"
    assert Registry(db).query("SELECT count(*) AS n FROM runs WHERE family = 'datablations'").n[0] == 182
    _lm_eval_results(tmp_path / "lm.json", params=-1)
    assert _cli("runs", "ingest", str(tmp_path / "lm.json"), "--db", db).returncode == 2  # no size in the file
    sized = _cli("runs", "ingest", str(tmp_path / "lm.json"), "--set", "params=160e6", "--set", "tokens=3e11", "--db", db)
    assert sized.returncode == 0 and sized.stdout.splitlines()[-1].endswith(": 1 new runs, 0 replaced, 0 unchanged, 5 evals")
    nothing = _cli("runs", "ingest", str(root / "readme.txt"), "--db", db)
    assert nothing.returncode == 2 and nothing.stderr.startswith("error: ") and len(nothing.stderr.splitlines()) == 1
