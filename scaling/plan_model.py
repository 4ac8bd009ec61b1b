"""Language-model plans: a FLOP budget and fitted laws in, ONE recommendation out.

The plan is the (N, D, P) of least predicted loss under every constraint given, with the loss each
constraint costs, the law that decided each number, and warnings as `curascale.notes.Note` values:

- the loss law (`LossModel`): the precision fit when one is given (a complete law, docs/laws.md §4:
  its own A, B, E, alpha, beta decide N, D and P, with N_eff = N f(P)), else a Chinchilla-form fit
  (§1); with limited unique tokens the SAME law at the effective data and parameters of §2 (R*_D,
  R*_N from the data-constrained fit). A Chinchilla fit given beside a precision fit is listed as a
  labelled 16-bit alternative with its own loss, not the plan;
- the training precision (§4): with weights, activations and KV cache at one P the compute is
  C = (6/16) N D P, and with the data unlimited and N free the optimum P maximises f(P)/P
  whatever the loss law (7.00 bits with the published constants); restricted to hardware formats,
  at a fixed N, or with limited unique tokens, the best P is found numerically;
- post-training quantization (§4): delta_PTQ at the plan's (N, D) for the precision it trains at,
  and the critical data size D_crit past which more tokens hurt the quantized model;
- the fine-tuning inflection D* (§5) and the specialized-data fraction (§6) when fitted.

Constraints are applied in the order: training formats, fixed N, unique tokens; each one's cost is
the loss of the optimum with it minus the loss of the optimum without it (and the ones before).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from curascale.errors import CurascaleError
from curascale.notes import Note, merge, notes_to_dicts
from scaling import diagnostics
from scaling.jaxconf import float64
from scaling.fit import Fit
from scaling.laws import chinchilla, data_constrained, precision
from scaling.problem import unflatten

PTQ_LAWS = ("precision_ptq_unified", "precision_ptq")  # the unified form (fitted C_x) first
FORMAT_BITS = {"int2": 2, "int3": 3, "int4": 4, "int6": 6, "int8": 8, "fp4": 4, "fp6": 6, "fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}
UNQUANTIZED_FORMATS = ("bf16", "fp16", "fp32")  # the baseline: factor 1 (docs/laws.md §4)
UNQUANTIZED_BITS = 16.0  # 16 bits and wider are not quantized: factor 1, like BF16 (docs/laws.md §4)
PAPER_BITS = (3.0, 12.0)  # the precisions Kumar et al. trained and quantized at (docs/laws.md §4)
DEFAULT_ALTERNATIVES = "4,6,8,16,bf16"
MAX_BITS = 32.0
BITS_STEP = 0.01  # grid of f(P)/P, refined twice
SEARCH_BITS_STEP = 0.05  # grid of the numeric precision search (fixed N, unique tokens), refined twice
PARAMS_SPAN = 1e3  # numeric N search: the unlimited-data optimum / 1e3 ... * 1e3, refined once
PARAMS_POINTS = 401


@dataclass(frozen=True)
class Precision:
    """A training precision: its name, its bits (the P of C = (6/16) N D P), and whether the law's
    factor applies (False for BF16 and wider: not quantized, factor 1)."""

    name: str
    bits: float
    quantized: bool = True


def parse_precision(item: str, name: str = "precisions") -> Precision:
    """'8', '8bits', 'int4', 'fp8' or 'bf16' -> a Precision; 16 bits and wider are not quantized."""
    key = str(item).strip().lower()
    if key in FORMAT_BITS:
        return Precision(key, float(FORMAT_BITS[key]), key not in UNQUANTIZED_FORMATS and FORMAT_BITS[key] < UNQUANTIZED_BITS)
    try:
        bits = float(key.removesuffix("bits").removesuffix("bit"))
    except ValueError:
        raise CurascaleError(f"{name}: {str(item).strip()!r} is neither a number of bits nor a format ({', '.join(FORMAT_BITS)})") from None
    if not (math.isfinite(bits) and 0 < bits <= MAX_BITS):
        raise CurascaleError(f"{name}: {str(item).strip()!r} must be a number of bits in (0, {MAX_BITS:g}]")
    return Precision(f"{bits:g} bits", bits, bits < UNQUANTIZED_BITS)


def parse_precisions(text: str, name: str = "precisions") -> tuple[Precision, ...]:
    """'4,8,16' or 'int4,fp8,bf16' -> Precisions, repeats removed (the same bits and quantization:
    '8,8' is one, '16,bf16' is one unquantized 16-bit precision, the first name kept)."""
    chosen: dict[tuple[float, bool], Precision] = {}
    for item in str(text).split(","):
        choice = parse_precision(item, name)
        chosen.setdefault((choice.bits, choice.quantized), choice)
    if not chosen:
        raise CurascaleError(f"{name}: none given")
    return tuple(chosen.values())


BF16 = Precision("bf16", 16.0, False)


# ---- the laws the plan evaluates ----------------------------------------------------------------
def _theta(fit: Fit) -> dict[str, float]:
    return {k: float(v) for k, v in unflatten(fit.law_spec, fit.params, fit.groups).items()}


@dataclass(frozen=True)
class LossModel:
    """The loss law of a plan: L(N_eff, D) = A N_eff^-alpha + B D^-beta + E with the deciding fit's
    own (A, B, E, alpha, beta). With unique tokens U the SAME law is evaluated at the effective data
    and parameters of docs/laws.md §2 (U_D = min(U, D), D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D)),
    and N' likewise), R*_D and R*_N from `repetition` (a data-constrained fit's parameters)."""

    fit: Fit
    theta: Mapping[str, float]
    repetition: Mapping[str, float] | None = None
    repetition_source: str = ""

    @property
    def section(self) -> str:
        return self.fit.law_spec.section

    def loss(self, effective_params, tokens, unique_tokens: float | None = None) -> np.ndarray:
        params, tokens = np.broadcast_arrays(np.asarray(effective_params, dtype=float), np.asarray(tokens, dtype=float))
        base = {k: self.theta[k] for k in ("A", "B", "E", "alpha", "beta")}
        if unique_tokens is None:
            return np.asarray(_compiled(chinchilla.loss)(base, {"params": params, "tokens": tokens}))
        if self.repetition is None:
            raise CurascaleError("unique_tokens needs a data_constrained fit (e.g. reference/data-constrained, docs/laws.md §2)")
        inputs = {"params": params, "tokens": tokens, "unique_tokens": np.full(params.shape, float(unique_tokens))}
        return np.asarray(_compiled(data_constrained.loss)({**base, **self.repetition}, inputs))


@functools.lru_cache(maxsize=None)
def _compiled(law_loss):
    """The law's loss under jax.jit: one compilation per input shape instead of one per operation."""
    import jax

    return jax.jit(law_loss)


@float64
def capacity(theta: Mapping[str, float] | None, choice: Precision) -> float:
    """f = N_eff / N at one precision for weights, activations and KV cache (1 when not quantized)."""
    if not choice.quantized or theta is None:
        return 1.0
    precision.check_domain(theta, choice.bits)
    return float(precision.capacity(theta, choice.bits, choice.bits, choice.bits))


def _capacity_grid(theta, bits: np.ndarray) -> np.ndarray:
    return np.asarray(precision.capacity(theta, bits, bits, bits))


@dataclass(frozen=True)
class Setting:
    """What a plan optimises over: the loss law, the precision law's parameters (or None), the
    budget, the allowed precisions (None: any P in the law's domain), a fixed N, unique tokens."""

    model: LossModel
    precision_theta: Mapping[str, float] | None
    budget_flops: float
    formats: tuple[Precision, ...] | None = None
    params: float | None = None
    unique_tokens: float | None = None


def params_times_tokens(budget_flops: float, bits) -> np.ndarray:
    """N D = C / ((6/16) P): the budget's iso-FLOP product at P bits (C = 6 N D at 16 bits)."""
    return budget_flops * 16.0 / (6.0 * np.asarray(bits, dtype=float))


def _best_params(setting: Setting, product: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """The N minimising the loss at N D = product (arrays over precisions)."""
    if setting.params is not None:
        return np.full(product.shape, setting.params)
    closed, _ = chinchilla.optimal_split(setting.model.theta, product, factor)
    if setting.unique_tokens is None:
        return np.asarray(closed)
    # docs/laws.md §2 has no closed form: a log grid around the unlimited-data optimum, refined once
    offsets = np.linspace(-math.log(PARAMS_SPAN), math.log(PARAMS_SPAN), PARAMS_POINTS)
    step = offsets[1] - offsets[0]
    centre = np.log(np.asarray(closed, dtype=float))[..., None]
    for grid in (offsets, np.linspace(-step, step, 201)):
        params = np.exp(centre + grid)
        loss = setting.model.loss(params * factor[..., None], product[..., None] / params, setting.unique_tokens)
        _finite(loss, "the data-constrained loss")
        centre = np.log(np.take_along_axis(params, np.argmin(loss, axis=-1)[..., None], axis=-1))
    return np.exp(centre[..., 0])


def _finite(values: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise CurascaleError(f"{what} is not finite on the search grid: the fit's parameters give no plan here")


@dataclass(frozen=True)
class Point:
    """The best (N, D) at one precision under a setting."""

    precision: Precision
    capacity: float
    params: float
    tokens: float
    loss: float


@float64
def optimum_at(setting: Setting, choices: Sequence[Precision]) -> list[Point]:
    """The best N, D and the loss at each given precision (vectorised over precisions)."""
    bits = np.array([c.bits for c in choices], dtype=float)
    factor = np.array([capacity(setting.precision_theta, c) for c in choices], dtype=float)
    product = params_times_tokens(setting.budget_flops, bits)
    params = _best_params(setting, product, factor)
    tokens = product / params
    loss = setting.model.loss(params * factor, tokens, setting.unique_tokens)
    _finite(loss, "the predicted loss")
    return [Point(c, float(f), float(n), float(d), float(v)) for c, f, n, d, v in zip(choices, factor, params, tokens, loss)]


@float64
def optimal_bits(theta: Mapping[str, float]) -> float:
    """The P maximising f(P) / P (docs/laws.md §4): the compute-optimal training precision with the data
    unlimited and N free, independent of the budget and of the loss law's constants. A grid of
    step 0.01 bits above the law's domain, refined twice (to 1e-6 bits)."""
    low = max(precision.domain_floor(theta).values())
    bits = np.arange(low + BITS_STEP, MAX_BITS, BITS_STEP)
    for _ in range(3):
        value = _capacity_grid(theta, bits) / bits
        best = bits[int(np.argmax(value))]
        step = bits[1] - bits[0]
        bits = np.linspace(max(best - step, low + 1e-9), best + step, 201)
    return float(best)


def _best_bits(setting: Setting) -> Precision:
    """The continuous P of least loss under a setting (any P in the law's domain up to 32 bits)."""
    theta = setting.precision_theta
    if setting.params is None and setting.unique_tokens is None:
        return Precision(f"{optimal_bits(theta):.2f} bits", optimal_bits(theta))
    low = max(precision.domain_floor(theta).values())
    bits = np.arange(low + SEARCH_BITS_STEP, MAX_BITS, SEARCH_BITS_STEP)
    for points in (51, 21, None):
        found = optimum_at(setting, [Precision("", b) for b in bits])
        best = bits[int(np.argmin([p.loss for p in found]))]
        step = bits[1] - bits[0]
        if points:
            bits = np.linspace(max(best - step, low + 1e-9), best + step, points)
    return Precision(f"{best:.2f} bits", float(best))


@float64
def best_point(setting: Setting) -> Point:
    """The plan's point under a setting: the best of the allowed formats, or the best P at all."""
    if setting.precision_theta is None:
        choices = setting.formats or (BF16,)
        if any(c.quantized for c in choices):
            raise CurascaleError("quantized training precisions need a precision fit (e.g. reference/precision)")
    else:
        choices = setting.formats or (_best_bits(setting),)
    points = optimum_at(setting, choices)
    return min(points, key=lambda p: p.loss)


# ---- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alternative:
    """One candidate training precision, each with its own best (N, D) under the plan's setting.
    params_multiplier = 1 / f: parameters needed per effective parameter; compute_multiplier =
    (P / f) / (P* / f*): the compute it needs for the loss the optimal precision P* reaches (data
    unlimited, N free; docs/laws.md §4); compute_efficiency = its inverse."""

    precision: str
    bits: float
    quantized: bool
    capacity: float
    params_multiplier: float
    compute_multiplier: float
    compute_efficiency: float
    params: float
    tokens: float
    loss: float
    chosen: bool = False
    law: str = ""  # another law's own plan listed for comparison (its loss is that law's); "" for the plan's law


@dataclass(frozen=True)
class Constraint:
    """A constraint of the plan and the loss it costs (its optimum minus the optimum without it)."""

    name: str
    loss: float
    cost: float
    law: str


@dataclass(frozen=True)
class Quantization:
    """Post-training quantization of the planned model (docs/laws.md §4). `bound`: the model trains below
    BF16 and the unified form's C_x are unpublished, so `degradation` is the BF16-form upper bound."""

    bits_post_training: float
    trained_at: str
    degradation: float
    loss: float
    loss_quantized: float
    critical_tokens: float
    past_critical: bool
    bound: bool
    law: str


@dataclass(frozen=True)
class ModelPlan:
    """ONE language-model recommendation for a FLOP budget (see the module docstring).

    params, tokens, effective_params: N, D, N f(P); epochs: D / U (None with unlimited data);
    loss: the predicted training loss (nats/token); precision, bits: the training precision;
    decided_by: for each number, the fit and docs/laws.md section that decided it; notes: warnings."""

    budget_flops: float
    params: float
    tokens: float
    loss: float
    precision: str
    bits: float
    effective_params: float
    fit: str
    unique_tokens: float | None = None
    epochs: float | None = None
    alternatives: tuple[Alternative, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    decided_by: Mapping[str, str] = field(default_factory=dict)
    quantization: Quantization | None = None
    overtraining: Mapping[str, Any] | None = None
    specialized: Mapping[str, Any] | None = None
    notes: tuple[Note, ...] = ()
    intervals: Mapping[str, Any] | None = None  # `draw_intervals`: params, tokens, loss [low, high] over the deciding fit's draws

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["notes"] = notes_to_dicts(self.notes)
        return record


def _fits_by_law(fits: Sequence[Fit]) -> dict[str, Fit]:
    by_law: dict[str, Fit] = {}
    for fit in fits:
        by_law.setdefault(fit.law, fit)
    return by_law


def _first(by_law: Mapping[str, Fit], names: Sequence[str]) -> Fit | None:
    """The fit of the first law in `names` that is given."""
    return next((by_law[name] for name in names if name in by_law), None)


LOSS_LAWS = ("precision", *PTQ_LAWS, "chinchilla", "data_constrained", "finetune_degradation", "specialized_general")
REPETITION_KEYS = ("data_repetition_decay", "param_repetition_decay")


def roles(fit: Fit) -> frozenset[str]:
    """What a fit does in a plan: its law's role ('precision' for training, 'ptq' for the post-training
    term; a PTQ-capable fit does both), else its law's name."""
    if fit.law in PTQ_LAWS:
        return frozenset({"precision", "ptq"})
    return frozenset({fit.law})


USER_BASE_LAWS = ("chinchilla", "data_constrained", "specialized_general")  # a user's own N, D loss law
SHIPPED_PREFIX = "reference/"  # the source of a shipped reference fit, which is never a user's own


def with_default_fits(given: Sequence[Fit], defaults: Sequence[Fit]) -> list[Fit]:
    """The user's fits, then each default whose roles the user's fits do not all cover: a user fit
    overrides the default of its own role only (a finetune fit keeps the Chinchilla and precision
    defaults; a plain precision fit keeps reference/precision for the PTQ term). A user's own
    Chinchilla-form fit decides N and D itself: the default precision fit, a complete loss law that
    would otherwise decide them, is then left out (give it with --fits to plan the precision). A
    shipped reference fit given explicitly (reference/chinchilla-epoch) is not a user's own: it
    replaces its default only, and the precision default stays."""
    covered = frozenset().union(*(roles(fit) for fit in given)) if given else frozenset()
    own_base = any(fit.law in USER_BASE_LAWS and not fit.source.startswith(SHIPPED_PREFIX) for fit in given)
    return [*given, *(fit for fit in defaults if not roles(fit) <= covered and not (own_base and "precision" in roles(fit)))]


def training_precision_fit(by_law: Mapping[str, Fit]) -> Fit | None:
    """The precision fit that decides training: a plain `precision` fit (e.g. the user's own) before
    a PTQ-capable one, which then serves the post-training term only."""
    return _first(by_law, ("precision", *PTQ_LAWS))


@float64
def loss_model(by_law: Mapping[str, Fit], unique_tokens: float | None) -> LossModel:
    """The plan's loss law: the precision fit when one is given (a complete law: its own A, B, E,
    alpha, beta decide N, D and P), else the first Chinchilla-form fit (chinchilla, data_constrained,
    ...). With unique tokens the data-constrained fit supplies R*_D, R*_N for the §2 transform."""
    fit = training_precision_fit(by_law) or _first(by_law, LOSS_LAWS)
    if fit is None:
        raise CurascaleError("a language-model plan needs a Chinchilla-form or precision fit (e.g. reference/chinchilla-epoch)")
    repetition = None
    if unique_tokens is not None:
        constrained = by_law.get("data_constrained")
        if constrained is None:
            raise CurascaleError("unique_tokens needs a data_constrained fit (e.g. reference/data-constrained, docs/laws.md §2)")
        theta = _theta(constrained)
        repetition = {k: theta[k] for k in REPETITION_KEYS}
    return LossModel(fit, _theta(fit), repetition, "" if repetition is None else constrained.source)


@float64
def setting_of(fits: Sequence[Fit], budget_flops: float, *, precisions=None, params=None, unique_tokens=None) -> Setting:
    """The optimisation problem a plan solves, from the fits and the constraints."""
    by_law = _fits_by_law(fits)
    for name, value in (("budget_flops", budget_flops), ("params", params), ("unique_tokens", unique_tokens)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise CurascaleError(f"{name} must be positive and finite, got {value!r}")
    precision_fit = training_precision_fit(by_law)
    formats = parse_precisions(precisions) if isinstance(precisions, str) else (tuple(precisions) if precisions else None)
    if params is not None:
        _check_params_fit_budget(budget_flops, params, formats, None if precision_fit is None else _theta(precision_fit))
    return Setting(loss_model(by_law, unique_tokens), None if precision_fit is None else _theta(precision_fit), float(budget_flops),
                   formats, params, unique_tokens)


def _check_params_fit_budget(budget_flops: float, params: float, formats, theta) -> None:
    """Refuse a fixed N the budget cannot train on one token: D = 16 C / (6 P N) < 1 at the lowest
    precision allowed (the law's domain floor, the narrowest format, or 16 bits without a precision fit)."""
    if formats:
        bits = min(c.bits for c in formats)
    else:
        bits = max(precision.domain_floor(theta).values()) if theta is not None else BF16.bits
    most_tokens = float(params_times_tokens(budget_flops, bits)) / params
    if most_tokens < 1:
        raise CurascaleError(f"params = {params:.3g} leaves at most {most_tokens:.2g} training tokens in {budget_flops:.3g} FLOPs "
                             f"(D = 16 C / (6 P N), P >= {bits:.3g} bits): the budget allows at most {float(params_times_tokens(budget_flops, bits)):.3g} parameters")


def _alternatives(setting: Setting, chosen: Point, candidates: Sequence[Precision]) -> tuple[Alternative, ...]:
    """The table of precisions: the plan's, the best P of the law (when formats restrict the plan)
    and the candidates, each at its own best (N, D) under the setting, sorted by bits."""
    theta = setting.precision_theta
    if theta is None:
        return ()
    best_ratio = _best_ratio(theta)
    best_any = best_point(_replace(setting, formats=None)).precision if setting.formats else chosen.precision
    unique = {c.name: c for c in (chosen.precision, best_any, *candidates)}.values()
    rows = []
    for point in sorted(optimum_at(setting, list(unique)), key=lambda p: (p.precision.bits, p.precision.quantized is False)):
        ratio = point.capacity / point.precision.bits
        rows.append(Alternative(point.precision.name, point.precision.bits, point.precision.quantized, point.capacity, 1.0 / point.capacity,
                                best_ratio / ratio, ratio / best_ratio, point.params, point.tokens, point.loss, point.precision == chosen.precision))
    return tuple(rows)


def _best_ratio(theta: Mapping[str, float]) -> float:
    """f(P*) / P* at the compute-optimal precision P*."""
    best_bits = optimal_bits(theta)
    return float(_capacity_grid(theta, np.array(best_bits))) / best_bits


def _constraints(setting: Setting, free: Point) -> tuple[list[Constraint], Point]:
    """Apply the constraints one at a time; the cost of each is the loss it adds."""
    steps = [("training formats " + ", ".join(c.name for c in setting.formats), {"formats": setting.formats}, "docs/laws.md §4")] if setting.formats else []
    if setting.params is not None:
        steps.append((f"N fixed at {setting.params:.3g}", {"params": setting.params}, setting.model.section))
    if setting.unique_tokens is not None:
        steps.append((f"{setting.unique_tokens:.3g} unique tokens (repetition)", {"unique_tokens": setting.unique_tokens}, "docs/laws.md §2"))
    applied = {"formats": None, "params": None, "unique_tokens": None}
    previous, rows, point = free.loss, [], free
    for name, change, law in steps:
        applied.update(change)
        point = best_point(_replace(setting, **applied))
        rows.append(Constraint(name, point.loss, point.loss - previous, law))
        previous = point.loss
    return rows, point


def _replace(setting: Setting, **changes) -> Setting:
    return Setting(**{**setting.__dict__, **changes})


@float64
def quantization_cost(ptq_fit: Fit, params: float, tokens: float, trained: Precision, bits_post: float, loss: float,
                      training_theta: Mapping[str, float] | None = None) -> tuple[Quantization, list[Note]]:
    """Post-training quantization to `bits_post` of the model trained at `trained` (docs/laws.md §4):
    delta_PTQ with N_eff = N f(P_train), D_crit in closed form, the quantized loss = the plan's
    loss + delta_PTQ (so never below it). With a precision_ptq_unified fit delta_PTQ is scaled by
    its fitted prod_x (1 - exp(-C_x (P_x - P_post))); without the C_x the figure for a model trained
    below BF16 is the BF16-form upper bound; a model trained at or below `bits_post` loses nothing.
    training_theta: the precision law that decided training (its f(P) gives N_eff); default the PTQ fit's."""
    if not (math.isfinite(bits_post) and bits_post > 0):
        raise CurascaleError(f"bits_post_training must be a positive number of bits, got {bits_post!r}")
    theta = _theta(ptq_fit)
    effective = params * capacity(theta if training_theta is None else training_theta, trained)
    notes = []
    bits = trained.bits if trained.quantized else precision.NO_QUANTIZATION_BITS
    share = float(precision.trained_precision_factor(theta, {f"bits_{part}": bits for part in precision.PARTS} | {"bits_post_training": bits_post})) \
        if "c_weights" in theta else 1.0
    if trained.quantized and trained.bits <= bits_post:
        share, bound = 0.0, False
        notes.append(Note("ptq-no-op", f"the model trains at {trained.name}, at or below the {bits_post:g}-bit target: post-training quantization costs nothing", "info"))
    else:
        bound = trained.quantized and "c_weights" not in theta
        if bound:
            notes.append(Note("ptq-upper-bound", f"the PTQ cost of a model trained at {trained.name} is the BF16-form upper bound: "
                              "the unified form's C_x were not published; fit precision_ptq_unified on runs trained low then quantized (docs/laws.md §4)", "info"))
    degradation = share * float(precision.ptq_degradation_at(theta, effective, tokens, bits_post))
    critical = float(precision.critical_tokens(theta, effective, bits_post, share)) if share > 0 else math.inf
    result = Quantization(float(bits_post), trained.name, degradation, loss, loss + degradation, critical, tokens > critical, bound,
                          f"{ptq_fit.source} (docs/laws.md §4)")
    if result.past_critical and degradation > 0:
        notes.append(Note("past-critical-data", f"the plan's {tokens:.3g} tokens pass D_crit = {critical:.3g} for {bits_post:g}-bit quantization: "
                          "more pretraining data makes the quantized model worse", "warning", {"tokens": tokens, "critical_tokens": critical}))
    return result, notes


@float64
def optimal_precision(fit: Fit) -> float:
    """The compute-optimal training precision of a precision fit in bits (argmax f(P)/P, §4)."""
    return optimal_bits(_theta(fit))


PAPER_GRID = {"params": (30e6, 220e6), "tokens": (1.5e9, 26e9)}  # Kumar et al.'s fits (docs/laws.md §4)


def _extrapolation_notes(fit: Fit, params: float, tokens: float) -> list[Note]:
    """`scaling.diagnostics.extrapolation` of N and D against the runs the precision fit saw (for
    the published reference fit, which records none, the paper's fit grid)."""
    from scaling import diagnostics

    ranges = {k: tuple(v) for k, v in (fit.input_ranges or {}).items()} or (PAPER_GRID if fit.source.startswith("reference/precision") else {})
    return diagnostics.extrapolation(ranges, {"params": [params], "tokens": [tokens]})


def _decided_by(setting: Setting, precision_fit: Fit | None) -> dict[str, str]:
    """For each number of the plan, the fit and docs/laws.md section that decided it."""
    model = setting.model
    own = f"{model.fit.source} ({model.section}, its own A, B, E, alpha, beta)"
    repetition = f" at the effective data of docs/laws.md §2 (R*_D, R*_N from {model.repetition_source})" if setting.unique_tokens is not None else ""
    split = "the least loss over N (numeric)" if setting.unique_tokens is not None else "the compute-optimal split"
    factor = " of N_eff = N f(P)" if precision_fit else ""
    decided_by = {
        "params": "given" if setting.params is not None else f"{own}: {split}{factor}{repetition}",
        "tokens": ("the budget: C = (6/16) N D P" if precision_fit else "the budget: C = 6 N D") + (f" ({model.fit.source} split)" if setting.params is None else ""),
        "loss": f"{own}{repetition}",
    }
    if precision_fit is None:
        decided_by["precision"] = "no precision fit: BF16 (not quantized), C = 6 N D"
    else:
        free = setting.params is None and setting.unique_tokens is None
        how = "the best of the allowed formats" if setting.formats else ("argmax f(P)/P" if free else "the least loss over P")
        decided_by["precision"] = f"{precision_fit.source} (docs/laws.md §4): {how}"
    return decided_by


def _format_notes(choices: Sequence[Precision], fit: Fit) -> list[Note]:
    """An info note when a format's type differs from the fit's constants: fp formats on integer-type
    constants, int formats on floating-point constants (reference/precision-fp)."""
    floating = "floating-point" in fit.provenance
    other = [c.name for c in choices if c.quantized and c.name.startswith("int" if floating else "fp")]
    if not other:
        return []
    have, want = ("floating-point", "reference/precision") if floating else ("integer-type", "reference/precision-fp")
    kind = "integer" if floating else "floating-point"
    return [Note(f"{'floating-point' if floating else 'integer'}-constants", f"{', '.join(other)} evaluated with the {have} constants of {fit.source}; "
                 f"{kind} weight constants are in {want}", "info")]


def _paper_range_notes(stage: str, choices: Sequence[Precision]) -> list[Note]:
    """An extrapolation note for a quantized precision outside the 3-12 bits Kumar et al. fitted on."""
    low, high = PAPER_BITS
    return [Note("precision-extrapolation", f"{stage} precision {c.name} is outside the {low:g}-{high:g} bits the precision law was fitted on "
                 "(docs/laws.md §4): an extrapolation", "warning", {"bits": c.bits, "fitted_bits": [low, high]})
            for c in choices if c.quantized and not low <= c.bits <= high]


def _precision_notes(setting: Setting, precision_fit: Fit, point: Point) -> list[Note]:
    """Extrapolation far from the precision fit's data or its 3-12 bits; formats of the other type."""
    return (_extrapolation_notes(precision_fit, point.params, point.tokens) + _paper_range_notes("training", (point.precision,))
            + _format_notes(setting.formats or (), precision_fit))


TOKENS_PER_PARAM = (0.1, 1e5)  # outside: a warning, the plan is far from any trained regime
EDGE_BITS = 0.05


def _sanity_notes(setting: Setting, point: Point) -> list[Note]:
    """Warnings for an absurd tokens-per-parameter ratio and for a precision at the edge of the law's
    domain or of the candidates searched (the optimum may lie beyond)."""
    notes = []
    ratio = point.tokens / point.params
    low, high = TOKENS_PER_PARAM
    if not low <= ratio <= high:
        notes.append(Note("tokens-per-parameter", f"{ratio:.2g} tokens a parameter is far outside {low:g}-{high:g}: "
                          "no law here was fitted anywhere near it", "warning", {"tokens_per_parameter": ratio}))
    theta = setting.precision_theta
    if theta is not None and point.precision.quantized:
        floor = max(precision.domain_floor(theta).values())
        bits = point.precision.bits
        if setting.formats is None and (bits - floor < EDGE_BITS + SEARCH_BITS_STEP or MAX_BITS - bits < EDGE_BITS + SEARCH_BITS_STEP):
            notes.append(Note("edge-optimum", f"the best precision {point.precision.name} is at the edge of the law's domain "
                              f"({floor:.2f}-{MAX_BITS:g} bits): the optimum is the boundary, not an interior minimum", "warning", {"bits": bits}))
    return notes


def _chinchilla_alternative(setting: Setting, fit: Fit) -> Alternative:
    """The Chinchilla fit's own 16-bit plan (C = 6 N D) under the same constraints, with its own loss."""
    chinchilla_setting = _replace(setting, model=LossModel(fit, _theta(fit), setting.model.repetition, setting.model.repetition_source), precision_theta=None, formats=None)
    point = best_point(chinchilla_setting)
    best_ratio = _best_ratio(setting.precision_theta)
    ratio = 1.0 / BF16.bits
    return Alternative(f"bf16 ({fit.source.rsplit('/', 1)[-1]} split)", BF16.bits, False, 1.0, 1.0, best_ratio / ratio, ratio / best_ratio,
                       point.params, point.tokens, point.loss, law=f"{fit.source} ({fit.law_spec.section})")


@float64
@np.errstate(all="ignore")  # overflow or 0/0 of a bad fit is checked as a non-finite loss and raised, never printed as a numpy warning
def plan_model(
    budget_flops: float,
    fits: Sequence[Fit],
    *,
    params: float | None = None,
    precisions: str | Sequence[Precision] | None = None,
    unique_tokens: float | None = None,
    quantize_to: float | str | None = None,
    domain_tokens: float | None = None,
    general_loss_tolerance: float = 0.01,
    force: bool = False,
) -> ModelPlan:
    """The language-model plan for a budget of `budget_flops` FLOPs from whichever fits are given
    (see the module docstring). params: fix N; precisions: the allowed training formats ('4,8,16',
    'int4,fp8,bf16'); unique_tokens: the unique data, repeated as needed (docs/laws.md §2);
    quantize_to: post-training precision, bits or a format (as in `precisions`); domain_tokens: unique domain tokens (§6).
    The plan's notes are those of the fits taking part (`taking_part`), then the plan's own
    (extrapolation past the runs each fit saw, scaling.diagnostics). A plan decided by a parameter
    a fit does not identify (with `unique_tokens` also R*_D and R*_N), or a plan carrying an error
    note, raises CurascaleError unless `force` (then a `forced` note says so): the rule data plans
    follow too (`scaling.diagnostics.require_believable`).
    Raises CurascaleError for missing fits, precisions outside the law's domain, bad values."""
    by_law = _fits_by_law(fits)
    part = taking_part(by_law, unique_tokens=unique_tokens, quantize_to=quantize_to, domain_tokens=domain_tokens)
    forced = [n for fit, deciding in part if deciding for n in diagnostics.require_identifiable_fits([fit], deciding, force=force)]
    setting = setting_of(fits, budget_flops, precisions=precisions, params=params, unique_tokens=unique_tokens)
    model, precision_fit = setting.model, training_precision_fit(by_law)
    free = best_point(_replace(setting, formats=None, params=None, unique_tokens=None))
    constraints, point = _constraints(setting, free)
    notes: list[Note] = _sanity_notes(setting, point)
    default_candidates = () if precision_fit is None else parse_precisions(DEFAULT_ALTERNATIVES)
    alternatives = _alternatives(setting, point, setting.formats or default_candidates)
    decided_by = _decided_by(setting, precision_fit)
    chinchilla_fit = by_law.get("chinchilla")
    if precision_fit is not None and chinchilla_fit is not None:
        alternatives = (*alternatives, _chinchilla_alternative(setting, chinchilla_fit))
        decided_by["alternative"] = f"{chinchilla_fit.source} (docs/laws.md §1): its own 16-bit split at C = 6 N D, listed with its own loss, not the plan"
    if precision_fit is not None:
        notes += _precision_notes(setting, precision_fit, point)
    deciding = [fit for fit, names in part if names]  # the loss law first (`taking_part`)
    intervals = draw_intervals(fits, deciding, budget_flops, precisions=setting.formats, params=params, unique_tokens=unique_tokens)
    epochs = None
    if unique_tokens is not None:
        epochs = point.tokens / unique_tokens
        decided_by["epochs"] = "tokens / unique tokens"
        decay = model.repetition["data_repetition_decay"]
        if epochs - 1 > decay:
            notes.append(Note("repetition-saturated", f"{epochs:.3g} epochs repeat the data more than R*_D = {decay:.3g} times: further "
                              "epochs are worth almost nothing and the loss is flat in N (docs/laws.md §2); more unique data is the lever",
                              "warning", {"epochs": epochs, "data_repetition_decay": decay}))
    quantization = None
    if quantize_to is not None:
        ptq_fit = _first(by_law, PTQ_LAWS)
        if ptq_fit is None:
            raise CurascaleError("post-training quantization needs a precision_ptq or precision_ptq_unified fit (e.g. reference/precision)")
        target = quantize_to if isinstance(quantize_to, Precision) else parse_precision(quantize_to, "quantize_to")
        quantization, found = quantization_cost(ptq_fit, point.params, point.tokens, point.precision, target.bits, point.loss, setting.precision_theta)
        notes += found + _paper_range_notes("post-training", (target,)) + _format_notes((target,), ptq_fit)
        decided_by["quantization"] = quantization.law
        if ptq_fit is not precision_fit:
            decided_by["quantization"] += f" (the PTQ term only; training decided by {precision_fit.source})"
    overtraining = None
    finetune = by_law.get("finetune_degradation")
    if finetune is not None:
        overtraining = _overtraining(finetune, point.params, point.tokens)
        decided_by["degradation_onset_tokens"] = f"{finetune.source} (docs/laws.md §5, our form)"
        if overtraining["past_onset"]:
            notes.append(Note("past-finetune-onset", f"the plan's {point.tokens:.3g} tokens pass D* = {overtraining['degradation_onset_tokens']:.3g}: "
                              "the fine-tuned model would be worse than with fewer tokens", "warning", {"loss_above_onset": overtraining["loss_above_onset"]}))
    specialized = None
    if domain_tokens is not None:
        specialized = plan_specialized(by_law, point.params, point.tokens, domain_tokens, general_loss_tolerance)
        decided_by["domain_fraction"] = "specialized_domain and specialized_general fits (docs/laws.md §6, our form)"
    return ModelPlan(
        float(budget_flops), point.params, point.tokens, point.loss, point.precision.name, point.precision.bits, point.params * point.capacity,
        model.fit.source, unique_tokens, epochs, alternatives, tuple(constraints), decided_by, quantization, overtraining, specialized,
        tuple(merge(diagnostics.model_plan_notes([fit for fit, _ in part], point.params, point.tokens, forced, unique_tokens=unique_tokens), notes,
                    interval_notes(deciding, intervals),
                    diagnostics.require_believable(notes, diagnostics.MODEL_PLAN_PARAMETERS + (diagnostics.REPETITION_PARAMETERS if unique_tokens is not None else ()), force=force))),
        intervals,
    )


def taking_part(by_law: Mapping[str, Fit], *, unique_tokens=None, quantize_to=None, domain_tokens=None) -> list[tuple[Fit, tuple[str, ...]]]:
    """The fits a plan uses, each with the base names of its parameters that decide the plan: the
    loss law's split (A, B, alpha, beta; docs/laws.md §1), and R*_D, R*_N of the data-constrained
    fit when unique tokens make it play (§2). The PTQ, fine-tuning and specialization fits and the
    Chinchilla fit of the listed alternative take part (their notes count) but decide no N or D.
    A fit given but not used (a data-constrained fit without unique tokens) is not listed."""
    from scaling.diagnostics import MODEL_PLAN_PARAMETERS

    trained = training_precision_fit(by_law)
    model = trained or _first(by_law, LOSS_LAWS)
    used: dict[int, tuple[Fit, set[str]]] = {}
    if model is not None:
        used[id(model)] = (model, set(MODEL_PLAN_PARAMETERS))
    playing = [(by_law.get("data_constrained"), REPETITION_KEYS if unique_tokens is not None else None),
               (by_law.get("chinchilla"), () if trained is not None else None),
               (_first(by_law, PTQ_LAWS), () if quantize_to is not None else None),
               (by_law.get("finetune_degradation"), ()),
               (by_law.get("specialized_domain"), () if domain_tokens is not None else None),
               (by_law.get("specialized_general"), () if domain_tokens is not None else None)]
    for fit, deciding in playing:
        if fit is not None and deciding is not None:
            used.setdefault(id(fit), (fit, set()))[1].update(deciding)
    return [(fit, tuple(sorted(deciding))) for fit, deciding in used.values()]


def _overtraining(finetune: Fit, params: float, tokens: float) -> dict[str, Any]:
    """D* at the plan's N (docs/laws.md §5) and the fine-tuned loss above that at D* (`loss_above_onset`:
    what the tokens past D* lose after fine-tuning; not a constraint of the plan, which is unconstrained in D*)."""
    from scaling.laws.overtraining import degradation_onset_tokens, finetuned_loss

    theta = _theta(finetune)
    onset = float(degradation_onset_tokens(theta, params))
    at_plan = float(finetuned_loss(theta, {"params": params, "tokens": tokens}))
    at_onset = float(finetuned_loss(theta, {"params": params, "tokens": onset}))
    return {"degradation_onset_tokens": onset, "tokens": tokens, "finetuned_loss": at_plan, "finetuned_loss_at_onset": at_onset,
            "past_onset": tokens > onset, "loss_above_onset": max(at_plan - at_onset, 0.0)}


@float64
def plan_specialized(by_law: Mapping[str, Fit], params: float, tokens: float, domain_tokens: float, tolerance: float) -> dict[str, Any]:
    """docs/laws.md §6 (our form): the domain fraction f minimising domain loss with the general loss
    within `tolerance` (relative) of the f = 0 model; R = f D / U_dom."""
    domain, general = by_law.get("specialized_domain"), by_law.get("specialized_general")
    if domain is None or general is None:
        raise CurascaleError("domain_tokens needs specialized_domain and specialized_general fits (one fit file each)")
    fractions = np.linspace(0.0, 0.5, 501)[1:]
    frame = {"params": np.full(fractions.size, params), "tokens": np.full(fractions.size, tokens), "domain_tokens": np.full(fractions.size, domain_tokens), "domain_fraction": fractions}
    domain_loss = domain.predict(frame)
    general_loss = general.predict(frame)
    baseline = float(general.predict({"params": [params], "tokens": [tokens], "domain_fraction": [0.0]})[0])
    allowed = general_loss <= baseline * (1 + tolerance)
    if not allowed.any():
        raise CurascaleError("no domain fraction keeps the general loss within the tolerance")
    best = int(np.flatnonzero(allowed)[np.argmin(domain_loss[allowed])])
    return {"domain_fraction": float(fractions[best]), "repetitions": float(fractions[best] * tokens / domain_tokens),
            "domain_loss": float(domain_loss[best]), "general_loss": float(general_loss[best]), "general_loss_cost": float(general_loss[best] - baseline)}


@float64
def iso_flop_curves(plan: ModelPlan, fits: Sequence[Fit], points: int = 200) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Loss against N along the plan's iso-FLOP curve, one curve per alternative precision (or the
    plan's precision alone), for `scaling.plots.plot_model_plan`: {name: (N [points], loss [points])}."""
    setting = setting_of(fits, plan.budget_flops, unique_tokens=plan.unique_tokens)
    rows = [(row.precision, row.bits, row.quantized) for row in plan.alternatives if not row.law] or [(plan.precision, plan.bits, False)]
    span = np.geomspace(plan.params / 30, plan.params * 30, points)
    curves = {}
    for name, bits, quantized in rows:
        factor = capacity(setting.precision_theta, Precision(name, bits, quantized))
        tokens = params_times_tokens(plan.budget_flops, bits) / span
        curves[name] = (span, setting.model.loss(span * factor, tokens, plan.unique_tokens))
    return curves


@float64
def draw_intervals(fits: Sequence[Fit], deciding: Sequence[Fit], budget_flops: float, *, level: float = 0.95, **constraints) -> dict[str, Any] | None:
    """The plan's interval from the bootstrap draws of the fits that decide it (`deciding`, e.g. the
    loss law and, with unique tokens, the data-constrained fit): the plan is made again with draw i
    of each such fit that has draws in place of its parameters (independent fits: draw i of one with
    draw i of the other is a joint draw; as many as the fewest draws), the same constraints and the
    other fits unchanged. params, tokens and loss get the (1 - level)/2 and (1 + level)/2 percentiles
    over the draws (numpy's linear interpolation). None when no deciding fit has draws. A draw whose
    plan cannot be made (its own optimum undefined) is left out and counted in `draws_failed`."""
    drawn = [fit for fit in deciding if fit.draws]
    if not drawn:
        return None
    count = min(len(fit.draws) for fit in drawn)
    points = []
    for i in range(count):
        swapped = [next((dataclasses.replace(f, params=dict(f.draws[i]), draws=[]) for f in drawn if f is fit), fit) for fit in fits]
        try:
            setting = setting_of(swapped, budget_flops, **constraints)
            point = _constraints(setting, best_point(_replace(setting, formats=None, params=None, unique_tokens=None)))[1]
        except (CurascaleError, FloatingPointError, ValueError):
            continue
        if all(math.isfinite(v) for v in (point.params, point.tokens, point.loss)):
            points.append((point.params, point.tokens, point.loss))
    if not points:
        return None
    tail = 50 * (1 - level)
    bounds = np.percentile(np.asarray(points), [tail, 100 - tail], axis=0)
    return {**{name: [float(bounds[0, i]), float(bounds[1, i])] for i, name in enumerate(("params", "tokens", "loss"))},
            "level": level, "draws": len(points), "draws_failed": count - len(points), "fits": [fit.source for fit in drawn],
            "exact": [fit.source for fit in deciding if not fit.draws]}


def interval_notes(deciding: Sequence[Fit], intervals: Mapping[str, Any] | None) -> list[Note]:
    """`no-interval` for the loss law (the first deciding fit) when no deciding fit has draws;
    `interval-partial` when some have and others, taken as exact, have not."""
    from scaling import diagnostics

    if intervals is None:
        return diagnostics.no_interval(deciding[0]) if deciding else []
    if not intervals["exact"]:
        return []
    return [Note("interval-partial", f"the interval covers the draws of {', '.join(intervals['fits'])} only; taken as exact (no bootstrap draws): "
                 f"{', '.join(intervals['exact'])}", "info", {"fits": intervals["fits"], "exact": intervals["exact"]})]
