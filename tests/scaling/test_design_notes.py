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
    result = with_plan_notes(run_design(fit), fit, unit="flops")
    planner = [n for n in plan_model(BUDGET, [fit]).notes]
    assert list(result.notes[: len(planner)]) == planner
    assert codes(result.notes)[len(planner):] == ["no-pilot-value"] and result.prior_regret == 0


def test_an_unidentified_fit_says_what_pilots_should_pin_down_and_never_that_no_pilot_helps():
    fit = agreeing([COLLINEAR])
    result = with_plan_notes(run_design(fit), fit, unit="flops")
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
