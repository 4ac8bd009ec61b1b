"""`curascale fit`, `curascale predict` and `curascale laws`: options parsed here, work done by
`scaling` (fitting, prediction) and printed by `curascale.cli.render`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import DbOption, MapOption, comma_pairs, numbers, parse_pairs
from curascale.errors import UserError




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
    from scaling.frames import load_frame

    frame, source = load_frame(law, db=db, where=where, csv=csv, mapping=parse_pairs(map_, "--map"), split=split, task=task)
    initial = [numbers(comma_pairs([s], "--start"), "--start") for s in start] if start else None
    fitted = _run_fit(
        law, frame, source=source, as_json=as_json,
        fixed=numbers(comma_pairs(fix, "--fix"), "--fix"), tied=comma_pairs(tie, "--tie"),
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
        render.echo_json(fitted.summary())
    else:
        _print_fit(fitted, out, plot)


def _run_fit(law, frame, *, source, as_json, **options):
    from scaling.fit import fit
    from scaling.jaxconf import use_compilation_cache

    use_compilation_cache()  # a second `curascale fit` of the same shapes does not compile again

    with render.progress(not as_json) as report:
        return fit(law, frame, source=source, progress=report, **options)


def _print_fit(fitted, out, plot) -> None:
    rows = []
    for name, value in fitted.params.items():
        interval = fitted.intervals.get(name)
        shown = "" if interval is None or name in fitted.fixed or name in fitted.tied else f"[{interval[0]:.6g}, {interval[1]:.6g}]"
        note = "fixed" if name in fitted.fixed else (f"= {fitted.tied[name]}" if name in fitted.tied else "")
        rows.append((name, f"{value:.6g}", shown, note))
    render.table(f"{fitted.law} on {fitted.n_points} points ({fitted.law_spec.section})", ("parameter", "value", f"{fitted.interval_level:.0%} interval", ""), rows, left=("parameter", ""))
    status = "converged" if fitted.converged else "[red]best start hit the iteration cap[/red]"
    render.line("objective {}; {} of {} starts reached it; " + status, f"{fitted.objective:.10g}", fitted.starts_at_best, fitted.starts)
    if fitted.holdout:
        errors = ", ".join(f"{e:+.2%}" for e in fitted.holdout.relative_errors)
        render.line("held-out {} largest runs: relative errors {}", fitted.holdout.count, errors)
    for label, path in (("fit", out), ("plot", plot)):
        if path is not None:
            render.line("{} written to {}", label, path)


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
            pairs = comma_pairs([point], "--at")
            label = pairs.pop(group, None) if group else None
            rows.append({**numbers(pairs, "--at"), **({group: label} if label is not None else {})})
        frame = pd.DataFrame(rows)
    values = fitted.predict(frame)
    intervals = fitted.predict_interval(frame)
    columns = [c for c in (*fitted.inputs, fitted.law_spec.group_by) if c and c in frame]
    records = [
        {"inputs": {c: (row[c] if isinstance(row[c], str) else float(row[c])) for c in columns}, "value": float(v), "interval": None if intervals is None else [float(x) for x in intervals[i]]}
        for i, (row, v) in enumerate(zip(frame.to_dict(orient="records"), values))
    ]
    if as_json:
        render.echo_json({"predictions": records})
        return
    render.table(
        f"{fitted.law}: predicted {fitted.target}", [*columns, fitted.target, "interval"],
        [[*(str(v) if isinstance(v, str) else f"{v:.4g}" for v in record["inputs"].values()), f"{record['value']:.6g}",
          "" if record["interval"] is None else f"[{record['interval'][0]:.6g}, {record['interval'][1]:.6g}]"] for record in records],
    )


def laws() -> None:
    """List the laws that `fit` knows, with their inputs and parameters."""
    from scaling.laws import all_laws

    columns = ("law", "section", "inputs", "target", "parameters (fixed by default)")
    rows = [
        (law.name, law.section, ", ".join(law.inputs) + (f" per {law.group_by}" if law.group_by else ""), law.target,
         ", ".join(f"{p.name}" + (" (fixed)" if p.name in law.fixed else "") for p in law.params))
        for law in all_laws().values()
    ]
    render.table("laws (LAWS.md)", columns, rows, left=columns)
