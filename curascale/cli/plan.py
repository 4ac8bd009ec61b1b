"""`plan-curation` / `curascale plan`: the plan for a budget, as a table, JSON and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.cli.options import VersionOption, check_outputs, numbers, parse_pairs
from curascale.errors import UserError

DEFAULT_DATA_FIT = "reference/tmars-imagenet-utility"
DEFAULT_MODEL_FITS = ("reference/chinchilla-epoch", "reference/precision")


def plan(
    compute: Annotated[str, typer.Option("--compute", help="The budget: samples seen (e.g. 128M) or, with --unit flops, FLOPs (e.g. 1e21).")],
    unit: Annotated[str, typer.Option(help="samples (image-text pairs seen) or flops.")] = "samples",
    fits: Annotated[Optional[list[str]], typer.Option("--fits", help="Fit artifacts (files or shipped names such as reference/precision); repeat for several. For language models each replaces the default fit of its own role only (a finetune fit keeps the Chinchilla and precision defaults); a Chinchilla-form fit of your own also leaves out the precision default (it decides N and D itself), a shipped reference such as reference/chinchilla-epoch does not.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Plan on the newest fits saved in this run registry (`curascale fit ... --db`), with its registered bucket sizes.")] = None,
    candidates: Annotated[str, typer.Option(help="top-m: unions of the best m buckets (the paper's candidates); mixtures: also the optimal non-uniform mixture of the buckets.")] = "top-m",
    sweep: Annotated[Optional[str], typer.Option(help="LO:HI: the best candidate across a log grid of budgets (e.g. 12.8M:1.28B).")] = None,
    sweep_points: Annotated[Optional[int], typer.Option(help="Budgets in the sweep (default 100).", show_default=False)] = None,
    params: Annotated[Optional[str], typer.Option(help="Language models: fix the parameter count instead of the compute-optimal one.")] = None,
    precisions: Annotated[Optional[str], typer.Option(help="Language models: the training precisions allowed, bits or formats (e.g. 4,8,16 or int4,fp8,bf16); default: any (docs/laws.md §4).")] = None,
    unique_tokens: Annotated[Optional[str], typer.Option(help="Language models: unique tokens available (e.g. 100B); repeated as needed under the data-constrained law (docs/laws.md §2).")] = None,
    quantize_to: Annotated[Optional[str], typer.Option(help="Language models: post-training quantization precision, bits or a format as in --precisions (e.g. 4 or int4).")] = None,
    domain_tokens: Annotated[Optional[str], typer.Option(help="Language models: unique domain tokens for specialized pretraining (docs/laws.md §6).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Save a figure of the plan (or the sweep) here: x.png or x.pdf (both are written).")] = None,
    export_manifest: Annotated[Optional[Path], typer.Option(help="Write the chosen plan's sample list here (subset.npy, manifest.parquet, manifest.json).")] = None,
    pool: Annotated[Optional[Path], typer.Option(help="The DataComp pool to cut the plan's buckets from (with --export-manifest).")] = None,
    score_column: Annotated[Optional[str], typer.Option(help="The pool's score the buckets are cut on (default: the fit's, else clip_l14_similarity_score).")] = None,
    bucket_sizes: Annotated[Optional[str], typer.Option("--bucket-sizes", help="name=size,...: samples per bucket, overriding the fit's and the registry's (e.g. hq=128M,lq=128M).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Plan (and export) even when the fit does not identify a parameter deciding the plan or the plan carries an error note.")] = False,
    version: VersionOption = None,
) -> None:
    """Plan data, repetition and precision for a compute budget from fitted laws.

    With no --fits, image-text plans use the shipped reference fit of the T-MARS buckets
    (reference/tmars-imagenet-utility) and language-model plans the Chinchilla and precision
    reference fits.
    """
    from scaling.units import parse_quantity

    budget = parse_quantity(compute, name="--compute")
    if unit not in ("samples", "flops"):
        raise UserError(f"--unit must be samples or flops, got {unit!r}")
    if candidates not in ("top-m", "mixtures"):
        raise UserError(f"--candidates must be top-m or mixtures, got {candidates!r}")
    if db is not None and fits:
        raise UserError("--db and --fits are two sources of fits: give one")
    given = {"--plot": plot, "--candidates mixtures": candidates == "mixtures" or None, "--sweep": sweep, "--sweep-points": sweep_points,
             "--export-manifest": export_manifest, "--pool": pool, "--score-column": score_column, "--bucket-sizes": bucket_sizes,
             "--params": params, "--precisions": precisions, "--unique-tokens": unique_tokens, "--quantize-to": quantize_to,
             "--domain-tokens": domain_tokens}
    _check_flags(unit, {flag for flag, value in given.items() if value is not None})
    check_outputs(figure=plot)  # before the fits are read and the plan is made
    from scaling.reference import load_fit

    if unit == "samples":
        from scaling.bucket_sizes import choose_bucket_sizes

        fit, registered = _data_fit(db, fits)
        given = numbers(parse_pairs([p for p in (bucket_sizes or "").split(",") if p], "--bucket-sizes"), "--bucket-sizes")
        pool_sizes = None
        if export_manifest is not None:  # the manifest's passes must be those of the pool's own buckets
            from scaling.handoff import pool_bucket_sizes

            pool_sizes = (str(pool), pool_bucket_sizes(fit, pool))
        registry_sizes = (registered["pool"], registered["bucket_size_samples"]) if registered else None
        sizes, size_notes = choose_bucket_sizes(fit, registry=registry_sizes, given=given, pool=pool_sizes, force=force)
        if sweep is not None:
            _sweep(fit, sweep, sweep_points or 100, as_json, plot, sizes, candidates == "mixtures", force, budget, size_notes)
            return
        result = _data_plan(fit, budget, as_json, plot, sizes, candidates == "mixtures", force, size_notes)
        if export_manifest is not None:
            from scaling.handoff import export_plan_manifest

            report = export_plan_manifest(result, fit, pool, export_manifest, score_column=score_column)
            render.echo(f"wrote the plan's {report.outputs['']['samples']:,} samples to {export_manifest}", err=as_json)
    else:
        unique = None if unique_tokens is None else parse_quantity(unique_tokens, name="--unique-tokens")
        defaults = DEFAULT_MODEL_FITS + (("reference/data-constrained",) if unique is not None else ())
        from scaling.diagnostics import headline
        from scaling.plan import plan_model
        from scaling.plan_model import parse_precision, parse_precisions, with_default_fits

        loaded = _model_fits(db) if db is not None else with_default_fits([load_fit(name) for name in fits or []], [load_fit(name) for name in defaults])
        result = plan_model(
            budget, loaded,
            params=None if params is None else parse_quantity(params, name="--params"),
            precisions=None if precisions is None else parse_precisions(precisions, "--precisions"),
            unique_tokens=unique,
            quantize_to=None if quantize_to is None else parse_precision(quantize_to, "--quantize-to"),
            domain_tokens=None if domain_tokens is None else parse_quantity(domain_tokens, name="--domain-tokens"),
            force=force,
        )
        if plot is not None:
            from scaling.plan_model import iso_flop_curves
            from scaling.plots import plot_model_plan

            plot_model_plan(result, iso_flop_curves(result, loaded), plot)
        if as_json:
            render.echo_json(result.to_json())
        else:
            _print_model_plan(result, headline(result.notes))
            render.notes(result.notes)


DATA_PLAN_FLAGS = {"--candidates mixtures", "--sweep", "--sweep-points", "--export-manifest", "--pool", "--score-column", "--bucket-sizes"}
MODEL_PLAN_FLAGS = {"--params", "--precisions", "--unique-tokens", "--quantize-to", "--domain-tokens"}


def _check_flags(unit: str, given: set[str]) -> None:
    """A flag that does not apply to the kind of plan asked for is an error, never ignored."""
    foreign = sorted(given & (DATA_PLAN_FLAGS if unit == "flops" else MODEL_PLAN_FLAGS))
    if foreign:
        kind = "data plans (--unit samples)" if unit == "flops" else "language-model plans (--unit flops)"
        raise UserError(f"{', '.join(foreign)}: only for {kind}")
    if "--sweep-points" in given and "--sweep" not in given:
        raise UserError("--sweep-points goes with --sweep")
    if "--sweep" in given and given & {"--export-manifest", "--pool"}:
        raise UserError("--export-manifest writes one plan; it does not go with --sweep")
    if ("--export-manifest" in given) != ("--pool" in given):
        raise UserError("--export-manifest and --pool go together")
    if "--score-column" in given and "--export-manifest" not in given:
        raise UserError("--score-column goes with --export-manifest")
    if "--bucket-sizes" in given and "--export-manifest" in given:
        raise UserError("--export-manifest plans on the pool's own bucket sizes; drop --bucket-sizes")


def _data_fit(db, fits):
    """The data-filtering fit to plan on and what the registry knows of its buckets (with --db:
    `scaling.frames.bucket_metadata`; percentile ranges and the score column the fit lacks are
    taken from there, so a fit made before the buckets were registered can still cut a pool)."""
    import dataclasses

    from scaling.fit import Fit
    from scaling.frames import bucket_metadata
    from scaling.plan import DATA_FILTERING_LAWS
    from scaling.reference import load_fit

    if db is None:
        name = (fits or [DEFAULT_DATA_FIT])[0]
        fit = load_fit(name)
        return (fit if fit.source == name else dataclasses.replace(fit, source=f"{name}: fit of {fit.source}")), {}
    from runs_db.registry import connect

    fit_id, artifact = connect(db).latest_fit(DATA_FILTERING_LAWS)
    fit = Fit.from_dict(artifact, source=f"{db}: fit {fit_id}")
    registered = bucket_metadata(str(db), list(fit.groups or []))
    if registered:
        metadata = dict(fit.metadata)
        metadata["bucket_percentile_ranges"] = {**registered["bucket_percentile_ranges"], **metadata.get("bucket_percentile_ranges", {})}
        metadata.setdefault("score_column", registered["score_column"])
        fit = dataclasses.replace(fit, metadata=metadata)
    return fit, registered


def _model_fits(db):
    """The newest saved fit of every language-model law in the registry."""
    from runs_db.registry import connect
    from scaling.fit import Fit
    from scaling.plan import DATA_FILTERING_LAWS

    chosen = connect(db).latest_fit_per_law(exclude=DATA_FILTERING_LAWS)
    return [Fit.from_dict(artifact, source=f"{db}: fit {fit_id}") for fit_id, artifact in chosen]


def _data_plan(fit, budget, as_json, plot, bucket_sizes=None, mixtures=False, force=False, size_notes=()):
    from curascale.notes import merge
    from scaling.diagnostics import headline
    from scaling.plan import plan_data

    result = plan_data(fit, budget, bucket_sizes=bucket_sizes, mixtures=mixtures, force=force)
    result.notes = merge(result.notes, size_notes)
    if plot is not None:
        from scaling.plots import plot_plan

        plot_plan(result, fit, plot)
    if as_json:
        render.echo_json(result.to_json())
        return result
    from scaling.units import format_quantity

    with_interval = any(candidate.interval is not None for candidate in result.candidates)
    rows, styles = [], []
    for candidate in result.candidates:
        interval = (f"[{candidate.interval[0]:.2%}, {candidate.interval[1]:.2%}]",) if with_interval else ()
        per_bucket = tuple(f"{b}: {w:.2f}, {candidate.repetitions[b]:.2f}x, {format_quantity(candidate.samples[b])}" for b, w in zip(candidate.buckets, candidate.shares))
        rows.append((candidate.name, f"{candidate.predicted_accuracy:.2%}", f"{candidate.predicted_error:.4f}", *interval, f"{candidate.epochs:.2f}", per_bucket))
        styles.append("bold green" if candidate.name == result.best else None)
    columns = ("candidate", "accuracy", "error", *(("interval",) if with_interval else ()), "epochs", "bucket: share, passes, samples")
    render.table(f"data plan for {format_quantity(budget)} samples seen ({result.fit}){headline(result.notes)}", columns, rows, left=("candidate", columns[-1]), styles=styles)
    probability = "" if result.probability_best is None else f" (best in {result.probability_best:.0%} of bootstrap draws)"
    render.line("plan: train on [bold]{}[/bold]{}", result.best, probability)
    render.notes(result.notes)
    return result


def _sweep(fit, text, points, as_json, plot, bucket_sizes=None, mixtures=False, force=False, budget=None, size_notes=()) -> None:
    import dataclasses

    from curascale.notes import merge
    from scaling.diagnostics import headline
    from scaling.plan import sweep_data
    from scaling.units import format_quantity, parse_quantity

    low, sep, high = text.partition(":")
    if not sep:
        raise UserError(f"--sweep takes LO:HI, got {text!r}")
    low, high = parse_quantity(low, name="--sweep"), parse_quantity(high, name="--sweep")
    if not low < high:
        raise UserError("--sweep needs LO < HI")
    sweep = sweep_data(fit, low, high, points, bucket_sizes=bucket_sizes, mixtures=mixtures, force=force)
    sweep = dataclasses.replace(sweep, notes=merge(sweep.notes, size_notes))
    rows, notes = sweep.rows, sweep.notes
    if plot is not None:
        from scaling.plots import plot_sweep

        plot_sweep(rows, fit, plot, budget)
    if as_json:
        render.echo_json(sweep.to_json())
        return
    shown, previous = [], None
    for row in rows:
        if mixtures or row["best"] != previous or row is rows[-1] or row is rows[0]:
            mixture = row.get("mixture")
            extra = (", ".join(f"{b}: {w:.2f}" for b, w in mixture["shares"].items()), f"{mixture['predicted_accuracy']:.2%}") if mixture else ()
            shown.append((format_quantity(row["budget_samples"]), row["best"], f"{row['predicted_accuracy']:.2%}", *extra))
        previous = row["best"]
    render.table(f"quality-quantity frontier ({fit.source}){headline(notes)}", ("budget (samples)", "best", "accuracy", *(("best mixture shares", "mixture accuracy") if mixtures else ())),
                 shown, left=("best", "best mixture shares"))
    render.notes(notes)


def _print_model_plan(result, warned: str = "") -> None:
    """One language-model plan: the candidate precisions, the plan, what each constraint costs,
    which law decided each number, and the notes."""
    from scaling.units import format_quantity

    if result.alternatives:
        rows = [(a.precision, f"{a.capacity:.3f}", f"{a.params_multiplier:.2f}x", f"{a.compute_multiplier:.2f}x", f"{a.compute_efficiency:.0%}",
                 format_quantity(a.params), format_quantity(a.tokens), f"{a.loss:.4f}") for a in result.alternatives]
        render.table(f"training precisions at {result.budget_flops:.3g} FLOPs",
                     ("precision", "N_eff/N", "x params", "x compute", "efficiency", "N", "D", "loss"), rows,
                     left=("precision",), styles=["bold green" if a.chosen else None for a in result.alternatives])
    render.line("[bold]plan for {} FLOPs[/bold]{}: N = {} parameters, D = {} tokens ({} a parameter), train at {}, loss {}",
                f"{result.budget_flops:.3g}", warned, format_quantity(result.params), format_quantity(result.tokens), f"{result.tokens / result.params:.2g}",
                result.precision, f"{result.loss:.4f}")
    if result.intervals:
        i = result.intervals
        render.line("{}% interval over {} draws of {}: N {} to {}, D {} to {}, loss {} to {}", f"{i['level']:.0%}".rstrip("%"), i["draws"], ", ".join(i["fits"]),
                    format_quantity(i["params"][0]), format_quantity(i["params"][1]), format_quantity(i["tokens"][0]), format_quantity(i["tokens"][1]),
                    f"{i['loss'][0]:.4f}", f"{i['loss'][1]:.4f}")
    if result.epochs is not None:
        render.line("epochs: {} over {} unique tokens", f"{result.epochs:.2f}", format_quantity(result.unique_tokens))
    q = result.quantization
    if q:
        bound = " (upper bound: BF16 form)" if q.bound else ""
        critical = f"{format_quantity(q.critical_tokens)} tokens" if q.critical_tokens != float("inf") else "never (more data never hurts at this precision)"
        render.line("post-training quantization to {} bits: +{} loss{} -> {}; D_crit = {}", f"{q.bits_post_training:g}", f"{q.degradation:.4f}",
                    bound, f"{q.loss_quantized:.4f}", critical)
    if result.overtraining:
        o = result.overtraining
        render.line("fine-tuning inflection D* = {} tokens (fine-tuned loss {}, {} at D*)", format_quantity(o["degradation_onset_tokens"]),
                    f"{o['finetuned_loss']:.4f}", f"{o['finetuned_loss_at_onset']:.4f}")
    if result.specialized:
        s = result.specialized
        render.line("specialized pretraining: domain fraction {} ({} repetitions), domain loss {}, general loss +{}",
                    f"{s['domain_fraction']:.3f}", f"{s['repetitions']:.1f}", f"{s['domain_loss']:.4f}", f"{s['general_loss_cost']:.4f}")
    costs = [(c.name, f"+{c.cost:.4f}", c.law) for c in result.constraints]
    if q:
        costs.append((f"post-training quantization to {q.bits_post_training:g} bits", f"+{q.degradation:.4f}", "docs/laws.md §4"))
    if result.overtraining and result.overtraining["past_onset"]:
        costs.append(("fine-tuned loss above the model at D* (tokens past it; not a constraint)", f"+{result.overtraining['loss_above_onset']:.4f}", "docs/laws.md §5"))
    if costs:
        render.table("what each constraint costs (loss)", ("constraint", "loss cost", "law"), costs, left=("constraint", "law"))
    render.table("decided by", ("number", "law"), list(result.decided_by.items()), left=("number", "law"))
