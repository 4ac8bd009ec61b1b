"""`curascale fit`, `predict` and `runs` flag by flag, through the CLI, on runs written from a
known Chinchilla law with numpy (so the fitted values are known answers)."""

import json

import numpy as np
import pandas as pd
import pytest

from cli import curascale

TRUTH = {"A": 482.01, "B": 2085.43, "E": 1.8, "alpha": 0.35, "beta": 0.35}  # beta = alpha, for --tie


def loss(theta, n, d):
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    n, d = np.meshgrid([1e7, 4e7, 1.6e8, 6.4e8], [2e8, 1e9, 5e9, 2.5e10])
    frame = pd.DataFrame({"N": n.ravel(), "D": d.ravel()})
    frame["val_loss"] = loss(TRUTH, frame["N"], frame["D"])
    frame["run"] = [f"r{i:02d}" for i in range(len(frame))]
    frame.to_csv(folder / "runs.csv", index=False)
    frame.iloc[::2].to_csv(folder / "a.csv", index=False)
    frame.iloc[1::2].to_csv(folder / "b.csv", index=False)
    return folder, frame


MAP = ["--map", "params=N", "--map", "tokens=D", "--map", "loss=val_loss"]
FIX = ["--fix", "A=482.01,B=2085.43"]


@pytest.fixture(scope="module")
def fitted(runs):
    folder, _ = runs
    result = curascale("fit", "chinchilla", "--csv", folder / "runs.csv", *MAP, *FIX, "--tie", "beta=alpha",
                       "--bootstrap", "30", "--seed", "3", "--holdout-largest", "2", "--json", "--out", folder / "fit.json")
    return json.loads(result.stdout), json.loads((folder / "fit.json").read_text())


def test_fit_csv_recovers_the_truth(fitted):
    summary, _ = fitted
    assert summary["law"] == "chinchilla" and summary["n_points"] == 16
    assert summary["params"]["E"] == pytest.approx(1.8, rel=1e-5) and summary["params"]["alpha"] == pytest.approx(0.35, rel=1e-5)


def test_fix_and_tie(fitted):
    summary, artifact = fitted
    assert summary["params"]["A"] == 482.01 and summary["params"]["B"] == 2085.43
    assert artifact["fixed"] == {"A": 482.01, "B": 2085.43}
    assert artifact["tied"] == {"beta": "alpha"} and summary["params"]["beta"] == summary["params"]["alpha"]


def test_bootstrap_and_seed(fitted, runs):
    summary, artifact = fitted
    assert len(artifact["draws"]) == 30 and artifact["seed"] == 3
    for name in ("E", "alpha"):
        values = np.array([d[name] for d in artifact["draws"]])
        assert summary["intervals"][name] == pytest.approx([np.percentile(values, 2.5), np.percentile(values, 97.5)], rel=1e-12)
    folder, _ = runs
    other = json.loads(curascale("fit", "chinchilla", "--csv", folder / "runs.csv", *MAP, *FIX, "--tie", "beta=alpha", "--bootstrap", "30", "--seed", "4", "--json").stdout)
    assert other["params"] == pytest.approx(summary["params"], rel=1e-9)
    assert other["intervals"] != summary["intervals"]  # another seed, other resamples


def test_holdout_largest(fitted, runs):
    _, artifact = fitted
    _, frame = runs
    holdout = artifact["holdout"]
    compute = 6 * frame["N"] * frame["D"]
    assert holdout["count"] == 2 and sorted(holdout["compute"]) == sorted(compute.nlargest(2).tolist())
    assert sorted(holdout["observed"]) == sorted(frame.loc[compute.nlargest(2).index, "val_loss"].tolist())
    assert max(abs(e) for e in holdout["relative_errors"]) < 1e-5  # the law is exact on these runs


def test_predict_csv(fitted, runs, tmp_path):
    _, artifact = fitted
    points = pd.DataFrame({"N": [7e10, 1e9], "D": [1.4e12, 3e10]})
    points.to_csv(tmp_path / "points.csv", index=False)
    result = json.loads(curascale("predict", runs[0] / "fit.json", "--csv", tmp_path / "points.csv", "--map", "params=N", "--map", "tokens=D", "--json").stdout)
    values = [p["value"] for p in result["predictions"]]
    np.testing.assert_allclose(values, loss(artifact["params"], points["N"], points["D"]), rtol=1e-12)
    per_draw = np.array([loss({**artifact["params"], **d}, points["N"].to_numpy(), points["D"].to_numpy()) for d in artifact["draws"]])
    intervals = np.array([p["interval"] for p in result["predictions"]])
    np.testing.assert_allclose(intervals, np.stack([np.percentile(per_draw, 2.5, axis=0), np.percentile(per_draw, 97.5, axis=0)], axis=1), rtol=1e-12)
    assert {k: float(v) for k, v in result["predictions"][0]["inputs"].items()} == {"params": 7e10, "tokens": 1.4e12}


def test_predict_csv_echoes_numbers(fitted, runs, tmp_path):
    pd.DataFrame({"N": [7e10], "D": [1.4e12]}).to_csv(tmp_path / "points.csv", index=False)
    result = json.loads(curascale("predict", runs[0] / "fit.json", "--csv", tmp_path / "points.csv", "--map", "params=N", "--map", "tokens=D", "--json").stdout)
    assert result["predictions"][0]["inputs"] == {"params": 7e10, "tokens": 1.4e12}


def test_predict_csv_names_file_row_and_column_of_a_bad_value(fitted, runs, tmp_path):
    pd.DataFrame({"N": [7e10, "seventy"], "D": [1.4e12, 1e12]}).to_csv(tmp_path / "points.csv", index=False)
    result = curascale("predict", runs[0] / "fit.json", "--csv", tmp_path / "points.csv", "--map", "params=N", "--map", "tokens=D", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "points.csv, row 2, column 'params'" in result.stderr and "not a number" in result.stderr


def test_registry_where_and_runs_commands(runs, tmp_path):
    folder, frame = runs
    db = tmp_path / "r.duckdb"
    for family in ("a", "b"):
        curascale("runs", "ingest", folder / f"{family}.csv", *MAP, "--map", "run_id=run", "--set", f"family={family}", "--db", db)
    listed = curascale("runs", "list", "--where", "family = 'b'", "--db", db).stdout
    assert "8 runs" in listed and "r01" in listed and "r00" not in listed
    shown = json.loads(curascale("runs", "show", "r05", "--db", db).stdout)
    row = frame.set_index("run").loc["r05"]
    assert (shown["run_id"], shown["family"], shown["params"], shown["tokens"]) == ("r05", "b", row["N"], row["D"])
    assert [(e["metric"], e["value"]) for e in shown["evals"]] == [("loss", pytest.approx(row["val_loss"], rel=1e-15))]
    curascale("runs", "export", tmp_path / "all.parquet", "--format", "parquet", "--db", db)
    exported = pd.read_parquet(tmp_path / "all.parquet")
    assert len(exported) == 16 and sorted(exported["run_id"]) == sorted(frame["run"])
    summary = json.loads(curascale("fit", "chinchilla", "--db", db, "--where", "family = 'a'", *FIX, "--tie", "beta=alpha", "--json").stdout)
    assert summary["n_points"] == 8 and summary["params"]["E"] == pytest.approx(1.8, rel=1e-5)


def test_free_fits_a_parameter_the_law_fixes(tmp_path):
    """data_constrained fixes E at the published 1.869; runs written with E = 2.0 give it back with --free E."""
    base = {"A": 520.84, "B": 1487.8, "alpha": 0.3526596, "beta": 0.3526596}
    n = np.array([1e8, 3e8, 1e9, 1e8, 3e8, 1e9, 1e8, 1e9])
    u = np.array([1e9, 1e9, 1e9, 1e10, 1e10, 1e10, 1e9, 1e9])
    d = u * np.array([1, 4, 16, 1, 2, 8, 40, 60])
    g = (base["alpha"] * base["A"] / (base["beta"] * base["B"])) ** (1 / (2 * base["alpha"]))
    u_n = np.minimum(n, g * g * u)  # N_opt(U) = G^2 U when alpha = beta (LAWS.md §2)
    r_d, r_n = np.maximum(d / u - 1, 0), np.maximum(n / u_n - 1, 0)
    d_eff = u + u * 15.0 * (1 - np.exp(-r_d / 15.0))
    n_eff = u_n + u_n * 5.0 * (1 - np.exp(-r_n / 5.0))
    frame = pd.DataFrame({"params": n, "tokens": d, "unique_tokens": u, "loss": 2.0 + base["A"] / n_eff ** base["alpha"] + base["B"] / d_eff ** base["beta"]})
    frame.to_csv(tmp_path / "dc.csv", index=False)
    fix = ["--fix", ",".join(f"{k}={v}" for k, v in base.items()), "--start", "data_repetition_decay=10,param_repetition_decay=3,E=1.9"]
    freed = json.loads(curascale("fit", "data_constrained", "--csv", tmp_path / "dc.csv", *fix, "--free", "E", "--json").stdout)
    assert freed["params"]["E"] == pytest.approx(2.0, rel=1e-5)
    assert freed["params"]["data_repetition_decay"] == pytest.approx(15.0, rel=1e-3)


def test_fit_csv_plot(runs, tmp_path):
    folder, _ = runs
    curascale("fit", "chinchilla", "--csv", folder / "runs.csv", *MAP, *FIX, "--plot", tmp_path / "fit.png")
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _header(table_text):
    """The cells of a rich table's header row (the line between ┃ marks)."""
    line = next(row for row in table_text.splitlines() if row.startswith("┃"))
    return [cell.strip() for cell in line.strip("┃").split("┃")]


def test_the_fit_table_labels_every_column_and_says_where_the_fit_was_saved(runs, tmp_path):
    from runs_db import connect

    folder, _ = runs
    db = tmp_path / "r.duckdb"
    curascale("runs", "ingest", folder / "runs.csv", *MAP, "--db", db)
    free = curascale("fit", "chinchilla", "--db", db, "--start", "A=400,B=2000,E=1.8,alpha=0.3,beta=0.3").stdout
    assert _header(free) == ["parameter", "value"]  # nothing fixed or tied: no such column
    fit_id, _ = connect(db).latest_fit(["chinchilla"])
    squeezed = lambda text: "".join(text.split())  # the line wraps at 80 columns, anywhere in a long path
    assert squeezed(f"fit saved in the registry {db} as {fit_id} (plan-curation --db uses the newest)") in squeezed(free)
    held = curascale("fit", "chinchilla", "--db", db, *FIX, "--tie", "beta=alpha", "--start", "E=1.8,alpha=0.3").stdout
    assert _header(held) == ["parameter", "value", "fixed or tied"]
    rows = {cells[0]: cells[2] for cells in ([c.strip() for c in row.strip("│").split("│")] for row in held.splitlines() if row.startswith("│"))}
    assert rows == {"A": "fixed", "B": "fixed", "E": "", "alpha": "", "beta": "= alpha"}
    shown = curascale("fit", "chinchilla", "--db", db, *FIX, "--tie", "beta=alpha", "--json")
    assert json.loads(shown.stdout)["law"] == "chinchilla" and "fit saved in the registry" in shown.stderr


def test_the_held_out_runs_are_listed_in_the_table_by_compute(runs):
    folder, frame = runs
    shown = curascale("fit", "chinchilla", "--csv", folder / "runs.csv", *MAP, *FIX, "--tie", "beta=alpha", "--holdout-largest", "2").stdout
    assert "held out: the 2 largest runs, refit without them" in " ".join(shown.split())
    table = shown[shown.index("held out"):]
    rows = [[c.strip() for c in row.strip("│").split("│")] for row in table.splitlines() if row.startswith("│")]
    compute = (6 * frame["N"] * frame["D"]).sort_values()
    largest = frame.loc[compute.index[-2:]]  # ascending compute, as listed
    assert [(float(r[0]), float(r[1]), float(r[2])) for r in rows] == [
        (float(f"{n:.4g}"), float(f"{d:.4g}"), float(f"{6 * n * d:.4g}")) for n, d in zip(largest["N"], largest["D"])]
    assert all(abs(float(r[-1].rstrip("%"))) < 1e-3 for r in rows)  # the law is exact on these runs


def test_fit_csv_says_when_repeated_rows_count_once(runs, tmp_path):
    """Rows identical in every column (no run_id) count once, as at ingest; the fit says so with
    the rows' numbers, and the in-process fit of the de-duplicated frame gives the same objective."""
    _, frame = runs
    doubled = pd.concat([frame, frame.iloc[[3, 5]]], ignore_index=True)  # rows 17 and 18 repeat rows 4 and 6
    doubled.to_csv(tmp_path / "doubled.csv", index=False)
    summary = json.loads(curascale("fit", "chinchilla", "--csv", tmp_path / "doubled.csv", *MAP, *FIX, "--json").stdout)
    assert summary["n_points"] == 16
    (note,) = [n for n in summary["notes"] if n["code"] == "repeated-rows"]
    assert note["details"]["repeated"] == 2 and note["details"]["rows"] == [17, 18] and note["details"]["first_rows"] == [4, 6]
    plain = json.loads(curascale("fit", "chinchilla", "--csv", runs[0] / "runs.csv", *MAP, *FIX, "--json").stdout)
    assert summary["objective"] == plain["objective"] and not [n for n in plain["notes"] if n["code"] == "repeated-rows"]
