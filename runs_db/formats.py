"""What trainers write, read as registry rows: DataComp run folders, open_clip logs,
lm-evaluation-harness result JSON and OpenLM run JSON (Gadre et al. 2024, exp_data/models/*.json).

`read_outputs(path, fmt=None)` recognises a run by its content (or reads it as `fmt`), or walks a
folder of runs, and returns a `FormatReport`: one table of rows in the registry's column
vocabulary (runs_db.columns) plus what was read and what was skipped and why. The rows are then
validated and written by `Registry.ingest(path, table=report.table)` like any CSV row.

Formats (the fields each reader uses):

- datacomp: a folder with ``eval_results.jsonl`` (one JSON line per task: ``key``, ``dataset``,
  ``metrics`` with ``main_metric``, ``acc1``, ...; written by DataComp's evaluate.py; acc1 when
  a line lacks main_metric; a task twice: the later line, reported) and the training info as
  ``info.json`` or ``info.pkl`` (both: they must agree on every field read) (``scale``, ``scale_config`` with
  ``train_num_samples``, ``model``, ``batch_size``, ``learning_rate``; ``data_dir``). One row per
  run: samples_seen = train_num_samples; every task's main metric is an ``accuracy`` eval with
  task = the task key (e.g. ``imagenet1k``, ``vtab/caltech101``; retrieval and fairness tasks keep
  their own main metric, all in [0, 1]); when all 38 scored tasks are present, their mean is the
  eval task ``average`` (DataComp's "Average"; otherwise the report says why it is missing). `DEFAULT_TASKS` are the tasks a plan targets.
  info.pkl is read with `read_info_pickle`, which admits plain containers, numbers, text and paths
  only: a pickle that names any other callable is rejected before anything runs.
- open_clip: a log folder with ``params.txt`` (``name: value`` lines: ``train_num_samples``,
  ``model``, ``name``, ...) and ``checkpoints/results.jsonl`` (one JSON line per evaluation:
  ``epoch``, ``imagenet-zeroshot-val-top1``, ``-top5``, ``clip_val_loss``, ...). One row per
  evaluated epoch, run_id ``<name>@epoch<k>``, samples_seen = k * train_num_samples: a run's curve
  becomes several points. open_clip writes ``epoch`` only with --val-data: lines without it take
  their epochs from their order and params.txt's schedule (``epochs``, ``zeroshot_frequency``,
  default 1: `open_clip_schedule`). Epoch 0 (untrained) is not read, an epoch evaluated twice
  keeps the later line; both are reported, as are keys with no registry metric. ``<data>-zeroshot-val-top1`` becomes accuracy on task ``<data>`` (``imagenet`` is
  named ``imagenet1k``, as DataComp names it), ``-top5`` task ``<data>_top5``; ``clip_val_loss``
  (``val_loss`` in older open_clip) is loss on split ``val``.
- lm_eval: lm-evaluation-harness's results JSON (``results`` {task: {"acc,none": ..}},
  ``config`` {``model``, ``model_args``, ``model_num_parameters``, ``limit``}, ``n-shot``). One row
  per model: run_id = the ``pretrained`` model (``@revision`` if given); files of the same
  model_args in a folder (tasks run in separate calls) are merged into one row, a conflicting value
  for the same eval reported; params = model_num_parameters when the harness recorded it. The
  task key carries the few-shot count (``hellaswag.0shot`` and ``hellaswag.10shot`` are two
  evals): acc -> accuracy on ``<task>.<n>shot``, acc_norm and exact_match -> ``.acc_norm`` and
  ``.exact_match`` appended (a filter other than ``none`` too). Other numbers (perplexities,
  bits_per_byte, BLEU, ROUGE) have no registry metric and are kept in the run's config under the
  same key (``wikitext.0shot.word_perplexity``), reported; standard errors are not kept. A
  ``limit`` (scores on a sample of each task) is kept in config and reported. model_args and
  n_shot are stored as JSON objects. Tokens are not in the file: give them with ``--set tokens=...``.
- openlm: an OpenLM run JSON (``name``, ``dataset_name``, ``hyperparameters`` with ``params``,
  ``params_no_embed``, ``tokens``, ``chinchilla_multiplier``, ...; ``results`` with one ``loss``
  per ``val_data`` path). One row per run; each loss is ``loss_<split>`` where the split is the
  validation set's folder (or file name, e.g. ``val_de-en_100``), as in Gadre et al.'s tables; a
  loss over several sets is on their union (``c4_val+paloma_ptb``); two results on one split:
  the later is kept, reported.

No reader sets `family`: give it with ``--set family=...`` (constants apply to every row). A folder
of runs is walked without following symbolic links (each is reported as skipped), so every run is
read once, under its real path inside the folder. What a reader merges, overrides or leaves out
is in the report's `remarks` (the ingest report's "note" lines).
"""

from __future__ import annotations

from runs_db.text import quoted

import json
import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from curascale.errors import CurascaleError, IngestError

FORMATS = ("datacomp", "open_clip", "lm_eval", "openlm")
DEFAULT_TASKS = ("imagenet1k", "average")  # DataComp's ImageNet-1k accuracy and 38-task average
DATACOMP_SCORED_TASKS = 38  # tasks with a main metric in DataComp's tasklist.yml (FairFace, UTKFace have none)
DATACOMP_UNSCORED_TASKS = ("fairness/fairface", "fairness/utkface")  # no main metric by design: not reported as missing
MAX_FILE_BYTES = 64 * 2**20  # a run's JSON or pickle is kilobytes; refuse anything absurd


@dataclass(frozen=True)
class ReadRun:
    path: str
    format: str
    rows: int


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class Remark:
    """Something a reader merged, overrode or left out of a run it read: the file and what."""

    path: str
    what: str


@dataclass(frozen=True)
class FormatReport:
    """Rows read from trainer outputs (`table`, None when nothing was read), and the account:
    the runs read, the things skipped (with why) and the remarks on what was read."""

    table: pd.DataFrame | None
    read: tuple[ReadRun, ...]
    skipped: tuple[Skipped, ...]
    remarks: tuple[Remark, ...] = ()


# ---- small readers ------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise IngestError(str(path), "no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise IngestError(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a run's output")
    return path.read_bytes()


def _json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IngestError(str(path), f"not valid JSON: {error}") from None


def _json_lines(path: Path) -> list[tuple[int, Any]]:
    lines = []
    for number, text in enumerate(_read_bytes(path).decode("utf-8", errors="replace").splitlines(), start=1):
        if text.strip():
            try:
                lines.append((number, json.loads(text)))
            except json.JSONDecodeError as error:
                raise IngestError(str(path), f"not valid JSON: {error}", row=number) from None
    if not lines:
        raise IngestError(str(path), "the file has no lines")
    return lines


def _number(value: Any) -> float | None:
    """A finite number, or None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _mapping(value: Any, file: Path, what: str, row: int | None = None) -> dict:
    if not isinstance(value, dict):
        raise IngestError(str(file), f"{what} must be a JSON object, got {type(value).__name__}", row=row, column=what)
    return value


# ---- info.pkl: a restricted unpickler -------------------------------------------------------

def _path_text(*parts: str) -> str:
    if not all(isinstance(p, str) for p in parts):
        raise pickle.UnpicklingError("a path in the pickle is built from something other than text")
    return str(PurePosixPath(*parts))


def _windows_path_text(*parts: str) -> str:
    return str(PureWindowsPath(*parts)) if all(isinstance(p, str) for p in parts) else _path_text(*parts)


# DataComp's train.py pickles pathlib paths (checkpoint, data_dir): read them as their text, never
# as objects. Everything else a pickle may reference is refused; dicts, lists, tuples, sets,
# strings, numbers, booleans and None need no reference at all.
_ADMITTED = {
    ("pathlib", "PosixPath"): _path_text,
    ("pathlib", "PurePosixPath"): _path_text,
    ("pathlib", "Path"): _path_text,
    ("pathlib", "WindowsPath"): _windows_path_text,
    ("pathlib", "PureWindowsPath"): _windows_path_text,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Callable[..., str]:
        admitted = _ADMITTED.get((module, name))
        if admitted is None:
            raise pickle.UnpicklingError(f"refers to {module}.{name}")
        return admitted

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("uses persistent ids")


def read_info_pickle(path: str | Path) -> Any:
    """DataComp's ``info.pkl`` as plain values, without running code from the file.

    Admits only what pickle builds without naming a callable (dict, list, tuple, set, str, bytes,
    int, float, bool, None) plus pathlib paths, which come back as their text. A pickle naming
    anything else (os.system, builtins.eval, a class) raises IngestError before it is called.
    """
    path = Path(path)
    data = _read_bytes(path)
    try:
        import io

        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as error:
        raise IngestError(str(path), f"refused: the pickle {error}; only plain values are read (write info.json instead)") from None
    except Exception as error:  # truncated or not a pickle at all
        raise IngestError(str(path), f"cannot read the pickle: {error}") from None


# ---- DataComp -----------------------------------------------------------------------------

_DATACOMP_CONFIG = ("train_num_samples", "model", "batch_size", "learning_rate", "warmup")  # read from scale_config


def _datacomp_fields(info: dict) -> dict[str, Any]:
    """The training info fields this reader uses, by dotted name (``scale_config.model``)."""
    config = info.get("scale_config") if isinstance(info.get("scale_config"), dict) else {}
    fields = {"scale": info.get("scale"), "data_dir": None if info.get("data_dir") is None else str(info["data_dir"])}
    fields.update({f"scale_config.{key}": config.get(key) for key in _DATACOMP_CONFIG})
    return {name: value for name, value in fields.items() if value is not None}


def _datacomp_info(folder: Path) -> dict[str, Any]:
    """The training info fields of info.json and info.pkl (either, or both when they agree on
    every field both give; a field only one gives is taken from it). A field the two give
    differently is an error naming both files and the field."""
    found = {}
    for name, read in (("info.json", _json), ("info.pkl", read_info_pickle)):
        if (folder / name).is_file():
            found[name] = _datacomp_fields(_mapping(read(folder / name), folder / name, "info"))
    if not found:
        raise IngestError(str(folder), "no info.json or info.pkl: the run's scale and samples seen are unknown")
    if len(found) == 2:
        json_fields, pickle_fields = found["info.json"], found["info.pkl"]
        for field in sorted(set(json_fields) & set(pickle_fields)):
            if json_fields[field] != pickle_fields[field]:
                raise IngestError(str(folder / "info.json"), f"{field} is {quoted(json_fields[field])} here but {quoted(pickle_fields[field])} in {folder / 'info.pkl'}: keep the run's own info", column=field)
    return {name: value for fields in reversed(found.values()) for name, value in fields.items()}


def _datacomp_score(metrics: dict, results: Path, number: int) -> tuple[float | None, str | None]:
    """A task line's score: main_metric, else acc1 (top-1 accuracy, the main metric of every
    classification task), with the name of the field read (None: neither is given)."""
    for name in ("main_metric", "acc1"):
        score = metrics.get(name)
        if score is not None:
            if _number(score) is None:
                raise IngestError(str(results), f"{name} is not a number: {quoted(score)}", row=number, column="metrics")
            return float(score), name
    return None, None


def read_datacomp(folder: Path, run_id: str, remarks: list[Remark]) -> list[dict]:
    """One row: the run's training info and every task's main metric (see the module notes).
    What is read instead (acc1), overridden (a task twice) or not computed (the average) is reported."""
    results = folder / "eval_results.jsonl"
    info = _datacomp_info(folder)
    row: dict[str, Any] = {
        "run_id": run_id, "format": "datacomp", "experiment": info.get("scale"),
        "samples_seen": _number(info.get("scale_config.train_num_samples")),
        **{key: info[f"scale_config.{key}"] for key in _DATACOMP_CONFIG[1:] if f"scale_config.{key}" in info},
    }
    if info.get("data_dir") is not None:
        row["data_dir"] = info["data_dir"]
    scores, rows, from_acc1, unscored = {}, {}, [], []
    for number, line in _json_lines(results):
        line = _mapping(line, results, "line", number)
        key, metrics = line.get("key"), _mapping(line.get("metrics"), results, "metrics", number)
        if not isinstance(key, str) or not key:
            raise IngestError(str(results), "no task key", row=number, column="key")
        if key in DATACOMP_UNSCORED_TASKS and metrics.get("main_metric") is None:
            continue  # FairFace, UTKFace: fairness reports with no main metric in DataComp (their acc1 is not a score it averages)
        score, field = _datacomp_score(metrics, results, number)
        if score is None:
            unscored.append(key)
            continue
        if field == "acc1":
            from_acc1.append(key)
        if key in scores:  # evaluate.py's reader keeps the later line
            remarks.append(Remark(str(results), f"task {key} evaluated twice (rows {rows[key]} and {number}): row {number} kept ({scores[key]:g} -> {score:g})"))
        scores[key], rows[key] = score, number
    if from_acc1:
        remarks.append(Remark(str(results), f"no main_metric, acc1 read as the score: {', '.join(from_acc1)}"))
    if unscored:
        remarks.append(Remark(str(results), f"no main_metric or acc1, not read: {', '.join(unscored)}"))
    row.update({f"accuracy_{key}": value for key, value in scores.items()})
    if len(scores) == DATACOMP_SCORED_TASKS:
        row["accuracy_average"] = sum(scores.values()) / len(scores)
    else:
        remarks.append(Remark(str(results), f"average not computed: {len(scores)} of DataComp's {DATACOMP_SCORED_TASKS} scored tasks"))
    return [row]


# ---- open_clip ----------------------------------------------------------------------------

def _params_txt(path: Path) -> dict[str, str]:
    params = {}
    for text in _read_bytes(path).decode("utf-8", errors="replace").splitlines():
        name, sep, value = text.partition(": ")
        if sep:
            params[name.strip()] = value.strip()
    return params


def _open_clip_results(folder: Path) -> Path:
    for candidate in (folder / "checkpoints" / "results.jsonl", folder / "results.jsonl"):
        if candidate.is_file():
            return candidate
    raise IngestError(str(folder), "no checkpoints/results.jsonl: the run was never evaluated")


_ZERO_SHOT = re.compile(r"^(.+)-zeroshot-val-top([15])$")
_VAL_LOSSES = ("clip_val_loss", "val_loss")  # open_clip >= 2.0 writes clip_val_loss, older versions val_loss
_OPEN_CLIP_BOOKKEEPING = {"epoch", "num_samples"}


def _open_clip_metrics(metrics: dict, file: Path, row: int, remarks: list[Remark], unread: set[str]) -> dict[str, float]:
    """One results.jsonl line as registry columns: zero-shot top-1/top-5 accuracies and the
    contrastive validation loss (split ``val``); the names of the other keys go to `unread`."""
    out = {}
    for name, value in metrics.items():
        match = _ZERO_SHOT.match(name)
        if match and _number(value) is not None:
            task = "imagenet1k" if match.group(1) == "imagenet" else match.group(1)
            out[f"accuracy_{task}" + ("_top5" if match.group(2) == "5" else "")] = float(value)
        elif name not in _VAL_LOSSES and name not in _OPEN_CLIP_BOOKKEEPING:
            unread.add(name)
    losses = {name: float(metrics[name]) for name in _VAL_LOSSES if _number(metrics.get(name)) is not None}
    if losses:
        out["loss_val"] = next(iter(losses.values()))
        if len(set(losses.values())) > 1:
            remarks.append(Remark(str(file), f"row {row}: clip_val_loss {losses['clip_val_loss']:g} and val_loss {losses['val_loss']:g} differ: loss on split val is clip_val_loss"))
    return out


def _param_int(params: dict[str, str], name: str, default: int, file: Path) -> int:
    text = params.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise IngestError(str(file), f"{name} is {quoted(text)}, not a whole number", column=name)
    return value


def open_clip_schedule(epochs: int, zeroshot_frequency: int) -> list[int]:
    """The epochs open_clip's training loop evaluates zero-shot: every completed epoch k in
    1..epochs with k % zeroshot_frequency == 0, and the last (open_clip zero_shot_eval); none when
    the frequency is 0."""
    if zeroshot_frequency == 0:
        return []
    return [k for k in range(1, epochs + 1) if k % zeroshot_frequency == 0 or k == epochs]


def _line_epochs(lines: list[tuple[int, dict]], params: dict[str, str], params_file: Path, results: Path, remarks: list[Remark]) -> list[int]:
    """The epoch of each results line: its ``epoch`` key, or, when no line has one (open_clip
    writes it only with --val-data), the line's place in params.txt's zero-shot schedule."""
    given = [line.get("epoch") is not None for _, line in lines]
    if all(given):
        epochs = []
        for number, line in lines:
            epoch = _number(line["epoch"])
            if epoch is None or epoch != int(epoch) or epoch < 0:
                raise IngestError(str(results), f"epoch is {quoted(line['epoch'])}, not a whole number", row=number, column="epoch")
            epochs.append(int(epoch))
        return epochs
    if any(given):
        number = lines[given.index(False)][0]
        raise IngestError(str(results), "no epoch on this line while other lines give theirs: cannot tell which epoch it is", row=number, column="epoch")
    total = _param_int(params, "epochs", 0, params_file)
    frequency = _param_int(params, "zeroshot_frequency", 1, params_file)
    schedule = open_clip_schedule(total, frequency)
    if len(lines) > len(schedule):
        raise IngestError(str(results), f"{len(lines)} lines without an epoch, but params.txt (epochs {total}, zeroshot_frequency {frequency}) evaluates {len(schedule)} epochs"
                          " (a resumed run appends again): cannot tell which epoch each line is", column="epoch")
    remarks.append(Remark(str(results), f"no epoch in the lines: epochs {', '.join(map(str, schedule[:len(lines)]))} taken from their order and params.txt (epochs {total}, zeroshot_frequency {frequency})"
                          + (f"; {len(lines)} of {len(schedule)} scheduled evaluations present" if len(lines) < len(schedule) else "")))
    return schedule[: len(lines)]


def read_open_clip(folder: Path, run_id: str, remarks: list[Remark]) -> list[dict]:
    """One row per evaluated epoch k >= 1, samples_seen = k * train_num_samples. Epoch 0 (the
    untrained model, no samples seen) and all but the last line of an epoch evaluated twice (a
    resumed run re-appends) are left out and reported."""
    params_file = folder / "params.txt"
    params = _params_txt(params_file)
    try:
        per_epoch = float(params.get("train_num_samples", "None"))
    except ValueError:
        per_epoch = float("nan")
    if not per_epoch > 0:
        raise IngestError(str(params_file), f"train_num_samples is {quoted(params.get('train_num_samples'))}: samples seen per epoch unknown", column="train_num_samples")
    results = _open_clip_results(folder)
    lines = [(number, _mapping(line, results, "line", number)) for number, line in _json_lines(results)]
    by_epoch: dict[int, tuple[int, dict]] = {}
    unread: set[str] = set()
    for (number, line), epoch in zip(lines, _line_epochs(lines, params, params_file, results, remarks)):
        if epoch == 0:
            remarks.append(Remark(str(results), f"row {number}: epoch 0 (the untrained model, 0 samples seen) is not a training point: not read"))
            continue
        if epoch in by_epoch:
            remarks.append(Remark(str(results), f"epoch {epoch} evaluated twice (rows {by_epoch[epoch][0]} and {number}, a resumed run): row {number} kept"))
        by_epoch[epoch] = (number, _open_clip_metrics(line, results, number, remarks, unread))
    if unread:
        remarks.append(Remark(str(results), f"not read (no registry metric for them): {', '.join(sorted(unread))}"))
    name = params.get("name") or run_id
    return [
        {"run_id": f"{run_id}@epoch{epoch}", "format": "open_clip", "experiment": name, "samples_seen": epoch * per_epoch,
         "checkpoint_epoch": epoch, "model": params.get("model"), **metrics}
        for epoch, (_, metrics) in sorted(by_epoch.items())
    ]


# ---- lm-evaluation-harness ----------------------------------------------------------------

def _model_args(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    pairs = (part.partition("=") for part in str(value or "").split(","))
    return {key.strip(): v.strip() for key, sep, v in pairs if sep}


_LM_EVAL_SCORES = ("acc", "acc_norm", "exact_match")  # accuracies in [0, 1]: registry evals
_LM_EVAL_SKIPPED = ("alias",)  # the task's display name; *_stderr are the scores' standard errors (not stored)


def _n_shot(task: str, data: dict, config: dict) -> int | None:
    """The few-shot count of `task`: v0.4's ``n-shot`` {task: n}, else v0.3's config.num_fewshot."""
    shots = data.get("n-shot")
    value = shots.get(task) if isinstance(shots, dict) else config.get("num_fewshot")
    number = _number(value)
    return int(number) if number is not None and number == int(number) and number >= 0 else None


def _lm_eval_scores(label: str, metrics: dict) -> tuple[dict[str, float], dict[str, float]]:
    """A task's metrics: (accuracies as registry columns ``accuracy_<label>[.<metric>][.<filter>]``,
    every other number as config keys ``<label>.<metric>[.<filter>]``: perplexities, bits per
    byte, BLEU, ROUGE have no registry metric). Standard errors and the alias are not kept."""
    scores, others = {}, {}
    for key, value in metrics.items():
        name, _, kind = str(key).partition(",")
        if name in _LM_EVAL_SKIPPED or name.endswith("_stderr") or _number(value) is None:
            continue
        suffix = "" if kind in ("", "none") else f".{kind}"
        if name in _LM_EVAL_SCORES:
            scores[f"accuracy_{label}" + ("" if name == "acc" else f".{name}") + suffix] = float(value)
        else:
            others[f"{label}.{name}{suffix}"] = float(value)
    return scores, others


def _limit_note(limit: float) -> str:
    share = f"{limit:.0%} of each task's examples" if limit < 1 else f"{limit:g} examples per task"
    return f"config.limit is {limit:g}: scores on {share}, not the full evals (limit kept in the run's config)"


def read_lm_eval(file: Path, data: dict, remarks: list[Remark]) -> list[dict]:
    """One row per results file (see the module notes)."""
    config = _mapping(data.get("config") or {}, file, "config")
    args = _model_args(config.get("model_args"))
    model = args.get("pretrained") or str(config.get("model") or file.stem)
    row: dict[str, Any] = {
        "run_id": model + (f"@{args['revision']}" if args.get("revision") else ""), "format": "lm_eval",
        "model": model, "model_args": args,
    }
    params = _number(config.get("model_num_parameters"))
    if params is not None and params > 0:
        row["params"] = params
    limit = _number(config.get("limit"))
    if limit is not None:
        row["limit"] = limit
        remarks.append(Remark(str(file), _limit_note(limit)))
    shots, others = {}, {}
    for task, metrics in _mapping(data["results"], file, "results").items():
        if isinstance(metrics, dict):
            n = _n_shot(str(task), data, config)
            label = str(task) if n is None else f"{task}.{n}shot"
            scores, rest = _lm_eval_scores(label, metrics)
            row.update(scores)
            others.update(rest)
            if n is not None:
                shots[str(task)] = n
    if shots:
        row["n_shot"] = shots
    if others:
        row.update(others)
        remarks.append(Remark(str(file), f"kept in the run's config, not as evals (no loss or accuracy meaning): {', '.join(sorted(others))}"))
    return [row]


def lm_eval_model(row: Mapping[str, Any]) -> str:
    """The identity of an lm_eval row's model: its model_args, as sorted JSON."""
    return json.dumps(row.get("model_args"), sort_keys=True)


def merge_lm_eval(into: dict, row: Mapping[str, Any], first: str, file: str, remarks: list[Remark]) -> None:
    """Merge the evals of one model read from `file` (tasks run in separate calls) into `into`,
    read from `first`. The same value twice is one value; a different value for the same column
    (same task and n-shot) is a conflict: the later file's value is kept and the conflict reported.
    n_shot maps each task to its count, or to the sorted counts when it ran with several."""
    for column, value in row.items():
        if column == "n_shot":
            merged = dict(into.get("n_shot") or {})
            for task, n in value.items():
                before = merged.get(task)
                counts = sorted({*(before if isinstance(before, list) else [] if before is None else [before]), n})
                merged[task] = counts[0] if len(counts) == 1 else counts
            into["n_shot"] = merged
        elif column not in into or into[column] == value:
            into[column] = value
        else:
            remarks.append(Remark(file, f"{column} is {into[column]!r} in {first} and {value!r} here (the same model and eval): this file's value kept"))
            into[column] = value


# ---- OpenLM -------------------------------------------------------------------------------

_SHARD = re.compile(r"^(shard[-_]?)?[\d{}.\-]+$")


def _openlm_set(shard: Any) -> str:
    path = PurePosixPath(str(shard or ""))
    stem = path.name.removesuffix(".tar")
    return path.parent.name if _SHARD.match(stem) else stem


def openlm_split(val_data: Any) -> str:
    """The validation set a loss was measured on, from its shard paths: a shard's folder
    (``.../paloma_c4_en/00000001.tar`` -> ``paloma_c4_en``) unless the file itself is named
    (``.../de-en/val_de-en_100.tar`` -> ``val_de-en_100``). A loss over shards of several sets
    is measured on their union, named by the sets joined with ``+`` in the order given
    (``c4_val+paloma_ptb``): a split of its own, never one of its parts."""
    shards = val_data if isinstance(val_data, list) and val_data else [val_data]
    return "+".join(dict.fromkeys(_openlm_set(shard) for shard in shards))


def read_openlm(file: Path, data: dict, remarks: list[Remark]) -> list[dict]:
    """One row per run JSON (see the module notes). Two results on the same split: the later
    is kept and the override reported."""
    hyper = _mapping(data["hyperparameters"], file, "hyperparameters")
    row: dict[str, Any] = {
        "run_id": str(data.get("name") or file.stem), "format": "openlm", "dataset": data.get("dataset_name"),
        "params": _number(hyper.get("params")), "params_no_embed": _number(hyper.get("params_no_embed")),
        "tokens": _number(hyper.get("tokens")),
        **{key: hyper[key] for key in ("chinchilla_multiplier", "lr", "wd", "global_bs", "warmup") if _number(hyper.get(key)) is not None},
    }
    if hyper.get("model"):
        row["model"] = PurePosixPath(str(hyper["model"])).stem
    given: dict[str, int] = {}
    for index, result in enumerate(data.get("results") or [], start=1):
        result = _mapping(result, file, "results", index)
        if _number(result.get("loss")) is not None:
            column = f"loss_{openlm_split(result.get('val_data'))}"
            if column in given:
                remarks.append(Remark(str(file), f"results {given[column]} and {index} are both on split {column[5:]} ({row[column]:g} and {float(result['loss']):g}): result {index} kept"))
            row[column], given[column] = float(result["loss"]), index
    return [row]


# ---- recognising and walking --------------------------------------------------------------

def _json_format(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("hyperparameters"), dict) and isinstance(data.get("results"), list):
        return "openlm"
    if isinstance(data.get("results"), dict) and isinstance(data.get("config"), dict) and "model_args" in data["config"]:
        return "lm_eval"
    return None


def _run_folder(path: Path) -> Path:
    """A results file given directly stands for its run folder."""
    if path.is_file() and path.name == "eval_results.jsonl":
        return path.parent
    if path.is_file() and path.name == "results.jsonl":
        return path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return path


def detect_format(path: str | Path) -> str | None:
    """The format of a run folder or file by its content, or None (not a run this module reads)."""
    path = _run_folder(Path(path))
    if path.is_dir():
        if (path / "eval_results.jsonl").is_file():
            return "datacomp"
        if (path / "params.txt").is_file() and any(p.is_file() for p in (path / "checkpoints" / "results.jsonl", path / "results.jsonl")):
            return "open_clip"
        return None
    if path.suffix.lower() == ".json" and path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
        try:
            return _json_format(json.loads(path.read_bytes()))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    return None


def run_of(fmt: str) -> str:
    """'a datacomp run', 'an open_clip run': the format's run with its article."""
    return f"{'an' if fmt[0] in 'aeiou' else 'a'} {fmt} run"


_TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet", ".pq")


def partial_run(folder: Path) -> str | None:
    """What a folder that holds part of a run lacks (None: it holds none of a run's files)."""
    if any(p.is_file() for p in (folder / "checkpoints" / "results.jsonl", folder / "results.jsonl")):
        return "an open_clip log folder without params.txt (open_clip writes train_num_samples there): the samples seen are unknown"
    if any((folder / name).is_file() for name in ("info.pkl", "info.json")):
        return "a DataComp run folder without eval_results.jsonl: the run was not evaluated"
    return None


def why_not_a_run(path: Path) -> str:
    """Why `path` (which `detect_format` did not recognise) is not a run this module reads: what
    a run of the nearest format lacks, invalid JSON with its line and column, or a table of runs."""
    if path.is_dir():
        return partial_run(path) or f"no run in it ({', '.join(FORMATS)})"
    if path.suffix.lower() in _TABLE_SUFFIXES:
        return "a table file, not a trainer's output: ingest it on its own (curascale runs ingest FILE)"
    if path.suffix.lower() == ".json" and path.is_file():
        if path.stat().st_size > MAX_FILE_BYTES:
            return f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a run's output"
        try:
            json.loads(path.read_bytes())
        except json.JSONDecodeError as error:
            return f"not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        except UnicodeDecodeError:
            return "not valid JSON: not UTF-8 text"
        return "JSON, but neither lm-evaluation-harness results (results, config.model_args) nor an OpenLM run (hyperparameters, results)"
    return f"not a run format this reads ({', '.join(FORMATS)})"


def read_run(path: str | Path, fmt: str, run_id: str | None = None, remarks: list[Remark] | None = None) -> list[dict]:
    """The rows of one run folder or file read as `fmt` (one of FORMATS); errors raise IngestError.
    What the reader merged, overrode or left out is appended to `remarks`."""
    remarks = [] if remarks is None else remarks
    if fmt not in FORMATS:
        raise CurascaleError(f"unknown format {quoted(fmt)} (known: {', '.join(FORMATS)})")
    path = _run_folder(Path(path))
    if fmt in ("datacomp", "open_clip"):
        if not path.is_dir():
            raise IngestError(str(path), f"{run_of(fmt)} is a folder")
        reader = read_datacomp if fmt == "datacomp" else read_open_clip
        return reader(path, run_id or path.name, remarks)
    if path.is_dir():
        raise IngestError(str(path), f"{run_of(fmt)} is a JSON file, not a folder")
    data = _mapping(_json(path), path, "the file")
    key = "results" if fmt == "lm_eval" else "hyperparameters"
    if key not in data:
        raise IngestError(str(path), f"no '{key}': not an {fmt} file", column=key)
    return (read_lm_eval if fmt == "lm_eval" else read_openlm)(path, data, remarks)


def _candidates(root: Path, real_root: Path | None = None) -> Iterable[tuple[Path, str | None, str | None]]:
    """Every run folder or file under `root` with its detected format (None: not a run) and, for
    an entry not walked, why (else None), in name order; a run folder is not searched further.

    Symbolic links are never followed: a link to something inside the folder names what the walk
    reads under its real path anyway (``latest-run -> run-2024``, ``again -> .``), and a link out
    of it leaves the folder given. So every run is read once, under its real path."""
    real_root = root.resolve() if real_root is None else real_root
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_symlink():
            target = child.resolve()
            where = "inside the folder: read under its real path" if target.is_relative_to(real_root) else "outside the folder ingested"
            yield child, None, f"a symbolic link to {target}, {where}; links are not followed"
            continue
        fmt = detect_format(child)
        if fmt is not None or child.is_file() or partial_run(child) is not None:  # a part of a run is reported, not searched
            yield child, fmt, None
        elif child.is_dir():
            yield from _candidates(child, real_root)


def _validated(path: Path, rows: list[dict], mapping: Mapping[str, str], constants: Mapping[str, Any]) -> pd.DataFrame:
    from runs_db.ingest import read_runs

    table = pd.DataFrame(rows)
    if table.empty:
        raise IngestError(str(path), "no evaluated checkpoint to ingest")
    read_runs(path, mapping, constants, table=table.copy())  # the registry's own validation, per run, so a bad run names its file
    return table


def read_outputs(path: str | Path, fmt: str | None = None, *, mapping: Mapping[str, str] | None = None, constants: Mapping[str, Any] | None = None, run_id: str | None = None) -> FormatReport:
    """Rows from a run folder or file (read as `fmt`, or as detected), or from every run under a
    folder of runs (only runs of `fmt` when given), with the account of what was skipped and why.

    A single run that cannot be read raises IngestError naming its file, row and column; in a
    folder of runs it is skipped with that reason instead. Run ids in a folder of runs are the runs'
    paths relative to the folder. `mapping` and `constants` are those the ingest will apply (a
    file may lack a size that the user gives as a constant); they are checked, not applied.
    `run_id` renames a single run (an open_clip run's epochs become ``<run_id>@epoch<k>``); it
    cannot name every run of a folder (give them a prefix at ingest instead).
    """
    mapping, constants = mapping or {}, constants or {}
    root = Path(path)
    if not root.exists():
        raise IngestError(str(root), "no such file or folder")
    run = _run_folder(root)
    detected = detect_format(run)
    if run.is_dir() and detected is None and partial_run(run) is not None:
        raise IngestError(str(run), partial_run(run))
    if not run.is_dir() or detected is not None:  # one run: a file, or a folder that is a run
        single = fmt or detected
        if single is None:
            raise IngestError(str(root), f"{why_not_a_run(run)}: give --format, or a CSV, JSONL or parquet file")
        remarks: list[Remark] = []
        rows = read_run(run, single, run_id=run_id, remarks=remarks)
        if run_id is not None and single in ("lm_eval", "openlm"):  # one row, its id from the file's content
            rows = [{**row, "run_id": run_id} for row in rows]
        table = _validated(run, rows, mapping, constants)
        return FormatReport(table, (ReadRun(str(run), single, len(table)),), (), tuple(remarks))
    if run_id is not None:
        raise IngestError(str(root), f"run_id {quoted(run_id)} names one run, but this is a folder of runs: give them a common prefix instead (--run-prefix PREFIX/)", column="run_id")
    units, skipped = _read_units(root, fmt)
    tables, read, remarks, owners = [], [], [], {}
    for unit in units:
        try:
            table = _validated(unit.path, unit.rows, mapping, constants)
        except CurascaleError as error:
            skipped += [Skipped(str(unit.path), str(error)), *(Skipped(other, f"merged with {unit.path}, which was skipped") for other in unit.merged)]
            continue
        clash = next((owners[i] for i in table.run_id if i in owners), None)
        if clash is not None:
            skipped += [Skipped(str(path), f"its run id is also read from {clash}") for path in (unit.path, *unit.merged)]
            continue
        owners.update({i: str(unit.path) for i in table.run_id})
        remarks += unit.remarks
        tables.append(table)
        read += [ReadRun(str(unit.path), unit.fmt, len(table)), *(ReadRun(other, unit.fmt, 0) for other in unit.merged)]
    combined = pd.concat(tables, ignore_index=True, sort=False) if tables else None
    return FormatReport(combined, tuple(read), tuple(skipped), tuple(remarks))


@dataclass
class _Unit:
    """The rows of one run folder or file of a folder of runs, before validation; lm_eval files
    of the same model merged into the first one's row (`merged`: the later files)."""

    path: Path
    fmt: str
    rows: list[dict]
    remarks: list[Remark]
    merged: list[str]


def _read_units(root: Path, fmt: str | None) -> tuple[list[_Unit], list[Skipped]]:
    """Every run under `root` read (not yet validated), and what was skipped and why."""
    units, skipped, models = [], [], {}
    for candidate, detected, not_walked in _candidates(root):
        if not_walked is not None:
            skipped.append(Skipped(str(candidate), not_walked))
            continue
        if detected is None:
            skipped.append(Skipped(str(candidate), why_not_a_run(candidate)))
            continue
        if fmt is not None and detected != fmt:
            skipped.append(Skipped(str(candidate), f"{run_of(detected)}, not {fmt}"))
            continue
        remarks: list[Remark] = []
        try:
            rows = read_run(candidate, detected, run_id=candidate.relative_to(root).as_posix(), remarks=remarks)
        except CurascaleError as error:
            skipped.append(Skipped(str(candidate), str(error)))
            continue
        first = models.get(lm_eval_model(rows[0])) if detected == "lm_eval" else None
        if first is None:
            units.append(_Unit(candidate, detected, rows, remarks, []))
            if detected == "lm_eval":
                models[lm_eval_model(rows[0])] = units[-1]
            continue
        merge_lm_eval(first.rows[0], rows[0], str(first.path), str(candidate), remarks)
        first.remarks += [*remarks, Remark(str(candidate), f"evals merged into run {rows[0]['run_id']} with {first.path} (the same model_args)")]
        first.merged.append(str(candidate))
    return units, skipped
