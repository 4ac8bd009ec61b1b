"""The CLI end to end: ingest, fit --json, predict --json, plan-curation --json, clean errors."""

import json
import subprocess
import sys

import pytest

from paths import DATASETS


def run(*args, check=True):
    program = "from scaling.cli import app, plan; import sys; name = sys.argv.pop(1); (plan if name == 'plan-curation' else app)()"
    result = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(result.stderr)
    return result


def curascale(*args, **kwargs):
    return run("curascale", *args, **kwargs)


def test_ingest_fit_predict(tmp_path):
    db = str(tmp_path / "r.duckdb")
    data = DATASETS / "datablations/runs_fitset_182.csv"
    curascale("runs", "ingest", str(data), "--map", "params=params_N", "--map", "tokens=tokens_D", "--map", "unique_tokens=unique_tokens_U", "--map", "loss=val_loss", "--db", db)
    out = tmp_path / "fit.json"
    result = curascale("fit", "data_constrained", "--db", db, "--start", "data_repetition_decay=15,param_repetition_decay=5", "--json", "--out", str(out))
    summary = json.loads(result.stdout)
    assert summary["law"] == "data_constrained" and summary["n_points"] == 182
    assert abs(summary["objective"] - 0.0158259) < 5e-8
    assert set(summary) >= {"params", "intervals", "starts", "starts_at_best", "holdout"}
    predicted = json.loads(curascale("predict", str(out), "--at", "params=2.8e9,tokens=55e9,unique_tokens=11e9", "--json").stdout)
    assert 2.2 < predicted["predictions"][0]["value"] < 2.8 and predicted["predictions"][0]["interval"] is None


def test_plan_curation_json():
    result = run("plan-curation", "--compute", "128M", "--json")
    plan = json.loads(result.stdout)
    assert plan["best"] == "top20" and plan["budget_samples"] == 128e6
    assert {c["name"] for c in plan["candidates"]} == {"top10", "top20", "top30", "top40"}


@pytest.mark.parametrize(
    "args, message",
    [
        (("curascale", "fit", "nope", "--csv", "x.csv"), "unknown law 'nope'"),
        (("curascale", "runs", "ingest", "/nonexistent.csv"), "no such file"),
        (("plan-curation", "--compute", "12x"), "not a number"),
        (("plan-curation", "--compute", "128M", "--fits", "reference/none"), "no fit named"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
