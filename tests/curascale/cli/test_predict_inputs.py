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
