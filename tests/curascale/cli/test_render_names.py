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


def test_headers_wrap_between_words_and_multi_line_cells_keep_every_line(capsys, monkeypatch):
    """At 80 columns a header never splits inside a word ('candida te'); a cell given as lines
    shows each line, escaped, none truncated."""
    monkeypatch.setenv("COLUMNS", "80")
    render.table("t", ("candidate", "accuracy", "repetitions per bucket", "bucket: share, passes, samples"),
                 [("top30", "26.77%", "3.33, 3.33, 3.33", ("tmars_top0to10p: 0.33, 3.33x, 42.67M", "tmars_top10to20p: 0.33, 3.33x, 42.67M", "x[bold]y"))],
                 left=("candidate",))
    shown = capsys.readouterr().out
    cells = [part.strip() for line in shown.splitlines() for part in line.split("┃")[1:-1] + line.split("│")[1:-1]]
    words = {w for c in ("candidate", "accuracy", "repetitions per bucket", "bucket: share, passes, samples") for w in c.split()}
    header_parts = {p for line in shown.splitlines() if "┃" in line for p in line.split("┃")[1:-1] for p in p.split()}
    assert header_parts <= words  # every header fragment is a whole word
    assert "tmars_top0to10p:" in shown and "tmars_top10to20p:" in shown and "x[bold]y" in shown and "\\x0a" not in shown
    assert cells  # the table was drawn
