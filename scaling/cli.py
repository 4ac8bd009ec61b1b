"""The `curascale` command (sub-apps runs, fit, predict, curate, plan) and `plan-curation`.

Heavy libraries (jax, torch, ray) are imported inside the commands that need them, so `--help`
and registry commands start fast. Bad input ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys

import typer

from runs_db.cli import app as runs_app
from runs_db.errors import UserError

cli = typer.Typer(
    help="curascale: what data to train on, how often to repeat it and at what precision, for the compute you have.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(runs_app, name="runs")


def _run(typer_app: typer.Typer) -> None:
    try:
        typer_app()
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


def app() -> None:
    """Entry point of `curascale`."""
    _run(cli)
