"""Which pilot runs to train next: Bayesian experimental design for the plan's decision.

A plan is a decision among candidate plans (the top-m unions of LAWS.md §3 for a budget of
samples seen, or the model size N on the iso-FLOP line of LAWS.md §1). Before the big run the
team can train small pilots. The value of a pilot is what it is expected to change about that
decision, per unit of pilot compute:

    plausible truths    theta_1..theta_T with weights w_t: the fit's bootstrap draws, or a
                        Laplace approximation (`laplace_truths`) when it has none
    planned metric      M[t, c]: the error (or loss) of plan c at the budget under truth t
    pilot outcome       o_p = log y_p(theta_t) + sigma z, z ~ N(0, 1): the pilot's log metric
                        under truth t with the fit's residual noise sigma (log units, §7)
    update              importance reweighting of the truths by the likelihood of the simulated
                        outcome, w'_s ∝ w_s exp(-(o_p - log y_p(theta_s))^2 / (2 s_p^2)), with
                        s_p^2 = sigma^2 + a kernel bandwidth of the truths (`kernel_width`): the
                        Bayesian posterior on the sample of truths, smoothed so that a precise
                        pilot does not put all weight on one draw; it stands in for refitting
                        with the pilot added (no refit is run, so it costs T x T per pilot
                        and is exact in the limit of many truths and sigma >> bandwidth). The truth that
                        generated an outcome is left out of its own posterior (w'_t = 0), so a
                        pilot is not credited for recognising a truth the team cannot have in
                        its list: the estimate is cross-validated, not optimistic.
    decision            c'(o) = argmin_c sum_s w'_s M[s, c] (the plan of least posterior-mean
                        metric); before any pilot, the same rule with the prior weights
    regret              M[t, c'(o)] - min_c M[t, c] under the truth t that made o; its expectation
                        over truths (w_t) and `replicates` noise draws per truth
    value               expected regret before - expected regret after the pilot (metric units:
                        error for data plans, nats for language models), and the shrinkage of
                        the planned metric's interval: 2 z_level sd of M[., c'] under w', averaged

Outcomes use common random numbers (one z per simulated world and pilot, drawn from `seed`), so
values of different pilots are compared on the same worlds, and the result is the same for the
same seed. A batch of pilots is chosen greedily: the pilot adding most expected regret reduction
per unit of compute (then interval reduction, then reduction of the linearised variance of the
decision's contrasts, `contrast_variance`) given those already chosen, whose outcomes update the
truths jointly (likelihoods multiply), until the pilot budget is spent or no pilot adds value.
The greedy batch is then compared, in the same simulated worlds, with the uniform batches of data
pilots (`uniform_batches`: every pool at the same samples, whole or the same share of it), and the
one of least expected regret is proposed (`best_batch`; the `uniform-batch` note says when that is
not the greedy one), then improved by exchange for data plans (`exchange`): greedy choice is
myopic, and pinning every pool's half-life at once can be worth more than its first pilot shows.

The reweighting is the design's linearised stand-in for a refit (cheap enough to run for every
pilot, world and greedy step); `bench/pilot_design.py` checks the decisions it leads to against a
team that does refit its law (`scaling.fit.fit`) on all its runs after the pilots and plans from
the refit. Candidates: data pilots are buckets (top-m unions only when asked for), whole or a
random 1/f of them (SUBSETS), at EPOCH_GRID passes (`data_pilots`); language-model pilots are (N, D) on a small grid, plus unique-token variants under
a data-constrained fit and low-precision variants under a precision fit (`model_pilots`).

This follows the decision-theoretic value of sample information (Raiffa & Schlaifer 1961) and
its Monte Carlo estimation by importance reweighting of prior draws (the "expected value of
sample information" of health economics, e.g. Strong et al. 2015); costs are samples seen (data
plans) or 6 N D FLOPs (language models).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from curascale.errors import UserError
from curascale.notes import Note, listed, notes_to_dicts
from scaling.jaxconf import float64
from scaling.fit import Fit
from scaling.laws import data_filtering
from scaling.plan import DATA_FILTERING_LAWS, Unions, candidate_unions, effective_buckets
from scaling.units import format_quantity

EPOCH_GRID = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0)  # passes over a pilot's pool
SUBSETS = (1.0, 2.0, 4.0, 8.0)  # data pilots train on their whole pool or a random 1/f of it
TOKENS_PER_PARAM = (5.0, 10.0, 20.0, 40.0, 80.0)  # D / N of language-model pilots
PILOT_SIZES = 6  # language-model pilot sizes: N_max, N_max / 2, ..., N_max / 32
MIN_PILOT_SAMPLES = 1.0  # a data pilot sees at least one sample
MIN_PILOT_PARAMS = 1e3  # a language-model pilot smaller than this is no model the laws describe
PLAN_SIZES = 21  # language-model plans: N on the iso-FLOP line, N_opt / 10 .. 10 N_opt
REPETITIONS = (2.0, 4.0, 8.0, 16.0)  # epochs over the unique tokens of unique-token pilots (data-constrained law)
PILOT_BITS = (4.0, 8.0)  # training precisions of precision pilots (precision laws)
PLAN_BITS = 16.0  # the precision language-model plans and plain pilots train at
MODEL_LAWS = ("chinchilla", "data_constrained", "precision", "precision_ptq", "precision_ptq_unified")
PRECISION_LAWS = MODEL_LAWS[2:]
PRIOR_SD = 1.0  # Laplace: least prior sd of each unconstrained coordinate (a factor e for log-scale ones), around its start grid's centre


# ---- plausible truths ------------------------------------------------------------------------
@dataclass(frozen=True)
class Truths:
    """Parameter sets (natural, flat names as in `Fit.params`) with weights summing to 1, and the
    residual noise sigma of the log metric. `source`: 'bootstrap' or 'laplace' (or the caller's);
    `notes`: what drawing them found (`fit_off_posterior`)."""

    params: tuple[Mapping[str, float], ...]
    weights: np.ndarray  # [T]
    noise: float
    source: str
    notes: tuple[Note, ...] = ()


@float64
def residual_noise(fit: Fit) -> float | None:
    """The sd of log residuals a fit implies, from its mean Huber loss per point h = objective /
    n_points (delta = fit.delta): inside Huber's quadratic zone sigma^2 = 2 h; in its linear zone
    h / delta + delta / 2 = mean |r| and sigma = sqrt(pi/2) mean |r| (normal residuals); both scaled up
    for the p fitted parameters (the variance by n / (n - p), so sigma by its square root in both
    zones, as the Laplace path's sqrt(r^T r / (n - p)) does; scaling mean |r| by n / (n - p) itself
    doubled sigma for 9 runs of 7 parameters). None for a fit without an objective (published
    constants)."""
    if fit.objective is None or not fit.n_points:
        return None
    mean, delta = fit.objective / fit.n_points, fit.delta
    free = len(fit.params) - len(fit.fixed) - len(fit.tied)
    inflation = fit.n_points / max(fit.n_points - free, 1)  # residuals of fitted parameters are smaller than the noise
    if mean <= 0.5 * delta**2:
        return float(np.sqrt(2 * mean * inflation))
    return float(np.sqrt(np.pi / 2) * (mean / delta + delta / 2) * np.sqrt(inflation))


def _coordinate_names(problem) -> list[str]:
    """The flat natural names of the unconstrained coordinates u, in their order."""
    return [name for p in problem.free for name in ([f"{p.name}[{g}]" for g in problem.data.groups] if p.per_group else [p.name])]


def _coordinates(problem, flat: Mapping[str, float]) -> np.ndarray:
    """Unconstrained coordinates u of natural parameters (the inverse of Problem.natural)."""
    blocks = []
    for p in problem.free:
        names = [f"{p.name}[{g}]" for g in problem.data.groups] if p.per_group else [p.name]
        blocks.append(p.transform.inverse(np.asarray([flat[n] for n in names], dtype=float)))
    return np.concatenate(blocks)


def _prior(problem, prior_sd: float) -> tuple[np.ndarray, np.ndarray]:
    """The weakly informative prior of `laplace_truths` in unconstrained coordinates u, from the
    law itself: each free parameter's mean is the centre of its start grid (`Param.starts`, the
    values its author calls plausible, mapped by its transform), its sd the larger of `prior_sd`
    and half the grid's span, so a wide grid (Chinchilla's A over e^0..e^25) stays wide."""
    means, scales = [], []
    for p in problem.free:
        start = p.start_coordinates()
        count = len(problem.data.groups) if p.per_group else 1
        means += [float((start.min() + start.max()) / 2)] * count
        scales += [max(float(prior_sd), float((start.max() - start.min()) / 2))] * count
    return np.array(means), np.array(scales)


@dataclass(frozen=True)
class Posterior:
    """The Laplace approximation of `laplace_posterior`: the posterior mode `mode` [p] in the law's
    unconstrained coordinates, the precision [p, p] there, the noise sigma (log units) and the
    fitting problem (`mode_params` maps the mode to natural, flat parameter names)."""

    problem: Any
    mode: np.ndarray
    precision: np.ndarray
    noise: float

    def mode_params(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.problem.natural(self.mode).items()}

    def distance(self, params: Mapping[str, float]) -> dict[str, float]:
        """{name: |u - u*| / sd} of natural parameters `params` from the mode, per free coordinate,
        sd the posterior's marginal one (the inverse precision's diagonal)."""
        sd = np.sqrt(np.diag(np.linalg.inv(self.precision)))
        return dict(zip(_coordinate_names(self.problem), np.abs(_coordinates(self.problem, params) - self.mode) / sd))


OFF_POSTERIOR_SDS = 4.0  # a fit's parameter this many posterior sds from the mode is one its runs do not pin down


def fit_off_posterior(fit: Fit, posterior: Posterior, threshold: float = OFF_POSTERIOR_SDS) -> list[Note]:
    """`fit-off-posterior`: the fit's parameters more than `threshold` marginal posterior sds from
    the posterior mode (`Posterior.distance`). A plain fit runs off along a direction its runs cannot
    see (a half-life of 1e12 epochs from two passes over a bucket, bench/pilot_design_diagnosis.py:
    15 of 20 seeds, 97% of the plan's regret), and a plan from it rests on that value; the design's
    truths are drawn around the mode instead. Details: parameters, fit, mode, sds."""
    distance = posterior.distance(fit.params)
    far = [name for name, z in distance.items() if z > threshold]
    if not far:
        return []
    mode = posterior.mode_params()
    shown = ", ".join(f"{name} = {fit.params[name]:.3g} ({distance[name]:.0f} sds from {mode[name]:.3g})" for name in far)
    return [Note("fit-off-posterior", f"the fit's {shown}: its runs do not pin {'these' if len(far) > 1 else 'this'} down, so a plan from the fit rests on "
                 "a value they cannot tell; the design's truths are drawn around the posterior mode (the runs and the law's weak prior), and pilots that "
                 "vary what it describes are the ones to train", "warning",
                 {"parameters": far, "fit": [fit.params[n] for n in far], "mode": [mode[n] for n in far], "sds": [float(distance[n]) for n in far]})]


@float64
def laplace_posterior(fit: Fit, frame, *, noise: float | None = None, prior_sd: float = PRIOR_SD) -> Posterior:
    """The Laplace approximation of the posterior of the law's parameters given the runs in `frame`
    (Bishop 2006, PRML §4.4), in the law's unconstrained coordinates u (LAWS.md §7's fitting
    problem): Gaussian log likelihood of the log residuals r(u) with sd sigma, and a weakly
    informative Gaussian prior from the law's start grids (`_prior`: mean m, sds s). Its mode
        u* = argmin_u |r(u)|^2 / sigma^2 + |(u - m) / s|^2      (from the fit, scipy least_squares)
    and precision J^T J / sigma^2 + diag(1 / s^2), J the Jacobian of r at u*. sigma is `noise`,
    else sqrt(r.r / (n - p)) of the fit's residuals. Centring at the mode, not at the fit, matters
    when the runs barely see a parameter: a half-life that two passes over a bucket cannot tell
    from no decay runs off to 1e12 epochs in a plain fit, and a Gaussian around that fit held the
    truth 26 sds away (bench/pilot_design.py, data scenario, 5 of 12 seeds). With prior_sd -> inf
    the precision is J^T J / sigma^2 at the fit. Raises UserError when sigma cannot be estimated."""
    import jax
    import jax.numpy as jnp
    from scipy.optimize import least_squares

    from scaling.problem import Data, Problem

    law = fit.law_spec
    if law.group_by is not None and law.group_by in frame:
        frame = frame[frame[law.group_by].astype(str).isin(fit.groups or [])]
    problem = Problem(law, Data.from_frame(law, frame, source="runs"), fixed=dict(fit.fixed), tied=dict(fit.tied), delta=fit.delta)
    if law.group_by is not None and list(problem.data.groups or []) != list(fit.groups or []):
        raise UserError(f"runs: the fit has parameters for {', '.join(fit.groups or [])} but the runs cover {', '.join(problem.data.groups or [])}")
    centre = _coordinates(problem, fit.params)
    residuals = np.asarray(problem.residuals(jnp.asarray(centre)))
    jacobian_of = jax.jacfwd(problem.residuals)
    dof = len(residuals) - len(centre)
    if noise is None:
        if dof <= 0:
            raise UserError(f"{len(residuals)} runs cannot estimate the residual noise of {len(centre)} parameters: give noise")
        noise = float(np.sqrt(residuals @ residuals / dof))
    mean, scale = _prior(problem, prior_sd)
    mode = least_squares(lambda u: np.concatenate([np.asarray(problem.residuals(jnp.asarray(u))) / noise, (u - mean) / scale]), centre,
                         jac=lambda u: np.vstack([np.asarray(jacobian_of(jnp.asarray(u))) / noise, np.diag(1.0 / scale)]), method="lm", xtol=1e-12, ftol=1e-12).x
    jacobian = np.asarray(jacobian_of(jnp.asarray(mode)))
    return Posterior(problem, mode, jacobian.T @ jacobian / noise**2 + np.diag(1.0 / scale**2), float(noise))


@float64
def laplace_truths(fit: Fit, frame, *, count: int = 256, seed: int = 0, noise: float | None = None, prior_sd: float = PRIOR_SD) -> Truths:
    """`count` draws from the Laplace approximation of the posterior given the runs in `frame`
    (`laplace_posterior`): a Gaussian around its mode with covariance the inverse of its precision,
    in the law's unconstrained coordinates. The weak prior keeps directions the runs cannot see (a
    half-life no pilot has repeated data long enough to reveal) as uncertain as the prior says,
    instead of certain. The truths' notes say when the fit lies far from the mode
    (`fit_off_posterior`). Raises UserError when sigma cannot be estimated."""
    posterior = laplace_posterior(fit, frame, noise=noise, prior_sd=prior_sd)
    values, vectors = np.linalg.eigh(posterior.precision)
    rng = np.random.default_rng(seed)
    draws = posterior.mode + (rng.standard_normal((count, len(posterior.mode))) / np.sqrt(values)) @ vectors.T
    return Truths(tuple(posterior.problem.natural(u) for u in draws), np.full(count, 1.0 / count), posterior.noise, "laplace", tuple(fit_off_posterior(fit, posterior)))


@dataclass(frozen=True)
class RunsUsed:
    """The runs the residual noise (and the Laplace truths) come from: how many, and where from."""

    count: int
    source: str


def _recorded_selection(fit: Fit, db) -> str | None:
    """The `--where` of a fit made from the registry `db` (its source "PATH[ where CONDITION]",
    `scaling.frames.load_frame`); None for all its runs. Raises UserError when the fit's source is
    not that registry: its runs cannot be found again."""
    import os

    recorded, _, where = (fit.source or "").partition(" where ")
    try:
        same = bool(recorded) and os.path.exists(recorded) and os.path.samefile(recorded, db)
    except OSError:
        same = False
    if not same:
        raise UserError(f"fit {fit.source or fit.law} keeps no runs and was not made from {db}: the design cannot tell which runs it was "
                        "fitted on; refit it (fits keep their runs) or fit it with bootstrap draws")
    return where or None


def fit_runs(fit: Fit, db=None) -> tuple[Any, RunsUsed] | tuple[None, None]:
    """(frame, RunsUsed): the runs `fit` was made on, to estimate the residual noise and linearise at
    (`laplace_truths`). The runs the artifact keeps (`Fit.points`) first; else the registry `db`
    with the fit's recorded selection (`_recorded_selection`) re-applied; (None, None) without
    either. Never every run of the registry when the fit used some: the noise of runs of another
    family is not the fit's (a registry of two families gave a 30x larger noise)."""
    frame = fit.points_frame()
    if frame is not None:
        return frame, RunsUsed(len(frame), f"the fit's runs ({fit.source or fit.law})")
    if db is None:
        return None, None
    from scaling.frames import load_frame

    where = _recorded_selection(fit, db)
    frame, source = load_frame(fit.law_spec, db=str(db), where=where, csv=None, mapping={}, split=None, task=None)
    return frame, RunsUsed(len(frame), source)


@float64
def plausible_truths(fit: Fit, *, frame=None, count: int = 256, seed: int = 0, noise: float | None = None) -> Truths:
    """The fit's bootstrap draws (at most `count`, a seeded subsample) with the noise of
    `residual_noise`, else `laplace_truths` on the runs in `frame` (`fit_runs`: the fit's own).
    `noise` overrides sigma."""
    if fit.draws:
        sigma = noise if noise is not None else residual_noise(fit)
        if sigma is None:
            raise UserError(f"fit {fit.source or fit.law}: no objective to estimate the residual noise from; give noise")
        index = np.arange(len(fit.draws))
        if len(index) > count:
            index = np.sort(np.random.default_rng(seed).choice(len(index), size=count, replace=False))
        return Truths(tuple(fit.draws[i] for i in index), np.full(len(index), 1.0 / len(index)), float(sigma), "bootstrap")
    if frame is None:
        raise UserError(f"fit {fit.source or fit.law} has no bootstrap draws and no runs to linearise at: refit with bootstrap draws or give the runs (registry)")
    return laplace_truths(fit, frame, count=count, seed=seed, noise=noise)


def _check_noise(noise: float) -> None:
    if not (np.isfinite(noise) and noise > 0):
        raise UserError(f"noise must be positive and finite, got {noise!r}")


# ---- the decision and the pilots -------------------------------------------------------------
@dataclass(frozen=True)
class Pilot:
    """A run the team could train: its name, what it is (pool and samples, or N and D), its cost."""

    name: str
    spec: Mapping[str, Any]
    cost: float


@dataclass(frozen=True)
class DesignProblem:
    """Everything the design needs, law-free: the plans and their metric under every truth
    [T, C] (lower is better), the pilots and their log outcome under every truth [T, P], the
    truths' weights [T] and the outcome noise sigma (log units)."""

    plans: tuple[str, ...]
    metric: np.ndarray
    pilots: tuple[Pilot, ...]
    log_outcome: np.ndarray
    weights: np.ndarray
    noise: float
    unit: str  # of cost: samples or flops
    metric_name: str  # error or loss
    budget: float
    notes: tuple[Note, ...] = ()  # what building the problem found (`data_problem`: default pilots left out), passed on by `design`


@float64
def union_errors(fit_law: str, params: Sequence[Mapping[str, float]], buckets: Sequence[str], weights: np.ndarray, union_size: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Error [T, Q] of Q unions (bucket weights [Q, M] on `buckets`, pool sizes [Q], samples seen
    [Q]) under T parameter sets, by the data-filtering law functions (LAWS.md §3), in numpy."""
    utilities = np.array([[p[f"utility[{b}]"] for b in buckets] for p in params])[:, None, :]
    half_lives = np.array([[p[f"utility_half_life[{b}]"] for b in buckets] for p in params])[:, None, :]
    scale = np.array([p["sample_scale"] for p in params])[:, None]
    irreducible = np.array([p["irreducible_error"] for p in params])[:, None]
    epoch = data_filtering.epoch_axis(float(np.max(samples / union_size)), xp=np)
    if fit_law == "data_filtering_utility":
        return np.exp(data_filtering.union_log_error_utility(epoch, samples, union_size, utilities, half_lives, weights[None], scale, irreducible, xp=np))
    return data_filtering.union_error_effective_data(epoch, samples, union_size, utilities, half_lives, weights[None], scale, irreducible, xp=np)


def grid_floor(fit: Fit, column: str) -> float:
    """The smallest value of `column` a default pilot grid offers: the fit's smallest, divided by
    `scaling.diagnostics.EXTRAPOLATION_FACTOR` (0 when the fit records no range): a pilot farther
    below is valued by a law evaluated where no run was."""
    from scaling.diagnostics import EXTRAPOLATION_FACTOR

    low = (fit.input_ranges or {}).get(column, [0.0])[0]
    return float(low) / EXTRAPOLATION_FACTOR if low > 0 else 0.0


def data_pilots(unions: Unions, pilot_budget: float, requested: Sequence[tuple] | None = None, *, smallest: float = 0.0, smallest_pool: float = 0.0) -> tuple[list[Pilot], np.ndarray, np.ndarray]:
    """Candidate data pilots: each bucket alone (a union of the best m >= 2 buckets only when
    `requested`: the fit cannot take a union's run), on the whole pool or on a random 1/f of it (f in SUBSETS; a subsampled pilot repeats its subset f
    times as often for the same samples, so it sees the repetition decay cheaply; at most one pass
    over a subset is the whole pool's pilot for those samples and named so), at EPOCH_GRID
    passes over what it trains on, costing at most `pilot_budget` samples, seeing at least
    `smallest` samples and training on at least `smallest_pool` unique samples (`grid_floor` of
    samples_seen and unique_samples); or the `requested` (pool, samples) or (pool, samples,
    unique_samples) items. The data-filtering law takes each run's pool size (LAWS.md §3: S in
    its epochs n / S), so a subset of a bucket is the bucket's utility and half-life over a
    smaller S. Returns the pilots, their weights [P, M] and unique samples [P]. Errors:
    `UserError` for an unknown pool or a subset that is not within its pool."""
    size = float(unions.size_samples[0])
    pools = {b: np.eye(len(unions.buckets))[i] for i, b in enumerate(unions.buckets)}
    pools.update({name: row for name, row in zip(unions.names, unions.shares) if np.count_nonzero(row) > 1})
    full = {pool: size * float(effective_buckets(row)) for pool, row in pools.items()}
    if requested is None:  # single buckets: the data-filtering fit takes a run of one bucket, not of a union (`union_pilots` notes requested ones)
        items = [(pool, epochs * full[pool] / f, full[pool] / f) for pool in unions.buckets for f in SUBSETS for epochs in EPOCH_GRID if f == 1 or epochs > 1]
        items = [(pool, samples, unique) for pool, samples, unique in items
                 if smallest <= samples <= pilot_budget * (1 + 1e-12) and unique >= smallest_pool * (1 - 1e-12)]
    else:
        unknown = [item[0] for item in requested if item[0] not in pools]
        if unknown:
            raise UserError(f"candidates: no pool named {unknown[0]!r} (pools: {', '.join(pools)})")
        items = [(item[0], float(item[1]), float(item[2]) if len(item) > 2 else full[item[0]]) for item in requested]
        for pool, samples, unique in items:
            if not (np.isfinite(unique) and 0 < unique <= full[pool] * (1 + 1e-12)):
                raise UserError(f"candidates: a pilot on {pool} trains on a subset of its {format_quantity(full[pool])} unique samples, got {format_quantity(unique)}")
            if samples / unique >= data_filtering.MAX_EPOCHS - 1:
                raise UserError(f"candidates: {pool}:{format_quantity(samples)}:{format_quantity(unique)} is {samples / unique:.3g} passes over its samples; "
                                f"the data filtering laws handle fewer than {data_filtering.MAX_EPOCHS - 1}")
    # at most one pass over a subset is the same experiment as the whole pool for those samples
    # (LAWS.md §3: with n <= S only n enters), so it is named and valued as that one
    items = [(pool, samples, full[pool] if samples <= unique * (1 + 1e-12) else unique) for pool, samples, unique in items]
    pilots, rows, sizes = [], [], []
    for pool, samples, unique in items:
        subset = "" if unique >= full[pool] * (1 - 1e-12) else f",U={format_quantity(unique)}"
        pilots.append(Pilot(f"{pool}@{format_quantity(samples)}{subset}", {"pool": pool, "samples": float(samples), "unique_samples": float(unique), "epochs": float(samples / unique)}, float(samples)))
        rows.append(pools[pool])
        sizes.append(unique)
    return pilots, np.array(rows, dtype=float).reshape(len(pilots), len(unions.buckets)), np.array(sizes)


@float64
def data_problem(fit: Fit, truths: Truths, budget_samples: float, pilot_budget: float, *, bucket_sizes: Mapping[str, float] | None = None,
                 candidates: Sequence[tuple] | None = None) -> DesignProblem:
    """The design problem of a data plan (LAWS.md §3): which top-m union to train on for
    `budget_samples`, and pilots of buckets and unions, whole or subsampled (`data_pilots`;
    `candidates`: (pool, samples) or (pool, samples, unique_samples)), costing samples seen."""
    if fit.law not in DATA_FILTERING_LAWS:
        raise UserError(f"a data design needs a data filtering fit ({', '.join(DATA_FILTERING_LAWS)}), got {fit.law}")
    _check_budgets(budget_samples, pilot_budget)
    _check_noise(truths.noise)
    unions = candidate_unions(fit, dict(bucket_sizes or {}))
    pilots, pilot_weights, pilot_sizes = data_pilots(unions, pilot_budget, candidates, smallest=grid_floor(fit, "samples_seen"), smallest_pool=grid_floor(fit, "unique_samples"))
    _check_pilots(pilots, pilot_budget, "samples")
    plan_sizes = effective_buckets(unions.shares) * unions.size_samples[0]
    passes = float(budget_samples) / float(np.min(plan_sizes))
    if passes >= data_filtering.MAX_EPOCHS - 1:
        raise UserError(f"the budget ({format_quantity(budget_samples)} samples) is {passes:.3g} passes over {unions.names[int(np.argmin(plan_sizes))]}; the data filtering "
                        f"laws handle fewer than {data_filtering.MAX_EPOCHS - 1} (a FLOPs budget is --unit flops)")
    metric = union_errors(fit.law, truths.params, unions.buckets, unions.shares, plan_sizes, np.full(len(plan_sizes), float(budget_samples)))
    outcome = np.log(union_errors(fit.law, truths.params, unions.buckets, pilot_weights, pilot_sizes, np.array([p.cost for p in pilots])))
    notes = []
    if candidates is None:  # the default grid leaves out pilots the law cannot describe (named ones stay, with the design's note)
        share = outside_share(truths.weights, outcome)
        kept = np.flatnonzero(share <= 0.5)
        dropped = [p.name for p, f in zip(pilots, share) if f > 0.5]
        if dropped:
            notes.append(Note("pilot-outside-range", f"{len(dropped)} default candidate pilot{'s' if len(dropped) > 1 else ''} ({listed(dropped)}) would have an error of 1 or more "
                              "under most plausible truths: the law does not hold there and such an error cannot be recorded, so they are left out (name one in "
                              "--candidates to value it anyway)", "info", {"pilots": dropped, "in_batch": [], "share": [float(f) for f in share if f > 0.5], "left_out": True}))
        if not kept.size:
            raise UserError(f"every candidate pilot within pilot_budget={format_quantity(pilot_budget)} samples would have an error of 1 or more under most plausible truths: "
                            "give a larger pilot budget, or name pilots with --candidates")
        pilots, outcome = [pilots[i] for i in kept], outcome[:, kept]
    return DesignProblem(tuple(unions.names), metric, tuple(pilots), outcome, truths.weights, truths.noise, "samples", "error", float(budget_samples), tuple(notes))


def model_pilots(pilot_budget: float, requested: Sequence[tuple[float, float]] | None = None, *, law: str = "chinchilla", smallest: tuple[float, float] = (0.0, 0.0)) -> list[Pilot]:
    """Candidate language-model pilots: N = N_max 2^-k (k < PILOT_SIZES) with N_max the largest
    model 6 N (5 N) FLOPs allows, times D / N in
    TOKENS_PER_PARAM, costing at most `pilot_budget` FLOPs (C = 6 N D, LAWS.md §1), with N and D at
    least `smallest` (`grid_floor` of params and tokens); or the `requested` (N, D) pairs. With a law that prices
    repetition or precision, the variants that only it can value are added for every (N, D):
    - data_constrained (LAWS.md §2): the same D over U = D / r unique tokens, r in REPETITIONS
      (r epochs; cost 6 N D, as the tokens seen are the same);
    - precision laws (LAWS.md §4): training at P bits in PILOT_BITS (weights, activations and KV
      cache alike; cost (6/16) N D P, Kumar et al. 2024), beside the 16-bit pilot.
    Every pilot's spec names all its inputs (params, tokens, and unique_tokens or bits)."""
    if requested is None:
        largest = np.sqrt(pilot_budget / (6.0 * min(TOKENS_PER_PARAM)))
        pairs = [(largest * 2.0**-k, ratio * largest * 2.0**-k) for k in range(PILOT_SIZES) for ratio in TOKENS_PER_PARAM]
        pairs = [(n, d) for n, d in pairs if 6 * n * d <= pilot_budget * (1 + 1e-12) and n >= smallest[0] and d >= smallest[1]]
    else:
        pairs = list(requested)
    pilots = []
    for n, d in pairs:
        name = f"N={format_quantity(n)},D={format_quantity(d)}"
        if law == "data_constrained":
            pilots += [Pilot(name if r == 1 else f"{name},U={format_quantity(d / r)}", {"params": float(n), "tokens": float(d), "unique_tokens": float(d / r)}, 6.0 * n * d)
                       for r in (1.0, *(REPETITIONS if requested is None else ()))]
        elif law in PRECISION_LAWS:
            pilots += [Pilot(name if bits == PLAN_BITS else f"{name},P={bits:g}", {"params": float(n), "tokens": float(d), "bits": float(bits)}, 6.0 / 16.0 * n * d * bits)
                       for bits in (PLAN_BITS, *(PILOT_BITS if requested is None else ()))]
        else:
            pilots.append(Pilot(name, {"params": float(n), "tokens": float(d)}, 6.0 * n * d))
    return pilots


def model_columns(law, specs: Sequence[Mapping[str, float]]) -> dict[str, np.ndarray]:
    """The law's input columns for language-model points given as specs (params, tokens, and
    unique_tokens or bits): one precision `bits` for weights, activations and KV cache; a column
    a spec does not give comes from the law's defaults (another column, or a constant)."""
    columns = {"params": [s["params"] for s in specs], "tokens": [s["tokens"] for s in specs]}
    if "unique_tokens" in law.inputs:
        columns["unique_tokens"] = [s.get("unique_tokens", s["tokens"]) for s in specs]
    if "bits_weights" in law.inputs:
        columns.update({name: [s.get("bits", PLAN_BITS) for s in specs] for name in ("bits_weights", "bits_activations", "bits_kv_cache")})
    for name in law.inputs:
        if name not in columns:
            default = law.defaults.get(name)
            if default is None:
                raise UserError(f"a language-model design cannot give the input {name!r} of law {law.name}")
            columns[name] = list(columns[default]) if isinstance(default, str) else [float(default)] * len(specs)
    return {k: np.asarray(v, dtype=float) for k, v in columns.items()}


def _law_values(fit: Fit, params: Sequence[Mapping[str, float]], columns: Mapping[str, np.ndarray], log: bool) -> np.ndarray:
    """The law's prediction (or its log) [T, Q] under T parameter sets at Q points."""
    import jax.numpy as jnp

    from scaling.problem import unflatten

    law = fit.law_spec
    padded = list(params) + [params[0]] * (_power_of_two(len(params)) - len(params))  # few shapes, few compilations
    thetas = [unflatten(law, p, fit.groups) for p in padded]
    theta = {name: jnp.asarray(np.stack([np.asarray(t[name]) for t in thetas]))[:, None] for name in law.param_names}
    inputs = {k: jnp.asarray(v, dtype=float)[None, :] for k, v in columns.items()}
    value = law.log_of_prediction(theta, inputs) if log else law.predict(theta, inputs)
    return np.asarray(value, dtype=float)[: len(params)]


def _power_of_two(size: int) -> int:
    return 1 << max(0, int(np.ceil(np.log2(max(size, 1)))))


@float64
def iso_flop_optimum(fit: Fit, budget_flops: float, *, points: int = 2001, unique_tokens: float | None = None) -> float:
    """N of least predicted loss on the iso-FLOP line D = C / 6N (LAWS.md §1), by the fit's own
    prediction on a log grid of N from 1e5 to C / 6e3 (at least 1e3 tokens), refined to 0.1%:
    the plans' centre, so any Chinchilla-form fit works without its closed form (a data-constrained
    fit with `unique_tokens` U available, §2; a precision fit at PLAN_BITS, §4)."""
    upper = max(budget_flops / 6e3, 1e6)
    sizes = np.geomspace(1e5, upper, points)
    loss = fit.predict(model_columns(fit.law_spec, _plan_specs(sizes, budget_flops, unique_tokens)))
    best = int(np.nanargmin(loss))
    fine = np.geomspace(sizes[max(best - 1, 0)], sizes[min(best + 1, points - 1)], 201)
    return float(fine[int(np.nanargmin(fit.predict(model_columns(fit.law_spec, _plan_specs(fine, budget_flops, unique_tokens)))))])


def _plan_specs(sizes: np.ndarray, budget_flops: float, unique_tokens: float | None) -> list[dict[str, float]]:
    """Plans on the iso-FLOP line: N, D = C / 6N, the unique tokens available (D when not given)."""
    return [{"params": float(n), "tokens": budget_flops / (6 * n), **({} if unique_tokens is None else {"unique_tokens": float(unique_tokens)})} for n in sizes]


@float64
def model_problem(fit: Fit, truths: Truths, budget_flops: float, pilot_budget: float, *, candidates: Sequence[tuple[float, float]] | None = None,
                  unique_tokens: float | None = None) -> DesignProblem:
    """The design problem of a language-model plan (LAWS.md §1): which N (D = C / 6N) to train at
    `budget_flops`, among PLAN_SIZES sizes from N_opt / 10 to 10 N_opt of the fit, and the pilots of
    `model_pilots` (their precision or unique-token variants when the fit's law prices them).
    A data-constrained fit (§2) plans with `unique_tokens` U available (default: D, no repetition);
    a precision fit (§4) plans at PLAN_BITS. Raises UserError for another law or a bad U."""
    if fit.law not in MODEL_LAWS:
        raise UserError(f"a language-model design needs a fit of {', '.join(MODEL_LAWS)}, got {fit.law}")
    if unique_tokens is not None and not (np.isfinite(unique_tokens) and unique_tokens > 0):
        raise UserError(f"unique_tokens must be positive and finite, got {unique_tokens!r}")
    if unique_tokens is not None and fit.law != "data_constrained":
        raise UserError(f"unique_tokens needs a data_constrained fit (it prices repetition), got {fit.law}")
    _check_budgets(budget_flops, pilot_budget)
    _check_noise(truths.noise)
    optimum = iso_flop_optimum(fit, budget_flops, unique_tokens=unique_tokens)
    sizes = np.geomspace(optimum / 10, optimum * 10, PLAN_SIZES)
    pilots = model_pilots(pilot_budget, candidates, law=fit.law, smallest=(grid_floor(fit, "params"), grid_floor(fit, "tokens")))
    _check_pilots(pilots, pilot_budget, "flops")
    metric = _law_values(fit, truths.params, model_columns(fit.law_spec, _plan_specs(sizes, budget_flops, unique_tokens)), log=False)
    outcome = _law_values(fit, truths.params, model_columns(fit.law_spec, [p.spec for p in pilots]), log=True)
    plans = tuple(f"N={format_quantity(n)}" for n in sizes)
    return DesignProblem(plans, metric, tuple(pilots), outcome, truths.weights, truths.noise, "flops", "loss", float(budget_flops))


def format_cost(value: float, unit: str) -> str:
    """Samples as 12.8M; FLOPs as 3e+19 (a T suffix on FLOPs would read as trillions of something else)."""
    return format_quantity(value) if unit == "samples" else f"{value:.3g}"


def _check_budgets(budget: float, pilot_budget: float) -> None:
    for name, value in (("budget", budget), ("pilot_budget", pilot_budget)):
        if not (np.isfinite(value) and value > 0):
            raise UserError(f"{name} must be positive and finite, got {value!r}")
    if pilot_budget >= budget:
        raise UserError(f"pilot_budget ({pilot_budget:.4g}) must be smaller than the budget ({budget:.4g})")


def _check_pilots(pilots: Sequence[Pilot], pilot_budget: float, unit: str) -> None:
    """Refuses no pilots (the grid: none within the fit's reach fits the budget), a pilot over the
    budget, and a pilot below MIN_PILOT_SAMPLES samples or MIN_PILOT_PARAMS parameters."""
    if not pilots:
        raise UserError(f"no candidate pilot fits pilot_budget={format_cost(pilot_budget, unit)} {unit} within the extrapolation factor of the fit's smallest runs")
    tiny = [p for p in pilots if p.spec.get("samples", MIN_PILOT_SAMPLES) < MIN_PILOT_SAMPLES or p.spec.get("params", MIN_PILOT_PARAMS) < MIN_PILOT_PARAMS
            or p.spec.get("tokens", 1.0) < 1.0]
    if tiny:
        raise UserError(f"candidate {tiny[0].name} is too small to train: a pilot needs at least {MIN_PILOT_SAMPLES:g} sample"
                        if unit == "samples" else f"candidate {tiny[0].name} is too small to train: a pilot needs at least {MIN_PILOT_PARAMS:g} parameters and 1 token")
    names = [p.name for p in pilots]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UserError(f"candidate {twice[0]} is given {names.count(twice[0])} times: list each pilot once")
    too_big = [p for p in pilots if p.cost > pilot_budget * (1 + 1e-12)]
    if too_big:
        raise UserError(f"candidate {too_big[0].name} costs {format_cost(too_big[0].cost, unit)} {unit}, more than pilot_budget={format_cost(pilot_budget, unit)}")


# ---- value of information --------------------------------------------------------------------
@dataclass(frozen=True)
class Outlook:
    """The expected regret of the decision, the mean interval width of the planned metric, and
    how often each plan is chosen, after observing a set of pilots (none: before any)."""

    regret: float
    width: float
    choices: Mapping[str, float]
    regret_per_truth: np.ndarray | None = None  # [T] the regret averaged over each truth's replicates (for standard errors)
    width_per_truth: np.ndarray | None = None  # [T] the same for the interval width


def reduction_se(before: Outlook, after: Outlook, weights: np.ndarray) -> tuple[float, float]:
    """Monte Carlo standard errors of the expected regret reduction and interval reduction from
    `before` to `after`: the differences are averaged over each truth's replicates (one cluster
    per truth, the replicates of one truth are not independent), then
    SE = sqrt(T / (T - 1) sum_t w_t^2 (d_t - dbar)^2) for the truths' normalised weights w_t
    (the weighted-mean standard error; Cochran 1977, ratio estimators)."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    factor = len(w) / max(len(w) - 1, 1)
    out = []
    for a, b in ((before.regret_per_truth, after.regret_per_truth), (before.width_per_truth, after.width_per_truth)):
        d = a - b
        out.append(float(np.sqrt(factor * np.sum(w**2 * (d - w @ d) ** 2))))
    return out[0], out[1]


def kernel_width(log_outcome: np.ndarray, weights: np.ndarray, noise: float) -> np.ndarray:
    """[P] sd of the likelihood of each pilot's outcome: sqrt(sigma^2 + (h s_p)^2), s_p the
    weighted sd of the pilot's log outcome over the T truths and h = (4 / 3T)^(1/5) (Silverman's
    bandwidth). T truths are a sample; a precise pilot would otherwise put all the posterior on
    the one truth nearest its outcome (a kernel density estimate of the posterior instead)."""
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    mean = weights @ log_outcome
    spread = np.sqrt(np.maximum(weights @ (log_outcome - mean) ** 2, 0.0))
    bandwidth = (4.0 / (3.0 * len(weights))) ** 0.2
    return np.sqrt(noise**2 + (bandwidth * spread) ** 2)


class Simulator:
    """Simulated worlds for one DesignProblem: `replicates` noisy outcomes of every pilot under
    every truth (common random numbers from `seed`), and the posterior decision after any set of
    pilots (see the module docstring)."""

    def __init__(self, problem: DesignProblem, *, replicates: int = 4, seed: int | tuple[int, ...] = 0, level: float = 0.95):
        from scipy.stats import norm

        self.problem = problem
        truths = len(problem.weights)
        if truths < 2:
            raise UserError(f"the design needs at least 2 plausible truths, got {truths}")
        self.truth = np.repeat(np.arange(truths), replicates)  # [J]: the truth behind each world
        z = np.random.default_rng(seed).standard_normal((len(self.truth), len(problem.pilots)))
        self.observed = problem.log_outcome[self.truth] + problem.noise * z  # [J, P]
        weights = np.asarray(problem.weights, dtype=float)
        self.world_weight = weights[self.truth] / weights[self.truth].sum()  # [J]
        with np.errstate(divide="ignore"):
            self.log_prior = np.where(self.truth[:, None] == np.arange(truths)[None, :], -np.inf, np.log(weights)[None, :])  # [J, T], own truth left out
        self.best = problem.metric.min(axis=1)  # [T]
        self.spread = kernel_width(problem.log_outcome, weights, problem.noise)  # [P]
        self.z_level = float(norm.ppf(0.5 + level / 2))

    def log_likelihood(self, pilot: int) -> np.ndarray:
        """[J, T]: log p(o_j | theta_s) of pilot `pilot`'s simulated outcome in world j."""
        gap = self.observed[:, pilot, None] - self.problem.log_outcome[None, :, pilot]
        return -0.5 * (gap / self.spread[pilot]) ** 2

    def joint_log_likelihood(self, pilots: Sequence[int]) -> np.ndarray:
        """[J, T]: log p(o_j | theta_s) of the pilots `pilots` together (their outcomes are
        independent given a truth, so the log likelihoods add)."""
        return sum((self.log_likelihood(i) for i in pilots), start=np.zeros_like(self.log_prior))

    def outlook(self, log_likelihood: np.ndarray | float = 0.0) -> Outlook:
        log_w = self.log_prior + log_likelihood
        log_w = log_w - log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        w /= w.sum(axis=1, keepdims=True)
        metric = self.problem.metric
        choice = np.argmin(w @ metric, axis=1)  # [J]
        regret = metric[self.truth, choice] - self.best[self.truth]
        planned = metric.T[choice]  # [J, T]: the chosen plan's metric under every truth
        mean = np.einsum("jt,jt->j", w, planned)
        sd = np.sqrt(np.maximum(np.einsum("jt,jt->j", w, planned * planned) - mean**2, 0.0))
        shares = np.bincount(choice, weights=self.world_weight, minlength=len(self.problem.plans))
        choices = {self.problem.plans[c]: float(shares[c]) for c in np.argsort(-shares, kind="stable") if shares[c] > 0}
        width = 2 * self.z_level * sd
        counts = np.bincount(self.truth, minlength=len(self.problem.weights))
        per_truth = lambda values: np.bincount(self.truth, weights=values, minlength=len(counts)) / counts  # noqa: E731
        return Outlook(float(self.world_weight @ regret), float(self.world_weight @ width), choices, per_truth(regret), per_truth(width))


@dataclass(frozen=True)
class PilotValue:
    """One candidate pilot's expected value: regret and interval reductions (metric units) and
    per unit of cost, and the plans the decision moves between after it (`informs`)."""

    pilot: str
    spec: Mapping[str, Any]
    cost: float
    regret_reduction: float
    interval_reduction: float
    regret_reduction_per_cost: float
    interval_reduction_per_cost: float
    informs: str
    choices: Mapping[str, float]
    regret_reduction_se: float = 0.0  # Monte Carlo standard errors (`reduction_se`), metric units
    interval_reduction_se: float = 0.0


@dataclass(frozen=True)
class BatchStep:
    """One pilot added to the greedy batch, the batch's expected regret and interval width after
    it, and the criterion that chose it: 'regret reduction', 'interval reduction' or 'linearised
    variance' (`greedy_batch`), 'uniform batch' (`uniform_batches`, chosen over the greedy one),
    'exchange' (brought in by `exchange`) or 'kept by exchange'."""

    pilot: str
    cost: float
    cumulative_cost: float
    regret: float
    width: float
    chosen_by: str = "regret reduction"


@dataclass(frozen=True)
class Alternative:
    """A batch `design` compared (`best_batch`: the greedy one, the uniform ones of
    `uniform_batches`; then the proposal after `exchange` when it changed): its name, pilots, cost
    and the expected regret and interval width after it, in the same simulated worlds."""

    name: str
    pilots: tuple[str, ...]
    cost: float
    regret: float
    width: float


@dataclass(frozen=True)
class Design:
    """The ranked pilots (best value per cost first), the proposed batch within the pilot budget,
    and the decision before any pilot. Metric in `metric_name` units, costs in `unit`."""

    budget: float
    pilot_budget: float
    unit: str
    metric_name: str
    prior_plan: str
    prior_regret: float
    prior_width: float
    prior_choices: Mapping[str, float]
    pilots: tuple[PilotValue, ...]
    batch: tuple[BatchStep, ...]
    truths: int
    truths_source: str
    noise: float
    replicates: int
    seed: int
    notes: tuple[Note, ...] = field(default_factory=tuple)  # curascale.notes.Note; scaling.design_notes adds the planner's
    runs: RunsUsed | None = None  # the runs the noise (and Laplace truths) come from
    alternatives: tuple[Alternative, ...] = ()  # every batch compared (`Alternative`), greedy first
    batch_source: str = "greedy"  # 'greedy' or the uniform batch's name, then ', then exchange' when exchange changed it
    fresh_regret: float | None = None  # the proposed batch's expected regret on fresh simulated outcomes (`fresh_outlook`)
    fresh_regret_se: float = 0.0  # its Monte Carlo standard error (of the reduction from the prior, `reduction_se`)
    fit: Mapping[str, Any] = field(default_factory=dict)  # which fit the design is for (`design_pilots`: law, source, data_hash)

    @property
    def batch_regret_reduction(self) -> float:
        """The batch's expected regret reduction; 0 when its own estimate does not fall (the batch
        is then chosen by interval reduction: the `batch-by-interval` note)."""
        return max(self.prior_regret - (self.batch[-1].regret if self.batch else self.prior_regret), 0.0)

    @property
    def batch_chosen_by(self) -> str:
        """'regret reduction' when the batch's expected regret falls, else 'interval reduction'."""
        return "regret reduction" if self.batch and self.batch[-1].regret < self.prior_regret else "interval reduction"

    def to_dict(self) -> dict[str, Any]:
        """The JSON view: plain lists and dicts, every number a float."""
        return {
            "budget": self.budget, "pilot_budget": self.pilot_budget, "unit": self.unit, "metric": self.metric_name,
            "prior": {"plan": self.prior_plan, "expected_regret": self.prior_regret, "interval_width": self.prior_width, "choices": dict(self.prior_choices)},
            "pilots": [
                {"pilot": p.pilot, **{k: v for k, v in p.spec.items()}, "cost": p.cost, "expected_regret_reduction": p.regret_reduction,
                 "interval_reduction": p.interval_reduction, "expected_regret_reduction_se": p.regret_reduction_se, "interval_reduction_se": p.interval_reduction_se,
                 "regret_reduction_per_cost": p.regret_reduction_per_cost,
                 "interval_reduction_per_cost": p.interval_reduction_per_cost, "informs": p.informs, "choices": dict(p.choices)}
                for p in self.pilots
            ],
            "batch": {
                "pilots": [s.pilot for s in self.batch], "cost": self.batch[-1].cumulative_cost if self.batch else 0.0,
                "expected_regret_reduction": self.batch_regret_reduction, "chosen_by": self.batch_chosen_by,
                "interval_reduction": self.prior_width - (self.batch[-1].width if self.batch else self.prior_width),
                "steps": [{"pilot": s.pilot, "cost": s.cost, "cumulative_cost": s.cumulative_cost, "expected_regret": s.regret, "interval_width": s.width, "chosen_by": s.chosen_by} for s in self.batch],
                "source": self.batch_source,
                "expected_regret_fresh": self.fresh_regret, "expected_regret_fresh_se": self.fresh_regret_se,
                "alternatives": [{"name": a.name, "pilots": list(a.pilots), "cost": a.cost, "expected_regret": a.regret, "interval_width": a.width} for a in self.alternatives],
            },
            "truths": {"count": self.truths, "source": self.truths_source, "noise": self.noise, "replicates": self.replicates,
                       "runs": None if self.runs is None else {"count": self.runs.count, "source": self.runs.source}},
            "seed": self.seed,
            "fit": dict(self.fit),
            "notes": notes_to_dicts(self.notes),
        }


def _informs(prior_plan: str, choices: Mapping[str, float]) -> str:
    """'A vs B': the prior plan and the plan most often chosen instead after the pilot ('A' if none)."""
    others = [name for name in choices if name != prior_plan]
    return f"{prior_plan} vs {others[0]}" if others else prior_plan


def _ranking_key(value: PilotValue) -> tuple:
    return (-value.regret_reduction_per_cost, -value.interval_reduction_per_cost, value.cost, value.pilot)


def contrast_variance(problem: DesignProblem, chosen: Sequence[int], plan: int) -> float:
    """The linearised (ensemble Kalman, Gauss-Newton) posterior variance left in the decision after
    observing the pilots `chosen`: sum over plans c of Var(M_c - M_plan | o_S), the contrasts of
    every plan to `plan`, under the linear-Gaussian approximation of the truths' joint sample of
    contrasts D [T, C] and pilot log outcomes O_S [T, |S|] (weighted moments):
        Var(D | o_S) = Var(D) - Cov(D, O_S) (Cov(O_S) + sigma^2 I)^-1 Cov(O_S, D)
    (an A-optimal Bayesian linear design on the contrasts, Chaloner & Verdinelli 1995). It does not
    depend on the outcome, needs no resampling, and does not collapse when a few pilots have
    concentrated the reweighted truths; 0 for a pilot whose outcome is the same under every truth."""
    w = np.asarray(problem.weights, dtype=float) / np.sum(problem.weights)
    contrasts = problem.metric - problem.metric[:, [plan]]
    contrasts = contrasts - w @ contrasts
    prior = float(w @ np.sum(contrasts**2, axis=1))
    if not len(chosen):
        return prior
    outcomes = problem.log_outcome[:, list(chosen)]
    outcomes = outcomes - w @ outcomes
    cov_oo = (outcomes * w[:, None]).T @ outcomes + problem.noise**2 * np.eye(len(chosen))
    cov_od = (outcomes * w[:, None]).T @ contrasts  # [S, C]
    return max(prior - float(np.sum(cov_od * np.linalg.solve(cov_oo, cov_od))), 0.0)


def greedy_batch(simulator: Simulator, pilot_budget: float, *, tolerance: float = 1e-12) -> tuple[BatchStep, ...]:
    """Pilots added one at a time: the one of most regret reduction per cost (then interval
    reduction per cost, then reduction of the linearised `contrast_variance` per cost) given the
    pilots already chosen, while it fits the remaining budget and adds value; each pilot at most
    once. A reduction at or below `tolerance` (relative to the prior contrast variance for the
    third) counts as none, so once no pilot lowers the simulated regret or interval, which happens
    when a few pilots have concentrated the reweighted truths on a handful of them, the batch
    continues by the linearised variance of the decision's contrasts. A negative simulated regret
    reduction counts as none: the expected value of information is never negative (Raiffa &
    Schlaifer 1961), so it is the error of reweighting few truths (the own truth left out, its
    neighbour may choose another plan). Excluding such pilots, and having no third criterion, made
    the batch stop while the decision was still uncertain, leaving up to all of the compute unspent
    (bench/pilot_design.py, Chinchilla: 28 of 50 seeds spent under 70% of the budget)."""
    problem = simulator.problem
    plan = int(np.argmin(problem.weights @ problem.metric))
    chosen: list[int] = []
    log_likelihood = np.zeros_like(simulator.log_prior)
    current = simulator.outlook()
    variance = contrast_variance(problem, chosen, plan)
    floor = tolerance * max(variance, np.finfo(float).tiny)
    spent, steps = 0.0, []
    while True:
        best = None
        for index, pilot in enumerate(problem.pilots):
            if index in chosen or spent + pilot.cost > pilot_budget * (1 + 1e-12):
                continue
            after = simulator.outlook(log_likelihood + simulator.log_likelihood(index))
            regret_gain, width_gain = current.regret - after.regret, current.width - after.width
            regret_gain = max(regret_gain, 0.0)  # the value of information is never negative: a negative estimate is simulation error
            linear = contrast_variance(problem, chosen + [index], plan)
            key = (regret_gain / pilot.cost if regret_gain > tolerance else 0.0, width_gain / pilot.cost if width_gain > tolerance else 0.0,
                   (variance - linear) / pilot.cost if variance - linear > floor else 0.0)
            if best is None or key > best[0]:
                best = (key, index, after, linear)
        if best is None or best[0] == (0.0, 0.0, 0.0):
            return tuple(steps)
        key, index, current, variance = best
        chosen_by = ("regret reduction", "interval reduction", "linearised variance")[next(k for k, v in enumerate(key) if v > 0)]
        chosen.append(index)
        log_likelihood = log_likelihood + simulator.log_likelihood(index)
        spent += problem.pilots[index].cost
        steps.append(BatchStep(problem.pilots[index].name, problem.pilots[index].cost, spent, current.regret, current.width, chosen_by))


def uniform_batches(problem: DesignProblem, pilot_budget: float) -> list[tuple[str, tuple[int, ...]]]:
    """The uniform batches a team would train without a design, from the data candidates: for each
    subset share 1/f of the pools (f = a pool's largest candidate unique_samples over the pilot's),
    one pilot of every candidate pool at the same samples seen, the most samples whose batch fits
    `pilot_budget`. Returns (name, pilot indices in candidate order) per share, whole pools first;
    [] for language-model candidates (no pools) or fewer than two pools.

    They are the baselines a pilot-by-pilot greedy batch can miss: it buys the pilot of most value
    per cost given those before it, and a batch that pins every pool's half-life at once can be
    worth more than its first pilot says (bench/pilot_design.py, data plan: every bucket's quarter
    at four passes beat the greedy batch in mean regret until `design` compared the two)."""
    pools: dict[str, list[int]] = {}
    for index, pilot in enumerate(problem.pilots):
        if "pool" not in pilot.spec:
            return []
        pools.setdefault(pilot.spec["pool"], []).append(index)
    if len(pools) < 2:
        return []
    full = {pool: max(problem.pilots[i].spec["unique_samples"] for i in indices) for pool, indices in pools.items()}
    groups: dict[tuple[float, float], dict[str, int]] = {}
    for pool, indices in pools.items():
        for i in indices:
            spec = problem.pilots[i].spec
            key = (float(f"{full[pool] / spec['unique_samples']:.9g}"), float(f"{spec['samples']:.12g}"))
            groups.setdefault(key, {}).setdefault(pool, i)
    best: dict[float, tuple[float, tuple[int, ...]]] = {}
    for (share, samples), members in groups.items():
        indices = tuple(sorted(members.values()))
        if len(members) == len(pools) and sum(problem.pilots[i].cost for i in indices) <= pilot_budget * (1 + 1e-12) and samples > best.get(share, (0.0, ()))[0]:
            best[share] = (samples, indices)
    named = []
    for share in sorted(best):
        samples, indices = best[share]
        part = "whole" if share == 1 else f"1/{share:g} of it"
        named.append((f"every pool {part}, {format_quantity(samples)} samples each", indices))
    return named


def batch_steps(simulator: Simulator, indices: Sequence[int], chosen_by: str) -> tuple[BatchStep, ...]:
    """The pilots `indices` as batch steps: each with the expected regret and interval width after
    it and those before it (outcomes update the truths jointly, as in `greedy_batch`)."""
    problem = simulator.problem
    log_likelihood, spent, steps = 0.0, 0.0, []
    for index in indices:
        log_likelihood = log_likelihood + simulator.log_likelihood(index)
        after = simulator.outlook(log_likelihood)
        spent += problem.pilots[index].cost
        steps.append(BatchStep(problem.pilots[index].name, problem.pilots[index].cost, spent, after.regret, after.width, chosen_by))
    return tuple(steps)


def exchange(simulator: Simulator, steps: Sequence[BatchStep], pilot_budget: float, *, rounds: int = 10, tolerance: float = 1e-12) -> tuple[BatchStep, ...]:
    """Improve a batch by exchange (Fedorov 1972; Cook & Nachtsheim 1980): each round makes the one
    move of least expected regret among replacing one of its pilots by a candidate outside it, or
    adding a candidate, within `pilot_budget`, if that lowers the batch's expected regret in the
    same simulated worlds by more than `tolerance` (relative to the prior regret); at most
    `rounds` moves. A greedy batch buys each pilot for its value given those before it; exchange
    revisits the early choices once the later ones are known (bench/pilot_design.py, data plan).
    Pilots brought in are marked 'exchange', the others 'kept by exchange' (a step's figures are
    then those of the new order, which no longer show why it was first chosen)."""
    if rounds <= 0:
        return tuple(steps)
    problem = simulator.problem
    names = [p.name for p in problem.pilots]
    batch = [names.index(s.pilot) for s in steps]
    criterion = {names.index(s.pilot): s.chosen_by for s in steps}
    cost = lambda chosen: sum(problem.pilots[i].cost for i in chosen)  # noqa: E731
    regret = lambda chosen: simulator.outlook(simulator.joint_log_likelihood(chosen)).regret  # noqa: E731
    prior_regret = simulator.outlook().regret
    current = steps[-1].regret if steps else prior_regret
    floor = tolerance * max(prior_regret, np.finfo(float).tiny)
    for _ in range(rounds):
        best = None
        for position in range(len(batch) + 1):
            for candidate in range(len(names)):
                if candidate in batch:
                    continue
                moved = batch[:position] + [candidate] + batch[position + 1:]
                if cost(moved) > pilot_budget * (1 + 1e-12):
                    continue
                value = regret(moved)
                if best is None or value < best[0]:
                    best = (value, moved, candidate)
        if best is None or not best[0] < current - floor:
            break
        current, batch = best[0], best[1]
        criterion[best[2]] = "exchange"
    if [names.index(s.pilot) for s in steps] == batch:
        return tuple(steps)
    return tuple(dataclasses.replace(step, chosen_by="exchange" if criterion[names.index(step.pilot)] == "exchange" else "kept by exchange")
                 for step in batch_steps(simulator, batch, ""))


def best_batch(simulator: Simulator, greedy: Sequence[BatchStep], pilot_budget: float, prior: Outlook) -> tuple[tuple[BatchStep, ...], str, tuple[Alternative, ...], list[Note]]:
    """The greedy batch, or the uniform batch (`uniform_batches`) of lower expected regret in the
    same simulated worlds (the least; ties keep the greedy one). Returns the batch, its source
    ('greedy' or the uniform batch's name), every batch compared (greedy first) and the
    `uniform-batch` note when a uniform one is proposed (details: greedy, greedy_regret, chosen,
    regret)."""
    greedy = tuple(greedy)
    greedy_regret = greedy[-1].regret if greedy else prior.regret
    compared = [Alternative("greedy", tuple(s.pilot for s in greedy), greedy[-1].cumulative_cost if greedy else 0.0, greedy_regret, greedy[-1].width if greedy else prior.width)]
    steps = {}
    for name, indices in uniform_batches(simulator.problem, pilot_budget):
        steps[name] = batch_steps(simulator, indices, "uniform batch")
        last = steps[name][-1]
        compared.append(Alternative(name, tuple(s.pilot for s in steps[name]), last.cumulative_cost, last.regret, last.width))
    best = min(compared[1:], key=lambda a: (a.regret, a.cost, a.name), default=None)
    if best is None or not best.regret < greedy_regret - 1e-12 * max(prior.regret, np.finfo(float).tiny):
        return greedy, "greedy", tuple(compared), []
    note = Note("uniform-batch", f"the uniform batch '{best.name}' has a lower expected regret ({best.regret:.4g}) than the pilot-by-pilot greedy batch "
                f"({greedy_regret:.4g}: {listed(compared[0].pilots) if greedy else 'no pilot'}) in the same simulated worlds, so it is the batch proposed", "info",
                {"greedy": list(compared[0].pilots), "greedy_regret": float(greedy_regret), "chosen": best.name, "regret": float(best.regret)})
    return steps[best.name], best.name, tuple(compared), [note]


MIN_TRUTHS = 32  # fewer plausible truths than this cannot tell pilots' values apart (finding 3 of the pilot trial: 5 truths, values 2-9x apart across seeds)


def indistinguishable(values: Sequence[PilotValue], truths: int) -> list[Note]:
    """`values-indistinguishable`: fewer than MIN_TRUTHS truths, or the two best pilots' regret
    reductions per cost within 2 Monte Carlo standard errors of their difference (SEs combined in
    quadrature, an upper bound as both share the simulated worlds). Details: truths, pilots, se."""
    if len(values) >= 2:
        a, b = values[0], values[1]
        gap = abs(a.regret_reduction_per_cost - b.regret_reduction_per_cost)
        se = float(np.hypot(a.regret_reduction_se / a.cost, b.regret_reduction_se / b.cost))
        close = gap <= 2 * se and se > 0
    else:
        close, se = False, 0.0
    if truths >= MIN_TRUTHS and not close:
        return []
    why = f"only {truths} plausible truths (fewer than {MIN_TRUTHS})" if truths < MIN_TRUTHS else f"the two best pilots, {values[0].pilot} and {values[1].pilot}, are within 2 standard errors"
    return [Note("values-indistinguishable", f"{why}: the pilots' values are not told apart by this simulation; raise --truths and --replicates "
                 "(or refit with more bootstrap draws) before trusting the ranking", "warning",
                 {"truths": int(truths), "pilots": [v.pilot for v in values[:2]], "se": se})]


def batch_by_interval(prior: Outlook, batch: Sequence[BatchStep], fresh_regret: float | None = None, fresh_se: float = 0.0) -> list[Note]:
    """`batch-by-interval`: the batch's own expected regret estimate does not fall (the pilots were
    chosen by interval reduction or the linearised variance of the decision): the batch is
    reported as shrinking the interval, never as reducing regret. The message gives the batch's
    regret on fresh outcomes with its SE (`fresh_outlook`), so a reader can tell simulation error
    from a batch that makes the decision worse. Details: prior_regret, batch_regret, prior_width,
    batch_width, fresh_regret, fresh_regret_se."""
    if not batch or batch[-1].regret < prior.regret:
        return []
    fresh = f"; on fresh simulated outcomes {fresh_regret:.4g} ± {fresh_se:.2g}" if fresh_regret is not None else ""
    return [Note("batch-by-interval", f"the batch's expected regret estimate does not fall ({prior.regret:.4g} -> {batch[-1].regret:.4g}{fresh}): it is chosen "
                 f"by interval reduction (width {prior.width:.4g} -> {batch[-1].width:.4g}), not by regret", "info",
                 {"prior_regret": prior.regret, "batch_regret": batch[-1].regret, "prior_width": prior.width, "batch_width": batch[-1].width,
                  "fresh_regret": fresh_regret, "fresh_regret_se": fresh_se})]


def interval_widens(values: Sequence[PilotValue], prior_plan: str) -> list[Note]:
    """`interval-widens`: the best-ranked pilot lowers the expected regret but widens the planned
    metric's interval by more than 2 Monte Carlo standard errors. Not an error: its outcomes move
    the decision away from `prior_plan` to a plan that is better in expectation but less certain
    (the interval is that of the plan chosen after the pilot, which changes with its outcome), so
    its interval reduction is negative. Details: pilot, regret and interval reductions, se."""
    if not values:
        return []
    best = values[0]
    if not (best.regret_reduction > 0 and best.interval_reduction < -2 * best.interval_reduction_se):
        return []
    return [Note("interval-widens", f"{best.pilot} is expected to lower the regret by {best.regret_reduction:.3g} but to widen the planned metric's "
                 f"interval by {-best.interval_reduction:.3g}: its outcomes would move the decision from {prior_plan} to a plan that is better in "
                 f"expectation but less certain ({best.informs}), so its interval reduction is negative", "info",
                 {"pilot": best.pilot, "regret_reduction": best.regret_reduction, "interval_reduction": best.interval_reduction,
                  "interval_reduction_se": best.interval_reduction_se, "prior_plan": prior_plan})]


def outside_share(weights: np.ndarray, log_outcome: np.ndarray) -> np.ndarray:
    """[P] the weighted share of truths under which each data pilot's error is 1 or more."""
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    return weights @ (np.asarray(log_outcome) >= 0.0)


def pilots_outside_range(problem: DesignProblem, batch: Sequence[BatchStep]) -> list[Note]:
    """`pilot-outside-range`: candidate pilots of a data design (metric error) whose outcome is
    an error of 1 or more under most plausible truths (weighted): the law is evaluated where it
    does not hold (a run there learns nothing it describes, and an error above 1 cannot be
    recorded), so their values are guesses. Details: pilots, in_batch, share (of truths, each)."""
    if problem.metric_name != "error":
        return []
    share = outside_share(problem.weights, problem.log_outcome)
    outside = [(p.name, float(f)) for p, f in zip(problem.pilots, share) if f > 0.5]
    if not outside:
        return []
    names = [name for name, _ in outside]
    in_batch = [step.pilot for step in batch if step.pilot in names]
    return [Note("pilot-outside-range", f"{len(names)} candidate pilot{'s' if len(names) > 1 else ''} ({listed(names)}) would have an error of 1 or more under most "
                 f"plausible truths: the law does not hold there, so their values are guesses{f'; {len(in_batch)} in the batch' if in_batch else ''}",
                 "warning", {"pilots": names, "in_batch": in_batch, "share": [f for _, f in outside]})]


def budget_unspent(problem: DesignProblem, batch: Sequence[BatchStep], pilot_budget: float, share: float = 0.1) -> list[Note]:
    """`budget-unspent`: the batch leaves more than `share` of the pilot budget although a candidate
    outside it would fit what is left: no further pilot adds value in the simulation (regret,
    interval or the decision's linearised variance), so the rest is not spent. Details: spent,
    pilot_budget, remaining, fitting (candidates that would fit)."""
    spent = batch[-1].cumulative_cost if batch else 0.0
    remaining = pilot_budget - spent
    chosen = {step.pilot for step in batch}
    fitting = [p.name for p in problem.pilots if p.name not in chosen and p.cost <= remaining * (1 + 1e-12)]
    if remaining <= share * pilot_budget or not fitting or not batch:
        return []
    return [Note("budget-unspent", f"the batch spends {format_cost(spent, problem.unit)} of {format_cost(pilot_budget, problem.unit)} {problem.unit}: "
                 f"{len(fitting)} more candidate{'s' if len(fitting) > 1 else ''} would fit the rest, but none adds value in the simulated worlds", "info",
                 {"spent": float(spent), "pilot_budget": float(pilot_budget), "remaining": float(remaining), "fitting": len(fitting)})]


def fresh_outlook(problem: DesignProblem, batch: Sequence[BatchStep], *, replicates: int, seed: int, level: float = 0.95) -> tuple[Outlook, float]:
    """The batch's outlook on fresh simulated outcomes (the same truths, noise from the seed
    sequence (seed, 1) instead of seed) and the standard error of its regret reduction from the
    prior (`reduction_se`). The batch was chosen to do well on the outcomes it was scored on, so
    its own figures flatter it (a trial measured 0.00057 for a batch whose regret was 0.0010-0.0012
    on other seeds); these are not chosen on, so they are not."""
    simulator = Simulator(problem, replicates=replicates, seed=(seed, 1), level=level)
    names = [p.name for p in problem.pilots]
    after = simulator.outlook(simulator.joint_log_likelihood([names.index(s.pilot) for s in batch]))
    return after, reduction_se(simulator.outlook(), after, problem.weights)[0]


EXCHANGE_ROUNDS = {"samples": 10, "flops": 0}  # exchange moves after the batch is chosen, by the problem's unit (`design`)


@float64
def design(problem: DesignProblem, pilot_budget: float, *, replicates: int = 4, seed: int = 0, level: float = 0.95, truths_source: str = "",
           exchange_rounds: int | None = None) -> Design:
    """Rank every candidate pilot of `problem` by expected value per unit cost and choose a batch
    within `pilot_budget`: the greedy one or a uniform one (`best_batch`), improved by at most
    `exchange_rounds` exchange moves (`exchange`; default EXCHANGE_ROUNDS of the problem's unit:
    10 for data plans, where it was measured to lower the study's regret, none for language
    models, whose many small pilots make a round cost several greedy batches while their greedy
    batch already beats the grid and random pilots; see the module docstring). Same inputs and
    seed, same result."""
    if replicates < 1:
        raise UserError(f"replicates must be at least 1, got {replicates}")
    simulator = Simulator(problem, replicates=replicates, seed=seed, level=level)
    prior = simulator.outlook()
    prior_plan = problem.plans[int(np.argmin(problem.weights @ problem.metric))]
    values = []
    for index, pilot in enumerate(problem.pilots):
        after = simulator.outlook(simulator.log_likelihood(index))
        regret, width = prior.regret - after.regret, prior.width - after.width
        values.append(PilotValue(pilot.name, dict(pilot.spec), pilot.cost, regret, width, regret / pilot.cost, width / pilot.cost, _informs(prior_plan, after.choices),
                                 after.choices, *reduction_se(prior, after, problem.weights)))
    values = sorted(values, key=_ranking_key)
    greedy = greedy_batch(simulator, pilot_budget) if prior.regret > 0 or prior.width > 0 else ()  # nothing to improve or narrow: no batch (a trial saw 41 pilots bought)
    batch, source, compared, chosen_note = best_batch(simulator, greedy, pilot_budget, prior)
    exchanged = exchange(simulator, batch, pilot_budget, rounds=EXCHANGE_ROUNDS.get(problem.unit, 0) if exchange_rounds is None else exchange_rounds)
    if exchanged != batch:  # the proposal is no longer the batch compared: say so, and list it
        source = f"{source}, then exchange"
        chosen_note = [dataclasses.replace(n, message=f"{n.message}; exchange then changed it (steps marked exchange)") for n in chosen_note]
        last = exchanged[-1]
        compared = (*compared, Alternative(source, tuple(s.pilot for s in exchanged), last.cumulative_cost, last.regret, last.width))
    batch = exchanged
    fresh, fresh_se = fresh_outlook(problem, batch, replicates=replicates, seed=seed, level=level) if batch else (prior, 0.0)
    notes = list(problem.notes) + chosen_note + (indistinguishable(values, len(problem.weights)) if prior.regret > 0 else []) + batch_by_interval(prior, batch, fresh.regret, fresh_se)  # regret 0: no-pilot-value says it
    notes += interval_widens(values, prior_plan) + pilots_outside_range(problem, batch) + budget_unspent(problem, batch, pilot_budget)
    if prior.regret <= 0:
        notes.append(Note("no-pilot-value", "every plausible truth agrees on the best plan: no pilot can improve the decision", "info"))
    return Design(
        problem.budget, float(pilot_budget), problem.unit, problem.metric_name, prior_plan, prior.regret, prior.width, prior.choices,
        tuple(values), batch, len(problem.weights), truths_source,
        problem.noise, replicates, seed, tuple(notes), alternatives=compared, batch_source=source, fresh_regret=fresh.regret, fresh_regret_se=fresh_se,
    )


@float64
def design_pilots(fit: Fit, budget: float, pilot_budget: float, *, unit: str = "samples", db=None, bucket_sizes=None, candidates=None,
                  truths: int = 256, replicates: int = 4, noise: float | None = None, seed: int = 0, unique_tokens: float | None = None) -> Design:
    """The whole step for a fit: plausible truths (`plausible_truths`; without bootstrap draws, the
    Laplace truths on the fit's own runs, `fit_runs`, from the artifact or the registry `db`), the
    data (`unit` 'samples') or language-model ('flops') design problem, and `design`.
    `unique_tokens`: the unique tokens available to a language-model plan with a data-constrained
    fit (`model_problem`). The result's `runs` says which runs the noise came from; its notes are
    the planner's for the same fit, budget and unique tokens, then the design's
    (`scaling.design_notes.with_plan_notes`), as `curascale design-pilots` prints them."""
    if unit not in ("samples", "flops"):
        raise UserError(f"unit must be samples or flops, got {unit!r}")
    if unique_tokens is not None and unit != "flops":
        raise UserError("unique_tokens is for language-model plans (unit flops)")
    _check_budgets(budget, pilot_budget)
    if fit.draws:  # the noise from the fit's objective over its runs, or the caller's
        frame, runs = None, (RunsUsed(fit.n_points, f"the fit's objective ({fit.source or fit.law})") if noise is None and fit.n_points else None)
    else:
        frame, runs = fit_runs(fit, db)
    plausible = plausible_truths(fit, frame=frame, count=truths, seed=seed, noise=noise)
    if unit == "samples":
        problem = data_problem(fit, plausible, budget, pilot_budget, bucket_sizes=bucket_sizes, candidates=candidates)
    else:
        problem = model_problem(fit, plausible, budget, pilot_budget, candidates=candidates, unique_tokens=unique_tokens)
    result = design(problem, pilot_budget, replicates=replicates, seed=seed, truths_source=plausible.source)
    result = dataclasses.replace(result, runs=runs, notes=(*plausible.notes, *truths_capped(truths, len(plausible.weights), plausible.source), *result.notes),
                                 fit={"law": fit.law, "source": fit.source, "data_hash": fit.data_hash})
    from scaling.design_notes import with_plan_notes

    return with_plan_notes(result, fit, unit=unit, bucket_sizes=bucket_sizes, unique_tokens=unique_tokens)


def truths_capped(requested: int, used: int, source: str) -> list[Note]:
    """`truths-capped`: fewer plausible truths than asked for (a fit's bootstrap draws are all
    there are); details: requested, used."""
    if used >= requested:
        return []
    return [Note("truths-capped", f"{used} {source} truths, not the {requested} asked for: the fit has only {used} bootstrap draws "
                 "(refit with more draws for more)", "info", {"requested": int(requested), "used": int(used)})]


def batch_labels(result: Design, value: str = "regret_reduction") -> dict[tuple[float, float], list[str]]:
    """{(cost, value): ["k. pilot", ...]}: the proposed batch's pilots by their place in the batch
    (k = 1 first) at their point (`value`: the PilotValue field plotted), pilots at the same point
    under one label, so labels never overlap."""
    order = {step.pilot: k for k, step in enumerate(result.batch, start=1)}
    labels: dict[tuple[float, float], list[str]] = {}
    for p in sorted((p for p in result.pilots if p.pilot in order), key=lambda p: order[p.pilot]):
        labels.setdefault((p.cost, getattr(p, value)), []).append(f"{order[p.pilot]}. {p.pilot}")
    return labels


def _value_panel(axis, result: Design, value: str, ylabel: str) -> None:
    """One panel of `plot_design`: `value` of every pilot against its cost, the batch in green
    and labelled, each label joined to its own point by a leader line (a label offset sideways
    sat over the neighbouring pilot's point)."""
    batch = {step.pilot for step in result.batch}
    costs = np.array([p.cost for p in result.pilots])
    values = np.array([getattr(p, value) for p in result.pilots])
    chosen = np.array([p.pilot in batch for p in result.pilots])
    axis.scatter(costs[~chosen], values[~chosen], s=18, color="0.55", label="candidate pilot")
    axis.scatter(costs[chosen], values[chosen], s=40, color="tab:green", label="proposed batch")
    middle = np.sqrt(costs.min() * costs.max())  # labels right of the middle (log) end at their point, inside the frame
    for k, ((cost, point), names) in enumerate(batch_labels(result, value).items()):
        right = cost > middle
        axis.annotate("\n".join(names), (cost, point), fontsize=7, xytext=(0, 10 + 9 * (k % 3)), textcoords="offset points", va="bottom",
                      ha="right" if right else "left", arrowprops={"arrowstyle": "-", "color": "0.4", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3})
    axis.axhline(0.0, color="0.8", linewidth=0.8)
    axis.set_xscale("log")
    axis.set_ylabel(ylabel, fontsize=8)


def plot_design(result: Design, path) -> Any:
    """Expected regret reduction (top) and interval reduction (bottom: it still ranks pilots when
    no pilot changes the decision and every regret reduction is 0) against pilot cost (log x), one
    point per candidate pilot, the proposed batch's pilots marked and labelled in batch order;
    written as PNG and PDF (scaling.plots.save_figure)."""
    from scaling.plots import _pyplot, save_figure

    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6.4), sharex=True)
    _value_panel(top, result, "regret_reduction", f"expected regret reduction ({result.metric_name})")
    _value_panel(bottom, result, "interval_reduction", f"interval reduction ({result.metric_name})")
    bottom.set_xlabel(f"pilot cost ({'samples seen' if result.unit == 'samples' else 'FLOPs'})")
    top.set_title(f"value of pilots for the {result.prior_plan} decision (prior regret {result.prior_regret:.3g})", fontsize=9)
    top.legend(fontsize=8)
    path = save_figure(figure, path)
    plt.close(figure)
    return path
