"""Trainer outputs as the trainers write them, for the tests of runs_db.formats: a DataComp run
folder (train.py's info.pkl, evaluate.py's eval_results.jsonl) and an open_clip log folder."""

import json
import pickle
from pathlib import Path

from runs_db.demo import DATACOMP_TASKS

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
