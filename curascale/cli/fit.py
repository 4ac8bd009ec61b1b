"""`curascale fit`, `curascale predict` and `curascale laws`: options parsed here, work done by
`scaling` (fitting, prediction) and printed by `curascale.cli.render`."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import DbOption, MapOption, VersionOption, check_names, check_outputs, comma_pairs, numbers, parse_pairs
from curascale.errors import UserError
from curascale.io import interrupts_deferred

BOOTSTRAP_STARTS = 4  # scaling.fit.fit refits every draw from this many minima of the full fit


def bootstrap_bytes(draws: int, points: int, starts: int = BOOTSTRAP_STARTS) -> int:
    """A lower bound of the memory a bootstrap takes: the resampling counts [draws, points] and,
    three times over (host, gathered batch, device), the weights [starts * draws, points], float64."""
    return 8 * draws * points * (1 + 3 * starts)


def available_bytes() -> int:
    """Memory this process may still take: the machine's available memory, or less under a
    `ulimit -v` (RLIMIT_AS)."""
    import resource

    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        available = min(available, limit)
    return available


def check_fit_options(*, bootstrap: int, seed: int, holdout_largest: int, points: int, available: int | None = None, delta: float = 1e-3) -> None:
    """Counts are >= 0; the Huber delta is a positive finite number; a bootstrap that cannot fit
    in memory is refused before it starts, with the figures."""
    if not (math.isfinite(delta) and delta > 0):
        raise UserError(f"--delta must be a positive finite number, got {delta}")
    for name, value in (("--bootstrap", bootstrap), ("--seed", seed), ("--holdout-largest", holdout_largest)):
        if value < 0:
            raise UserError(f"{name} must be >= 0, got {value}")
    need = bootstrap_bytes(bootstrap, points)
    have = available_bytes() if available is None else available
    if bootstrap and need > have:
        raise UserError(
            f"--bootstrap {bootstrap} draws of {points} points need at least {need / 2**30:.3g} GiB of memory, "
            f"{have / 2**30:.3g} GiB is available: use at most {max(have // bootstrap_bytes(1, points), 0)} draws"
        )


def fit_command(
    law_name: Annotated[str, typer.Argument(metavar="LAW", help="A law of docs/laws.md, e.g. chinchilla, data_constrained, data_filtering_utility (see `curascale laws`).")],
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
    holdout_largest: Annotated[int, typer.Option(help="Also fit without the K largest-compute runs (runs tied at the cut go together) and list their observed, predicted and relative error.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Save the fit artifact (JSON) here.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Save observed vs fitted curves here: x.png or x.pdf (both are written).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    version: VersionOption = None,
) -> None:
    """Fit a scaling law: every start of its grid at once, Huber loss on log predictions (docs/laws.md §7)."""
    from scaling.laws import get_law

    law = get_law(law_name)
    if csv is not None and (db is not None or where is not None):
        raise UserError("give either --csv or --db/--where, not both")
    from scaling.frames import load_frame

    check_fit_options(bootstrap=bootstrap, seed=seed, holdout_largest=holdout_largest, points=0, delta=delta)
    check_outputs(out, figure=plot)  # before the fit, not after it
    fixed = numbers(comma_pairs(fix, "--fix"), "--fix", positive=False)
    initial = [numbers(comma_pairs([s], "--start"), "--start", positive=False) for s in start] if start else None
    read_notes: list = []
    frame, source = load_frame(law, db=db, where=where, csv=csv, mapping=parse_pairs(map_, "--map"), split=split, task=task, notes=read_notes)
    check_fit_options(bootstrap=bootstrap, seed=seed, holdout_largest=holdout_largest, points=len(frame))
    fitted = _run_fit(
        law, frame, source=source, as_json=as_json,
        fixed=fixed, tied=comma_pairs(tie, "--tie"),
        free=[name for value in free or [] for name in value.split(",") if name],
        initial=initial, delta=delta, bootstrap=bootstrap, holdout_largest=holdout_largest, seed=seed,
    )
    fitted.notes = read_notes + fitted.notes
    if db is not None and fitted.groups:
        fitted.metadata = _with_registered_buckets(fitted.metadata, db, fitted.groups)
    saved = None
    with interrupts_deferred():  # the artifact, the figure and the registry's copy: all or none (a Ctrl-C waits for them)
        if out is not None:
            fitted.save(out)
        if db is not None:
            from runs_db.registry import connect

            saved = f"{fitted.law}-{fitted.data_hash[:12]}-{fitted.created}"
            connect(db).save_fit_artifact(saved, fitted.to_dict())
        if plot is not None:
            from scaling.plots import plot_fit

            plot_fit(fitted, frame, plot)
    with render.stdout_reserved(out is not None and str(out) == "-"):  # stdout is the artifact
        if as_json:
            render.echo_json(fitted.summary())
        else:
            _print_fit(fitted, out, plot)
        if saved is not None:  # with --json on stderr, so that stdout stays one JSON object
            render.line("fit saved in the registry {} as {} (plan-curation --db uses the newest)", db, saved, err=as_json)


def _with_registered_buckets(metadata: dict, db, groups) -> dict:
    """The fit's metadata plus what the registry knows of its buckets (percentile ranges, score
    column, pool); bucket sizes the runs' unique_samples gave stay, the registry's fill the rest."""
    from scaling.frames import bucket_metadata

    registered = bucket_metadata(db, groups)
    sizes = {**registered.get("bucket_size_samples", {}), **metadata.get("bucket_size_samples", {})}
    return {**registered, **metadata, **({"bucket_size_samples": sizes} if sizes else {})}


def _run_fit(law, frame, *, source, as_json, **options):
    from scaling.fit import fit
    from scaling.jaxconf import CACHE_SWITCH, cache_directory, cache_switched_off, cache_trouble, use_compilation_cache, use_cpu_cores

    directory = use_compilation_cache()  # a second `curascale fit` of the same shapes does not compile again
    if directory is None and not cache_switched_off():  # trial: a fit twice as slow, silently
        render.line("note: the compilation cache folder {} cannot be created or written; the fit compiles (set {}=off to say no cache)",
                    cache_directory(), CACHE_SWITCH, err=True)
    use_cpu_cores()  # blocks of starts on every core at once
    with cache_trouble() as trouble, render.progress(not as_json) as report:
        fitted = fit(law, frame, source=source, progress=report, **options)
    if trouble:  # the fit compiled instead: same results, one line on stderr (stdout may be the JSON)
        render.line("note: {} entries of the compilation cache {} could not be read or written; compiled instead (JAX keeps a bad entry: "
                    "remove that folder to rebuild the cache, or set {}=off). First: {}", len(trouble), directory, CACHE_SWITCH, trouble[0], err=True)
    return fitted


def _print_fit(fitted, out, plot) -> None:
    from scaling.diagnostics import headline

    with_intervals = bool(fitted.intervals)
    with_held = any(name in fitted.fixed or name in fitted.tied for name in fitted.params)  # else no such column
    rows = []
    for name, value in fitted.params.items():
        interval = fitted.intervals.get(name)
        shown = "" if interval is None or name in fitted.fixed or name in fitted.tied else f"[{interval[0]:.6g}, {interval[1]:.6g}]"
        held = ("fixed" if name in fitted.fixed else (f"= {fitted.tied[name]}" if name in fitted.tied else ""),) if with_held else ()
        rows.append((name, f"{value:.6g}", *((shown,) if with_intervals else ()), *held))
    columns = ("parameter", "value", *((f"{fitted.interval_level:.0%} interval",) if with_intervals else ()), *(("fixed or tied",) if with_held else ()))
    render.table(f"{fitted.law} on {fitted.n_points} points ({fitted.law_spec.section}){headline(fitted.notes)}", columns, rows, left=("parameter", "fixed or tied"))
    status = "converged" if fitted.converged else "[red]best start hit the iteration cap[/red]"
    render.line("objective {}; {} of {} starts reached it; " + status, f"{fitted.objective:.10g}", fitted.starts_at_best, fitted.starts)
    render.notes(fitted.notes)
    if fitted.holdout:
        _print_holdout(fitted)
    for label, path in (("fit", out), ("plot", plot)):
        if path is not None:
            render.line("{} written to {}", label, path)


def _print_holdout(fitted) -> None:
    """The held-out runs, by compute: inputs, observed, predicted, relative error."""
    holdout = fitted.holdout
    names = list(holdout.inputs)
    rows = [
        (*(v if isinstance(v, str) else f"{v:.4g}" for v in (holdout.inputs[n][i] for n in names)), f"{holdout.compute[i]:.4g}",
         f"{holdout.observed[i]:.5g}", f"{holdout.predicted[i]:.5g}",
         f"{holdout.relative_errors[i]:+.2%}" + (" unseen" if holdout.unseen and holdout.unseen[i] else ""))
        for i in range(holdout.count)
    ]
    tied = f" ({holdout.count} with ties at the cut; {holdout.requested} asked)" if holdout.count > holdout.requested else ""
    render.table(f"held out: the {holdout.count} largest runs{tied}, refit without them", (*names, "compute", f"observed {fitted.target}", "predicted", "relative error"),
                 rows, left=tuple(n for n in names if n == fitted.law_spec.group_by))


def predict(
    fit_file: Annotated[str, typer.Argument(metavar="FIT.json", help="A fit artifact written by `curascale fit --out`, or a shipped fit's name (e.g. reference/chinchilla-epoch).")],
    csv: Annotated[Optional[Path], typer.Option(help="Predict every row of this CSV.")] = None,
    map_: MapOption = None,
    at: Annotated[Optional[list[str]], typer.Option(help="name=value,...: one point, e.g. params=1.4e9,tokens=2.8e10 (repeat for more).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    version: VersionOption = None,
) -> None:
    """Predictions of a saved fit, with bootstrap intervals when the fit has draws."""
    import pandas as pd

    from scaling.reference import load_fit

    fitted = load_fit(fit_file)
    if (csv is None) == (not at):
        raise UserError("give either --csv FILE or --at name=value,...")
    if csv is not None:
        from scaling.frames import load_points

        frame = load_points(csv, fitted.law_spec, parse_pairs(map_, "--map"))
    else:
        group = fitted.law_spec.group_by
        rows = []
        for point in at:
            pairs = comma_pairs([point], "--at")
            check_names(pairs, [*fitted.inputs, *([group] if group else [])], "--at")
            label = pairs.pop(group, None) if group else None
            rows.append({**numbers(pairs, "--at"), **({group: label} if label is not None else {})})
        frame = pd.DataFrame(rows)
    from scaling.diagnostics import headline, prediction_notes

    values = fitted.predict(frame)
    intervals = fitted.predict_interval(frame)
    notes = prediction_notes(fitted, {c: frame[c].to_numpy(dtype=float) for c in fitted.inputs if c in frame}, values)
    columns = [c for c in (*fitted.inputs, fitted.law_spec.group_by) if c and c in frame]
    records = [
        {"inputs": {c: (row[c] if isinstance(row[c], str) else float(row[c])) for c in columns}, "value": float(v), "interval": None if intervals is None else [float(x) for x in intervals[i]]}
        for i, (row, v) in enumerate(zip(frame.to_dict(orient="records"), values))
    ]
    if as_json:
        from curascale.notes import notes_to_dicts

        render.echo_json({"predictions": records, "notes": notes_to_dicts(notes)})
        return
    no_interval = intervals is None
    render.table(
        f"{fitted.law}: predicted {fitted.target}{headline(notes)}", [*columns, fitted.target, *(() if no_interval else ("interval",))],
        [[*(str(v) if isinstance(v, str) else f"{v:.4g}" for v in record["inputs"].values()), f"{record['value']:.6g}",
          *(() if no_interval else (f"[{record['interval'][0]:.6g}, {record['interval'][1]:.6g}]",))] for record in records],
    )
    render.notes(notes)
    if no_interval:
        from scaling import diagnostics

        render.line("{}", diagnostics.no_interval(fitted)[0].message)


def laws(
    name: Annotated[Optional[str], typer.Argument(metavar="LAW", help="Print this law's form, inputs, parameters and source (docs/laws.md).")] = None,
) -> None:
    """List the laws that `fit` knows, with their inputs and parameters; with LAW, print that law."""
    from scaling.laws import all_laws, get_law

    if name is not None:
        _print_law(get_law(name))
        return
    columns = ("law", "section", "inputs", "target", "parameters (fixed by default)")
    rows = [
        (law.name, law.section, ", ".join(law.inputs) + (f" per {law.group_by}" if law.group_by else ""), law.target,
         ", ".join(f"{p.name}" + (" (fixed)" if p.name in law.fixed else "") for p in law.params))
        for law in all_laws().values()
    ]
    render.table("laws (docs/laws.md; `curascale laws LAW` prints one)", columns, rows, left=columns)


def _print_law(law) -> None:
    from curascale.docs import section_for

    render.line("[bold]{}[/bold]: {} ({})", law.name, law.description, law.section)
    render.line("inputs: {}; target: {}", ", ".join(law.inputs) + (f", one value per {law.group_by}" if law.group_by else ""), law.target)
    rows = []
    for p in law.params:
        default = f"fixed at {law.fixed[p.name]:.6g}" if p.name in law.fixed else (f"= {law.tied[p.name]}" if p.name in law.tied else ("free, per " + law.group_by if p.per_group else "free"))
        rows.append((p.name, default, p.doc))
    render.table(f"{law.name}: parameters", ("parameter", "by default", "meaning"), rows, left=("parameter", "by default", "meaning"))
    render.echo(section_for(law.section))
