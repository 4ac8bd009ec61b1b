"""scaling.diagnostics, rules added after the new-user trial: not converged, implausible tokens per
parameter, and extrapolation notes that give their threshold and the rows past it."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from scaling import diagnostics
from scaling.fit import fit
from scaling.plan_model import plan_model
from scaling.reference import load_fit

from paths import DATASETS

STARTS = [{"A": 400.0, "B": 2000.0, "E": 1.8, "alpha": 0.3, "beta": 0.3}]


def test_a_fit_that_did_not_converge_says_so_and_plans_carry_it():
    chinchilla = load_fit("reference/chinchilla-epoch")
    assert diagnostics.not_converged(chinchilla) == []
    stalled = dataclasses.replace(chinchilla, converged=False, starts=12, starts_at_best=1, source="stalled.json")
    [note] = diagnostics.not_converged(stalled)
    assert note.code == "not-converged" and note.details == {"starts": 12, "starts_at_best": 1}
    assert "not-converged" in [n.code for n in plan_model(1e21, [stalled]).notes]  # an artifact saved without the note says it too
    assert "not-converged" not in [n.code for n in plan_model(1e21, [chinchilla]).notes]


def test_tokens_in_millions_all_above_1000_are_flagged_by_tokens_per_parameter():
    params = np.repeat([30e6, 60e6, 120e6, 240e6], 3)
    tokens = np.tile([1200.0, 2400.0, 4800.0], 4)  # millions of tokens, each >= 1000: unit_mistakes says nothing
    assert diagnostics.unit_mistakes({"params": params, "tokens": tokens}) == []
    [note] = diagnostics.tokens_per_parameter({"params": params, "tokens": tokens})
    assert note.code == "unit-mistake" and note.details["rule"] == "tokens-per-parameter"
    assert note.details["min"] == pytest.approx(1200 / 240e6) and note.details["max"] == pytest.approx(4800 / 30e6)
    assert diagnostics.tokens_per_parameter({"params": params, "tokens": tokens * 1e6}) == []  # 5 to 160 tokens a parameter


def test_the_chinchilla_runs_have_plausible_tokens_per_parameter():
    runs = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv")
    assert diagnostics.tokens_per_parameter({"params": runs.N_params.to_numpy(), "tokens": runs.D_tokens.to_numpy()}) == []


def test_a_fit_on_tokens_in_millions_carries_the_note():
    rng = np.random.default_rng(0)
    params = np.repeat([30e6, 60e6, 120e6, 240e6], 4)
    tokens = np.tile([1200.0, 2400.0, 4800.0, 9600.0], 4)
    loss = 1.8 + 400 / params**0.34 + 2000 / (tokens * 1e6) ** 0.37 + 0.002 * rng.standard_normal(params.size)
    fitted = fit("chinchilla", pd.DataFrame({"params": params, "tokens": tokens, "loss": loss}), initial=STARTS)
    assert "tokens-per-parameter" in [n.details.get("rule") for n in fitted.notes if n.code == "unit-mistake"]


def test_extrapolation_gives_its_threshold_and_the_rows_past_it():
    ranges = {"params": [5.7e7, 1.6e10]}
    [note] = diagnostics.extrapolation(ranges, {"params": [1e9, 1e12, 6e10, 2e12, 1e7]})
    # by hand: 1e12 / 1.6e10 = 62.5, 6e10 / 1.6e10 = 3.75 (within 4x), 2e12 / 1.6e10 = 125, 5.7e7 / 1e7 = 5.7
    assert note.details["rows"] == [2, 4, 5] and note.details["threshold"] == 4.0 and note.details["factor"] == pytest.approx(125.0)
    assert "rows 2, 4, 5 of 5" in note.message and "more than 4x outside" in note.message
    [single] = diagnostics.extrapolation(ranges, {"params": [1e12]})
    assert "row" not in single.message and single.details["rows"] == [1]


def test_a_fixed_exponent_below_zero_is_noted_and_the_planner_prints_no_numpy_warning():
    import warnings

    from curascale.errors import CurascaleError
    from scaling.laws import get_law

    [note] = diagnostics.fixed_out_of_range(get_law("chinchilla"), {"alpha": -0.3, "E": 1.7})
    assert note.details == {"parameter": "alpha", "value": -0.3, "rule": "positive", "fixed": True}
    assert diagnostics.fixed_out_of_range(get_law("chinchilla"), {"alpha": 0.3}) == []
    chinchilla = load_fit("reference/chinchilla-epoch")
    negative = dataclasses.replace(chinchilla, params={**chinchilla.params, "alpha": -0.3}, fixed={"alpha": -0.3}, source="negalpha.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CurascaleError, match="not finite"):
            plan_model(1e21, [negative])
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_a_fit_with_a_fixed_negative_exponent_carries_the_note():
    runs = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv").query("in_besiroglu_fit == 1").rename(columns={"N_params": "params", "D_tokens": "tokens"})
    fitted = fit("chinchilla", runs.iloc[::8], fixed={"alpha": -0.3}, initial=[{"A": 1.0, "B": 2000.0, "E": 1.8, "beta": 0.3}])
    assert [n.details["parameter"] for n in fitted.notes if n.code == "out-of-physical-range" and n.details.get("fixed")] == ["alpha"]


def test_one_unidentified_parameter_is_worded_for_one():
    jacobian = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])  # the second coordinate moves nothing
    [note] = diagnostics.rank_deficiency(jacobian, ["A", "E"])
    assert note.details["parameters"] == ["E"] and note.message.startswith("E is not determined by these runs")
    assert "fix it, or add runs that vary what it describes" in note.message
    [pair] = diagnostics.rank_deficiency(np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), ["B", "beta"])  # collinear columns
    assert pair.message.startswith("B, beta cannot be told apart")


def test_the_fit_json_summary_has_ranges_metadata_fixed_and_tied():
    runs = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv").query("in_besiroglu_fit == 1").rename(columns={"N_params": "params", "D_tokens": "tokens"})
    fitted = fit("chinchilla", runs.iloc[::8], fixed={"E": 1.8}, tied={"alpha": "beta"}, initial=[{"A": 400.0, "B": 2000.0, "beta": 0.3}])
    summary = fitted.summary()
    assert summary["fixed"] == {"E": 1.8} and summary["tied"] == {"alpha": "beta"}
    assert summary["input_ranges"]["params"] == [runs.params.iloc[::8].min(), runs.params.iloc[::8].max()]
    assert summary["metadata"] == fitted.metadata


def test_a_log_scale_parameter_the_runs_cannot_bound_is_not_identifiable_without_a_bootstrap():
    # J [4, 3], r [4] by hand: sigma^2 = r.r / (n - p) = 4e-4 / 1; column norms sqrt(30), 1.414e-3, 1e-3;
    # 95% span exp(2 * 1.96 * sigma / norm): 1.01 for the first, e^55.4 for the second (log scale: named),
    # the third is an identity coordinate (an exponent's shift, not a scale): not this rule's
    jacobian = np.array([[1.0, 1e-3, 1e-3], [2.0, 0.0, 0.0], [3.0, 1e-3, 0.0], [4.0, 0.0, 0.0]])
    residuals = np.array([0.01, -0.01, 0.01, -0.01])
    [note] = diagnostics.loose_scales(jacobian, residuals, ["A", "tau", "c"], ["log", "negative-log", "identity"])
    sigma = np.sqrt(4e-4 / 1)
    assert note.code == "not-identifiable" and note.severity == "error" and note.details["rule"] == "laplace"
    assert note.details["parameters"] == ["tau"] and note.details["noise"] == pytest.approx(sigma, rel=1e-12)
    assert note.details["interval_factors"] == [pytest.approx(np.exp(2 * 1.959963984540054 * sigma / np.sqrt(2e-6)), rel=1e-9)]
    assert note.message.startswith("tau is not determined by these runs")
    assert diagnostics.loose_scales(jacobian, residuals, ["A", "tau", "c"], ["log", "log", "identity"], skip=["tau"]) == []
    assert diagnostics.loose_scales(jacobian, np.zeros(4), ["A", "tau", "c"], ["log"] * 3) == []  # an exact fit: no noise to judge by
    assert diagnostics.loose_scales(jacobian[:3], residuals[:3], ["A", "tau", "c"], ["log"] * 3) == []  # n <= p: no noise estimate


def test_a_half_life_that_two_passes_cannot_see_is_named_by_a_fit_without_draws():
    # two buckets, runs at 0.5 to 3 passes with +-1% noise; hq's half-life is 3 epochs (seen), lq's 40 (a
    # decay of 5% over three passes, below the noise): the fit without bootstrap names lq's half-life
    # only, and a plan made from it carries the note
    S, a, d = 12.8e6, 0.025, 0.1

    def error(n, b, tau):  # LAWS.md §3, utility form, restated
        value = (a * min(S, n) / 1e5) ** b + d
        for k in range(1, int(np.floor(n / S)) + 1):
            value *= (min(S * (k + 1), n) / (S * k)) ** (b * 0.5 ** (k / tau))
        return value

    signs = [1, -1, -1, 1, 1, -1, 1, -1, -1, 1, 1, -1]
    rows = [{"bucket": bucket, "samples_seen": e * S, "unique_samples": S, "error": error(e * S, b, tau)}
            for bucket, b, tau in (("hq", -0.16, 3.0), ("lq", -0.12, 40.0)) for e in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)]
    frame = pd.DataFrame(rows)
    frame["error"] *= np.exp(0.01 * np.array(signs))
    fitted = fit("data_filtering_utility", frame, fixed={"sample_scale": a, "irreducible_error": d})
    [note] = [n for n in fitted.notes if n.code == "not-identifiable"]
    assert note.details["parameters"] == ["utility_half_life[lq]"] and note.details["rule"] == "laplace"
    assert note.details["interval_factors"][0] > 10
    from scaling.plan import plan_data

    assert "not-identifiable" in [n.code for n in plan_data(fitted, 1.28e9).notes]  # carried (here the choice does not turn on it)


def test_the_tokens_per_parameter_rule_stops_at_1e5():
    # heavily over-trained small models (a 135M model on 2T tokens: 1.5e4 tokens a parameter) are runs, not
    # unit mistakes; 2e5 a parameter is past any run
    assert diagnostics.tokens_per_parameter({"params": np.array([1.35e8, 1e9]), "tokens": np.array([2e12, 2e10])}) == []
    [note] = diagnostics.tokens_per_parameter({"params": np.array([1e8, 1e9]), "tokens": np.array([2e13, 2e10])})
    assert note.details["bounds"] == [0.01, 1e5] and note.details["max"] == pytest.approx(2e5)
    assert diagnostics.tokens_per_parameter({"params": np.array([1e8]), "tokens": np.array([1e13])}) == []  # exactly 1e5: inside
