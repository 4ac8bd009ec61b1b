"""`curascale predict`: an unknown --at name is an error with the nearest known name, and a missing
prediction cell is named with its file (one line, exit 2)."""

import subprocess
import sys

import pytest

from curascale.cli.options import check_names
from curascale.errors import UserError
from scaling.reference import load_fit


def curascale(*args, cwd=None):
    return subprocess.run([sys.executable, "-c", "from curascale.cli.app import main; main()", *args], capture_output=True, text=True, cwd=cwd)


def test_check_names_suggests_the_nearest_known_name():
    check_names(["params", "tokens"], ["params", "tokens"], "--at")
    with pytest.raises(UserError, match=r"--at: unknown input 'tokns' \(known: params, tokens\); did you mean 'tokens'\?"):
        check_names(["params", "tokns"], ["params", "tokens"], "--at")
    with pytest.raises(UserError) as error:
        check_names(["zzz"], ["params", "tokens"], "--at")
    assert "did you mean" not in str(error.value)


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory):
    return str(load_fit("reference/chinchilla-epoch").save(tmp_path_factory.mktemp("predict") / "chin.json"))


def test_a_misspelt_at_name_is_an_error(fit_file):
    result = curascale("predict", fit_file, "--at", "params=1e9,tokns=1e9,tokens=2e9")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "error: --at: unknown input 'tokns' (known: params, tokens); did you mean 'tokens'?"


def test_an_empty_prediction_cell_names_the_file(fit_file, tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("params,tokens\n1e8,2e9\n3e8,\n")
    result = curascale("predict", fit_file, "--csv", str(points))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {points}: column 'tokens' is missing or not finite in row 2"


def test_a_predicted_error_above_one_is_noted_and_a_shipped_name_is_a_fit():
    # the shipped T-MARS fit (Goyal et al.'s utility law, a = 0.025, b = -0.1569...) at 6.4M samples of its best bucket:
    # (0.025 * 64)^b + 0.1 > 1, outside what an error can be; at 128M samples (ten passes) the error is a real one
    import json

    fit = load_fit("reference/tmars-imagenet-utility")
    b = fit.params["utility[tmars_top0to10p]"]
    assert (0.025 * 6.4e6 / 1e5) ** b + 0.1 > 1
    result = curascale("predict", "reference/tmars-imagenet-utility", "--json", "--at", "samples_seen=6.4M,unique_samples=12.8M,bucket=tmars_top0to10p",
                       "--at", "samples_seen=128M,unique_samples=12.8M,bucket=tmars_top0to10p")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["predictions"][0]["value"] == pytest.approx((fit.params["sample_scale"] * 6.4e6 / 1e5) ** b + 0.1, rel=1e-9)
    assert 0 < record["predictions"][1]["value"] < 1
    impossible = [n for n in record["notes"] if n["code"] == "out-of-physical-range"]
    assert len(impossible) == 1 and impossible[0]["severity"] == "error"
    assert impossible[0]["details"] == {"points": ["point 1"], "errors": [record["predictions"][0]["value"]]}
