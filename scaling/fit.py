"""Fitting a law: every start at once, bootstrap intervals, held-out error, saved artifacts.

    fit(law, frame, bootstrap=1000, holdout_largest=3) -> Fit

docs/laws.md §7: the objective is the sum of Huber losses of log prediction - log observation; all
starts of the law's grid are minimised together (scaling.solver); uncertainty is a nonparametric
bootstrap over runs (each draw refitted from the best distinct minima of the full fit);
trust is the relative error on the K largest-compute runs of a fit that did not see them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import pandas as pd

from curascale.errors import UserError
from runs_db.text import quoted  # the one bound on values echoed in messages
from curascale.notes import Note, notes_from_dicts, notes_to_dicts
from scaling import diagnostics
from scaling.jaxconf import float64
from scaling.laws import get_law
from scaling.laws.base import Law
from scaling.problem import Data, Problem, law_inputs, unflatten
from scaling.solver import BatchedSolver, SolverOptions

FORMAT = "curascale.fit/1"
AT_BEST_RTOL = 1e-9  # a start "reached the best" when its objective is within this of the best
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Holdout:
    """The runs held out of a refit, largest compute last: their inputs, observed and predicted
    target, relative error (predicted - observed) / observed and compute. `count` is how many were
    held out (more than `requested` when runs tied on compute at the cut went together).
    `unseen`: per held-out run, True when no run of its group (bucket) was left in the refit, whose
    prediction for it is then not a test of the law (`scaling.diagnostics.holdout_unseen_groups`)."""

    count: int
    relative_errors: list[float]
    observed: list[float]
    predicted: list[float]
    compute: list[float]
    inputs: dict[str, list[float]] = field(default_factory=dict)
    requested: int = 0
    unseen: list[bool] = field(default_factory=list)


@dataclass
class Fit:
    """A fitted law: parameters (natural units, flat names), quality and provenance."""

    law: str
    law_version: str
    params: dict[str, float]
    objective: float | None  # None for reference fits built from published constants
    n_points: int
    starts: int
    starts_at_best: int
    converged: bool
    data_hash: str
    target: str
    inputs: list[str]
    delta: float = 1e-3
    fixed: dict[str, float] = field(default_factory=dict)
    tied: dict[str, str] = field(default_factory=dict)
    groups: list[str] | None = None
    intervals: dict[str, list[float]] = field(default_factory=dict)
    interval_level: float = 0.95
    draws: list[dict[str, float]] = field(default_factory=list)
    holdout: Holdout | None = None
    input_ranges: dict[str, list[float]] = field(default_factory=dict)
    seed: int = 0
    created: str = ""
    source: str = ""
    provenance: str = ""
    # e.g. bucket_size_samples {bucket: samples}, bucket_percentile_ranges {bucket: [lo, hi]} (the
    # bucket holds the pool's samples ranked lo% to hi% from the top by score), nested_buckets, pool
    metadata: dict[str, Any] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)  # scaling.diagnostics: what makes the fit hard to believe
    points: dict[str, list] = field(default_factory=dict)  # the runs fitted (Data.columns); {} for published constants

    def points_frame(self) -> pd.DataFrame | None:
        """The runs the fit was fitted on (inputs, group, target; one row a run), or None for a
        fit of published constants (or an artifact written before fits kept their points)."""
        return pd.DataFrame(self.points) if self.points else None

    # ---- prediction ---------------------------------------------------------------------
    @property
    def law_spec(self) -> Law:
        return get_law(self.law)

    def _inputs(self, frame: pd.DataFrame | Mapping[str, Sequence[float]]) -> dict[str, jnp.ndarray]:
        frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame({k: np.atleast_1d(v) for k, v in frame.items()})
        law = self.law_spec
        arrays = law.jax_inputs(law_inputs(law, frame, source="prediction inputs"))
        if law.group_by is not None:
            if law.group_by not in frame:
                raise UserError(f"prediction inputs need '{law.group_by}' (one of: {', '.join(self.groups or [])})")
            labels = frame[law.group_by].astype(str).tolist()
            unknown = sorted(set(labels) - set(self.groups or []))
            if unknown:
                raise UserError(f"the fit has no parameters for {law.group_by} {unknown[0]!r} (it has: {', '.join(self.groups or [])})")
            arrays["group"] = jnp.asarray([self.groups.index(label) for label in labels])
        return arrays

    @float64
    def predict(self, frame, params: Mapping[str, float] | None = None) -> np.ndarray:
        """The law's prediction of the target at each row of `frame` (a DataFrame or dict of columns)."""
        theta = unflatten(self.law_spec, params or self.params, self.groups)
        inputs = self._inputs(frame)
        if self.law_spec.domain is not None:
            self.law_spec.domain(theta, inputs)
        return np.asarray(self.law_spec.predict(theta, inputs), dtype=float)

    @float64
    def predict_interval(self, frame, level: float | None = None) -> np.ndarray | None:
        """[rows, 2] percentile interval over the bootstrap draws, or None without draws."""
        if not self.draws:
            return None
        level = self.interval_level if level is None else level
        inputs = self._inputs(frame)
        law = self.law_spec
        predictions = np.stack([np.asarray(law.predict(unflatten(law, d, self.groups), inputs)) for d in self.draws])
        tail = 50 * (1 - level)
        return np.stack([np.nanpercentile(predictions, tail, axis=0), np.nanpercentile(predictions, 100 - tail, axis=0)], axis=1)

    # ---- artifacts ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["notes"] = notes_to_dicts(self.notes)
        return {"format": FORMAT, **record}

    def summary(self) -> dict[str, Any]:
        """The `--json` view: law, params (with those held `fixed` and `tied`), intervals,
        objective, counts, the input ranges the fit saw, its metadata (bucket sizes), held-out errors."""
        return {
            "law": self.law,
            "params": self.params,
            "fixed": self.fixed,
            "tied": self.tied,
            "intervals": self.intervals,
            "objective": self.objective,
            "n_points": self.n_points,
            "starts": self.starts,
            "starts_at_best": self.starts_at_best,
            "converged": self.converged,
            "holdout": asdict(self.holdout) if self.holdout else None,
            "input_ranges": self.input_ranges,
            "metadata": self.metadata,
            "notes": notes_to_dicts(self.notes),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the artifact as JSON through `curascale.io` (atomic; "-" is standard output).
        A non-finite number (NaN, inf) is refused, naming its field: it is not JSON."""
        from curascale.io import write_json

        record = self.to_dict()
        bad = non_finite_field(record)
        if bad is not None:
            raise UserError(f"{path}: refusing to save a fit whose {bad} is not finite")
        write_json(path, record, indent=1)
        return Path(path)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], *, source: str = "fit") -> "Fit":
        """An artifact back as a Fit; anything malformed is one `UserError` naming `source` and
        the field (`check_artifact`)."""
        if not isinstance(record, Mapping):
            raise UserError(f"{source}: not a curascale fit (a JSON {type(record).__name__}, expected an object)")
        if record.get("format") != FORMAT:
            raise UserError(f"{source}: not a curascale fit (format {record.get('format')!r}, expected {FORMAT})")
        check_artifact(record, source)
        record = {k: v for k, v in record.items() if k != "format"}
        holdout = record.pop("holdout", None)
        notes = notes_from_dicts(record.pop("notes", None))
        if isinstance(record.get("metadata"), Mapping):
            record["metadata"] = current_metadata(record["metadata"])
        try:
            fit = cls(**record, holdout=Holdout(**holdout) if holdout else None, notes=notes)
        except TypeError as error:
            raise UserError(f"{source}: malformed fit artifact ({error})") from error
        law = get_law(fit.law)
        if law.version != fit.law_version:
            raise UserError(f"{source}: fitted with {fit.law} version {fit.law_version}, this curascale has version {law.version}")
        return fit

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Fit":
        path = Path(path)
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserError(f"{path}: no such fit file") from None
        except json.JSONDecodeError as error:
            raise UserError(f"{path}: not JSON ({error})") from error
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{path}: cannot read the fit ({error.strerror if isinstance(error, OSError) else error})") from None
        bad = non_finite_field(record)
        if bad is not None:
            raise UserError(f"{path}: {bad} is not finite (NaN or infinity): not a usable fit")
        return cls.from_dict(record, source=str(path))


RENAMED_METADATA = {"bucket_quantiles": "bucket_percentile_ranges"}  # artifacts of version 0.2.0 and before: old key -> new


def current_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A fit's metadata with keys of older artifacts under their current names (`RENAMED_METADATA`);
    a current key wins over an old one."""
    renamed = {RENAMED_METADATA.get(key, key): value for key, value in metadata.items() if key in RENAMED_METADATA}
    return {**renamed, **{key: value for key, value in metadata.items() if key not in RENAMED_METADATA}}


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _check_params(value: Any, names: Sequence[str], field_name: str, source: str) -> None:
    if not isinstance(value, Mapping):
        raise UserError(f"{source}: {field_name} must be an object of parameter values, got {quoted(value)}")
    _check_names(value, names, f"{source}: {field_name}", "parameter", "the law has")
    for name in names:
        if not _real(value[name]):
            raise UserError(f"{source}: {field_name}.{name} must be a finite number, got {quoted(value[name])}")


def _check_names(value: Mapping, names: Sequence[str], where: str, what: str, having: str) -> None:
    """`value`'s keys are exactly `names`: else a UserError naming the first missing or unknown one."""
    missing = [n for n in names if n not in value]
    if missing:
        raise UserError(f"{where} lacks {what} {quoted(missing[0])} ({having}: {', '.join(names)})")
    extra = [n for n in value if n not in names]
    if extra:
        raise UserError(f"{where} has unknown {what} {quoted(extra[0])} ({having}: {', '.join(names)})")


def _check_ranges(value: Any, field_name: str, source: str) -> None:
    """{name: [low, high]} of finite numbers, low <= high."""
    if not isinstance(value, Mapping):
        raise UserError(f"{source}: {field_name} must be an object of [low, high] pairs, got {quoted(value)}")
    for name, pair in value.items():
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(_real(v) for v in pair) and pair[0] <= pair[1]):
            raise UserError(f"{source}: {field_name}.{name} must be [low, high] of finite numbers, got {quoted(pair)}")


def check_artifact(record: Mapping[str, Any], source: str) -> None:
    """The ONE check of a fit artifact's numbers: params is an object of finite real numbers (not
    booleans) naming exactly the law's parameters (``name[group]`` for per-group ones), draws a
    list of such objects, intervals and input_ranges objects of [low, high] pairs. Raises
    `UserError` naming `source` and the field."""
    law_name = record.get("law")
    if not isinstance(law_name, str):
        raise UserError(f"{source}: law must be a law's name, got {quoted(law_name)}")
    law = get_law(law_name)
    groups = record.get("groups")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        raise UserError(f"{source}: groups must be a list of names, got {quoted(groups)}")
    names = [name for p in law.params for name in ([f"{p.name}[{g}]" for g in groups or ()] if p.per_group else [p.name])]
    _check_params(record.get("params"), names, "params", source)
    draws = record.get("draws", [])
    if not isinstance(draws, list):
        raise UserError(f"{source}: draws must be a list of parameter objects, got {quoted(draws)}")
    for i, draw in enumerate(draws):
        _check_params(draw, names, f"draws[{i}]", source)
    _check_ranges(record.get("intervals", {}), "intervals", source)
    _check_ranges(record.get("input_ranges", {}), "input_ranges", source)
    _check_points(record.get("points", {}), law, source)


def _check_points(value: Any, law: Law, source: str) -> None:
    """{} or {column: list}: the law's inputs and target as finite numbers, its group column as
    names, every list as long as the others."""
    if value == {}:
        return
    if not isinstance(value, Mapping):
        raise UserError(f"{source}: points must be an object of columns, got {quoted(value)}")
    columns = [*law.inputs, *([law.group_by] if law.group_by else []), law.target]
    _check_names(value, columns, f"{source}: points", "column", f"a {law.name} fit's points have")
    rows = len(value[law.target]) if isinstance(value[law.target], list) else -1
    for column in columns:
        values = value[column]
        text = column == law.group_by
        if not (isinstance(values, list) and len(values) == rows):
            raise UserError(f"{source}: points.{column} must be a list of {rows} values, got {quoted(values)}")
        bad = next((i for i, v in enumerate(values) if not (isinstance(v, str) if text else _real(v))), None)
        if bad is not None:
            raise UserError(f"{source}: points.{column}[{bad}] must be {'a name' if text else 'a finite number'}, got {quoted(values[bad])}")


def non_finite_field(record: Any, where: str = "") -> str | None:
    """The dotted name of the first NaN or infinite number in a JSON-like record, else None."""
    if isinstance(record, float) and not np.isfinite(record):
        return where or "value"
    items = record.items() if isinstance(record, dict) else enumerate(record) if isinstance(record, list) else ()
    for key, value in items:
        found = non_finite_field(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


# ---- fitting ------------------------------------------------------------------------------
def _resolve_fixed(law: Law, fixed: Mapping[str, float] | None, free: Sequence[str]) -> dict[str, float]:
    unknown = [name for name in free if name not in law.param_names]
    if unknown:
        raise UserError(f"law {law.name} has no parameter {unknown[0]!r} (it has: {', '.join(law.param_names)})")
    resolved = {k: v for k, v in law.fixed.items() if k not in free}  # Problem checks the fixed names
    resolved.update({k: float(v) for k, v in (fixed or {}).items()})
    return resolved


def _distinct_minima(u: np.ndarray, value: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` best starts whose minima differ (objective or coordinates)."""
    chosen: list[int] = []
    for index in np.argsort(value, kind="stable"):
        if not np.isfinite(value[index]):
            break
        if all(abs(value[index] - value[j]) > AT_BEST_RTOL * abs(value[j]) or np.max(np.abs(u[index] - u[j])) > 1e-4 for j in chosen):
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return np.asarray(chosen, dtype=int)


_SOLVERS: dict[tuple, BatchedSolver] = {}


def _minimize(problem: Problem, starts: np.ndarray, weights: np.ndarray, progress: Callable[[int, int], None] | None = None):
    key = problem.structure_key()
    if key not in _SOLVERS:
        _SOLVERS[key] = BatchedSolver(problem.residuals, SolverOptions(delta=problem.delta))
    return _SOLVERS[key].minimize(starts, weights, problem.arrays, progress)


@float64
def fit(
    law: Law | str,
    frame: pd.DataFrame,
    *,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, str] | None = None,
    free: Sequence[str] = (),
    delta: float = 1e-3,
    bootstrap: int = 0,
    bootstrap_starts: int = 4,
    interval_level: float = 0.95,
    holdout_largest: int = 0,
    max_starts: int | None = 20_000,
    initial: Sequence[Mapping[str, float]] | None = None,
    seed: int = 0,
    source: str = "data",
    progress: Progress | None = None,
) -> Fit:
    """Fit `law` to the rows of `frame` (its input columns and target); see the module docstring.

    `initial` replaces the law's grid of starts by the given points (natural values of every free
    parameter), e.g. to refine a published fit.
    """
    law = get_law(law) if isinstance(law, str) else law
    if delta <= 0:
        raise UserError(f"--delta must be positive, got {delta:g}")
    data = Data.from_frame(law, frame, source=source)
    resolved_tied = {k: v for k, v in law.tied.items() if k not in free and k not in (fixed or {})}
    resolved_tied.update(tied or {})
    problem = Problem(law, data, fixed=_resolve_fixed(law, fixed, free), tied=resolved_tied, delta=delta)
    if len(data) < problem.dimension:  # as many as parameters: fitted, with the exact-fit note (scaling.diagnostics.exact_fit)
        raise UserError(
            f"{source}: {len(data)} point{'s' if len(data) != 1 else ''} cannot determine {problem.dimension} free parameter{'s' if problem.dimension != 1 else ''} "
            f"of {law.name}: at least {problem.dimension} are needed, and more than {problem.dimension} to judge the fit"
        )
    held = holdout_rows(problem, holdout_largest) if holdout_largest else None  # checked before the full fit
    report = progress or (lambda stage, done, total: None)

    starts = problem.start_grid(max_starts, seed) if initial is None else problem.starts_from(initial)
    result = _minimize(problem, starts, np.ones((len(starts), len(data))), lambda d, t: report("starts", d, t))
    best = int(np.argmin(result.value))
    if not np.isfinite(result.value[best]):
        raise UserError(f"{source}: no start of {law.name} gave a finite objective; check the data's units")
    best_value = float(result.value[best])
    fitted = Fit(
        law=law.name,
        law_version=law.version,
        params=problem.natural(result.u[best]),
        objective=best_value,
        n_points=len(data),
        starts=len(starts),
        starts_at_best=int(np.sum(result.value <= best_value * (1 + AT_BEST_RTOL))),
        converged=bool(result.converged[best]),
        data_hash=data.digest(),
        target=law.target,
        inputs=list(law.inputs),
        delta=delta,
        fixed=problem.fixed,
        tied=problem.tied,
        groups=data.groups,
        interval_level=interval_level,
        input_ranges={k: [float(v.min()), float(v.max())] for k, v in data.inputs.items()},
        seed=seed,
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        source=source,
        points=data.columns(),
    )
    if bootstrap:
        seeds = result.u[_distinct_minima(result.u, result.value, bootstrap_starts)]
        fitted.draws = bootstrap_draws(problem, seeds, bootstrap, seed, lambda d, t: report("bootstrap", d, t))
        fitted.intervals = percentile_intervals(fitted.draws, interval_level)
    fitted.metadata.update(bucket_sizes_seen(data))
    fitted.notes = diagnostics.fit_notes(problem, result.u[best], fitted.params, fitted.intervals)
    fitted.notes += diagnostics.not_converged(fitted) + diagnostics.tokens_per_parameter(data.inputs) + diagnostics.fixed_out_of_range(law, problem.fixed)
    fitted.notes += diagnostics.inconsistent_bucket_sizes(unique_samples_by_bucket(data))
    if held is not None:
        fitted.holdout = held_out_error(problem, starts, held, lambda d, t: report("holdout", d, t), requested=holdout_largest)
        fitted.notes += diagnostics.holdout_ties(holdout_largest, len(held), min(fitted.holdout.compute))
        fitted.notes += diagnostics.holdout_unseen_groups(fitted.holdout.inputs.get(problem.law.group_by or "", []), fitted.holdout.unseen)
    return fitted


def unique_samples_by_bucket(data: Data) -> dict[str, list[float]]:
    """The distinct `unique_samples` of each bucket's runs, for a law fitted per bucket; {} else."""
    if data.groups is None or "unique_samples" not in data.inputs:
        return {}
    return {bucket: np.unique(data.inputs["unique_samples"][data.group_codes == code]).tolist() for code, bucket in enumerate(data.groups)}


def bucket_sizes_seen(data: Data) -> dict[str, Any]:
    """{'bucket_size_samples': {bucket: samples}} from the runs' `unique_samples`, for a law fitted
    per bucket: each bucket whose runs share one value (the others are left out, and said by
    `scaling.diagnostics.inconsistent_bucket_sizes`); {} when no bucket has one."""
    sizes = {bucket: float(values[0]) for bucket, values in unique_samples_by_bucket(data).items() if len(values) == 1}
    return {"bucket_size_samples": sizes} if sizes else {}


@float64
def bootstrap_draws(problem: Problem, seeds: np.ndarray, draws: int, seed: int, progress=None) -> list[dict[str, float]]:
    """Refit on `draws` resamples of the runs (with replacement), each from every seed point."""
    n = len(problem.data)
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(draws)]).astype(float)
    starts = np.repeat(seeds, draws, axis=0)
    weights = np.tile(counts, (len(seeds), 1))
    in_draws = None if progress is None else (lambda done, total: progress(done * draws // total, draws))  # the user asked for draws, not seed x draw starts
    result = _minimize(problem, starts, weights, in_draws)
    value = result.value.reshape(len(seeds), draws)
    best = np.argmin(value, axis=0)
    u = result.u.reshape(len(seeds), draws, -1)[best, np.arange(draws)]
    return [problem.natural(row) for row in u]


def percentile_intervals(draws: Sequence[Mapping[str, float]], level: float) -> dict[str, list[float]]:
    tail = 50 * (1 - level)
    names = list(draws[0])
    values = np.array([[d[name] for name in names] for d in draws])
    low, high = np.percentile(values, [tail, 100 - tail], axis=0)
    return {name: [float(lo), float(hi)] for name, lo, hi in zip(names, low, high)}


def holdout_rows(problem: Problem, count: int) -> np.ndarray:
    """Rows of the `count` largest-compute runs, sorted by compute (largest last; runs of equal
    compute in row order); runs tied with the cut-off's compute are held out together; none for
    count 0. A UserError when too few runs would be left to fit the problem's free parameters
    (checked before any fitting)."""
    data = problem.data
    if count < 0:
        raise UserError(f"holdout_largest must be >= 0, got {count}")
    if count == 0:
        return np.zeros(0, dtype=int)
    compute = problem.law.training_compute(data.inputs)
    order = np.argsort(compute, kind="stable")
    held = order[compute[order] >= compute[order[-min(count, len(data))]]]  # more than there are: every run
    if len(data) - len(held) <= problem.dimension:
        raise UserError(
            f"holding out the {count} largest runs (--holdout-largest) holds out {len(held)} of {len(data)} runs, leaving {len(data) - len(held)}: fitting {problem.dimension} parameter{'s' if problem.dimension != 1 else ''} "
            f"of {problem.law.name} needs at least {problem.dimension + 1} runs left"
        )
    return held


@float64
def held_out_error(problem: Problem, starts: np.ndarray, held: np.ndarray | int, progress=None, *, requested: int | None = None) -> Holdout:
    """Fit without the `held` runs (row indices, or a count of largest-compute runs, see
    `holdout_rows`); the relative error of predicting them, listed by compute (largest last)."""
    data = problem.data
    if np.ndim(held) == 0:
        requested = int(held) if requested is None else requested
        held = holdout_rows(problem, int(held))
    held = np.asarray(held, dtype=int)
    compute = problem.law.training_compute(data.inputs)
    kept = np.setdiff1d(np.arange(len(data)), held)
    train = Problem(problem.law, data.subset(kept), fixed=problem.fixed, tied=problem.tied, delta=problem.delta)
    result = _minimize(train, starts, np.ones((len(starts), len(kept))), progress)
    theta = train.theta(jnp.asarray(result.u[int(np.argmin(result.value))]))
    held_data = data.subset(held)
    predicted = np.asarray(problem.law.predict(theta, held_data.jax_inputs()), dtype=float)
    observed = held_data.target
    inputs = {name: values.tolist() for name, values in held_data.inputs.items()}
    unseen = []
    if data.groups is not None:
        inputs[problem.law.group_by] = [data.groups[code] for code in held_data.group_codes]
        unseen = [bool(code not in set(data.group_codes[kept].tolist())) for code in held_data.group_codes]
    return Holdout(
        count=len(held),
        relative_errors=((predicted - observed) / observed).tolist(),
        observed=observed.tolist(),
        predicted=predicted.tolist(),
        compute=compute[held].tolist(),
        inputs=inputs,
        requested=len(held) if requested is None else requested,
        unseen=unseen,
    )
