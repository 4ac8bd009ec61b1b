"""scaling/reference.py: each shipped reference fit records the range of the runs it was fitted on,
so a plan far past them says so (extrapolation notes)."""

import pandas as pd
import pytest

from scaling.plan_model import plan_model
from scaling.reference import load_fit

from paths import DATASETS


def test_reference_fits_record_the_published_runs_ranges():
    epoch = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv").query("in_besiroglu_fit == 1")
    assert len(epoch) == 240
    chinchilla = load_fit("reference/chinchilla-epoch").input_ranges
    assert chinchilla == {"params": [epoch.N_params.min(), epoch.N_params.max()], "tokens": [epoch.D_tokens.min(), epoch.D_tokens.max()]}
    runs = pd.read_csv(DATASETS / "datablations/runs_fitset_182.csv")
    assert load_fit("reference/data-constrained").input_ranges == {
        "params": [runs.params_N.min(), runs.params_N.max()], "tokens": [runs.tokens_D.min(), runs.tokens_D.max()],
        "unique_tokens": [1e8, 1.78e11],
    }
    for name in ("reference/precision", "reference/precision-fp"):  # Kumar et al.: 30M-220M parameters, 1.5B-26B tokens
        assert load_fit(name).input_ranges == {"params": [30e6, 220e6], "tokens": [1.5e9, 26e9]}


def test_a_plan_at_1e26_flops_says_it_extrapolates_the_chinchilla_runs():
    chinchilla = load_fit("reference/chinchilla-epoch")
    plan = plan_model(1e26, [chinchilla])
    p = chinchilla.params  # the compute-optimal split (docs/laws.md §1), restated
    a, b = p["alpha"], p["beta"]
    n = (a * p["A"] / (b * p["B"])) ** (1 / (a + b)) * (1e26 / 6) ** (b / (a + b))
    assert plan.params == pytest.approx(n, rel=1e-6) and plan.params > 1e12
    [params] = [note for note in plan.notes if note.code == "extrapolation" and note.details["input"] == "params"]
    assert params.details["factor"] == pytest.approx(n / 16183346310.0, rel=1e-6)


def test_one_million_unique_tokens_is_below_the_datablations_runs():
    plan = plan_model(1e21, [load_fit("reference/chinchilla-epoch"), load_fit("reference/data-constrained")], unique_tokens=1e6)
    [unique] = [note for note in plan.notes if note.code == "extrapolation" and note.details["input"] == "unique_tokens"]
    assert unique.details["factor"] == pytest.approx(1e8 / 1e6)
