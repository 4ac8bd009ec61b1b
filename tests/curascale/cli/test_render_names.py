"""curascale.cli.render keeps per-bucket parameter names whole: `utility[top0to10p]` is not eaten
as terminal markup, in cells, titles, lines and notes."""

from curascale.cli import render
from curascale.notes import Note


def test_bucket_parameter_names_survive_rendering(capsys):
    render.table("fit [bold]x", ("parameter", "value"), [("utility[top0to10p]", "-0.16"), ("utility_half_life[top10to20p]", "8.5")], left=("parameter",))
    render.notes([Note("not-identifiable", "utility[top0to10p] spans [0.1, 2]", "error")])
    shown = capsys.readouterr().out
    assert "utility[top0to10p]" in shown and "utility_half_life[top10to20p]" in shown
    assert "fit [bold]x" in shown and "utility[top0to10p] spans [0.1, 2]" in shown


def test_help_text_is_not_markup():
    from typer.testing import CliRunner

    from curascale.cli.app import cli

    shown = CliRunner().invoke(cli, ["curate", "run", "--help"], env={"COLUMNS": "120"}).output
    assert shown.count("[[steps]]") >= 3  # the docstring's two tables and the argument's help
