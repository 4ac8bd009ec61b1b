"""`curascale design-pilots`: which pilot runs to train next, ranked by expected value per compute."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import at_least, check_outputs
from curascale.errors import UserError


def parse_candidates(text: str | None, unit: str) -> list[tuple] | None:
    """'POOL:SAMPLES[:UNIQUE],...' (samples; UNIQUE: the pilot trains on a random subset of that
    many of the pool's samples) or 'N:D,...' (flops) -> [(pool, samples[, unique])] or [(N, D)]."""
    if text is None:
        return None
    from scaling.units import parse_quantity

    items = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        fields = item.rsplit(":", 2)
        if unit == "samples" and len(fields) == 3 and fields[0] and _is_quantity(fields[1]):
            items.append((fields[0], parse_quantity(fields[1], name=f"--candidates {item}"), parse_quantity(fields[2], name=f"--candidates {item}")))
            continue
        first, sep, second = item.rpartition(":")
        if not sep or not first:
            raise UserError(f"--candidates takes {'POOL:SAMPLES[:UNIQUE]' if unit == 'samples' else 'N:D'} items separated by commas, got {item!r}")
        size = parse_quantity(second, name=f"--candidates {item}")
        items.append((first, size) if unit == "samples" else (parse_quantity(first, name=f"--candidates {item}"), size))
    if not items:
        raise UserError("--candidates is empty")
    return items


def _is_quantity(text: str) -> bool:
    from scaling.units import parse_quantity

    try:
        parse_quantity(text, name="")
    except UserError:
        return False
    return True


FLAGS = (  # the library's words for what a user gives at the CLI (regular expressions) -> the flag
    (r"(?<![\w-])pilot_budget\b", "--pilot-budget"), (r"(?<![\w-])unique_tokens\b", "--unique-tokens"), (r"^replicates must", "--replicates must"),
    (r"^candidates:", "--candidates:"), (r"\bgive noise\b", "give --noise"), (r"^noise must", "--noise must"), (r"^budget must", "--budget must"),
    (r"the budget \(", "--budget ("), (r"\(registry\)", "(--db)"),
)


def flag_message(message: str, fit_source: str | None = None, fit_path: str | None = None) -> str:
    """A library error in the CLI's terms: parameters named by their flags (FLAGS), and the fit
    named by the file given (--fit) rather than the source recorded in the artifact."""
    import re

    if fit_path is not None and fit_source and f"fit {fit_source}" in message:
        message = message.replace(f"fit {fit_source}", f"fit {fit_path}", 1)
    for pattern, flag in FLAGS:
        message = re.sub(pattern, flag, message)
    return message


def design_pilots(
    budget: Annotated[str, typer.Option("--budget", help="The big run's budget: samples seen (e.g. 1.28B) or, with --unit flops, FLOPs.")],
    pilot_budget: Annotated[str, typer.Option("--pilot-budget", help="Compute for pilots, in the same unit (e.g. 50M samples).")],
    fit_path: Annotated[Optional[str], typer.Option("--fit", help="The fit artifact (a file or a shipped name); it needs bootstrap draws, or --db runs for a Laplace approximation.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Run registry: its newest fit when --fit is absent, its bucket sizes, and its runs for the Laplace approximation.")] = None,
    unit: Annotated[str, typer.Option(help="samples (data plans, docs/laws.md §3) or flops (language models, docs/laws.md §1).")] = "samples",
    candidates: Annotated[Optional[str], typer.Option(help="Only these pilots: POOL:SAMPLES[:UNIQUE],... (e.g. tmars_top0to10p:25.6M,top20:51.2M; UNIQUE: train on a random subset of that many samples, e.g. top10:25.6M:3.2M) or N:D,... with --unit flops.")] = None,
    truths: Annotated[int, typer.Option(help="Plausible truths (bootstrap draws subsampled, or Laplace draws).")] = 256,
    replicates: Annotated[int, typer.Option(help="Simulated noisy outcomes per truth and pilot.")] = 4,
    unique_tokens: Annotated[Optional[str], typer.Option("--unique-tokens", help="With --unit flops and a data_constrained fit: the unique tokens the big run has (e.g. 100B), so its plans repeat data (the pilots come with repeated-data variants with or without it).")] = None,
    bucket_sizes: Annotated[Optional[str], typer.Option("--bucket-sizes", help="Data plans: name=size,... samples per bucket, overriding the fit's and the registry's (e.g. hq=12.8M,lq=12.8M; needed after subsampled pilots, whose runs give other sizes).")] = None,
    noise: Annotated[Optional[float], typer.Option(help="Residual sd of the log metric (default: from the fit).")] = None,
    top: Annotated[int, typer.Option(help="Rows of the ranked table.", callback=at_least(1, "--top"))] = 15,
    seed: Annotated[int, typer.Option(help="Seed of the truths' subsample and the simulated outcomes.", callback=at_least(0, "--seed"))] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Save value against cost here (.png or .pdf; both are written).")] = None,
) -> None:
    """Rank candidate pilot runs by how much they are expected to improve the plan's decision
    (expected regret reduction) and shrink its interval, per unit of pilot compute, and choose a
    batch of pilots within the pilot budget. Data designs need buckets of equal size (the paper's
    top-m unions)."""
    from scaling.design import design_pilots as run_design
    from scaling.units import parse_quantity

    if unit not in ("samples", "flops"):
        raise UserError(f"--unit must be samples or flops, got {unit!r}")
    total, pilots = parse_quantity(budget, name="--budget"), parse_quantity(pilot_budget, name="--pilot-budget")
    if pilots >= total:
        raise UserError(f"--pilot-budget {pilot_budget} must be smaller than --budget {budget}")
    unique = parse_quantity(unique_tokens, name="--unique-tokens") if unique_tokens is not None else None
    if unique is not None and unit != "flops":
        raise UserError("--unique-tokens is for language-model plans: add --unit flops")
    if truths < 2:
        raise UserError(f"--truths must be at least 2, got {truths}")
    if replicates < 1:
        raise UserError(f"--replicates must be at least 1, got {replicates}")
    check_outputs(figure=plot)  # a bad path fails before the design runs
    if fit_path is None and db is None:
        raise UserError("give the fit to design for: --fit FILE (or --db with a saved fit)")
    if bucket_sizes is not None and unit != "samples":
        raise UserError("--bucket-sizes is for data plans (--unit samples)")
    fit, sizes = _sources(fit_path, db, unit)
    if bucket_sizes is not None:
        from curascale.cli.options import numbers, parse_pairs
        from scaling.bucket_sizes import check_bucket_names, fit_buckets

        given = numbers(parse_pairs([p for p in bucket_sizes.split(",") if p], "--bucket-sizes"), "--bucket-sizes")
        check_bucket_names(fit_buckets(fit), given)
        sizes = {**(sizes or {}), **given}
    try:
        result = run_design(fit, total, pilots, unit=unit, db=db, bucket_sizes=sizes, candidates=parse_candidates(candidates, unit),
                            truths=truths, replicates=replicates, noise=noise, seed=seed, unique_tokens=unique)
    except UserError as error:
        raise UserError(flag_message(str(error), fit.source or fit.law, fit_path)) from None
    if plot is not None:
        from scaling.design import plot_design

        plot_design(result, plot)
    if as_json:
        record = result.to_dict()
        record["fit"]["file"] = fit_path if fit_path is not None else f"{db} (its newest fit)"
        render.echo_json(record)
        return
    _print(result, top)


def _sources(fit_path, db, unit):
    """The fit and the registry's bucket sizes (None without --db)."""
    from scaling.fit import Fit
    from scaling.reference import load_fit

    if db is None:
        return load_fit(fit_path), None
    from runs_db.registry import connect

    registry = connect(db)
    if fit_path is not None:
        fit = load_fit(fit_path)
    else:
        from scaling.plan import DATA_FILTERING_LAWS

        from scaling.design import MODEL_LAWS

        fit_id, artifact = registry.latest_fit(DATA_FILTERING_LAWS if unit == "samples" else MODEL_LAWS)
        fit = Fit.from_dict(artifact, source=f"{db}: fit {fit_id}")
    return fit, registry.bucket_sizes(list(fit.groups or [])) or None


def _print(result, top: int) -> None:
    from scaling.design import format_cost
    from scaling.diagnostics import headline

    unit = "samples" if result.unit == "samples" else "FLOPs"
    format_quantity = lambda value: format_cost(value, result.unit)  # noqa: E731
    runs = f" from {result.runs.count} runs ({result.runs.source})" if result.runs is not None else ""
    render.line("decision for {} {}: [bold]{}[/bold] now; expected regret {} {} (interval width {}), {} {} truths, noise {}{}{}",
                format_quantity(result.budget), unit, result.prior_plan, f"{result.prior_regret:.4g}", result.metric_name,
                f"{result.prior_width:.4g}", result.truths, result.truths_source, f"{result.noise:.3g}", runs, headline(result.notes))
    batch = {step.pilot for step in result.batch}
    rows = [(p.pilot, format_quantity(p.cost), f"{p.regret_reduction:.3g} ± {p.regret_reduction_se:.2g}", f"{p.interval_reduction:.3g} ± {p.interval_reduction_se:.2g}", f"{p.regret_reduction_per_cost * (1e6 if result.unit == 'samples' else 1e18):.3g}", p.informs)
            for p in result.pilots[:top]]
    styles = ["bold green" if p.pilot in batch else None for p in result.pilots[:top]]
    render.table(f"pilots by expected value per {unit} (of {len(result.pilots)})",
                 ("pilot", f"cost ({unit})", f"regret reduction ({result.metric_name})", "interval reduction", f"per {'1M' if result.unit == 'samples' else '1e18'} {unit}", "decision informed"),
                 rows, left=("pilot", "decision informed"), styles=styles, no_wrap=("pilot",))
    if result.batch and result.batch_chosen_by == "regret reduction":
        render.line("batch within {} {}: [bold]{}[/bold] ({} {}), expected regret {} -> {}", format_quantity(result.pilot_budget), unit,
                    ", ".join(s.pilot for s in result.batch), format_quantity(result.batch[-1].cumulative_cost), unit,
                    f"{result.prior_regret:.4g}", f"{result.batch[-1].regret:.4g}")
    elif result.batch:
        render.line("batch within {} {}: [bold]{}[/bold] ({} {}), chosen by interval reduction: width {} -> {} (its expected regret does not fall)",
                    format_quantity(result.pilot_budget), unit, ", ".join(s.pilot for s in result.batch), format_quantity(result.batch[-1].cumulative_cost), unit,
                    f"{result.prior_width:.4g}", f"{result.batch[-1].width:.4g}")
    else:
        render.line("batch: no pilot within {} {} is expected to change the decision", format_quantity(result.pilot_budget), unit)
    if result.batch and result.fresh_regret is not None:
        render.line("on fresh simulated outcomes (not the ones that chose it) the batch's expected regret is {} ± {}", f"{result.fresh_regret:.4g}", f"{result.fresh_regret_se:.2g}")
    if result.batch and result.batch_source != "greedy":
        render.line("batch from: {} (compared: {})", result.batch_source, "; ".join(f"{a.name} {a.regret:.4g}" for a in result.alternatives))
    render.notes(result.notes)
