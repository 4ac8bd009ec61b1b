"""scaling.diagnostics: each rule on a small input whose right answer is known, and the rules
carried by fits (saved and loaded back), predictions and plans, which refuse or warn."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from curascale.errors import CurascaleError
from curascale.notes import Note
from scaling import diagnostics
from scaling.fit import Fit, fit
from scaling.laws import get_law
from scaling.plan import plan_data, plan_model
from scaling.reference import load_fit

from paths import CASES


STARTS = [{"A": 400.0, "B": 2000.0, "E": 1.8, "alpha": 0.3, "beta": 0.3}, {"A": 50.0, "B": 50.0, "E": 1.0, "alpha": 0.5, "beta": 0.5}]  # a few starts: quick fits


def codes(notes):
    return [note.code for note in notes]


def by_code(notes, code):
    found = [note for note in notes if note.code == code]
    assert found, f"no {code} note in {codes(notes)}"
    return found


# ---- not identifiable -----------------------------------------------------------------------
def test_bootstrap_interval_wider_than_ten_or_crossing_zero_is_not_identifiable():
    intervals = {"R": [6.0, 1.9e15], "a": [0.30, 0.40], "u": [-0.5, -0.02], "b": [-0.1, 0.2], "E": [1.0, 100.0]}
    [note] = diagnostics.wide_intervals(intervals, fixed=["E"])
    assert note.code == "not-identifiable" and note.severity == "error"
    assert note.details["parameters"] == ["R", "u", "b"]  # a spans 1.33x; E is held fixed
    assert note.details["span_factor"]["R"] == pytest.approx(1.9e15 / 6.0)
    assert note.details["span_factor"]["u"] == pytest.approx(0.5 / 0.02)
    assert note.details["span_factor"]["b"] is None  # crosses zero
    assert diagnostics.wide_intervals({"a": [1.0, 9.9]}) == []


def test_jacobian_null_directions_name_the_dependent_columns():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=20), rng.normal(size=20)
    involved, relative = diagnostics.null_directions(np.stack([x, y, -2.0 * x], axis=1), ["p", "q", "r"])
    assert involved == ["p", "r"] and relative[0] < 1e-12
    assert diagnostics.null_directions(np.stack([x, y], axis=1), ["p", "q"]) == ([], [])
    [note] = diagnostics.rank_deficiency(np.stack([x, np.zeros(20), y], axis=1), ["p", "dead", "q"])
    assert note.details["parameters"] == ["dead"]


def test_single_level_inputs_speak_only_for_columns_that_leave_parameters_undetermined():
    inputs = {"tokens": np.full(6, 4.4e9), "params": np.geomspace(5e7, 5e8, 6), "unique_samples": np.full(6, 3000.0)}
    [note] = diagnostics.single_level_inputs(inputs, {"tokens": ["B", "beta", "E"], "unique_samples": []})
    assert note.details == {"input": "tokens", "value": 4.4e9, "parameters": ["B", "beta", "E"]}
    assert diagnostics.single_levels(inputs) == ["tokens", "unique_samples"]


@pytest.fixture(scope="module")
def single_token_level():
    """Case 05: six runs all at 4.4e9 tokens."""
    return fit("chinchilla", pd.read_csv(CASES / "05-single-token-count-negative-beta/sameD6.csv"))


def test_a_single_token_level_leaves_B_beta_E_undetermined(single_token_level):
    notes = single_token_level.notes
    [level] = by_code(notes, "single-level-input")
    assert level.details["input"] == "tokens" and level.details["value"] == 4.4e9
    assert set(level.details["parameters"]) == {"B", "beta", "E"}
    [jacobian] = by_code(notes, "not-identifiable")
    assert set(jacobian.details["parameters"]) == {"B", "beta", "E"} and jacobian.details["rule"] == "jacobian"
    # where along the undetermined valley the solver stops is not set by the data: the exponent
    # rule must speak exactly when it lands on beta <= 0 (case 05's report: beta = -0.0325)
    negative = [n for n in notes if n.code == "out-of-physical-range" and n.details.get("parameter") == "beta"]
    assert bool(negative) == (single_token_level.params["beta"] <= 1e-6)
    assert all(n.details["value"] <= 1e-6 for n in negative)
    # alpha alone is identified (the case's README: 0.342, truth 0.348)
    assert single_token_level.params["alpha"] == pytest.approx(0.342, abs=0.005)
    # B and beta decide the compute-optimal split: the plan refuses, naming the codes, unless forced
    with pytest.raises(CurascaleError, match=r"does not identify B, beta, which decide the plan \(data\) \[single-level-input \(B, beta\); not-identifiable \(B, beta\)\]"):
        plan_model(1e21, [single_token_level])
    assert codes(plan_model(1e21, [single_token_level], force=True).notes).count("forced") == 1  # after the fit's own notes


def test_the_chinchilla_fit_on_240_runs_has_no_identifiability_note(datasets):
    frame = pd.read_csv(datasets / "chinchilla/chinchilla_NDL.csv")
    frame = frame[frame["in_besiroglu_fit"] == 1].rename(columns={"N_params": "params", "D_tokens": "tokens"})
    fitted = fit("chinchilla", frame, initial=[{"A": 482.0, "B": 2085.0, "E": 1.82, "alpha": 0.35, "beta": 0.37}])
    assert fitted.notes == []


def test_a_flat_loss_is_a_constant_target_and_the_plan_refuses():
    frame = pd.read_csv(CASES / "05-single-token-count-negative-beta/sameD6.csv")
    flat = pd.concat([frame] * 5, ignore_index=True).assign(tokens=lambda f: f["tokens"] * np.repeat([1, 2, 4, 8, 16], 6), loss=2.5)
    fitted = fit("chinchilla", flat, initial=STARTS)
    [note] = by_code(fitted.notes, "constant-target")
    assert note.details["value"] == 2.5 and set(note.details["parameters"]) == {"A", "B", "E", "alpha", "beta"}
    with pytest.raises(CurascaleError, match="does not identify A, B, alpha, beta"):
        diagnostics.require_identifiable_fits([fitted])
    with pytest.raises(CurascaleError, match=r"does not identify A, B, alpha, beta, which decide the plan \(data\) \[constant-target"):
        plan_model(1e21, [fitted])  # observed: alpha = 1e-17 and a plan of 6e11 parameters, warnings: []
    forced = diagnostics.model_plan_notes([fitted], 1e9, 1e10, diagnostics.require_identifiable_fits([fitted], force=True))
    assert codes(forced)[0] == "constant-target" and "forced" in codes(forced)
    assert diagnostics.headline(forced).startswith(" - WARNING:")


def test_the_datablations_repetition_decay_interval_is_not_identifiable(datasets):
    frame = pd.read_csv(datasets / "datablations/runs_fitset_182.csv").rename(
        columns={"params_N": "params", "tokens_D": "tokens", "unique_tokens_U": "unique_tokens", "val_loss": "loss"}
    )
    fitted = fit("data_constrained", frame, initial=[{"data_repetition_decay": 15.0, "param_repetition_decay": 5.0}], bootstrap=20, seed=0)
    [note] = [n for n in by_code(fitted.notes, "not-identifiable") if n.details["rule"] == "bootstrap"]
    low, high = fitted.intervals["data_repetition_decay"]
    assert "data_repetition_decay" in note.details["parameters"] and high / low > 10
    assert not {"A", "B", "E", "alpha", "beta"} & set(note.details["parameters"])  # fixed by the law: never flagged
    # R*_D decides N and D only when data is repeated: a plan with unique tokens refuses, one without does not
    with pytest.raises(CurascaleError, match=r"does not identify .*data_repetition_decay.*\[not-identifiable"):
        plan_model(1e21, [fitted], unique_tokens=1e10)
    assert "forced" not in codes(plan_model(1e21, [fitted]).notes)


# ---- physical range, units, extrapolation -----------------------------------------------------
def test_out_of_physical_range():
    chinchilla = get_law("chinchilla")
    notes = diagnostics.out_of_physical_range(chinchilla, {"A": 400.0, "B": 400.0, "E": 0.0, "alpha": 0.34, "beta": -0.03})
    assert [(n.details["parameter"], n.details["rule"]) for n in notes] == [("E", "positive"), ("beta", "positive")]
    assert diagnostics.out_of_physical_range(chinchilla, {"A": 400.0, "B": 400.0, "E": 1.7, "alpha": 0.34, "beta": 0.37}) == []
    utility = get_law("data_filtering_utility")
    params = {"sample_scale": 0.02, "utility[a]": -0.1, "utility_half_life[a]": 1e15, "utility[b]": -0.1, "utility_half_life[b]": 6.0, "irreducible_error": 1e-9}
    [bound] = diagnostics.out_of_physical_range(utility, params, fixed=["irreducible_error"])
    assert bound.details == {"parameter": "utility_half_life[a]", "value": 1e15, "rule": "bound"}  # log(1e15) = 34.5 > 30
    # a bootstrap interval within 10x says the runs determine it, however large: no note; wider than 10x: the note stays
    assert diagnostics.out_of_physical_range(utility, params, ["irreducible_error"], {"utility_half_life[a]": [2e14, 1.9e15]}) == []
    assert diagnostics.out_of_physical_range(utility, params, ["irreducible_error"], {"utility_half_life[a]": [1e14, 1.1e15]}) == [bound]


def test_tokens_in_billions_are_a_likely_unit_mistake():
    frame = pd.read_csv(CASES / "07-tokens-in-billions-plan-nonsense/chin240_Dbillions.csv")
    notes = diagnostics.unit_mistakes({"params": frame["N_params"].to_numpy(), "tokens": frame["D_tokens"].to_numpy()})
    [note] = notes
    assert note.details["input"] == "tokens" and note.details["min"] == frame["D_tokens"].min() and note.details["max"] < 1e3


def test_a_fit_on_tokens_in_billions_says_so_and_its_plan_warns():
    """Case 07: Chinchilla's 240 runs with tokens in billions (0.875 .. 318)."""
    frame = pd.read_csv(CASES / "07-tokens-in-billions-plan-nonsense/chin240_Dbillions.csv").rename(columns={"N_params": "params", "D_tokens": "tokens"})
    fitted = fit("chinchilla", frame[frame["in_besiroglu_fit"] == 1], initial=STARTS[:1])
    [note] = [n for n in by_code(fitted.notes, "unit-mistake") if "input" in n.details]  # the other: tokens per parameter
    assert {n.details.get("rule") for n in by_code(fitted.notes, "unit-mistake")} == {None, "tokens-per-parameter"}
    assert note.details == {"input": "tokens", "min": frame.loc[frame["in_besiroglu_fit"] == 1, "tokens"].min(), "max": frame.loc[frame["in_besiroglu_fit"] == 1, "tokens"].max()}
    plan = plan_model(5.76e23, [fitted])
    notes = diagnostics.model_plan_notes([fitted], plan.params, plan.tokens)
    assert {"unit-mistake", "extrapolation"} <= set(codes(notes)) and "unit-mistake" in diagnostics.headline(notes)


def test_extrapolation_gives_the_factor():
    ranges = {"params": [5.7e7, 1.6e10], "tokens": [1e9, 1e11]}
    [above] = diagnostics.extrapolation(ranges, {"params": [1e9, 1.0e12]})
    assert above.details["factor"] == pytest.approx(62.5) and "62.5x the largest" in above.message
    [below] = diagnostics.extrapolation(ranges, {"tokens": [1e7]})
    assert below.details["factor"] == pytest.approx(100.0)
    assert diagnostics.extrapolation(ranges, {"params": [6e10], "tokens": [3e8], "other": [1e30]}) == []  # within 4x


def test_case_07_plan_and_prediction_warn_with_the_factor():
    fitted = Fit.load(CASES / "07-tokens-in-billions-plan-nonsense/fit_Dbillions.json")
    plan = plan_model(5.76e23, [fitted])
    p = fitted.params  # the compute-optimal split, LAWS.md §1, restated
    a, b = p["alpha"], p["beta"]
    n = (a * p["A"] / (b * p["B"])) ** (1 / (a + b)) * (5.76e23 / 6) ** (b / (a + b))
    assert diagnostics.require_identifiable_fits([fitted]) == []
    notes = diagnostics.model_plan_notes([fitted], plan.params, plan.tokens)
    factors = {note.details["input"]: note.details["factor"] for note in by_code(notes, "extrapolation")}
    assert factors["params"] == pytest.approx(n / fitted.input_ranges["params"][1], rel=1e-6) and factors["params"] > 1e5
    assert factors["tokens"] == pytest.approx(5.76e23 / 6 / n / fitted.input_ranges["tokens"][1], rel=1e-6)
    [tokens] = diagnostics.prediction_notes(fitted, {"params": [70e9], "tokens": [1.4e12]})[1:]
    assert tokens.details["factor"] == pytest.approx(1.4e12 / fitted.input_ranges["tokens"][1])


# ---- edges of searches ----------------------------------------------------------------------
def test_edge_optima():
    [corner] = diagnostics.simplex_corner([0.9995, 0.0005], ["hq", "lq"])
    assert corner.details["bucket"] == "hq" and corner.severity == "info"
    assert diagnostics.simplex_corner([0.6, 0.4], ["hq", "lq"]) == []
    [edge] = diagnostics.grid_edge("union", "top10", ["top10", "top20", "top30"], smaller="stricter", larger="looser")
    assert "stricter" in edge.message
    assert diagnostics.grid_edge("union", "top20", ["top10", "top20", "top30"], smaller="s", larger="l") == []
    [bits] = [n for n in diagnostics.model_plan_notes([], 1e9, 1e10, precision_bits=16.0000000001) if n.code == "edge-optimum"]
    assert bits.details["value"] == 16.0 and "more bits" in bits.message
    assert diagnostics.model_plan_notes([], 1e9, 1e10, precision_bits=7.25) == []


def test_a_data_plan_at_the_edge_of_its_unions_says_so():
    plan = plan_data(load_fit("reference/tmars-imagenet-utility"), 32e6)  # top10: the strictest union
    [edge] = by_code(plan.notes, "edge-optimum")
    assert plan.best == "top10" and edge.details["value"] == "top10"
    assert by_code(plan.notes, "no-interval")[0].message == "no interval: published point estimates"
    assert "edge-optimum" not in codes(plan_data(load_fit("reference/tmars-imagenet-utility"), 128e6).notes)  # top20: interior


def test_a_data_plan_on_an_unidentified_utility_refuses_unless_forced():
    reference = load_fit("reference/tmars-imagenet-utility")
    unidentified = Note("not-identifiable", "x", "error", {"parameters": ["utility[tmars_top0to10p]"]})
    fitted = dataclasses.replace(reference, notes=[unidentified])
    with pytest.raises(CurascaleError, match=r"utility\[tmars_top0to10p\]"):
        plan_data(fitted, 128e6)
    plan = plan_data(fitted, 128e6, force=True)
    assert codes(plan.notes)[:2] == ["not-identifiable", "forced"]
    # a note on a parameter that does not decide the plan does not stop it
    assert plan_data(dataclasses.replace(reference, notes=[Note("not-identifiable", "x", "error", {"parameters": ["irreducible_error"]})]), 128e6).best == "top20"


# ---- hold-out and artifacts -------------------------------------------------------------------
def _chinchilla_grid():
    """16 runs of the Epoch constants on a 4x4 grid; (8e8, 4e9) and (4e8, 8e9) tie at 6ND = 1.92e19."""
    params, tokens = np.meshgrid([1e8, 2e8, 4e8, 8e8], [1e9, 2e9, 4e9, 8e9])
    params, tokens = params.ravel(), tokens.ravel()
    loss = 1.8172 + 482.01 / params**0.3478 + 2085.43 / tokens**0.3658
    return pd.DataFrame({"params": params, "tokens": tokens, "loss": loss})


def test_holdout_lists_runs_by_compute_and_holds_ties_together():
    fitted = fit("chinchilla", _chinchilla_grid(), holdout_largest=2, initial=STARTS)
    holdout = fitted.holdout
    assert holdout.count == 3 and holdout.requested == 2
    assert holdout.compute == pytest.approx([1.92e19, 1.92e19, 3.84e19]) and sorted(holdout.compute) == holdout.compute
    assert holdout.inputs["params"][-1] == 8e8 and holdout.inputs["tokens"][-1] == 8e9
    assert max(abs(e) for e in holdout.relative_errors) < 1e-3  # exact data: the refit predicts them
    [ties] = by_code(fitted.notes, "holdout-ties")
    assert ties.details == {"requested": 2, "held_out": 3, "compute": pytest.approx(1.92e19)}


def test_too_few_points_for_the_holdout_stop_before_any_fitting():
    stages = []
    # the 8 smallest runs: the largest (9.6e18) and two tied at 4.8e18 go, leaving 5 runs for 5 parameters
    with pytest.raises(CurascaleError, match="holds out 3 of 8 runs"):
        fit("chinchilla", _chinchilla_grid().head(8), holdout_largest=3, progress=lambda stage, done, total: stages.append(stage))
    assert stages == []


def test_notes_are_saved_loaded_and_summarised(single_token_level, tmp_path):
    path = single_token_level.save(tmp_path / "fit.json")
    loaded = Fit.load(path)
    assert loaded.notes == single_token_level.notes and len(loaded.notes) >= 2
    summary = single_token_level.summary()
    assert [n["code"] for n in summary["notes"]] == codes(single_token_level.notes)


# ---- the one refusal rule of plans and manifests -------------------------------------------------
def test_error_notes_stop_a_result_unless_forced_and_identifiability_only_for_deciding_parameters():
    notes = [
        Note("not-identifiable", "E wide", "error", {"parameters": ["E"]}),  # E does not decide the split
        Note("extrapolation", "far", "warning", {"input": "params"}),
        Note("out-of-physical-range", "error 3.3", "error", {"candidates": ["top10"]}),
        Note("single-level-input", "one D", "error", {"parameters": ["B", "beta", "E"]}),
    ]
    assert diagnostics.blocking(notes, ("A", "B", "alpha", "beta")) == {"out-of-physical-range": ["top10"], "single-level-input": ["B", "beta"]}
    assert diagnostics.blocking(notes[:2], ("A", "B", "alpha", "beta")) == {}
    assert diagnostics.require_believable(notes[:2], ("alpha",)) == []
    with pytest.raises(CurascaleError, match=r"does not identify B, beta, which decide the plan \[out-of-physical-range \(top10\); single-level-input \(B, beta\)\]"):
        diagnostics.require_believable(notes, ("A", "B", "alpha", "beta"))
    with pytest.raises(CurascaleError, match=r"the sweep carries error notes \[out-of-physical-range \(top10\)\]"):
        diagnostics.require_believable(notes[:3], ("alpha",), what="sweep")
    [forced] = diagnostics.require_believable(notes, ("beta",), force=True)
    assert forced.code == "forced" and forced.details == {"codes": ["out-of-physical-range", "single-level-input"], "concerned": {"out-of-physical-range": ["top10"], "single-level-input": ["beta"]}}


def test_a_data_plan_whose_predicted_error_leaves_zero_one_refuses_unless_forced():
    """3,000 samples seen on the reference fit (runs at 25.6M-128M): under one epoch of any union,
    so error = (a n / 1e5)^u_best + d (docs/laws.md §3, k = 0 only), above 1 for every union."""
    reference = load_fit("reference/tmars-imagenet-utility")
    with pytest.raises(CurascaleError, match=r"the data plan carries error notes \[out-of-physical-range \(top10, top20, top30, top40\)\]"):
        plan_data(reference, 3000)
    plan = plan_data(reference, 3000, force=True)
    p = reference.params
    top10 = next(c for c in plan.candidates if c.name == "top10")
    assert top10.predicted_error == pytest.approx((p["sample_scale"] * 3000 / 1e5) ** p["utility[tmars_top0to10p]"] + p["irreducible_error"], rel=1e-12)
    assert top10.predicted_error > 1
    assert codes(plan.notes)[0] == "forced" and "out-of-physical-range" in codes(plan.notes)


def test_a_language_model_plan_follows_the_same_rule():
    reference = load_fit("reference/chinchilla-epoch")
    unidentified = dataclasses.replace(reference, notes=[Note("constant-target", "flat", "error", {"parameters": ["A", "B", "E", "alpha", "beta"]})])
    with pytest.raises(CurascaleError, match=r"does not identify A, B, alpha, beta, which decide the plan \(reference/chinchilla-epoch\) \[constant-target"):
        plan_model(1e21, [unidentified])
    forced = plan_model(1e21, [unidentified], force=True)
    assert codes(forced.notes)[:2] == ["constant-target", "forced"] and forced.params == plan_model(1e21, [reference]).params
