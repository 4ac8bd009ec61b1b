"""`curascale plan` / `plan-curation` and `curascale fit`/`predict` as a user runs them: notes under
tables and in JSON, refusal and --force, flags that do not apply, --version, law names as typed, and
a user's own three-bucket fit (registry, accuracy as the metric) through to the manifest."""

import dataclasses
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import curascale
from curascale.notes import Note
from paths import CASES
from scaling.reference import load_fit

CASE_07 = CASES / "07-tokens-in-billions-plan-nonsense"


def run(*args, check=True):
    program = "from curascale.cli.app import main, plan_main; import sys; name = sys.argv.pop(1); (plan_main if name == 'plan-curation' else main)()"
    result = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    if check and result.returncode != 0:
        raise AssertionError(result.stderr)
    return result


def test_version_on_both_commands():
    assert run("curascale", "--version").stdout.strip() == f"curascale {curascale.__version__}"
    assert run("plan-curation", "--version").stdout.strip() == f"curascale {curascale.__version__}"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--unit", "flops", "--sweep", "1e20:1e22"), "--sweep: only for data plans"),
        (("--unit", "flops", "--candidates", "mixtures"), "--candidates mixtures: only for data plans"),
        (("--unit", "flops", "--bucket-sizes", "a=1M"), "--bucket-sizes: only for data plans"),
        (("--params", "1e9"), "--params: only for language-model plans"),
        (("--sweep-points", "5"), "--sweep-points goes with --sweep"),
        (("--pool", "x"), "--export-manifest and --pool go together"),
    ],
)
def test_a_flag_that_does_not_apply_is_an_error(args, message):
    result = run("plan-curation", "--compute", "1e21", *args, check=False)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_law_names_as_typed_and_near_misses():
    result = run("curascale", "fit", "chinchila", "--csv", "x.csv", check=False)
    assert result.returncode == 2 and "did you mean chinchilla?" in result.stderr
    result = run("curascale", "fit", "data-constrained", "--csv", "missing.csv", check=False)
    assert "unknown law" not in result.stderr  # the name is known; the file is what is missing


def test_reference_plan_says_it_has_no_interval():
    shown = run("plan-curation", "--compute", "128M").stdout
    assert "no interval: published point estimates" in shown and "interval ┃" not in shown
    plan = json.loads(run("plan-curation", "--compute", "128M", "--json").stdout)
    assert [n["code"] for n in plan["notes"]] == ["no-interval", "bucket-sizes"] and plan["candidates"][0]["interval"] is None


def test_case_07_plan_and_predict_warn_with_the_factor():
    plan = json.loads(run("plan-curation", "--compute", "5.76e23", "--unit", "flops", "--fits", str(CASE_07 / "fit_Dbillions.json"), "--json").stdout)
    ranges = json.loads((CASE_07 / "fit_Dbillions.json").read_text())["input_ranges"]
    factors = {n["details"]["input"]: n["details"]["factor"] for n in plan["notes"] if n["code"] == "extrapolation"}
    assert factors["params"] == pytest.approx(plan["params"] / ranges["params"][1]) and factors["params"] > 1e5
    assert factors["tokens"] == pytest.approx(plan["tokens"] / ranges["tokens"][1]) and factors["tokens"] > 1e4
    shown = run("plan-curation", "--compute", "5.76e23", "--unit", "flops", "--fits", str(CASE_07 / "fit_Dbillions.json")).stdout
    assert "WARNING: extrapolation" in shown.splitlines()[0]
    predicted = json.loads(run("curascale", "predict", str(CASE_07 / "fit_Dbillions.json"), "--at", "params=70e9,tokens=1.4e12", "--json").stdout)
    [tokens] = [n for n in predicted["notes"] if n["details"]["input"] == "tokens"]
    assert tokens["details"]["factor"] == pytest.approx(1.4e12 / ranges["tokens"][1])


def test_a_plan_on_an_unidentified_exponent_refuses_unless_forced(tmp_path):
    fit = load_fit("reference/chinchilla-epoch")
    note = Note("not-identifiable", "beta is not pinned down", "error", {"parameters": ["beta"]})
    path = dataclasses.replace(fit, notes=[note], source="pilot").save(tmp_path / "fit.json")
    refused = run("plan-curation", "--compute", "1e21", "--unit", "flops", "--fits", str(path), check=False)
    assert refused.returncode == 2 and "does not identify beta" in refused.stderr
    forced = run("plan-curation", "--compute", "1e21", "--unit", "flops", "--fits", str(path), "--force")
    assert "WARNING: forced, not-identifiable" in forced.stdout and "beta is not pinned down" in forced.stdout


def test_a_data_plan_with_an_error_note_refuses_like_its_export_unless_forced():
    """3,000 samples seen on the reference fit: predicted errors above 1 (the law does not hold so
    far below its runs), so the plan itself refuses, not only --export-manifest."""
    refused = run("plan-curation", "--compute", "3000", check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()] and "out-of-physical-range" in refused.stderr
    forced = json.loads(run("plan-curation", "--compute", "3000", "--json", "--force").stdout)
    assert [n["code"] for n in forced["notes"]][0] == "forced" and all(c["predicted_error"] > 1 for c in forced["candidates"])


def test_a_sweep_says_where_its_best_union_is_an_edge_and_refuses_below_the_laws_range():
    from scaling.plan import frontier_rows

    sweep = json.loads(run("plan-curation", "--compute", "1", "--sweep", "25.6M:1.28B", "--sweep-points", "9", "--json").stdout)
    at_edge = [r["budget_samples"] for r in frontier_rows(load_fit("reference/tmars-imagenet-utility"), 25.6e6, 1.28e9, 9) if r["best"] == "top10"]
    [edge] = [n for n in sweep["notes"] if n["code"] == "edge-optimum"]
    assert edge["details"]["value"] == "top10" and edge["details"]["budgets"] == [min(at_edge), max(at_edge)]
    refused = run("plan-curation", "--compute", "1", "--sweep", "3M:30M", "--sweep-points", "3", check=False)
    assert refused.returncode == 2 and "the sweep carries error notes [out-of-physical-range (3e+06 samples seen" in refused.stderr


@pytest.mark.parametrize("bucketize_first", [True, False])
def test_a_users_three_bucket_accuracy_fit_from_the_registry_to_the_manifest(tmp_path, bucketize_first):
    """Pilots -> registry -> fit -> --export-manifest; with the buckets registered before or after
    the fit (after: the fit has no percentile ranges, and the plan reads them from the registry)."""
    from curation.demo import write_demo_pool
    from scaling.laws import get_law
    from scaling.problem import unflatten

    db, pool = str(tmp_path / "r.duckdb"), tmp_path / "pool"
    write_demo_pool(pool, 30_000, shards=2, seed=3)

    def bucketize():
        run("curascale", "curate", "bucketize", str(pool), "--out", str(tmp_path / "buckets"), "--edges", "0,10,20,30", "--db", db)

    if bucketize_first:
        bucketize()
    # pilot runs: three 3,000-sample buckets at 0.5 to 16 epochs, accuracy from known utilities
    law = get_law("data_filtering_utility")
    buckets = ["top0to10p", "top10to20p", "top20to30p"]
    truth = {"sample_scale": 1000.0, "irreducible_error": 0.1}
    for bucket, utility, half_life in zip(buckets, (-0.12, -0.09, -0.07), (4.0, 6.0, 8.0)):
        truth[f"utility[{bucket}]"], truth[f"utility_half_life[{bucket}]"] = utility, half_life
    runs = pd.DataFrame([{"run_id": f"{b}-{s:g}", "bucket": b, "samples_seen": s, "unique_samples": 3000.0} for b in buckets for s in (1500.0, 3000.0, 6000.0, 12000.0, 24000.0, 48000.0)])
    with jax.enable_x64(True):  # the known answers in float64, as the fit computes
        inputs = law.jax_inputs({"samples_seen": runs["samples_seen"].to_numpy(), "unique_samples": runs["unique_samples"].to_numpy()})
        inputs["group"] = np.searchsorted(sorted(buckets), runs["bucket"])
        runs["accuracy"] = 1.0 - np.asarray(law.predict(unflatten(law, truth, sorted(buckets)), inputs), dtype=float)
    runs.to_csv(tmp_path / "runs.csv", index=False)
    run("curascale", "runs", "ingest", str(tmp_path / "runs.csv"), "--db", db)

    fitted = json.loads(run("curascale", "fit", "data-filtering-utility", "--db", db, "--json").stdout)
    assert fitted["params"]["utility[top0to10p]"] == pytest.approx(-0.12, rel=1e-3)  # error = 1 - accuracy
    assert fitted["notes"] == []  # equal bucket sizes (one level of unique_samples) leave nothing undetermined
    if not bucketize_first:
        bucketize()
    budget = 24_000
    plan = json.loads(run("plan-curation", "--compute", str(budget), "--db", db, "--export-manifest", str(tmp_path / "out"), "--pool", str(pool), "--json").stdout)
    chosen = next(c for c in plan["candidates"] if c["name"] == plan["best"])
    assert plan["bucket_size_samples"] == {b: 3000.0 for b in buckets}  # int(30000 * 10 / 100) each
    manifest = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pandas()
    seen = float((manifest.groupby("bucket")["repetition_weight"].first() * manifest.groupby("bucket").size()).sum())
    assert set(manifest["bucket"]) == set(chosen["buckets"])
    assert abs(seen - budget) <= 3000  # within one epoch's rounding of the smallest bucket


def test_bucket_sizes_override_the_fits():
    from scaling.plan import plan_data

    sizes = {b: 25.6e6 for b in ("tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p", "tmars_top0to40p_random25p")}
    shown = json.loads(run("plan-curation", "--compute", "256M", "--bucket-sizes", ",".join(f"{b}=25.6M" for b in sizes), "--json").stdout)
    expected = plan_data(load_fit("reference/tmars-imagenet-utility"), 256e6, bucket_sizes=sizes)
    assert shown["bucket_size_samples"] == {b: 25.6e6 for b in expected.bucket_size_samples}
    assert shown["best"] == expected.best and shown["candidates"][0]["epochs"] == pytest.approx(256e6 / 25.6e6 / len(expected.candidates[0].buckets))


def test_a_plan_from_a_fit_file_names_the_file_and_each_candidates_buckets(tmp_path):
    fit = dataclasses.replace(load_fit("reference/tmars-imagenet-utility"), source="/somewhere/registry.duckdb")
    path = tmp_path / "mine.json"
    fit.save(path)
    shown = run("plan-curation", "--compute", "128M", "--fits", str(path)).stdout
    assert json.loads(run("plan-curation", "--compute", "128M", "--fits", str(path), "--json").stdout)["fit"] == f"{path}: fit of /somewhere/registry.duckdb"
    row = next(line for line in shown.splitlines() if line.startswith("│ top20"))
    assert "tmars_top0to10p: 0.50, 5.00x, 64M" in row
    assert "tmars_top10to20p: 0.50, 5.00x, 64M" in shown
