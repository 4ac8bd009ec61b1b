"""Option types and parsers shared by the sub-commands (KEY=VALUE pairs, quantities, --db)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from curascale.errors import UserError
from runs_db.text import quoted

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Registry file (default: $CURASCALE_DB or ./curascale.duckdb).", show_default=False),
]
MapOption = Annotated[Optional[list[str]], typer.Option("--map", help="target=source: read column TARGET from SOURCE (e.g. params=N_params).")]


def at_least(low: int, flag: str):
    """A typer callback refusing an integer option below `low` with one line naming `flag` (a
    negative --seed reached numpy's generator and ended in a traceback)."""

    def check(value):
        if value is not None and value < low:
            raise UserError(f"{flag} must be >= {low}, got {value}")
        return value

    return check


def _print_version(value: bool) -> None:
    if value:
        from curascale import __version__
        from curascale.cli import render

        render.echo(f"curascale {__version__}")
        raise typer.Exit()


VersionOption = Annotated[
    Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
]


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    """['a=b', 'c=d'] -> {'a': 'b', 'c': 'd'}; a pair without '=', or a KEY given twice, is an
    error naming the option (the last value silently winning would lose the first)."""
    parsed: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{option} takes KEY=VALUE, got {quoted(pair)}")
        if key.strip() in parsed:
            raise UserError(f"{option} {key.strip() if len(key.strip()) <= 60 else quoted(key.strip())} given twice")
        parsed[key.strip()] = value.strip()
    return parsed


def comma_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """--fix a=1,b=2 --fix c=3 -> {'a': '1', 'b': '2', 'c': '3'}."""
    return parse_pairs([part for value in values or [] for part in value.split(",") if part], option)


def check_names(given, allowed, option: str, *, what: str = "input") -> None:
    """Every name in `given` is one of `allowed`; an unknown one (a typo such as 'tokns') is an error
    naming the option, the names allowed and the nearest of them, never silently ignored."""
    import difflib

    allowed = [str(name) for name in allowed]
    for name in given:
        if name not in allowed:
            near = difflib.get_close_matches(name, allowed, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise UserError(f"{option}: unknown {what} {quoted(name)} (known: {', '.join(allowed)}){hint}")


def numbers(pairs: dict[str, str], option: str, *, positive: bool = True) -> dict[str, float]:
    """Values of KEY=VALUE pairs as numbers (suffixes such as 128M accepted); positive ones
    (quantities such as sizes) unless `positive=False` (parameter values: a utility is negative)."""
    from scaling.units import parse_quantity

    return {k: parse_quantity(v, name=f"{option} {k}", positive=positive) for k, v in pairs.items()}


def check_outputs(*files, figure=None) -> None:
    """Refuse, before any work, output paths that cannot be written: a file that is a directory or
    cannot be looked at (`curascale.io.resolve_target`), a figure not ending in .png or .pdf or
    whose twin is such a file. None, "-" (standard output) and URLs pass (checked when written)."""
    from curascale import io_remote
    from curascale.io import resolve_target

    paths = [f for f in files if f is not None and str(f) != "-" and not io_remote.is_url(f)]
    if figure is not None:
        from scaling.figure_output import figure_paths

        paths += list(figure_paths(figure))
    for path in paths:
        resolve_target(path)
