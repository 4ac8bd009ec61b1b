"""Ingest every public dataset shipped in curascale/datasets and check counts against its PROVENANCE."""

import pytest

from runs_db import connect

CASES = [
    # (file, mapping, runs stored, evals stored, rows repeated verbatim in the file)
    ("chinchilla/chinchilla_NDL.csv", {"params": "N_params", "tokens": "D_tokens", "flops": "C_flops"}, 245, 245, 0),
    ("datablations/runs_fitset_182.csv", {"params": "params_N", "tokens": "tokens_D", "unique_tokens": "unique_tokens_U", "loss": "val_loss"}, 182, 182, 0),
    ("datablations/runs_all_296.csv", {"params": "params_N", "tokens": "tokens_D", "unique_tokens": "unique_tokens_U", "loss": "val_loss"}, 296, 296, 0),
    # 104 runs, each with 8 losses and err_avg46 + err_avg17_subset + 46 task errors = 56 evals
    ("gadre_overtraining/runs_summary.csv", {"run_id": "name", "params": "N_params", "tokens": "D_tokens", "flops": "flops_6ND"}, 104, 104 * 56, 0),
    # 4852 checkpoints; two rows are verbatim duplicates of others (stored once, counted)
    ("misfitting_li2025/scaling_results.csv", {"params": "N", "tokens": "D", "flops": "C"}, 4850, 4850, 2),
    ("misfitting_li2025/scaling_results_last_ckpt_only.csv", {"params": "N", "tokens": "D", "flops": "C"}, 260, 260, 1),
]


@pytest.mark.parametrize("relative, mapping, runs, evals, repeated", CASES, ids=[c[0] for c in CASES])
def test_public_dataset_ingests_with_published_counts(tmp_path, datasets, relative, mapping, runs, evals, repeated):
    registry = connect(tmp_path / "r.duckdb")
    report = registry.ingest(datasets / relative, mapping=mapping, constants={"family": relative.split("/")[0]})
    assert (report.inserted, report.evals, report.repeated_rows) == (runs, evals, repeated)
    assert len(registry.runs()) == runs
    assert registry.ingest(datasets / relative, mapping=mapping, constants={"family": relative.split("/")[0]}).unchanged == runs


def test_chinchilla_subset_used_by_epoch(tmp_path, datasets):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(datasets / "chinchilla/chinchilla_NDL.csv", mapping=CASES[0][1])
    frame = registry.frame(["params", "tokens"], target="loss", where="config->>'in_besiroglu_fit' = '1'")
    assert len(frame) == 240


def test_gadre_task_errors_are_queryable(tmp_path, datasets):
    registry = connect(tmp_path / "r.duckdb")
    registry.ingest(datasets / "gadre_overtraining/runs_summary.csv", mapping=CASES[3][1])
    frame = registry.frame(["params", "tokens"], target="error", task="avg46")
    assert len(frame) == 104 and frame["error"].between(0, 1).all()
    losses = registry.frame(["params", "tokens"], target="loss", split="c4_val")
    assert len(losses) == 104
