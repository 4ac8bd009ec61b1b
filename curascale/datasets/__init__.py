"""Public scaling-law run data shipped inside the package, loadable as pandas frames.

    import curascale as cs
    runs = cs.load_dataset("chinchilla")         # 245 rows: params, tokens, flops, loss, in_besiroglu_fit
    cs.fit("chinchilla", runs[runs.in_besiroglu_fit == 1])

Every frame uses the registry's unit-named columns, so it can be fitted directly or ingested with
`curascale runs ingest --dataset NAME`:

    params          model parameters, embeddings included (count)
    params_no_embed model parameters without the embeddings (count)
    tokens          training tokens seen (count)
    unique_tokens   unique tokens in the training data (count; tokens / unique_tokens = epochs)
    flops           training compute (FLOPs)
    loss            final validation cross-entropy (nats/token); loss_<split> for a named split
    err_<task>      downstream error on a task (1 - accuracy, in [0, 1])

Each dataset's folder holds the files verbatim with a PROVENANCE.txt (source repository, commit,
paper, how derived files were built, the published fit); LICENSES.md beside this module gives the
licence notes. `DATASETS` documents the columns of each frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

import pandas as pd

from curascale.errors import CurascaleError


@dataclass(frozen=True)
class Dataset:
    """One shipped dataset: the file it reads, how its columns are renamed, and what they mean."""

    name: str
    file: str  # relative to the datasets folder
    summary: str
    source: str  # paper and repository
    rename: Mapping[str, str] = field(default_factory=dict)  # file column -> unit-named column
    drop: tuple[str, ...] = ()
    columns: Mapping[str, str] = field(default_factory=dict)  # unit-named column -> meaning
    runs: bool = True  # False: fitted parameters, not runs (cannot be ingested as runs)
    run_id: str | None = None  # column that names each run uniquely, if any


SIZE_COLUMNS = ("params", "params_no_embed", "tokens", "unique_tokens", "flops", "flops_no_embed", "flops_6nd", "flops_6nd_no_embed")  # float64

_NDL = {"params": "model parameters (count)", "tokens": "training tokens (count)", "loss": "final loss (nats/token)"}
_DATABLATIONS_RENAME = {"params_N": "params", "tokens_D": "tokens", "unique_tokens_U": "unique_tokens", "val_loss": "loss"}
_DATABLATIONS_COLUMNS = {
    "name": "run code <params><tokens><unique tokens>, e.g. 2b855b11b (seed replicates repeat it)",
    **_NDL,
    "unique_tokens": "unique tokens (count); tokens / unique_tokens = epochs",
    "loss": "final validation loss on held-out C4 (nats/token)",
}
_MISFITTING_RENAME = {
    "N": "params", "N_no_emb": "params_no_embed", "D": "tokens", "C": "flops", "C_no_emb": "flops_no_embed",
    "C_6ND": "flops_6nd", "C_6ND_no_emb": "flops_6nd_no_embed",
}
_MISFITTING_COLUMNS = {
    "loss": "C4 evaluation loss at the checkpoint (nats/token)",
    "params": "model parameters incl. embeddings (count)",
    "params_no_embed": "model parameters without embeddings (count)",
    "tokens": "training tokens seen at the checkpoint (count)",
    "flops": "training compute at the checkpoint (FLOPs), as the authors count it",
    "flops_6nd": "6 * params * tokens (FLOPs)",
    "model": "model name, e.g. misfitting_35m",
    "train_tokens": "planned total training tokens of the run (count)",
    "portion_steps_elapsed": "share of the run's steps done at the checkpoint",
}
_MISFITTING_SOURCE = "Li, Kudugunta, Zettlemoyer 2025, (Mis)Fitting Scaling Laws, arXiv:2502.18969; github.com/hadasah/scaling_laws"
_DATABLATIONS_SOURCE = "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv:2305.16264; github.com/huggingface/datablations"

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "chinchilla", "chinchilla/chinchilla_NDL.csv",
            "Chinchilla's 245 training runs (Hoffmann et al. 2022, Figure 4), as extracted by Epoch AI",
            "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt, arXiv:2404.10102; github.com/epoch-research/analyzing-chinchilla",
            rename={"N_params": "params", "D_tokens": "tokens", "C_flops": "flops"},
            columns={
                **_NDL, "tokens": "training tokens, flops / (6 params) (count)", "flops": "training compute (FLOPs)",
                "in_besiroglu_fit": "1 for the 240 runs Besiroglu et al. fit (the 5 highest losses dropped)",
            },
        ),
        Dataset(
            "datablations", "datablations/runs_fitset_182.csv",
            "the 182 repeated-epoch runs the published data-constrained fit used",
            _DATABLATIONS_SOURCE, rename=_DATABLATIONS_RENAME, columns=_DATABLATIONS_COLUMNS,
        ),
        Dataset(
            "datablations_all", "datablations/runs_all_296.csv",
            "all 296 finished data-constrained runs, seed replicates included",
            _DATABLATIONS_SOURCE, rename=_DATABLATIONS_RENAME, columns=_DATABLATIONS_COLUMNS,
        ),
        Dataset(
            "gadre_overtraining", "gadre_overtraining/runs_summary.csv",
            "104 over-trained OpenLM runs with 8 validation losses and 46 downstream errors each",
            "Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks, arXiv:2403.08540; github.com/mlfoundations/scaling",
            rename={
                "name": "run_id", "N_params": "params", "N_params_no_embed": "params_no_embed", "D_tokens": "tokens",
                "flops_6ND": "flops", "cc_mult": "chinchilla_multiplier", "token_multiplier_M": "tokens_per_param",
            },
            columns={
                "run_id": "run name <data>-<shape>-<chinchilla multiplier>", "dataset": "training data: c4_original, rpj or rw_original",
                "model": "model shape", "params": "parameters incl. embeddings (count)", "params_no_embed": "parameters without embeddings (count)",
                "tokens": "training tokens (count)", "flops": "6 * params * tokens (FLOPs)",
                "chinchilla_multiplier": "tokens_per_param / 20", "tokens_per_param": "M = tokens / params",
                "loss_<split>": "validation loss on a split, e.g. loss_c4_val (nats/token)",
                "err_<task>": "downstream error, 1 - accuracy; err_avg46 and err_avg17_subset are means over tasks",
            },
            run_id="run_id",
        ),
        Dataset(
            "misfitting_li2025", "misfitting_li2025/scaling_results_last_ckpt_only.csv",
            "261 OpenLM runs at their final checkpoint",
            _MISFITTING_SOURCE, rename=_MISFITTING_RENAME, drop=("C4 Eval Loss",), columns=_MISFITTING_COLUMNS,
        ),
        Dataset(
            "misfitting_li2025_checkpoints", "misfitting_li2025/scaling_results.csv",
            "4852 intermediate checkpoints of the same OpenLM runs",
            _MISFITTING_SOURCE, rename=_MISFITTING_RENAME, drop=("C4 Eval Loss",), columns=_MISFITTING_COLUMNS,
        ),
        Dataset(
            "goyal_datafiltering", "goyal_datafiltering/parameter_values.jsonl",
            "fitted parameters only (no run data is public): T-MARS buckets, ImageNet-1k zero-shot error",
            "Goyal et al. 2024, Scaling Laws for Data Filtering, CVPR 2024, arXiv:2404.07177; github.com/locuslab/scaling_laws_data_filtering",
            columns={
                "fit": "tmars_imagenet1k_utility or tmars_imagenet1k_data", "bucket": "T-MARS score bucket",
                "a": "sample-rate scale", "b": "utility exponent of the bucket (negative)", "tau": "half-life of the utility (epochs)",
                "d": "irreducible error (utility form only)", "best_loss": "sum of squared errors of the grid search",
            },
            runs=False,
        ),
    )
}


def data_root() -> Path:
    """The folder holding the shipped dataset folders (inside the installed package)."""
    return Path(str(resources.files(__name__)))


def get_dataset(name: str) -> Dataset:
    """The `Dataset` of this name; an unknown name raises CurascaleError listing the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise CurascaleError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None


def provenance(name: str) -> str:
    """The PROVENANCE.txt of a dataset: source repository, commit, paper, derivation, published fit."""
    dataset = get_dataset(name)
    return (data_root() / dataset.file).parent.joinpath("PROVENANCE.txt").read_text(encoding="utf-8")


def _goyal_rows(path: Path) -> pd.DataFrame:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        for index, bucket in enumerate(record["names"]):
            rows.append({
                "fit": record["id"], "bucket": bucket, "a": record["a_values"][index], "b": record["b_values"][index],
                "tau": record["c_values"][index], "d": record.get("d_value", float("nan")), "best_loss": record["best_loss"],
            })
    return pd.DataFrame(rows)


def load_dataset(name: str) -> pd.DataFrame:
    """The shipped dataset `name` as a frame with unit-named columns (see `DATASETS[name].columns`).

    Names: chinchilla (245 runs), datablations (182), datablations_all (296), gadre_overtraining (104),
    misfitting_li2025 (261), misfitting_li2025_checkpoints (4852), goyal_datafiltering (10 fitted
    bucket parameter rows). Size columns (`SIZE_COLUMNS`) are float64. Raises CurascaleError for an unknown name. A new frame on every call.
    """
    dataset = get_dataset(name)
    path = data_root() / dataset.file
    if not dataset.runs:  # the only parameter file: one JSON line per fit, one row per bucket
        return _goyal_rows(path)
    frame = pd.read_csv(path).drop(columns=list(dataset.drop)).rename(columns=dict(dataset.rename))
    sizes = [c for c in frame.columns if c in SIZE_COLUMNS]
    return frame.astype({c: "float64" for c in sizes})  # counts beyond int64 (FLOPs) arrive as objects
