"""The root of the command line (`curascale`, and `plan-curation` = `curascale plan`) and its only
error boundary: a `CurascaleError` or any DuckDB error ends as one line on stderr and exit status 2,
never a traceback. Sub-commands live one per module beside this one; they parse options, call the
library, and print through `curascale.cli.render`.
"""

from __future__ import annotations

import sys

import typer

from curascale.cli import curate, design, fit, plan, render, runs
from curascale.cli.options import VersionOption

cli = typer.Typer(
    help="curascale: what data to train on, how often to repeat it and at what precision, for the compute you have.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is never terminal markup: "[[steps]]" and "utility[bucket]" print as written
)


@cli.callback()
def root(version: VersionOption = None) -> None:
    """curascale: what data to train on, how often to repeat it and at what precision, for the compute you have."""


cli.add_typer(runs.app, name="runs")
cli.add_typer(curate.app, name="curate")
cli.command("fit")(fit.fit_command)
cli.command("predict")(fit.predict)
cli.command("laws")(fit.laws)
cli.command("plan")(plan.plan)
cli.command("design-pilots")(design.design_pilots)
plan_cli = typer.Typer(pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None)
plan_cli.command()(plan.plan)


def one_line(error: BaseException) -> str:
    """The error as the single line a user sees (the first line of its message)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _is_database_error(error: BaseException) -> bool:
    duckdb = sys.modules.get("duckdb")
    return duckdb is not None and isinstance(error, duckdb.Error)


def run(typer_app: typer.Typer) -> None:
    """Run a typer app behind the boundary."""
    from curascale.errors import CurascaleError

    try:
        typer_app()
    except CurascaleError as error:
        render.echo(f"error: {one_line(error)}", err=True)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - the boundary: DuckDB's errors become one line too
        if not _is_database_error(error):
            raise
        render.echo(f"error: registry: {one_line(error)}", err=True)
        sys.exit(2)


def main() -> None:
    """Entry point of `curascale`."""
    run(cli)


def plan_main() -> None:
    """Entry point of `plan-curation` (the same as `curascale plan`)."""
    run(plan_cli)
