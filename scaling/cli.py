"""The `curascale` command (sub-apps runs, curate; commands fit, predict, plan) and `plan-curation`.

Heavy libraries (jax, torch, ray) are imported inside the commands that need them, so `--help`
and registry commands start fast. Bad input ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from runs_db.cli import DbOption, parse_pairs
from curation.cli import app as curate_app
from runs_db.cli import app as runs_app
from runs_db.errors import UserError
from scaling.plan_cli import plan as plan_command

cli = typer.Typer(
    help="curascale: what data to train on, how often to repeat it and at what precision, for the compute you have.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cli.add_typer(runs_app, name="runs")
cli.add_typer(curate_app, name="curate")
cli.command("plan")(plan_command)
plan_cli = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
plan_cli.command()(plan_command)

MapOption = Annotated[Optional[list[str]], typer.Option("--map", help="target=source: read column TARGET from SOURCE (e.g. params=N_params).")]


def _numbers(pairs: dict[str, str], option: str) -> dict[str, float]:
    from scaling.units import parse_quantity

    return {k: parse_quantity(v, name=f"{option} {k}") for k, v in pairs.items()}


def _comma_pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """--fix a=1,b=2 --fix c=3 -> {'a': '1', 'b': '2', 'c': '3'}."""
    return parse_pairs([part for value in values or [] for part in value.split(",") if part], option)


def load_frame(law, *, db: str | None, where: str | None, csv: Path | None, mapping: dict[str, str], split: str | None, task: str | None):
    """The rows a law is fitted on: from the registry (runs joined with the target metric) or a CSV."""
    if csv is not None:
        from runs_db.ingest import apply_mapping, read_table

        frame = apply_mapping(read_table(csv), str(csv), mapping, {})
        return frame, str(csv)
    from runs_db.columns import RUN_COLUMNS
    from runs_db.registry import connect

    registry = connect(db)
    wanted = [c for c in (*law.inputs, law.group_by) if c and c in RUN_COLUMNS]
    frame = registry.frame(wanted, target=law.target, where=where, split=split, task=task)
    frame = frame.rename(columns={source: target for target, source in mapping.items()})
    if frame.empty:
        raise UserError(f"no runs in {registry.path} have '{law.target}'" + (f" where {where}" if where else ""))
    return frame, f"{registry.path}" + (f" where {where}" if where else "")


@cli.command("fit")
def fit_command(
    law_name: Annotated[str, typer.Argument(metavar="LAW", help="A law of LAWS.md, e.g. chinchilla, data_constrained, data_filtering_utility (see `curascale laws`).")],
    db: DbOption = None,
    where: Annotated[Optional[str], typer.Option(help="SQL condition on the registry's runs, e.g. \"family = 'chinchilla'\".")] = None,
    csv: Annotated[Optional[Path], typer.Option(help="Fit a CSV file instead of the registry.")] = None,
    map_: MapOption = None,
    split: Annotated[Optional[str], typer.Option(help="Eval split of the target metric (registry data).")] = None,
    task: Annotated[Optional[str], typer.Option(help="Eval task of the target metric (registry data).")] = None,
    fix: Annotated[Optional[list[str]], typer.Option(help="name=value[,name=value]: hold parameters fixed.")] = None,
    tie: Annotated[Optional[list[str]], typer.Option(help="name=other: parameter NAME takes OTHER's value.")] = None,
    free: Annotated[Optional[list[str]], typer.Option(help="Fit a parameter the law fixes by default (e.g. the data-constrained base).")] = None,
    start: Annotated[Optional[list[str]], typer.Option(help="name=value,...: one starting point instead of the law's grid (repeat for more).")] = None,
    delta: Annotated[float, typer.Option(help="Huber delta on log predictions.")] = 1e-3,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws over runs for intervals (0: none).")] = 0,
    holdout_largest: Annotated[int, typer.Option(help="Also fit without the K largest-compute runs and report their relative error.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Save the fit artifact (JSON) here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Save observed vs fitted curves (PNG) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
) -> None:
    """Fit a scaling law: every start of its grid at once, Huber loss on log predictions (LAWS.md §7)."""
    from scaling.laws import get_law

    law = get_law(law_name)
    if csv is not None and (db is not None or where is not None):
        raise UserError("give either --csv or --db/--where, not both")
    frame, source = load_frame(law, db=db, where=where, csv=csv, mapping=parse_pairs(map_, "--map"), split=split, task=task)
    initial = [_numbers(_comma_pairs([s], "--start"), "--start") for s in start] if start else None
    fitted = _run_fit(
        law, frame, source=source, as_json=as_json,
        fixed=_numbers(_comma_pairs(fix, "--fix"), "--fix"), tied=_comma_pairs(tie, "--tie"),
        free=[name for value in free or [] for name in value.split(",") if name],
        initial=initial, delta=delta, bootstrap=bootstrap, holdout_largest=holdout_largest, seed=seed,
    )
    if out is not None:
        fitted.save(out)
    if db is not None:
        from runs_db.registry import connect

        connect(db).save_fit_artifact(f"{fitted.law}-{fitted.data_hash[:12]}-{fitted.created}", fitted.to_dict())
    if plot is not None:
        from scaling.plots import plot_fit

        plot_fit(fitted, frame, plot)
    if as_json:
        typer.echo(json.dumps(fitted.summary()))
    else:
        _print_fit(fitted, out, plot)


def _run_fit(law, frame, *, source, as_json, **options):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from scaling.fit import fit

    if as_json:
        return fit(law, frame, source=source, **options)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        return fit(law, frame, source=source, progress=report, **options)


def _print_fit(fitted, out, plot) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{fitted.law} on {fitted.n_points} points ({fitted.law_spec.section})")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column(f"{fitted.interval_level:.0%} interval", justify="right")
    table.add_column("")
    for name, value in fitted.params.items():
        interval = fitted.intervals.get(name)
        shown = "" if interval is None or name in fitted.fixed or name in fitted.tied else f"[{interval[0]:.6g}, {interval[1]:.6g}]"
        note = "fixed" if name in fitted.fixed else (f"= {fitted.tied[name]}" if name in fitted.tied else "")
        table.add_row(name, f"{value:.6g}", shown, note)
    console = Console()
    console.print(table)
    console.print(
        f"objective {fitted.objective:.10g}; {fitted.starts_at_best} of {fitted.starts} starts reached it; "
        + ("converged" if fitted.converged else "[red]best start hit the iteration cap[/red]")
    )
    if fitted.holdout:
        errors = ", ".join(f"{e:+.2%}" for e in fitted.holdout.relative_errors)
        console.print(f"held-out {fitted.holdout.count} largest runs: relative errors {errors}")
    for label, path in (("fit", out), ("plot", plot)):
        if path is not None:
            console.print(f"{label} written to {path}")


@cli.command()
def predict(
    fit_file: Annotated[Path, typer.Argument(metavar="FIT.json", help="A fit artifact written by `curascale fit --out`.")],
    csv: Annotated[Optional[Path], typer.Option(help="Predict every row of this CSV.")] = None,
    map_: MapOption = None,
    at: Annotated[Optional[list[str]], typer.Option(help="name=value,...: one point, e.g. params=1.4e9,tokens=2.8e10 (repeat for more).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Predictions of a saved fit, with bootstrap intervals when the fit has draws."""
    import pandas as pd

    from scaling.fit import Fit

    fitted = Fit.load(fit_file)
    if (csv is None) == (not at):
        raise UserError("give either --csv FILE or --at name=value,...")
    if csv is not None:
        from runs_db.ingest import apply_mapping, read_table

        frame = apply_mapping(read_table(csv), str(csv), parse_pairs(map_, "--map"), {})
    else:
        group = fitted.law_spec.group_by
        rows = []
        for point in at:
            pairs = _comma_pairs([point], "--at")
            label = pairs.pop(group, None) if group else None
            rows.append({**_numbers(pairs, "--at"), **({group: label} if label is not None else {})})
        frame = pd.DataFrame(rows)
    values = fitted.predict(frame)
    intervals = fitted.predict_interval(frame)
    columns = [c for c in (*fitted.inputs, fitted.law_spec.group_by) if c and c in frame]
    records = [
        {"inputs": {c: (row[c] if isinstance(row[c], str) else float(row[c])) for c in columns}, "value": float(v), "interval": None if intervals is None else [float(x) for x in intervals[i]]}
        for i, (row, v) in enumerate(zip(frame.to_dict(orient="records"), values))
    ]
    if as_json:
        typer.echo(json.dumps({"predictions": records}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{fitted.law}: predicted {fitted.target}")
    for c in columns + [fitted.target, "interval"]:
        table.add_column(c, justify="right")
    for record in records:
        interval = record["interval"]
        table.add_row(*[str(v) if isinstance(v, str) else f"{v:.4g}" for v in record["inputs"].values()], f"{record['value']:.6g}", "" if interval is None else f"[{interval[0]:.6g}, {interval[1]:.6g}]")
    Console().print(table)


@cli.command()
def laws() -> None:
    """List the laws that `fit` knows, with their inputs and parameters."""
    from rich.console import Console
    from rich.table import Table

    from scaling.laws import all_laws

    table = Table(title="laws (LAWS.md)")
    for column in ("law", "section", "inputs", "target", "parameters (fixed by default)"):
        table.add_column(column)
    for law in all_laws().values():
        params = ", ".join(f"{p.name}" + (" (fixed)" if p.name in law.fixed else "") for p in law.params)
        table.add_row(law.name, law.section, ", ".join(law.inputs) + (f" per {law.group_by}" if law.group_by else ""), law.target, params)
    Console().print(table)


def _run(typer_app: typer.Typer) -> None:
    try:
        typer_app()
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


def app() -> None:
    """Entry point of `curascale`."""
    _run(cli)


def plan() -> None:
    """Entry point of `plan-curation` (the same as `curascale plan`)."""
    _run(plan_cli)
