"""`curascale fit` options and its --csv path: bad counts refused, a bootstrap too big for memory
refused with the figures, negative fixed values accepted, the CSV validated like an ingest, and
--plot working on a CSV."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from curascale.cli.fit import bootstrap_bytes, check_fit_options
from curascale.errors import CurascaleError
from paths import DATASETS


def cli(*args, cwd):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, cwd=cwd)


def chinchilla_csv(path):
    # case 5.25's grid: 36 points of the Epoch AI constants (Besiroglu et al. 2024)
    p, t = np.meshgrid(np.logspace(7, 10, 6), np.logspace(8.5, 11.5, 6))
    p, t = p.ravel(), t.ravel()
    pd.DataFrame({"params": p, "tokens": t, "loss": 1.817 + 482 / p**0.3478 + 2085 / t**0.3658}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("option", ["bootstrap", "seed", "holdout_largest"])
def test_negative_counts_are_refused(option):
    values = {"bootstrap": 0, "seed": 0, "holdout_largest": 0, option: -1}
    with pytest.raises(CurascaleError, match=f"--{option.replace('_', '-')} must be >= 0, got -1"):
        check_fit_options(**values, points=10)


def test_bootstrap_memory_is_checked_up_front():
    # 1e8 draws of 36 points: 8 bytes * 1e8 * 36 * (1 + 3 * 4) = 3.744e11 bytes at least;
    # 4 GiB holds 4 * 2**30 // (8 * 36 * 13) = 1147160 draws
    assert bootstrap_bytes(100_000_000, 36) == 8 * 100_000_000 * 36 * 13
    with pytest.raises(CurascaleError, match=r"--bootstrap 100000000 draws of 36 points need at least 349 GiB of memory, 4 GiB is available: use at most 1147160 draws"):
        check_fit_options(bootstrap=100_000_000, seed=0, holdout_largest=0, points=36, available=4 * 2**30)
    check_fit_options(bootstrap=1000, seed=0, holdout_largest=0, points=36, available=4 * 2**30)  # 3.7 MB: fine


def test_cli_refuses_bad_options_in_one_line(tmp_path):
    chinchilla_csv(tmp_path / "runs.csv")
    for args, message in (
        (("--bootstrap", "-1"), "--bootstrap must be >= 0, got -1"),  # case 5.12
        (("--bootstrap", "100000000"), "--bootstrap 100000000 draws of 36 points need at least 349 GiB"),  # case 5.25
    ):
        result = cli("fit", "chinchilla", "--csv", "runs.csv", "--json", "--out", "fit.json", *args, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "fit.json").exists()


def test_fix_takes_a_negative_utility(tmp_path):
    # case 5.34: a utility is negative by definition (Goyal et al. 2024, LAWS.md §3)
    rows = [{"bucket": b, "samples_seen": s, "unique_samples": 12.8e6, "error": 0.1 + 0.8 * (s / 1e6) ** -0.1} for b in ("top10", "top20") for s in (6.4e6, 12.8e6, 25.6e6, 51.2e6, 102.4e6)]
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    result = cli("fit", "data_filtering_utility", "--csv", "runs.csv", "--json", "--fix", "utility=-0.1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    params = json.loads(result.stdout)["params"]
    assert params["utility[top10]"] == params["utility[top20]"] == -0.1


def test_csv_goes_through_the_ingest_validator(tmp_path):
    (tmp_path / "zero.csv").write_text("params,tokens,loss\n1e8,2e9,3.0\n2e8,0,2.9\n")
    result = cli("fit", "chinchilla", "--csv", "zero.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: zero.csv, row 2, column 'tokens': must be positive, got 0"


def test_csv_fit_with_plot(tmp_path):
    # case 5.35: the shipped Chinchilla CSV with --plot crashed (the CSV was read as strings)
    result = cli(
        "fit", "chinchilla", "--json", "--out", "fit.json", "--csv", str(DATASETS / "chinchilla/chinchilla_NDL.csv"),
        "--map", "params=N_params", "--map", "tokens=D_tokens", "--plot", "fit.png", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_points"] == len(pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv"))
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.json", "fit.pdf", "fit.png"]  # its PDF twin, no temporary left
