"""`curascale runs ...`: ingest, list, show, export, find duplicates and delete runs of the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import DbOption, at_least, parse_pairs
from curascale.errors import UserError

app = typer.Typer(help="The run registry: pools, training runs and their evals in an embedded DuckDB file.", no_args_is_help=True, rich_markup_mode=None)

def _registry(db: str | None):
    from runs_db.registry import connect

    return connect(db)


@app.command()
def ingest(
    file: Annotated[Optional[Path], typer.Argument(help="CSV, JSONL or parquet file of runs (one row per run), or a trainer's outputs: a DataComp or open_clip run folder, an lm-evaluation-harness or OpenLM result JSON, or a folder of such runs.")] = None,
    map_: Annotated[Optional[list[str]], typer.Option("--map", help="target=source: read run column TARGET from file column SOURCE (e.g. params=N_params).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="column=value: give every row this value (e.g. family=chinchilla).")] = None,
    format_: Annotated[Optional[str], typer.Option("--format", help="Read FILE as datacomp, open_clip, lm_eval or openlm instead of recognising it by content (in a folder of runs: read only runs of this format).")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Ingest a dataset shipped with curascale instead of a file: chinchilla, datablations, gadre_overtraining, misfitting_li2025, ...")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite stored runs whose id matches but whose values differ.")] = False,
    run_prefix: Annotated[str, typer.Option("--run-prefix", help="Put PREFIX before every run id (e.g. hq/): runs of two folders with the same ids can share one registry. One trainer run is renamed with --set run_id=ID.")] = "",
    db: DbOption = None,
) -> None:
    """Validate a file of runs and add it to the registry in one transaction.

    Columns named like the law inputs (params, tokens, unique_tokens, samples_seen, bits_weights, ...)
    and metrics (loss, loss_<split>, error, err_<task>, accuracy) need no --map; other columns are kept
    in the run's config JSON. A bad file is rejected whole, naming its file, row and column.
    Trainer outputs are recognised by content (runs_db.formats); a folder of runs is read run by
    run, with a report of what was read and what was skipped and why.
    """
    from runs_db.ingest_sources import resolve_source

    mapping, given = parse_pairs(map_, "--map"), parse_pairs(set_, "--set")
    source = resolve_source(file, dataset=dataset, fmt=format_, mapping=mapping, constants=given)
    for line in source.account():
        render.echo(line)
    source.check()
    report = _registry(db).ingest(source.name, mapping=mapping, constants=source.ingest_constants(given), replace=replace, table=source.table, run_prefix=source.run_prefix + run_prefix)
    repeated = f", {report.repeated_rows} repeated rows stored once" if report.repeated_rows else ""
    twins = f", {report.replaced_duplicates} duplicate stored runs replaced" if report.replaced_duplicates else ""
    render.echo(f"{report.file}: {report.inserted} new rows, {report.replaced} replaced, {report.unchanged} unchanged, {report.evals} evals{repeated}{twins}")
    render.notes(report.notes)


@app.command("example-datacomp")
def example_datacomp(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder for the run.")],
    scale: Annotated[str, typer.Option(help="DataComp scale recorded in info.pkl: small, medium, large or xlarge.")] = "small",
    samples_seen: Annotated[str, typer.Option(help="Samples seen recorded in info.pkl (train_num_samples), e.g. 12.8M.")] = "12.8M",
    seed: Annotated[int, typer.Option(help="Seed of the made-up scores: the same arguments write the same bytes.", callback=at_least(0, "--seed"))] = 0,
) -> None:
    """Write an example DataComp run folder (eval_results.jsonl and info.pkl, made-up scores) to try `runs ingest FOLDER` on."""
    from runs_db.demo import write_datacomp_run
    from scaling.units import parse_quantity

    write_datacomp_run(folder, scale=scale, samples_seen=parse_quantity(samples_seen, name="--samples-seen"), seed=seed)
    render.echo(f"wrote an example DataComp run to {folder} (eval_results.jsonl, info.pkl)")


@app.command("list")
def list_runs(
    where: Annotated[Optional[str], typer.Option(help="SQL condition on the runs table, e.g. \"family = 'chinchilla'\".")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many runs (0: all).")] = 50,
    db: DbOption = None,
) -> None:
    """List runs with their sizes ("0 runs" when none match)."""
    if limit < 0:
        raise UserError(f"--limit must be >= 0 (0: all), got {limit}")
    runs = _registry(db).runs(where)
    if runs.empty:
        render.echo("0 runs")
        return
    columns = ["run_id", "family", "params", "tokens", "unique_tokens", "samples_seen", "epochs", "bits_weights", "pool", "bucket"]
    shown = [c for c in columns if c in runs and runs[c].notna().any()]
    rows = [
        ["" if run[c] is None or run[c] != run[c] else (f"{run[c]:.4g}" if isinstance(run[c], float) else str(run[c])) for c in shown]
        for _, run in (runs.head(limit) if limit else runs).iterrows()
    ]
    render.table(f"{len(runs)} runs", shown, rows, left=("run_id", "family", "pool", "bucket"))


@app.command()
def show(run_id: str, db: DbOption = None) -> None:
    """Print one run and its evals as JSON."""
    render.echo(json.dumps(_registry(db).show(run_id), indent=2, default=str))


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Output file.")],
    format_: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    db: DbOption = None,
) -> None:
    """Write every run joined with its evals (one row per eval)."""
    rows = _registry(db).export(out, format_)
    render.echo(f"wrote {rows} rows to {'standard output' if str(out) == '-' else out}", err=str(out) == "-")


WhereRequired = Annotated[str, typer.Option(help="SQL condition on the runs table, e.g. \"family = 'chinchilla'\" (true: every run).")]


@app.command()
def delete(
    where: WhereRequired,
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only count what would be deleted.")] = False,
    db: DbOption = None,
) -> None:
    """Delete the runs matching --where and their evals (one transaction); without --yes, count them."""
    deletion = _registry(db).delete(where, dry_run=not yes)
    if deletion.done:
        render.echo(f"deleted {deletion.runs} runs and {deletion.evals} evals")
    else:
        render.echo(f"{deletion.runs} runs and {deletion.evals} evals match; pass --yes to delete them")


@app.command()
def duplicates(db: DbOption = None) -> None:
    """Runs stored more than once (same inputs and evals under different ids), group by group."""
    table = _registry(db).duplicates()
    rows = [[str(row.group), row.run_id, row.family or "", row.source_file or "", str(row.ingested_at)] for row in table.itertuples()]
    render.table(f"{table['group'].nunique() if len(table) else 0} groups of duplicate runs", ["group", "run_id", "family", "source_file", "ingested_at"], rows, left=("run_id", "family", "source_file", "ingested_at"))
    if len(table):
        render.echo("keep one run of each group: curascale runs delete --where \"run_id IN ('...')\" --yes")
