"""The CLI end to end: ingest, fit --json, predict --json, plan-curation --json, clean errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from paths import DATASETS


def run(*args, check=True):
    program = "from curascale.cli.app import main, plan_main; import sys; name = sys.argv.pop(1); (plan_main if name == 'plan-curation' else main)()"
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


def test_plan_from_the_registry_matches_the_same_fits_given_as_files(tmp_path):
    from runs_db import connect
    from scaling.reference import load_fit

    db = tmp_path / "r.duckdb"
    registry = connect(db)
    data_fit = load_fit("reference/tmars-imagenet-utility")
    sizes = dict(data_fit.metadata["bucket_size_samples"])
    registry.register_pool("datacomp_medium", source="test", size_samples=128_000_000, fingerprint="x")
    registry.register_buckets("datacomp_medium", [{"name": name, "score_column": "tmars_score", "quantile_lo": 0, "quantile_hi": 10, "size_samples": 2 * size} for name, size in sizes.items()])
    for name in ("reference/tmars-imagenet-utility", "reference/chinchilla-epoch", "reference/precision"):
        registry.save_fit_artifact(name, load_fit(name).to_dict())
    from_db = json.loads(run("plan-curation", "--compute", "128M", "--db", str(db), "--json").stdout)
    assert from_db["fit"] == "reference/tmars-imagenet-utility"  # the saved artifact names its source
    # the registry's bucket sizes (twice the fit's) never replace the fit's silently: 128M = 10 passes of
    # the fit's 12.8M top10, and a note names both sizes
    assert next(c for c in from_db["candidates"] if c["name"] == "top10")["epochs"] == pytest.approx(10.0)
    [differ] = [n for n in from_db["notes"] if n["code"] == "bucket-sizes-differ"]
    assert differ["details"]["fit"]["tmars_top0to10p"] == 12.8e6 and differ["details"]["registry"]["tmars_top0to10p"] == 25.6e6
    [recorded] = [n for n in from_db["notes"] if n["code"] == "bucket-sizes"]
    assert recorded["details"]["sources"]["tmars_top0to10p"] == "fit" and recorded["details"]["sizes"]["tmars_top0to10p"] == 12.8e6
    model_db = json.loads(run("plan-curation", "--compute", "1e21", "--unit", "flops", "--db", str(db), "--json").stdout)
    model_files = json.loads(run("plan-curation", "--compute", "1e21", "--unit", "flops", "--json").stdout)
    assert {k: v for k, v in model_db.items() if k != "fit"} == {k: v for k, v in model_files.items() if k != "fit"}
    empty = tmp_path / "empty.duckdb"
    connect(empty).register_pool("p", source="test", size_samples=1, fingerprint="x")  # a registry without fits
    result = run("plan-curation", "--compute", "128M", "--db", str(empty), check=False)
    assert result.returncode == 2 and "no saved fit of data_filtering_utility or data_filtering_effective_data" in result.stderr


def test_plan_curation_mixtures():
    plan = json.loads(run("plan-curation", "--compute", "128M", "--candidates", "mixtures", "--json").stdout)
    assert plan["best"] == "mixture"
    mixture = next(c for c in plan["candidates"] if c["name"] == "mixture")
    assert len(mixture["shares"]) == len(mixture["buckets"]) == 2 and mixture["shares"][0] > mixture["shares"][1]
    sweep = json.loads(run("plan-curation", "--compute", "128M", "--sweep", "12.8M:1.28B", "--sweep-points", "6", "--candidates", "mixtures", "--json").stdout)
    assert len(sweep["sweep"]) == 6 and all(row["mixture"]["predicted_accuracy"] >= row["predicted_accuracy"] for row in sweep["sweep"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("curascale", "fit", "nope", "--csv", "x.csv"), "unknown law 'nope'"),
        (("curascale", "runs", "ingest", "/nonexistent.csv"), "no such file"),
        (("plan-curation", "--compute", "12x"), "not a number"),
        (("plan-curation", "--compute", "128M", "--fits", "reference/none"), "no fit named"),
        (("plan-curation", "--compute", "1e22", "--unit", "flops", "--precisions", "int3,int8"), "bits_activations = 3 is outside the precision law's domain"),
        (("plan-curation", "--compute", "1e22", "--unit", "flops", "--precisions", "int4,fp9"), "'fp9' is neither a number of bits nor a format"),
        (("plan-curation", "--compute", "1e22", "--unit", "flops", "--unique-tokens", "-5B"), "--unique-tokens: must be positive"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_language_model_plan_json_and_plot(tmp_path):
    """One LM plan from the CLI: formats, unique tokens, PTQ, the figure; warnings as note dicts."""
    figure = tmp_path / "plan.png"
    result = run("plan-curation", "--compute", "1e22", "--unit", "flops", "--precisions", "int4,fp8,bf16", "--unique-tokens", "100B",
                 "--quantize-to", "4", "--plot", str(figure), "--json")
    plan = json.loads(result.stdout)
    assert plan["precision"] == "fp8" and plan["unique_tokens"] == 100e9
    assert plan["epochs"] == pytest.approx(plan["tokens"] / 100e9) and plan["epochs"] > 1
    assert plan["fit"] == "reference/precision"  # the deciding law stays; repetition is the §2 transform on it
    assert 6 / 16 * plan["params"] * plan["tokens"] * 8 == pytest.approx(1e22)
    assert plan["quantization"]["loss_quantized"] >= plan["loss"] and plan["quantization"]["trained_at"] == "fp8"
    assert {a["precision"] for a in plan["alternatives"]} >= {"int4", "fp8", "bf16"}
    assert all({"code", "severity", "message", "details"} == set(w) for w in plan["notes"])
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = run("plan-curation", "--compute", "1e22", "--unit", "flops", "--quantize-to", "4").stdout
    assert "train at 7.00 bits" in text and "upper bound" in text and "decided by" in text



def test_language_model_flags_are_checked_in_one_line():
    """Flags the kind of plan would ignore, and bad --quantize-to values: one line, exit 2."""
    for args in (("--unit", "samples", "--compute", "128M", "--params", "1e9"), ("--unit", "samples", "--compute", "128M", "--quantize-to", "4"),
                 ("--unit", "flops", "--compute", "1e22", "--sweep", "1e20:1e22"), ("--unit", "flops", "--compute", "1e22", "--quantize-to", "banana")):
        result = run("plan-curation", *args, check=False)
        assert result.returncode == 2 and result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, args
    assert "--quantize-to: 'banana'" in result.stderr
    by_name = json.loads(run("plan-curation", "--compute", "1e22", "--unit", "flops", "--quantize-to", "int4", "--json").stdout)
    by_bits = json.loads(run("plan-curation", "--compute", "1e22", "--unit", "flops", "--quantize-to", "4", "--json").stdout)
    assert by_name["quantization"] == by_bits["quantization"] and by_bits["quantization"]["bits_post_training"] == 4.0


def test_language_model_plan_text():
    """The default plan decides N, D on the precision law (16.9B, 225.4B at 1e22); D_crit without a
    PTQ cost is 'never' (JSON null); tokens a parameter to 2 significant digits."""
    text = run("plan-curation", "--compute", "1e22", "--unit", "flops", "--quantize-to", "8").stdout
    assert "N = 16.9B parameters, D = 225.4B tokens (13 a parameter)" in " ".join(text.split())
    assert "D_crit = never" in text and "infT" not in text
    plan = json.loads(run("plan-curation", "--compute", "1e22", "--unit", "flops", "--quantize-to", "8", "--json").stdout)
    assert plan["quantization"]["critical_tokens"] is None


@pytest.mark.parametrize("option, name, message", [
    ("--plot", "curves.jpg", "must end in .png or .pdf"),
    ("--out", "a_folder", "a_folder: is a directory; give a file name"),
    ("--plot", "twin.png", "twin.pdf: is a directory; give a file name"),  # the PDF written beside it
])
def test_fit_refuses_unwritable_outputs_before_reading_or_fitting(tmp_path, option, name, message):
    """A bad --out or --plot is refused first (trial finding: after a 25 s fit): the CSV named does
    not even exist, and the error is the output's, in one line, exit 2."""
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "twin.pdf").mkdir()
    result = curascale("fit", "chinchilla", "--csv", str(tmp_path / "missing.csv"), option, str(tmp_path / name), check=False)
    assert result.returncode == 2 and message in result.stderr and "missing.csv" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fit_to_a_redirected_stderr_writes_no_progress(tmp_path):
    """The progress bar is drawn only on a terminal: redirected, a successful fit's stderr is empty
    (trial: rich ended its bar there with a stray blank line, all an interrupted run printed)."""
    params, tokens = np.meshgrid([1e7, 3e7, 1e8, 3e8], [2e8, 1e9, 5e9])
    loss = 1.69 + 406.4 * params.ravel() ** -0.34 + 410.7 * tokens.ravel() ** -0.28
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"run_id": [f"r{i}" for i in range(12)], "params": params.ravel(), "tokens": tokens.ravel(), "loss": loss}).to_csv(csv, index=False)
    result = curascale("fit", "chinchilla", "--csv", str(csv), "--start", "A=400,B=400,E=1.7,alpha=0.3,beta=0.3")
    assert result.stderr == "" and "chinchilla on 12 points" in " ".join(result.stdout.split())


def test_plan_refuses_a_bad_figure_before_reading_its_fits(tmp_path):
    """plan-curation checks --plot as fit does: the fit file named does not exist, the error is the figure's."""
    result = run("plan-curation", "--compute", "128M", "--fits", str(tmp_path / "missing.json"), "--plot", str(tmp_path / "plan.jpg"), check=False)
    assert result.returncode == 2 and "must end in .png or .pdf" in result.stderr and "missing.json" not in result.stderr
