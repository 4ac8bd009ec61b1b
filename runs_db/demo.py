"""An example DataComp run folder, laid out as DataComp's train.py and evaluate.py leave it, so
that `curascale runs ingest FOLDER` can be tried without training a model:

    write_datacomp_run("small_scale/", samples_seen=12.8e6, seed=0)

writes ``eval_results.jsonl`` (one JSON line per task of DataComp's tasklist.yml: ``key``,
``dataset``, ``metrics`` with ``acc1``, ``acc5``, ``mean_per_class_recall`` and ``main_metric``;
FairFace and UTKFace have no main metric) and ``info.pkl`` (``scale``, ``scale_config`` with
``train_num_samples``, ``model``, ``batch_size``, ``learning_rate``, ``warmup``; ``data_dir``),
both through curascale.io. The scores are made up (seeded; same arguments, same bytes): the files'
layout is DataComp's, their numbers are not a real model's.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from curascale.errors import CurascaleError
from curascale.io import write_bytes, write_text

# DataComp's tasklist.yml: 40 tasks, 38 with a main metric
DATACOMP_TASKS = (
    "vtab/caltech101", "cifar10", "vtab/cifar100", "vtab/clevr_count_all", "vtab/clevr_closest_object_distance", "country211",
    "vtab/dtd", "vtab/eurosat", "fgvc_aircraft", "food101", "gtsrb", "imagenet1k", "imagenet_sketch", "imagenetv2", "imagenet-a",
    "imagenet-o", "imagenet-r", "vtab/kitti_closest_vehicle_distance", "mnist", "objectnet", "vtab/flowers", "vtab/pets", "voc2007",
    "vtab/pcam", "renderedsst2", "vtab/resisc45", "cars", "stl10", "sun397", "vtab/svhn", "retrieval/flickr30k",
    "retrieval/mscoco_2014_5k_test_image_text_retrieval", "misc/winogavil", "wilds/iwildcam", "wilds/camelyon17", "wilds/fmow",
    "fairness/dollar_street", "fairness/geode", "fairness/fairface", "fairness/utkface",
)
UNSCORED_TASKS = frozenset({"fairness/fairface", "fairness/utkface"})
SCALES = {"small": ("ViT-B-32", 4096), "medium": ("ViT-B-32", 4096), "large": ("ViT-B-16", 8192), "xlarge": ("ViT-L-14", 90112)}


def datacomp_eval_lines(seed: int = 0) -> list[dict]:
    """One made-up evaluate.py line per task (main metric in [0.02, 0.6], 4 decimals; None for the
    unscored tasks)."""
    rng = np.random.default_rng(seed)
    lines = []
    for key in DATACOMP_TASKS:
        main = None if key in UNSCORED_TASKS else round(float(rng.uniform(0.02, 0.6)), 4)
        metrics = {"acc1": main, "acc5": None if main is None else round(min(1.0, main * 1.6), 4), "mean_per_class_recall": main, "main_metric": main}
        lines.append({"key": key, "dataset": key.split("/")[-1], "metrics": metrics})
    return lines


def write_datacomp_run(folder: str | Path, *, scale: str = "small", samples_seen: float = 12.8e6, seed: int = 0) -> Path:
    """Write an example run folder (see the module notes) into `folder`, which must be new or
    empty; returns the folder. Raises CurascaleError for an unknown scale, samples seen below 1
    or a folder that already holds files."""
    folder = Path(folder)
    if scale not in SCALES:
        raise CurascaleError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if not samples_seen >= 1:
        raise CurascaleError(f"samples seen must be at least 1, got {samples_seen:g}")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CurascaleError(f"{folder}: not an empty folder; write the example run somewhere new")
    folder.mkdir(parents=True, exist_ok=True)
    model, batch = SCALES[scale]
    write_text(folder / "eval_results.jsonl", "".join(json.dumps(line) + "\n" for line in datacomp_eval_lines(seed)))
    info = {"scale": scale, "data_dir": f"/data/{scale}/shards",
            "scale_config": {"batch_size": batch, "learning_rate": 5e-4, "train_num_samples": int(samples_seen), "warmup": 500, "model": model}}
    write_bytes(folder / "info.pkl", pickle.dumps(info, protocol=4))
    return folder
