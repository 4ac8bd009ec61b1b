"""Defects a new user found in the command line: repeated option keys, malformed fit artifacts,
shipped fit names shadowed by files, control characters in tables, --out - mixing the table into
the JSON, --delta nan, negative --limit, an empty `runs list`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from curascale.cli import render
from curascale.cli.options import comma_pairs, parse_pairs
from curascale.errors import CurascaleError
from scaling.fit import Fit
from scaling.reference import load_fit, shipped_fits_dir


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def refused(result, message):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr, result.stderr


def test_a_key_given_twice_is_an_error():
    with pytest.raises(CurascaleError, match="^--map params given twice$"):
        parse_pairs(["params=N_params", "params=tokens"], "--map")
    with pytest.raises(CurascaleError, match="^--fix A given twice$"):
        comma_pairs(["A=1,B=2", "A=3"], "--fix")
    assert parse_pairs(["params=N", "flops=N"], "--map") == {"params": "N", "flops": "N"}


def shipped():
    return json.loads((shipped_fits_dir() / "reference" / "chinchilla-epoch.json").read_text())


def with_(record, **changes):
    return {**record, **changes}


@pytest.mark.parametrize("change, field", [
    (lambda r: with_(r, params={**r["params"], "A": "453"}), "params.A must be a finite number, got '453'"),
    (lambda r: with_(r, params={**r["params"], "A": None}), "params.A must be a finite number, got None"),
    (lambda r: with_(r, params={**r["params"], "A": True}), "params.A must be a finite number, got True"),
    (lambda r: with_(r, params=[1, 2]), "params must be an object of parameter values, got [1, 2]"),
    (lambda r: with_(r, params={k: v for k, v in r["params"].items() if k != "beta"}), "params lacks parameter 'beta'"),
    (lambda r: with_(r, params={**r["params"], "Z": 1.0}), "params has unknown parameter 'Z'"),
    (lambda r: with_(r, draws=[dict(r["params"]), "x"]), "draws[1] must be an object of parameter values, got 'x'"),
    (lambda r: with_(r, intervals={"A": [1]}), "intervals.A must be [low, high]"),
    (lambda r: with_(r, input_ranges={"params": ["a", 2]}), "input_ranges.params must be [low, high]"),
    (lambda r: with_(r, points={"params": [1e9], "tokens": [2e10]}), "points lacks column 'loss'"),
    (lambda r: with_(r, points={"params": [1e9], "tokens": [2e10], "loss": [2.5], "flops": [1e20]}), "points has unknown column 'flops'"),
    (lambda r: with_(r, points={"params": [1e9, 2e9], "tokens": [2e10], "loss": [2.5, 2.4]}), "points.tokens must be a list of 2 values"),
    (lambda r: with_(r, points={"params": [1e9], "tokens": ["2e10"], "loss": [2.5]}), "points.tokens[0] must be a finite number, got '2e10'"),
    (lambda r: with_(r, points=[1, 2]), "points must be an object of columns"),
    (lambda r: [r], "not a curascale fit (a JSON list"),
])
def test_malformed_artifacts_are_one_line_naming_the_field(change, field):
    with pytest.raises(CurascaleError) as error:
        Fit.from_dict(change(shipped()), source="f.json")
    assert str(error.value).startswith("f.json: ") and field in str(error.value) and "\n" not in str(error.value)


def test_predict_on_a_malformed_fit_exits_2(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps(with_(shipped(), params={**shipped()["params"], "A": "453"})))
    refused(cli("predict", "bad.json", "--at", "params=1e9,tokens=2e10", cwd=tmp_path), "params.A must be a finite number")


def test_a_shipped_name_is_not_shadowed_by_a_working_directory_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = with_(shipped(), params={**shipped()["params"], "E": 9.0})
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "chinchilla-epoch").write_text(json.dumps(mine))
    assert load_fit("reference/chinchilla-epoch").params["E"] == shipped()["params"]["E"] == 1.8172
    assert load_fit("./reference/chinchilla-epoch").params["E"] == 9.0


def test_control_characters_never_reach_the_terminal(capsys):
    render.table("t", ["run_id"], [["a\x1b[31mX\x07"]], left=("run_id",))
    render.echo("line\x1b]0;title\x07\tok")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "a\\x1b[31mX\\x07" in out and "line\\x1b]0;title\\x07\tok" in out


def chinchilla_csv(path):
    p, t = np.meshgrid(np.logspace(7, 10, 4), np.logspace(8.5, 11.5, 4))
    p, t = p.ravel(), t.ravel()
    pd.DataFrame({"params": p, "tokens": t, "loss": 1.817 + 482 / p**0.3478 + 2085 / t**0.3658}).to_csv(path, index=False)


def test_out_dash_writes_only_the_artifact_to_stdout(tmp_path):
    chinchilla_csv(tmp_path / "runs.csv")
    result = cli("fit", "chinchilla", "--csv", "runs.csv", "--out", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    artifact = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert artifact["law"] == "chinchilla" and artifact["params"]["E"] == pytest.approx(1.817, rel=1e-3)
    assert "objective" in result.stderr


@pytest.mark.parametrize("delta", ["nan", "0", "-1", "inf"])
def test_delta_must_be_positive_and_finite(tmp_path, delta):
    chinchilla_csv(tmp_path / "runs.csv")
    refused(cli("fit", "chinchilla", "--csv", "runs.csv", "--delta", delta, "--out", "fit.json", cwd=tmp_path), f"--delta must be a positive finite number, got {float(delta)}")
    assert not (tmp_path / "fit.json").exists()


def test_runs_list_limit_and_empty_match(tmp_path):
    (tmp_path / "r.csv").write_text("run_id,params,tokens,loss\na,1e8,2e9,3.0\nb,2e8,4e9,2.9\n")
    assert cli("runs", "ingest", "r.csv", "--db", "db.duckdb", cwd=tmp_path).returncode == 0
    refused(cli("runs", "list", "--limit", "-1", "--db", "db.duckdb", cwd=tmp_path), "--limit must be >= 0 (0: all), got -1")
    result = cli("runs", "list", "--where", "family = 'none'", "--db", "db.duckdb", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "0 runs"


def test_map_target_given_twice_through_the_cli(tmp_path):
    (tmp_path / "m2.csv").write_text("N_params,tokens,loss\n1,2,3\n")
    refused(cli("runs", "ingest", "m2.csv", "--map", "params=N_params", "--map", "params=tokens", "--db", "db.duckdb", cwd=tmp_path), "--map params given twice")
    assert not (tmp_path / "db.duckdb").exists()
