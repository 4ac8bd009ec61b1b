"""scaling/design_notes.py: a pilot design carries the planner's notes for its fit and budget, names
the unidentified deciding parameters as what pilots should pin down, and then never claims that no
pilot can improve the decision; its notes are structured (code, severity, message, details)."""

import dataclasses
import json
import subprocess
import sys

import pytest

from curascale.notes import Note
from scaling.design import design_pilots
from scaling.design_notes import unidentified, with_plan_notes
from scaling.plan_model import plan_model
from scaling.reference import load_fit

BUDGET, PILOTS = 1e22, 1e19


def agreeing(notes=()):
    """The Chinchilla reference with 8 identical bootstrap draws: every truth agrees on the plan."""
    fit = load_fit("reference/chinchilla-epoch")
    return dataclasses.replace(fit, draws=[dict(fit.params)] * 8, source="agree.json", notes=list(notes))


COLLINEAR = Note("not-identifiable", "B, beta cannot be told apart by these runs", "error", {"parameters": ["B", "beta"], "rule": "jacobian"})


def codes(notes):
    return [n.code for n in notes]


def run_design(fit):
    return design_pilots(fit, BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01)


def test_unidentified_names_only_the_parameters_that_decide_the_plan():
    assert unidentified(agreeing([COLLINEAR]), "flops") == ["B", "beta"]
    only_e = Note("not-identifiable", "E", "error", {"parameters": ["E"]})  # E shifts the loss, not the split
    assert unidentified(agreeing([only_e]), "flops") == []
    assert unidentified(agreeing([COLLINEAR]), "samples") == []  # not a data plan's parameters


def test_an_identified_fit_keeps_the_planners_notes_and_the_no_pilot_value_note():
    fit = agreeing()
    result = run_design(fit)  # design_pilots carries the planner's notes itself
    planner = [n for n in plan_model(BUDGET, [fit]).notes]
    assert list(result.notes[: len(planner)]) == planner
    assert codes(result.notes)[len(planner):] == ["no-pilot-value"] and result.prior_regret == 0


def test_an_unidentified_fit_says_what_pilots_should_pin_down_and_never_that_no_pilot_helps():
    fit = agreeing([COLLINEAR])
    result = run_design(fit)
    assert with_plan_notes(result, fit, unit="flops").notes == result.notes  # adding them again changes nothing
    assert result.prior_regret == 0  # the draws agree, yet the fit does not identify the split
    assert codes(result.notes)[0] == "not-identifiable" and "no-pilot-value" not in codes(result.notes) and "forced" not in codes(result.notes)
    [pin] = [n for n in result.notes if n.code == "pilots-should-pin-down"]
    assert pin.details["parameters"] == ["B", "beta"] and pin.severity == "warning"
    record = result.to_dict()
    assert all(set(n) == {"code", "severity", "message", "details"} for n in record["notes"])


def test_cli_carries_the_notes_and_marks_the_headline(tmp_path):
    path = tmp_path / "col.json"
    agreeing([COLLINEAR]).save(path)
    program = "from curascale.cli.app import main; main()"
    args = ["design-pilots", "--fit", str(path), "--unit", "flops", "--budget", "1e22", "--pilot-budget", "1e19", "--truths", "8", "--replicates", "1", "--noise", "0.01"]
    text = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    flat = " ".join(text.stdout.split())
    assert "not-identifiable" in flat.split("WARNING:")[1].split("pilots by")[0] and "no pilot can improve" not in flat
    record = json.loads(subprocess.run([sys.executable, "-c", program, *args, "--json"], capture_output=True, text=True).stdout)
    assert [n["code"] for n in record["notes"]][:1] == ["not-identifiable"] and "pilots-should-pin-down" in [n["code"] for n in record["notes"]]


RANGES = {"params": [6e7, 1.6e10], "tokens": [8e8, 3e11]}  # the fit saw N in [60M, 16B], D in [800M, 300B]


def test_pilots_far_outside_the_fits_range_get_a_structured_note():
    """Finding 2 of the pilot trial: a 10K-parameter pilot was valued with notes []."""
    fit = dataclasses.replace(agreeing(), input_ranges=RANGES)
    result = design_pilots(fit, BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01, candidates=[(1e4, 1e6), (1e8, 2e9)])
    notes = {n.details["input"]: n for n in result.notes if n.code == "pilot-extrapolation"}
    assert sorted(notes) == ["params", "tokens"]
    assert notes["params"].details["pilots"] == ["N=10K,D=1M"] and notes["tokens"].details["pilots"] == ["N=10K,D=1M"]
    assert notes["params"].details["factor"] == pytest.approx(6e7 / 1e4) and notes["tokens"].details["factor"] == pytest.approx(8e8 / 1e6)
    assert notes["params"].severity == "warning" and "N=10K,D=1M" in notes["params"].message


def test_the_default_grid_starts_within_the_extrapolation_factor_of_the_fits_range():
    from scaling.diagnostics import EXTRAPOLATION_FACTOR

    fit = dataclasses.replace(agreeing(), input_ranges=RANGES)
    result = design_pilots(fit, BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01)
    assert result.pilots and "pilot-extrapolation" not in codes(result.notes)
    assert min(p.spec["params"] for p in result.pilots) >= 6e7 / EXTRAPOLATION_FACTOR
    assert min(p.spec["tokens"] for p in result.pilots) >= 8e8 / EXTRAPOLATION_FACTOR
    with pytest.raises(ValueError, match="no candidate pilot fits"):  # 1e10 FLOPs: N = 18K at 5 tokens a parameter, far below 60M
        design_pilots(fit, BUDGET, 1e10, unit="flops", truths=8, replicates=1, noise=0.01)


@pytest.mark.parametrize("candidate, message", [((500.0, 1e6), "N=500,D=1M is too small"), ((1e8, 0.5), "needs at least 1000 parameters and 1 token")])
def test_a_pilot_too_small_to_train_is_refused(candidate, message):
    with pytest.raises(ValueError, match=message):
        design_pilots(agreeing(), BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01, candidates=[candidate])


def test_a_data_pilot_of_less_than_one_sample_is_refused():
    fit = load_fit("reference/tmars-imagenet-utility")
    fit = dataclasses.replace(fit, draws=[dict(fit.params)] * 4)
    with pytest.raises(ValueError, match="at least 1 sample"):
        design_pilots(fit, 1.28e9, 50e6, truths=4, replicates=1, noise=0.01, candidates=[(fit.groups[0], 0.5)])


def test_truths_capped_at_the_bootstrap_draws_say_so():
    """Finding 4: --truths 256 on a fit of 8 draws used 8 truths with no note."""
    result = design_pilots(agreeing(), BUDGET, PILOTS, unit="flops", truths=256, replicates=1, noise=0.01)
    [capped] = [n for n in result.notes if n.code == "truths-capped"]
    assert result.truths == 8 and capped.details == {"requested": 256, "used": 8}
    assert "truths-capped" not in codes(design_pilots(agreeing(), BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01).notes)


def test_a_candidate_given_twice_is_refused():
    """Finding 7: 1e8:2e9 twice was listed (and valued) twice."""
    with pytest.raises(ValueError, match="candidate N=100M,D=2B is given 2 times"):
        design_pilots(agreeing(), BUDGET, PILOTS, unit="flops", truths=8, replicates=1, noise=0.01, candidates=[(1e8, 2e9), (1e8, 2e9), (2e8, 2e9)])
