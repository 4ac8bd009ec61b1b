"""The only place the command line prints: tables, lines, JSON, progress bars and notes.

Every string that can come from a user (run ids, bucket names, file names, law names, values of
files) is escaped for rich's terminal markup here, so ``[/bold]`` in a run id prints as itself
and never crashes or restyles a table. Tables wrap long cells instead of truncating names.
"""

from __future__ import annotations

import contextlib
import json
import math
import unicodedata
from typing import Any, Callable, Iterable, Iterator, Sequence

import typer


def printable(text: str, keep: str = "") -> str:
    """`text` with every control character (ESC, BEL, CR, C1 controls, ...; Unicode category Cc)
    not in `keep` shown as \\xNN (or \\uNNNN), so file contents can never drive the terminal."""
    return "".join(
        char if char in keep or unicodedata.category(char) != "Cc" else (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        for char in text
    )


def escape(value: Any) -> str:
    """A value as text safe for rich markup and for the terminal (control characters shown as \\xNN)."""
    from rich.markup import escape as rich_escape

    return rich_escape(printable(str(value)))


_STDOUT_RESERVED: list[bool] = [False]


def stderr_only() -> bool:
    """True inside `stdout_reserved()`: human-readable output goes to stderr."""
    return _STDOUT_RESERVED[-1]


@contextlib.contextmanager
def stdout_reserved(reserved: bool = True) -> Iterator[None]:
    """While active (and `reserved`), tables, lines and notes go to stderr, so that standard
    output carries only data (e.g. a fit artifact written to `--out -`)."""
    _STDOUT_RESERVED.append(reserved or stderr_only())
    try:
        yield
    finally:
        _STDOUT_RESERVED.pop()


def console(*, stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr or stderr_only(), soft_wrap=False)


def echo(text: str, *, err: bool = False) -> None:
    """Plain text (no markup interpretation at all); control characters other than newline and
    tab are shown as \\xNN."""
    typer.echo(printable(str(text), keep="\n\t"), err=stderr_only() or err)


def line(template: str, *values: Any, err: bool = False) -> None:
    """A styled line: `template` is trusted markup with `{}` holes, `values` are escaped. Printed
    whole (the terminal wraps it), never folded by the console's width, so a path or URL in it
    stays one piece that can be copied."""
    console(stderr=err).print(template.format(*(escape(v) for v in values)), soft_wrap=True)


def echo_json(record: Any) -> None:
    """One JSON object on stdout (stderr inside `stdout_reserved()`); NaN and infinities become
    null (they are not JSON)."""
    typer.echo(json.dumps(_finite(record)), err=stderr_only())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, left: Sequence[str] = (), styles: Sequence[str | None] | None = None,
          no_wrap: Sequence[str] = ()) -> None:
    """A table whose cells are all escaped; `left` names the left-justified columns (others are
    right-justified numbers); `styles` gives an optional rich style per row. A cell is a string
    or a sequence of lines (each escaped, shown one under another). Cells fold, never
    truncate; a header wraps only between its words (each column is at least its longest header
    word wide); `no_wrap` names columns kept whole (names that must not break mid-token)."""
    from rich.table import Table

    rows = [list(row) for row in rows]
    grid = Table(title=escape(title))
    for k, column in enumerate(columns):
        whole = column in no_wrap
        header = max((len(word) for word in column.split()), default=1)
        widest = max((len(str(row[k])) for row in rows), default=0) if whole else 0
        grid.add_column(escape(column), justify="left" if column in left else "right", overflow="fold", no_wrap=whole, min_width=max(header, widest))
    for i, row in enumerate(rows):
        grid.add_row(*(escape(cell) if isinstance(cell, str) else "\n".join(escape(line) for line in cell) for cell in row),
                     style=None if styles is None else styles[i])
    console().print(grid)


def notes(items: Iterable[Any], *, err: bool = False) -> None:
    """Structured warnings (`curascale.notes.Note`) under a table, one line each."""
    for note in items:
        colour = {"error": "red", "warning": "yellow"}.get(getattr(note, "severity", "warning"), "cyan")
        line(f"[{colour}]{{}}[/{colour}] ({{}}): {{}}", getattr(note, "severity", "warning"), getattr(note, "code", ""), getattr(note, "message", note), err=err)


@contextlib.contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A progress reporter `report(stage, done, total)`, drawn on stderr when it is a terminal
    (nothing when disabled or redirected: a bar in a log file is noise, and rich ends one there
    with a blank line)."""
    stderr = console(stderr=True)
    if not enabled or not stderr.is_terminal:
        yield lambda stage, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True, console=stderr) as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(escape(stage), total=total)
            bar.update(tasks[stage], completed=done)

        yield report
