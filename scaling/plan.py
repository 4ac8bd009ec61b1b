"""The planner: a budget and fitted laws in, the plan out (DESIGN.md `Plan`).

Image-text data plans (budget in samples seen, docs/laws.md §3): the candidates are the unions of the
best m quality buckets for every m (`top10`, `top20`, ... after the share of the pool they cover),
each predicted with the fitted utilities and half-lives; the best candidate is the plan, the others
are the runners-up. With bootstrap draws in the fit every candidate gets an interval and the plan
the probability that it is truly the best.

Language-model plans (budget in FLOPs) live in `scaling.plan_model` (re-exported here): one
recommendation of N, D, epochs and training precision (§1, §2, §4) with the PTQ cost (§4), the
over-training onset D* (§5) and the domain-data fraction (§6) when fits for them are given.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

from curascale.errors import UserError
from curascale.notes import Note, merge, notes_to_dicts
from scaling import diagnostics
from scaling.jaxconf import float64
from scaling.fit import Fit
from scaling.laws import data_filtering

DATA_FILTERING_LAWS = ("data_filtering_utility", "data_filtering_effective_data")
DATA_PLAN_PARAMETERS = ("utility", "utility_half_life", "sample_scale")  # what decides a data plan
EQUAL_SIZE_RTOL = 0.01  # buckets within 1% of each other count as the paper's equal buckets


@dataclass
class Candidate:
    """One candidate: the buckets it draws from with their shares of the samples seen (summing to
    1), passes over the union and over each bucket, samples drawn from each, predicted error and
    accuracy (1 - error) and the accuracy's percentile interval over the fit's bootstrap draws."""

    name: str
    buckets: list[str]
    shares: list[float]
    epochs: float  # passes over the union
    repetitions: dict[str, float]  # passes over each bucket
    samples: dict[str, float]  # samples drawn from each bucket
    predicted_error: float
    predicted_accuracy: float
    interval: list[float] | None = None  # accuracy interval from the fit's bootstrap draws


@dataclass
class DataPlan:
    """A data plan: the budget (samples seen), the fit's source, the candidates (best first), the
    best one's name, the share of bootstrap draws in which it is best, the bucket sizes it assumed
    (samples), and the notes of the fit and of the plan (`scaling.diagnostics`)."""

    budget_samples: float
    fit: str
    candidates: list[Candidate]  # best first
    best: str
    probability_best: float | None = None
    bucket_size_samples: dict[str, float] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["notes"] = notes_to_dicts(self.notes)
        return record


@dataclass(frozen=True)
class Unions:
    """The candidate unions of a data-filtering fit: bucket order, sizes, shares [C, M]."""

    names: list[str]
    buckets: list[str]
    size_samples: np.ndarray  # [M]
    shares: np.ndarray  # [C, M], rows on the simplex


@float64
def candidate_unions(fit: Fit, bucket_sizes: dict[str, float] | None = None) -> Unions:
    """The paper's candidates: top-m unions of the nested buckets, best utility first."""
    if fit.law not in DATA_FILTERING_LAWS:
        raise UserError(f"a data plan needs a data filtering fit ({', '.join(DATA_FILTERING_LAWS)}), got {fit.law}")
    nested = fit.metadata.get("nested_buckets") or list(fit.groups or [])
    sizes = {**fit.metadata.get("bucket_size_samples", {}), **(bucket_sizes or {})}
    missing = [b for b in nested if b not in sizes]
    if missing:
        raise UserError(f"bucket sizes unknown for {', '.join(missing)}: give bucket_sizes (--bucket-sizes {missing[0]}=128M,...) or register the buckets "
                        "(a fit records a bucket's size only when all its runs give the same unique_samples)")
    order = sorted(nested, key=lambda b: fit.params[f"utility[{b}]"])  # most negative utility = best first
    percentiles = fit.metadata.get("bucket_percentile_ranges", {})
    size = np.array([sizes[b] for b in order], dtype=float)
    if not np.allclose(size, size.mean(), rtol=EQUAL_SIZE_RTOL, atol=0):
        raise UserError("the paper's unions assume equal bucket sizes; these differ: " + ", ".join(f"{b}={sizes[b]:.3g}" for b in order))
    size = np.full(len(order), size.mean())
    names, rows = [], []
    for m in range(1, len(order) + 1):
        upper = max((percentiles.get(b, [0, None])[1] or 0) for b in order[:m])
        names.append(f"top{upper:g}" if upper else f"best{m}")
        rows.append(np.r_[np.full(m, 1.0 / m), np.zeros(len(order) - m)])
    return Unions(names, order, size, np.array(rows))


# the plausible range of a data-plan parameter the fit does not identify, from its point value
PLAUSIBLE_RANGES = {
    "utility_half_life": lambda value: (0.5, 1e6),  # epochs: from half a pass to never decaying
    "utility": lambda value: (10.0 * value, value / 10.0),  # a decade either side (utilities are negative)
    "sample_scale": lambda value: (value / 1e3, value * 1e3),
}
PLAUSIBLE_POINTS = 41


def plausible_range(fit: Fit, name: str) -> tuple[float, float]:
    """[low, high] of parameter `name`: its `PLAUSIBLE_RANGES` bracket widened to its bootstrap
    interval, if the fit has one."""
    low, high = sorted(PLAUSIBLE_RANGES[name.split("[", 1)[0]](fit.params[name]))
    interval = (fit.intervals or {}).get(name)
    return (min(low, *interval), max(high, *interval)) if interval else (low, high)


def undecisive_parameters(fit: Fit, unions: Unions, budgets: Sequence[float]) -> tuple[list[str], list[Note]]:
    """The parameters of the fit's identifiability notes that would decide a data plan but do not
    change its choice: each is varied alone over `plausible_range` (log grid of
    `PLAUSIBLE_POINTS`), and when the best candidate at every budget stays the one at the fit's
    point, it is listed, with a `choice-unchanged` note. The others still refuse the plan."""
    budgets = np.asarray(budgets, dtype=float)
    named = {p for n in fit.notes if n.code in diagnostics.IDENTIFIABILITY_CODES for p in n.details.get("parameters", [])}
    undecisive, notes = [], []
    for name in sorted(p for p in named if p in fit.params and p.split("[", 1)[0] in DATA_PLAN_PARAMETERS):
        low, high = plausible_range(fit, name)
        grid = np.sign(low) * np.geomspace(abs(low), abs(high), PLAUSIBLE_POINTS)
        errors = _errors(fit, [fit.params] + [{**fit.params, name: float(v)} for v in grid], unions, budgets)  # [1 + V, C, B]
        best = np.argmin(np.where(np.isnan(errors), np.inf, errors), axis=1)
        if (best == best[0]).all() and len(set(best[0].tolist())) == 1:
            undecisive.append(name)
            notes += diagnostics.choice_unchanged(name, low, high, unions.names[int(best[0, 0])], budgets.tolist())
    return undecisive, notes


def _without_parameters(notes: Sequence[Note], names: Sequence[str]) -> list[Note]:
    """`notes` with `names` taken out of their identifiability notes (for `require_believable`)."""
    return [Note(n.code, n.message, n.severity, {**n.details, "parameters": [p for p in n.details.get("parameters", []) if p not in names]})
            if n.code in diagnostics.IDENTIFIABILITY_CODES else n for n in notes]


def require_decided(fit: Fit, unions: Unions, budgets: Sequence[float], *, force: bool, what: str) -> list[Note]:
    """`scaling.diagnostics.require_believable` for a data plan on `fit`, sparing parameters the
    plan's choice does not depend on (`undecisive_parameters`): the forced note, if any, and the
    `choice-unchanged` notes."""
    undecisive, notes = undecisive_parameters(fit, unions, budgets) if diagnostics.blocking(fit.notes, DATA_PLAN_PARAMETERS) else ([], [])
    return [*diagnostics.require_believable(_without_parameters(fit.notes, undecisive), DATA_PLAN_PARAMETERS, force=force, what=what), *notes]


def effective_buckets(shares, xp=np):
    """1 / sum w_i^2 (the inverse Simpson index): m for the uniform union of m buckets, and a
    smooth extension to non-uniform mixtures, whose pool is that many buckets' worth of samples.
    Rounded to the nearest integer when within 1e-9 of it, so the paper's unions are exact."""
    value = 1.0 / xp.sum(shares**2, axis=-1)
    nearest = xp.round(value)
    return xp.where(xp.abs(value - nearest) < 1e-9 * nearest, nearest, value)


EPOCH_LIMIT = data_filtering.MAX_EPOCHS - 1  # the data filtering laws handle fewer epochs than this


def union_samples(unions: Unions) -> np.ndarray:
    """Samples in each candidate's pool [C]: its effective number of buckets times the bucket size."""
    return effective_buckets(unions.shares) * unions.size_samples[0]


def in_law_domain(unions: Unions, budgets: Sequence[float]) -> np.ndarray:
    """[C, B]: True where candidate c at budget b is seen for fewer than `EPOCH_LIMIT` epochs
    (budget / pool), the domain of the data filtering laws. Raises CurascaleError naming the
    budget and every candidate's epochs when no candidate is inside at some budget."""
    epochs = np.asarray(budgets, dtype=float)[None, :] / union_samples(unions)[:, None]
    inside = epochs < EPOCH_LIMIT
    for b in np.flatnonzero(~inside.any(axis=0))[:1]:
        seen = ", ".join(f"{n} {e:.4g}" for n, e in zip(unions.names, epochs[:, b]))
        raise UserError(f"no candidate is within the data filtering laws' {EPOCH_LIMIT} epochs at {budgets[b]:.3g} samples seen "
                        f"(buckets of {unions.size_samples[0]:.3g} samples; epochs: {seen}): lower the budget or give larger buckets")
    return inside


def domain_notes(unions: Unions, budgets: Sequence[float]) -> list[Note]:
    """`outside-law-domain` notes for the candidates left out at some of `budgets`."""
    budgets = np.asarray(budgets, dtype=float)
    inside, pools = in_law_domain(unions, budgets), union_samples(unions)
    out = [c for c in range(len(unions.names)) if not inside[c].all()]
    return [note for c in out for note in diagnostics.outside_law_domain(
        unions.names[c], float(unions.size_samples[0]), float(pools[c]), float(budgets[~inside[c]].max() / pools[c]),
        limit=EPOCH_LIMIT, budgets=budgets[~inside[c]] if budgets.size > 1 else ())]


def within_domain(unions: Unions, budget: float) -> Unions:
    """The candidates the law can evaluate at `budget` (`in_law_domain`), in their order."""
    keep = in_law_domain(unions, [budget])[:, 0]
    return Unions([n for n, k in zip(unions.names, keep) if k], unions.buckets, unions.size_samples, unions.shares[keep])


@float64
def _errors(fit: Fit, params_list: Sequence[dict], unions: Unions, budgets: np.ndarray) -> np.ndarray:
    """Predicted error [draws, candidates, budgets] for every parameter set; NaN where the
    candidate lies outside the law's domain at that budget (`in_law_domain`)."""
    law = fit.law_spec
    union_size = union_samples(unions)[:, None]  # [C, 1]
    inside = in_law_domain(unions, budgets)
    epoch = data_filtering.epoch_axis(float((budgets[None, :] / union_size)[inside].max()), xp=np)
    form = data_filtering.union_log_error_utility if law.name == "data_filtering_utility" else data_filtering.union_error_effective_data
    shares = unions.shares[:, None, :]
    out = []
    for params in params_list:
        utilities = np.broadcast_to([params[f"utility[{b}]"] for b in unions.buckets], unions.shares.shape)[:, None, :]
        half_lives = np.broadcast_to([params[f"utility_half_life[{b}]"] for b in unions.buckets], unions.shares.shape)[:, None, :]
        value = form(epoch, budgets[None, :], union_size, utilities, half_lives, shares, params["sample_scale"], params["irreducible_error"], xp=np)
        out.append(np.where(inside, np.exp(value) if form is data_filtering.union_log_error_utility else value, np.nan))
    return np.stack(out)


@functools.lru_cache(maxsize=None)
def _mixture_solver(law_name: str, epochs_axis: int, steps: int, learning_rate: float):
    """The compiled search for one law and epoch-axis length: (start logits [S, M], budget,
    bucket size, utilities, half-lives, scale, irreducible) -> (best log error, best logits) per
    start. Data are arguments, so a sweep over budgets compiles once per epoch-axis length."""
    import jax
    import optax

    form = data_filtering.union_log_error_utility if law_name == "data_filtering_utility" else data_filtering.union_error_effective_data
    epoch = jnp.arange(epochs_axis, dtype=float)
    optimizer = optax.adam(learning_rate)

    def log_error(logits, budget, size, utilities, half_lives, scale, irreducible):
        shares = jax.nn.softmax(logits)
        value = form(epoch, budget, effective_buckets(shares, jnp) * size, utilities, half_lives, shares, scale, irreducible, xp=jnp)
        return value if form is data_filtering.union_log_error_utility else jnp.log(value)

    def run(start, *data):
        def step(carry, _):
            current, state, best_value, best = carry
            value, gradient = jax.value_and_grad(log_error)(current, *data)
            better = value < best_value
            updates, state = optimizer.update(gradient, state)
            return (optax.apply_updates(current, updates), state, jnp.where(better, value, best_value), jnp.where(better, current, best)), None

        carry, _ = jax.lax.scan(step, (start, optimizer.init(start), jnp.inf, start), None, length=steps)
        return carry[2], carry[3]

    return jax.jit(jax.vmap(run, in_axes=(0, None, None, None, None, None, None)))


@float64
def optimal_mixture(fit: Fit, unions: Unions, budget_samples: float, *, steps: int = 400, learning_rate: float = 0.05) -> np.ndarray:
    """Non-uniform mixture shares on the simplex minimising the predicted error at the budget:
    Adam on softmax logits (optax, jit, every start at once), started from each candidate union
    (smoothed off the simplex's edge) and from uniform weights; the best iterate wins. The
    mixture model is the union functions with shares w (half-life tau_i / w_i, w-weighted
    utilities) on a pool of `effective_buckets(w)` buckets: exactly the paper's union for uniform
    shares, so the result is never worse than the best union."""
    import jax

    size = float(unions.size_samples[0])
    if budget_samples / size >= EPOCH_LIMIT:
        raise UserError(f"the mixture search can put all {budget_samples:.3g} samples seen on one bucket of {size:.3g} samples, "
                        f"{budget_samples / size:.4g} epochs, past the data filtering laws' {EPOCH_LIMIT}: plan the unions (--candidates top-m)")
    epochs_axis = int(data_filtering.epoch_axis(float(budget_samples) / size, xp=np).size)
    solve = _mixture_solver(fit.law_spec.name, epochs_axis, steps, learning_rate)
    count = len(unions.buckets)
    starts = np.vstack([unions.shares, np.full(count, 1.0 / count)])
    values, best = solve(
        jnp.log(0.999 * starts + 0.001 / count), jnp.asarray(float(budget_samples)), jnp.asarray(size),
        jnp.array([fit.params[f"utility[{b}]"] for b in unions.buckets]), jnp.array([fit.params[f"utility_half_life[{b}]"] for b in unions.buckets]),
        jnp.asarray(fit.params["sample_scale"]), jnp.asarray(fit.params["irreducible_error"]),
    )
    return np.asarray(jax.nn.softmax(best[int(jnp.argmin(values))]))


def with_mixture(unions: Unions, shares: np.ndarray, *, floor: float = 1e-4) -> Unions:
    """The unions plus one candidate `mixture` (shares below `floor` dropped, renormalised)."""
    shares = np.where(shares < floor, 0.0, shares)
    shares = shares / shares.sum()
    return Unions([*unions.names, "mixture"], unions.buckets, unions.size_samples, np.vstack([unions.shares, shares]))


@float64
def plan_data(
    fit: Fit,
    budget_samples: float,
    *,
    bucket_sizes: dict[str, float] | None = None,
    level: float = 0.95,
    mixtures: bool = False,
    force: bool = False,
) -> DataPlan:
    """Rank the candidate unions for a budget of samples seen (docs/laws.md §3); with `mixtures`, also
    the optimal non-uniform mixture of the buckets (`optimal_mixture`).

    bucket_sizes: samples per bucket, overriding those the fit records. Candidates the budget would
    see past the law's epochs are dropped with a note (`domain_notes`). Raises CurascaleError when
    the fit does not identify a parameter that decides the plan (utilities, half-lives, scale, and
    only if the choice changes across its plausible range: `require_decided`), or
    the plan carries an error note (a predicted error outside (0, 1)), unless `force`
    (`scaling.diagnostics.require_believable`). The plan's notes are the fit's, then the plan's own (extrapolation of the budget
    and bucket sizes past what the fit saw, optima at the edge of the search, missing intervals).
    """
    unions = candidate_unions(fit, bucket_sizes)
    dropped = domain_notes(unions, [budget_samples])
    unions = within_domain(unions, budget_samples)
    forced = require_decided(fit, unions, [budget_samples], force=force, what="data plan")
    if mixtures:
        unions = with_mixture(unions, optimal_mixture(fit, unions, budget_samples))
    budgets = np.array([float(budget_samples)])
    error = _errors(fit, [fit.params], unions, budgets)[0, :, 0]
    draws = _errors(fit, fit.draws, unions, budgets)[:, :, 0] if fit.draws else None
    candidates = []
    for c, name in enumerate(unions.names):
        members = [b for b, w in zip(unions.buckets, unions.shares[c]) if w > 0]
        shares = [float(w) for w in unions.shares[c] if w > 0]
        union_size = unions.size_samples[0] * float(effective_buckets(unions.shares[c]))
        interval = None if draws is None else accuracy_interval(draws[:, c], level)
        candidates.append(
            Candidate(
                name=name, buckets=members, shares=shares, epochs=budget_samples / union_size,
                repetitions={b: budget_samples * w / unions.size_samples[0] for b, w in zip(members, shares)},
                samples={b: budget_samples * w for b, w in zip(members, shares)},
                predicted_error=float(error[c]), predicted_accuracy=float(1 - error[c]), interval=interval,
            )
        )
    order = np.argsort(error, kind="stable")
    ranked = [candidates[i] for i in order]
    probability = None if draws is None else float(np.mean(np.argmin(draws, axis=1) == order[0]))
    sizes = {b: float(s) for b, s in zip(unions.buckets, unions.size_samples)}
    own = [*dropped, *data_plan_notes(fit, unions, ranked[0].name, [budget_samples], sizes), *diagnostics.impossible_errors(error, unions.names),
           *diagnostics.point_outside_interval([c.name for c in ranked], [c.predicted_accuracy for c in ranked], [c.interval for c in ranked])]
    forced += diagnostics.require_believable(own, DATA_PLAN_PARAMETERS, force=force, what="data plan")
    notes = merge(diagnostics.carried_notes(fit), forced, own)
    return DataPlan(float(budget_samples), fit.source, ranked, ranked[0].name, probability, sizes, notes)


def accuracy_interval(draw_errors: np.ndarray, level: float) -> list[float]:
    """[low, high] accuracy (1 - error) percentile interval at `level` of one candidate's predicted
    error under each bootstrap draw (`draw_errors` [draws])."""
    tail = 50 * (1 - level)
    return [float(1 - np.percentile(draw_errors, 100 - tail)), float(1 - np.percentile(draw_errors, tail))]


def data_plan_notes(fit: Fit, unions: Unions, best: str | None, budgets: Sequence[float], sizes: dict[str, float]) -> list[Note]:
    """The plan's own notes: budgets and bucket sizes past what the fit saw, the best candidate at
    an edge of the nested family (or a mixture at a corner), and plans without an interval."""
    notes = diagnostics.extrapolation(fit.input_ranges, {"samples_seen": budgets, "unique_samples": list(sizes.values())})
    if best is not None:
        notes += union_edge(unions, best, budgets)
    if best == "mixture":
        notes += diagnostics.simplex_corner(unions.shares[-1], unions.buckets)
    return notes + diagnostics.no_interval(fit)


NESTED_EDGES = {"smaller": "a stricter filter (fewer, better samples, more epochs)", "larger": "a looser filter (a larger pool, fewer epochs)"}


def union_edge(unions: Unions, best: str, budgets: Sequence[float]) -> list[Note]:
    """`edge-optimum` for a best union at either end of the nested family, which is also an end of
    the epoch axis searched: the strictest union is seen for the most epochs (budget / its size),
    the loosest for the fewest. `budgets`: the budget of a plan, or those of a sweep where `best`
    is best; the note gives the union, its epochs there and the epochs the unions span."""
    nested = [n for n in unions.names if n != "mixture"]
    if best not in nested:
        return []
    pools = {n: float(unions.size_samples[0] * effective_buckets(unions.shares[unions.names.index(n)])) for n in nested}
    low, high = float(min(budgets)), float(max(budgets))
    epochs = [low / pools[best], high / pools[best]]
    span = [low / max(pools.values()), high / min(pools.values())]
    if low == high:
        where, details = f" ({epochs[0]:.3g} epochs over it; the unions span {span[0]:.3g} to {span[1]:.3g})", {"epochs": epochs[0], "epochs_range": span}
    else:
        where = f" for budgets {low:.3g} to {high:.3g} samples seen ({epochs[0]:.3g} to {epochs[1]:.3g} epochs over it)"
        details = {"budgets": [low, high], "epochs": epochs, "epochs_range": span}
    return diagnostics.grid_edge("union", best, nested, where=where, details=details, **NESTED_EDGES)


@dataclass(frozen=True)
class Sweep:
    """A quality-quantity frontier (`sweep_data`): the fit's source, one row per budget (samples
    seen, log grid) and the notes of the fit and of every row's plan (`scaling.diagnostics`)."""

    fit: str
    rows: list[dict[str, Any]]
    notes: list[Note]

    def to_json(self) -> dict[str, Any]:
        return {"fit": self.fit, "sweep": self.rows, "notes": notes_to_dicts(self.notes)}


@float64
def sweep_data(fit: Fit, low: float, high: float, points: int = 100, *, bucket_sizes=None, mixtures: bool = False,
               level: float = 0.95, force: bool = False) -> Sweep:
    """The quality-quantity frontier over [low, high] samples seen (`frontier_rows`) with its notes:
    the fit's, extrapolation of the budgets and bucket sizes, edge optima, candidates dropped
    outside the law's epochs. Like `plan_data` it refuses (`UserError`) a fit that does not
    identify the plans or a best candidate whose predicted error leaves (0, 1), unless `force`
    (`scaling.diagnostics.require_believable`; a `forced` note then says so)."""
    notes = sweep_notes(fit, low, high, bucket_sizes=bucket_sizes, force=force)
    rows = frontier_rows(fit, low, high, points, bucket_sizes=bucket_sizes, mixtures=mixtures, level=level)
    return Sweep(fit.source, rows, merge(notes, sweep_row_notes(fit, rows, bucket_sizes=bucket_sizes, force=force)))


@float64
def frontier_rows(fit: Fit, low: float, high: float, points: int = 100, *, bucket_sizes=None, mixtures: bool = False, level: float = 0.95) -> list[dict[str, Any]]:
    """The rows of the quality-quantity frontier, without notes or refusal (`sweep_data` is the
    checked entry point; figures of a plan that passed use this): for each of `points` budgets on
    a log grid over [low, high] samples seen, the best union, its accuracy and every candidate's
    (NaN-free: candidates outside the law's epochs are left out); with bootstrap draws in the fit,
    the best union's accuracy interval at `level` ("interval", as `plan_data`'s candidates); with
    `mixtures`, also the optimal mixture's accuracy and shares."""
    unions = candidate_unions(fit, bucket_sizes)
    budgets = np.geomspace(low, high, points)
    error = _errors(fit, [fit.params], unions, budgets)[0]  # [C, budgets], NaN outside the law's domain
    draws = _errors(fit, fit.draws, unions, budgets) if fit.draws else None  # [draws, C, budgets]
    best = np.nanargmin(error, axis=0)
    rows = [
        {"budget_samples": float(b), "best": unions.names[i], "predicted_accuracy": float(1 - error[i, j]),
         "accuracy_by_candidate": {n: float(1 - error[c, j]) for c, n in enumerate(unions.names) if not np.isnan(error[c, j])},
         **({} if draws is None else {"interval": accuracy_interval(draws[:, i, j], level)})}
        for j, (b, i) in enumerate(zip(budgets, best))
    ]
    if mixtures:
        for row in rows:
            mixed = with_mixture(unions, optimal_mixture(fit, unions, row["budget_samples"]))
            mixture_error = float(_errors(fit, [fit.params], mixed, np.array([row["budget_samples"]]))[0, -1, 0])
            row["mixture"] = {"predicted_accuracy": 1 - mixture_error, "shares": {b: float(w) for b, w in zip(unions.buckets, mixed.shares[-1]) if w > 0}}
    return rows


def sweep_notes(fit: Fit, low: float, high: float, *, bucket_sizes=None, force: bool = False) -> list[Note]:
    """The notes of a sweep over [low, high] samples seen: the fit's, and extrapolation of the
    budgets and bucket sizes; refuses like `plan_data` on a fit that does not identify the plan."""
    unions = candidate_unions(fit, bucket_sizes)
    forced = require_decided(fit, unions, np.geomspace(low, high, 25), force=force, what="sweep")
    sizes = {b: float(s) for b, s in zip(unions.buckets, unions.size_samples)}
    own = [n for n in data_plan_notes(fit, unions, None, [low, high], sizes) if n.code != "no-interval"]
    return merge(diagnostics.carried_notes(fit), forced, own)


def sweep_row_notes(fit: Fit, rows: Sequence[dict[str, Any]], *, bucket_sizes=None, force: bool = False) -> list[Note]:
    """The notes of a sweep's rows (`frontier_rows`): for each end of the nested family, the budgets
    whose best union is that end (`edge-optimum`, with the budgets and the epochs there), and best
    candidates whose predicted error leaves (0, 1), which stop the sweep unless `force` (the rule
    of `plan_data`, `scaling.diagnostics.require_believable`)."""
    unions = candidate_unions(fit, bucket_sizes)
    notes = domain_notes(unions, [row["budget_samples"] for row in rows])
    notes += [note for name in dict.fromkeys(row["best"] for row in rows)
             for note in union_edge(unions, name, [row["budget_samples"] for row in rows if row["best"] == name])]
    labels = [f"{row['budget_samples']:.3g} samples seen ({row['best']})" for row in rows]
    notes += diagnostics.impossible_errors([1 - row["predicted_accuracy"] for row in rows], labels)
    return [*diagnostics.require_believable(notes, DATA_PLAN_PARAMETERS, force=force, what="sweep"), *notes]


# ---- language models: scaling/plan_model.py ------------------------------------------------
from scaling.plan_model import ModelPlan, optimal_precision, plan_model, plan_specialized, quantization_cost  # noqa: E402,F401
