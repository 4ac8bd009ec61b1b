"""scaling.plan_model: the library plan refuses and carries notes as the CLI does (one place), only
fits that take part in the plan reach its notes, and a shipped reference given explicitly does not
drop the precision default."""

import dataclasses
import json
import subprocess
import sys

import pandas as pd
import pytest

from curascale.errors import CurascaleError
from curascale.notes import Note
from scaling.fit import fit
from scaling.plan_model import plan_model, with_default_fits
from scaling.reference import load_fit

from paths import CASES

STARTS = [{"A": 400.0, "B": 2000.0, "E": 1.8, "alpha": 0.3, "beta": 0.3}, {"A": 50.0, "B": 50.0, "E": 1.0, "alpha": 0.5, "beta": 0.5}]


def codes(notes):
    return [note.code for note in notes]


@pytest.fixture(scope="module")
def single_tokens():
    """A Chinchilla fit on runs that all have the same token count: B and beta are not identified."""
    frame = pd.read_csv(CASES / "05-single-token-count-negative-beta/sameD6.csv")
    return fit("chinchilla", frame, initial=STARTS)


def cli(*args):
    program = "from curascale.cli.app import plan_main; plan_main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True)


def test_plan_model_refuses_a_fit_that_does_not_identify_the_split_and_forced_carries_its_notes(single_tokens):
    assert "single-level-input" in codes(single_tokens.notes)
    with pytest.raises(CurascaleError, match="does not identify .*beta"):
        plan_model(1e21, [single_tokens])
    forced = plan_model(1e21, [single_tokens], force=True)
    assert [c for c in codes(forced.notes) if c in codes(single_tokens.notes)] == codes(single_tokens.notes)  # the fit's notes first
    assert "forced" in codes(forced.notes)


def test_the_cli_plan_agrees_with_the_library(single_tokens, tmp_path):
    path = tmp_path / "single.json"
    single_tokens.save(path)
    refused = cli("--compute", "1e21", "--unit", "flops", "--fits", str(path))
    assert refused.returncode == 2 and "does not identify" in refused.stderr and "Traceback" not in refused.stderr
    forced = cli("--compute", "1e21", "--unit", "flops", "--fits", str(path), "--force", "--json")
    record = json.loads(forced.stdout)
    assert "warnings" not in record  # one list of notes
    library = plan_model(1e21, with_default_fits([single_tokens], [load_fit("reference/chinchilla-epoch"), load_fit("reference/precision")]), force=True)
    assert [n["code"] for n in record["notes"]] == codes(library.notes)
    assert record["params"] == pytest.approx(library.params, rel=1e-12)


def _with_unidentified_decay(fit):
    """The data-constrained reference with the note a fit that does not pin R*_D down carries."""
    note = Note("not-identifiable", "the runs do not pin down data_repetition_decay", "error", {"parameters": ["data_repetition_decay"]})
    return dataclasses.replace(fit, source="dc.json", notes=[note])


def test_a_plan_decided_by_an_unidentified_repetition_decay_refuses_and_without_unique_tokens_ignores_it():
    chinchilla, constrained = load_fit("reference/chinchilla-epoch"), _with_unidentified_decay(load_fit("reference/data-constrained"))
    with pytest.raises(CurascaleError, match="data_repetition_decay"):
        plan_model(1e21, [chinchilla, constrained], unique_tokens=5e9)
    forced = plan_model(1e21, [chinchilla, constrained], unique_tokens=5e9, force=True)
    assert {"not-identifiable", "forced"} <= set(codes(forced.notes))
    # without unique tokens the data-constrained fit plays no part: its note is not the plan's
    plain = plan_model(1e21, [chinchilla, constrained])
    assert "not-identifiable" not in codes(plain.notes) and plain.fit == "reference/chinchilla-epoch"


def test_the_shipped_chinchilla_given_explicitly_keeps_the_precision_default():
    chinchilla, precision = load_fit("reference/chinchilla-epoch"), load_fit("reference/precision")
    defaults = [chinchilla, precision]
    assert [f.source for f in with_default_fits([chinchilla], defaults)] == ["reference/chinchilla-epoch", "reference/precision"]
    explicit = plan_model(1e21, with_default_fits([load_fit("reference/chinchilla-epoch")], defaults))
    default = plan_model(1e21, defaults)
    assert (explicit.params, explicit.precision) == (default.params, default.precision) and explicit.fit == "reference/precision"
    # a user's own Chinchilla-form fit still decides N and D itself
    own = dataclasses.replace(chinchilla, source="mine.json")
    assert [f.source for f in with_default_fits([own], defaults)] == ["mine.json"]


def test_a_plan_on_a_fit_with_draws_gives_the_percentile_interval_of_the_replanned_draws():
    import numpy as np

    chinchilla = load_fit("reference/chinchilla-epoch")
    rng = np.random.default_rng(1)
    draws = [{**chinchilla.params, "alpha": chinchilla.params["alpha"] * (1 + 0.03 * rng.standard_normal()),
              "beta": chinchilla.params["beta"] * (1 + 0.03 * rng.standard_normal())} for _ in range(20)]
    fitted = dataclasses.replace(chinchilla, draws=draws, source="drawn.json")
    plan = plan_model(1e21, [fitted])
    rows = []
    for p in draws:  # the compute-optimal split at C = 6 N D (docs/laws.md §1), restated per draw
        a, b = p["alpha"], p["beta"]
        n = (a * p["A"] / (b * p["B"])) ** (1 / (a + b)) * (1e21 / 6) ** (b / (a + b))
        d = 1e21 / (6 * n)
        rows.append((n, d, p["E"] + p["A"] / n**a + p["B"] / d**b))
    low, high = np.percentile(np.array(rows), [2.5, 97.5], axis=0)
    for i, name in enumerate(("params", "tokens", "loss")):
        assert plan.intervals[name] == pytest.approx([low[i], high[i]], rel=1e-4)
    assert plan.intervals["draws"] == 20 and plan.intervals["params"][0] < plan.params < plan.intervals["params"][1]
    assert "no-interval" not in codes(plan.notes) and plan.to_json()["intervals"]["level"] == 0.95


def test_a_reference_plan_says_it_has_no_interval():
    plan = plan_model(1e21, [load_fit("reference/chinchilla-epoch")])
    assert plan.intervals is None
    [note] = [n for n in plan.notes if n.code == "no-interval"]
    assert note.message == "no interval: published point estimates" and note.severity == "info"


def test_the_repetition_fits_draws_give_the_interval_with_unique_tokens_and_identical_draws_collapse_it():
    chinchilla, constrained = load_fit("reference/chinchilla-epoch"), load_fit("reference/data-constrained")
    same = dataclasses.replace(constrained, draws=[dict(constrained.params)] * 5, source="dc.json")
    plan = plan_model(1e21, [chinchilla, same], unique_tokens=5e9)
    assert plan.intervals["fits"] == ["dc.json"] and plan.intervals["exact"] == ["reference/chinchilla-epoch"]
    for name, value in (("params", plan.params), ("tokens", plan.tokens), ("loss", plan.loss)):
        assert plan.intervals[name] == pytest.approx([value, value], rel=1e-9)  # every draw is the fit itself
    assert "interval-partial" in codes(plan.notes) and "no-interval" not in codes(plan.notes)
    wider = dataclasses.replace(same, draws=[{**constrained.params, "data_repetition_decay": r} for r in (5.0, 10.0, 20.0, 40.0, 80.0)])
    spread = plan_model(1e21, [chinchilla, wider], unique_tokens=5e9).intervals
    assert spread["params"][0] < spread["params"][1]
