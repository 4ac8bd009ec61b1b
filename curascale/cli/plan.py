"""`plan-curation` / `curascale plan`: the plan for a budget, as a table, JSON and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from curascale.cli import render
from curascale.errors import UserError

DEFAULT_DATA_FIT = "reference/tmars-imagenet-utility"
DEFAULT_MODEL_FITS = ("reference/chinchilla-epoch", "reference/precision")


def plan(
    compute: Annotated[str, typer.Option("--compute", help="The budget: samples seen (e.g. 128M) or, with --unit flops, FLOPs (e.g. 1e21).")],
    unit: Annotated[str, typer.Option(help="samples (image-text pairs seen) or flops.")] = "samples",
    fits: Annotated[Optional[list[str]], typer.Option("--fits", help="Fit artifacts (files or shipped names such as reference/precision); repeat for several.")] = None,
    db: Annotated[Optional[Path], typer.Option("--db", help="Plan on the newest fits saved in this run registry (`curascale fit ... --db`), with its registered bucket sizes.")] = None,
    candidates: Annotated[str, typer.Option(help="top-m: unions of the best m buckets (the paper's candidates); mixtures: also the optimal non-uniform mixture of the buckets.")] = "top-m",
    sweep: Annotated[Optional[str], typer.Option(help="LO:HI: the best candidate across a log grid of budgets (e.g. 12.8M:1.28B).")] = None,
    sweep_points: Annotated[int, typer.Option(help="Budgets in the sweep.")] = 100,
    params: Annotated[Optional[str], typer.Option(help="Language models: fix the parameter count instead of the compute-optimal one.")] = None,
    precisions: Annotated[Optional[str], typer.Option(help="Language models: the training precisions allowed, bits or formats (e.g. 4,8,16 or int4,fp8,bf16); default: any (docs/laws.md §4).")] = None,
    unique_tokens: Annotated[Optional[str], typer.Option(help="Language models: unique tokens available (e.g. 100B); repeated as needed under the data-constrained law (docs/laws.md §2).")] = None,
    quantize_to: Annotated[Optional[float], typer.Option(help="Language models: post-training quantization precision (bits).")] = None,
    domain_tokens: Annotated[Optional[str], typer.Option(help="Language models: unique domain tokens for specialized pretraining (docs/laws.md §6).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Save a figure of the plan (or the sweep) here (PNG).")] = None,
    export_manifest: Annotated[Optional[Path], typer.Option(help="Write the chosen plan's sample list here (subset.npy, manifest.parquet, manifest.json).")] = None,
    pool: Annotated[Optional[Path], typer.Option(help="The DataComp pool to cut the plan's buckets from (with --export-manifest).")] = None,
    score_column: Annotated[Optional[str], typer.Option(help="The pool's score the buckets are cut on (default: the fit's, else clip_l14_similarity_score).")] = None,
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
    from scaling.reference import load_fit

    if unit == "samples":
        fit, bucket_sizes = _data_fit(db, fits)
        if sweep is not None:
            _sweep(fit, sweep, sweep_points, as_json, plot, bucket_sizes, candidates == "mixtures")
        else:
            if (export_manifest is None) != (pool is None):
                raise UserError("--export-manifest and --pool go together")
            result = _data_plan(fit, budget, as_json, plot, bucket_sizes, candidates == "mixtures")
            if export_manifest is not None:
                from scaling.handoff import export_plan_manifest

                report = export_plan_manifest(result, fit, pool, export_manifest, score_column=score_column)
                render.echo(f"wrote the plan's {report.outputs['']['samples']:,} samples to {export_manifest}", err=as_json)
    else:
        unique = None if unique_tokens is None else parse_quantity(unique_tokens, name="--unique-tokens")
        defaults = DEFAULT_MODEL_FITS + (("reference/data-constrained",) if unique is not None else ())
        loaded = _model_fits(db) if db is not None else [load_fit(name) for name in (fits or defaults)]
        from scaling.plan import plan_model

        result = plan_model(
            budget, loaded,
            params=None if params is None else parse_quantity(params, name="--params"),
            precisions=precisions,
            unique_tokens=unique,
            quantize_to=quantize_to,
            domain_tokens=None if domain_tokens is None else parse_quantity(domain_tokens, name="--domain-tokens"),
        )
        if plot is not None:
            from scaling.plan_model import iso_flop_curves
            from scaling.plots import plot_model_plan

            plot_model_plan(result, iso_flop_curves(result, loaded), plot)
        if as_json:
            render.echo_json(result.to_json())
        else:
            _print_model_plan(result)


def _data_fit(db, fits):
    """The data-filtering fit to plan on and the bucket sizes to use (registry sizes with --db)."""
    from scaling.fit import Fit
    from scaling.plan import DATA_FILTERING_LAWS
    from scaling.reference import load_fit

    if db is None:
        return load_fit((fits or [DEFAULT_DATA_FIT])[0]), None
    from runs_db.registry import connect

    registry = connect(db)
    fit_id, artifact = registry.latest_fit(DATA_FILTERING_LAWS)
    fit = Fit.from_dict(artifact, source=f"{db}: fit {fit_id}")
    return fit, registry.bucket_sizes(list(fit.groups or []))


def _model_fits(db):
    """The newest saved fit of every language-model law in the registry."""
    from runs_db.registry import connect
    from scaling.fit import Fit
    from scaling.plan import DATA_FILTERING_LAWS

    chosen = connect(db).latest_fit_per_law(exclude=DATA_FILTERING_LAWS)
    return [Fit.from_dict(artifact, source=f"{db}: fit {fit_id}") for fit_id, artifact in chosen]


def _data_plan(fit, budget, as_json, plot, bucket_sizes=None, mixtures=False) -> None:
    from scaling.plan import plan_data

    result = plan_data(fit, budget, bucket_sizes=bucket_sizes, mixtures=mixtures)
    if plot is not None:
        from scaling.plots import plot_plan

        plot_plan(result, plot)
    if as_json:
        render.echo_json(result.to_json())
        return result
    from scaling.units import format_quantity

    rows, styles = [], []
    for candidate in result.candidates:
        interval = "" if candidate.interval is None else f"[{candidate.interval[0]:.2%}, {candidate.interval[1]:.2%}]"
        rows.append((candidate.name, f"{candidate.predicted_accuracy:.2%}", f"{candidate.predicted_error:.4f}", interval, f"{candidate.epochs:.2f}",
                     ", ".join(f"{r:.2f}" for r in candidate.repetitions.values()), ", ".join(format_quantity(v) for v in candidate.samples.values())))
        styles.append("bold green" if candidate.name == result.best else None)
    render.table(f"data plan for {format_quantity(budget)} samples seen ({result.fit})",
                 ("candidate", "accuracy", "error", "interval", "epochs", "repetitions per bucket", "samples per bucket"), rows, left=("candidate",), styles=styles)
    probability = "" if result.probability_best is None else f" (best in {result.probability_best:.0%} of bootstrap draws)"
    render.line("plan: train on [bold]{}[/bold]{}", result.best, probability)
    return result


def _sweep(fit, text, points, as_json, plot, bucket_sizes=None, mixtures=False) -> None:
    from scaling.plan import sweep_data
    from scaling.units import format_quantity, parse_quantity

    low, sep, high = text.partition(":")
    if not sep:
        raise UserError(f"--sweep takes LO:HI, got {text!r}")
    low, high = parse_quantity(low, name="--sweep"), parse_quantity(high, name="--sweep")
    if not low < high:
        raise UserError("--sweep needs LO < HI")
    rows = sweep_data(fit, low, high, points, bucket_sizes=bucket_sizes, mixtures=mixtures)
    if plot is not None:
        from scaling.plots import plot_sweep

        plot_sweep(rows, fit.source, plot)
    if as_json:
        render.echo_json({"fit": fit.source, "sweep": rows})
        return
    from scaling.units import format_quantity

    shown, previous = [], None
    for row in rows:
        if mixtures or row["best"] != previous or row is rows[-1] or row is rows[0]:
            mixture = row.get("mixture")
            extra = (", ".join(f"{w:.2f}" for w in mixture["weights"].values()), f"{mixture['predicted_accuracy']:.2%}") if mixture else ()
            shown.append((format_quantity(row["budget_samples"]), row["best"], f"{row['predicted_accuracy']:.2%}", *extra))
        previous = row["best"]
    render.table(f"quality-quantity frontier ({fit.source})", ("budget (samples)", "best", "accuracy", *(("best mixture", "mixture accuracy") if mixtures else ())), shown)


def _print_model_plan(result) -> None:
    """One language-model plan: the candidate precisions, the plan, what each constraint costs,
    which law decided each number, and the notes."""
    from scaling.units import format_quantity

    if result.alternatives:
        rows = [(a.precision, f"{a.capacity:.3f}", f"{a.params_multiplier:.2f}x", f"{a.compute_multiplier:.2f}x", f"{a.compute_efficiency:.0%}",
                 format_quantity(a.params), format_quantity(a.tokens), f"{a.loss:.4f}") for a in result.alternatives]
        render.table(f"training precisions at {result.budget_flops:.3g} FLOPs",
                     ("precision", "N_eff/N", "x params", "x compute", "efficiency", "N", "D", "loss"), rows,
                     left=("precision",), styles=["bold green" if a.chosen else None for a in result.alternatives])
    render.line("[bold]plan for {} FLOPs[/bold]: N = {} parameters, D = {} tokens ({} a parameter), train at {}, loss {}",
                f"{result.budget_flops:.3g}", format_quantity(result.params), format_quantity(result.tokens), f"{result.tokens / result.params:.1f}",
                result.precision, f"{result.loss:.4f}")
    if result.epochs is not None:
        render.line("epochs: {} over {} unique tokens", f"{result.epochs:.2f}", format_quantity(result.unique_tokens))
    q = result.quantization
    if q:
        bound = " (upper bound: BF16 form)" if q.bound else ""
        render.line("post-training quantization to {} bits: +{} loss{} -> {}; D_crit = {} tokens", f"{q.bits_post_training:g}", f"{q.degradation:.4f}",
                    bound, f"{q.loss_quantized:.4f}", format_quantity(q.critical_tokens))
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
        costs.append(("tokens past the fine-tuning inflection D*", f"+{result.overtraining['cost']:.4f}", "docs/laws.md §5"))
    if costs:
        render.table("what each constraint costs (loss)", ("constraint", "loss cost", "law"), costs, left=("constraint", "law"))
    render.table("decided by", ("number", "law"), list(result.decided_by.items()), left=("number", "law"))
    render.notes(result.notes)
