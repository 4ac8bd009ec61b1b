"""The registry's vocabulary: run columns with their rules, and how file columns name metrics.

A file column is either a run column (below), a metric column (`loss`, `loss_<split>`,
`error`, `err_<task>`, `error_<task>`, `accuracy`, `acc_<task>`, `accuracy_<task>`, or an
accuracy alias of `ACCURACY_COLUMNS` such as `acc1` or `imagenet_acc`), an eval
coordinate (`split`, `task`, `step`), or anything else, which is kept in the run's `config` JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    kind: str  # "text", "positive", "nonnegative", "unit", "json"
    doc: str


RUN_COLUMNS: dict[str, Rule] = {
    "run_id": Rule("text", "unique id; derived from the row's content when absent"),
    "family": Rule("text", "a group of runs, e.g. chinchilla"),
    "experiment": Rule("text", "the experiment within the family"),
    "params": Rule("positive", "model parameters (count)"),
    "tokens": Rule("positive", "training tokens seen (count)"),
    "unique_tokens": Rule("positive", "unique tokens in the training data"),
    "samples_seen": Rule("positive", "image-text pairs seen"),
    "unique_samples": Rule("positive", "unique samples in the training pool"),
    "epochs": Rule("nonnegative", "passes over the unique data"),
    "flops": Rule("positive", "training compute (FLOPs)"),
    "bits_weights": Rule("positive", "training precision of the weights (bits)"),
    "bits_activations": Rule("positive", "training precision of the activations (bits)"),
    "bits_kv_cache": Rule("positive", "training precision of the KV cache (bits)"),
    "bits_post_training": Rule("positive", "post-training quantization precision (bits)"),
    "domain_tokens": Rule("positive", "unique domain tokens mixed into pretraining"),
    "domain_fraction": Rule("unit", "share of training tokens drawn from the domain set, in [0, 1]"),
    "pool": Rule("text", "the pool trained on"),
    "bucket": Rule("text", "the bucket of the pool trained on"),
    "mixture": Rule("json", 'weights of a mixture of buckets, {"bucket": weight}'),
}

SIZE_COLUMNS = ("params", "tokens", "samples_seen", "flops")
EVAL_COORDINATES = ("split", "task", "step")

METRIC_RULES = {"loss": "positive", "error": "unit", "accuracy": "unit"}
_METRIC_PATTERN = re.compile(r"^(loss|error|err|accuracy|acc)(?:_(.+))?$")
_CANONICAL = {"err": "error", "acc": "accuracy"}
# names of top-1 accuracy, read as the `accuracy` metric at ingest and as 1 - error by the fits (scaling.frames)
ACCURACY_COLUMNS = ("accuracy", "acc", "acc1", "top1", "imagenet_acc", "imagenet_accuracy", "zeroshot_accuracy")


@dataclass(frozen=True)
class MetricColumn:
    """Where a metric column's values go: metric name plus the split (loss) or task (error)."""

    metric: str
    split: str | None = None
    task: str | None = None


def metric_of(column: str) -> MetricColumn | None:
    """`loss_c4_val` -> loss on split c4_val; `err_arc_easy` -> error on task arc_easy."""
    if column in ACCURACY_COLUMNS:
        return MetricColumn("accuracy")
    match = _METRIC_PATTERN.match(column)
    if not match:
        return None
    metric = _CANONICAL.get(match.group(1), match.group(1))
    suffix = match.group(2)
    if suffix is None:
        return MetricColumn(metric)
    if metric == "loss":
        return MetricColumn(metric, split=suffix)
    return MetricColumn(metric, task=suffix)
