"""`curascale design-pilots` and `scaling.design.design_pilots` agree: for the same fit, budget and
unique tokens the library's Design carries the same notes (the planner's for that plan, then the
design's) as the CLI's --json, and the re-plan behind them honours --unique-tokens."""

import dataclasses
import json

from typer.testing import CliRunner

from curascale.cli.app import cli
from curascale.notes import notes_to_dicts
from scaling.design import design_pilots
from scaling.reference import load_fit

ARGS = ["--unit", "flops", "--budget", "1e22", "--pilot-budget", "1e19", "--truths", "8", "--replicates", "1", "--noise", "0.01"]


def constrained(path):
    """The data-constrained reference fit with 8 identical draws (a design needs truths), saved."""
    fit = load_fit("reference/data-constrained")
    fit = dataclasses.replace(fit, draws=[dict(fit.params)] * 8, source=str(path))
    fit.save(path)
    return load_fit(str(path))


def cli_notes(*args):
    shown = CliRunner().invoke(cli, ["design-pilots", *args, "--json"])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.output)["notes"]


def test_the_library_carries_the_notes_the_cli_prints(tmp_path):
    path = tmp_path / "dc.json"
    fit = constrained(path)
    for unique in (None, "10M"):
        extra = [] if unique is None else ["--unique-tokens", unique]
        library = design_pilots(fit, 1e22, 1e19, unit="flops", truths=8, replicates=1, noise=0.01, unique_tokens=None if unique is None else 1e7)
        assert notes_to_dicts(library.notes) == cli_notes("--fit", str(path), *ARGS, *extra)


def test_the_replan_honours_unique_tokens(tmp_path):
    """10M unique tokens for a 1e22-FLOP run: the plan repeats data far past the fit's runs (it saw
    U >= 100M), so the planner's notes say so; without --unique-tokens they must not."""
    path = tmp_path / "dc.json"
    constrained(path)
    without = cli_notes("--fit", str(path), *ARGS)
    scarce = cli_notes("--fit", str(path), *ARGS, "--unique-tokens", "10M")
    inputs = lambda notes: {n["details"].get("input") for n in notes if n["code"] == "extrapolation"}  # noqa: E731
    assert "unique_tokens" in inputs(scarce) and "unique_tokens" not in inputs(without)
    assert "repetition-saturated" in [n["code"] for n in scarce] and "repetition-saturated" not in [n["code"] for n in without]
