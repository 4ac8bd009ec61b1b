"""When a fit or a plan cannot be believed: one function per rule, each returning a list of
`curascale.notes.Note` (empty when the rule has nothing to say). Adding a rule is adding a
function here and calling it where it applies (`fit_notes` for fits; the planner and `predict`
for points asked about).

Rules and their codes:

- ``not-identifiable``: a bootstrap interval spanning more than `SPAN_FACTOR` (or crossing zero),
  or near rank-deficient J^T J at the optimum (J = d residuals / d coordinates, by `jax.jacfwd`):
  the parameters in the near-null directions are named; without draws, also a log-scale
  parameter whose Laplace interval (the others held) spans more than `SPAN_FACTOR` (`loose_scales`).
- ``single-level-input``: an input column with one distinct value when the law needs it to vary
  (the parameters its null directions leave undetermined are named); ``constant-target``: a
  target that takes one value.
- ``out-of-physical-range``: an exponent or irreducible term <= `FLOOR`, or a parameter whose
  fitting coordinate sits at its bound (|u| > `BOUND_COORDINATE`, e.g. a half-life that ran to
  e^30 epochs).
- ``unit-mistake``: a count column (params, tokens, samples_seen, ...) with values below 1e3, said
  by the fit and already at ingest (`runs_db.ingest.ingest_notes`).
- ``extrapolation``: a point asked about lies more than `EXTRAPOLATION_FACTOR` outside the range
  of an input the fit saw.
- ``edge-optimum``: the optimum of a search lies on the edge of what was searched (a corner of
  the mixture simplex, the first or last candidate of a nested family, which is also an end of
  the epoch axis, with the epochs there and the budgets of a sweep, the end of a grid).
- ``holdout-ties``: runs tied on compute at the hold-out cut were held out together.
- ``not-converged``: the best start stopped at the iteration cap; ``unit-mistake`` with rule
  ``tokens-per-parameter``: runs outside 0.01-1e5 tokens a parameter; ``out-of-physical-range``
  with ``fixed``: an exponent held fixed at or below `FLOOR`; ``no-interval``: no bootstrap draws
  (see the end of this module).
- ``holdout-unseen-group``: held-out runs of a bucket none of whose runs is left in the refit.
- ``inconsistent-bucket-size``: a bucket whose runs disagree on `unique_samples`; its size is
  left out of the fit (the other buckets keep theirs).
- ``choice-unchanged``: a parameter the fit does not identify leaves a data plan's choice the same
  across its plausible range, so the plan goes ahead with this warning (`scaling.plan.require_decided`).
- ``point-outside-interval``: a plan's point accuracy outside its own bootstrap interval.
- ``outside-law-domain``: a plan's candidate the budget would see for more epochs than the law
  handles, dropped from the ranking (a plan with no candidate left is an error).

Severity: ``error`` for identifiability and for predictions a law cannot make (a plan decided by
such a parameter, or carrying such a prediction, refuses unless forced: `require_believable`, the
one refusal rule of every plan and manifest), ``warning`` for the rest, ``info`` for edge optima of
candidate families, which are answers and not failures.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from curascale.errors import CurascaleError
from curascale.notes import Note, listed
from scaling.jaxconf import float64

SPAN_FACTOR = 10.0  # a bootstrap interval wider than this factor does not pin its parameter down
RANK_RTOL = 1e-6  # singular values of the column-normalised Jacobian below this (relative) are null
NULL_LOADING = 0.2  # a coordinate takes part in a null direction when its loading exceeds this
FLOOR = 1e-6  # exponents and irreducible terms at or below this are out of physical range
BOUND_COORDINATE = 30.0  # |u| past this: exp(u) beyond 1e13 (or below 1e-13), a sigmoid within 1e-13 of its bound
SMALLEST_COUNT = 1e3  # no real run has fewer parameters, tokens or samples than this
EXTRAPOLATION_FACTOR = 4.0  # points farther than this outside the fitted range are flagged
CORNER = 1e-3  # a mixture share within this of 1 is a corner of the simplex
COUNT_COLUMNS = ("params", "tokens", "unique_tokens", "samples_seen", "unique_samples", "domain_tokens")
IDENTIFIABILITY_CODES = ("not-identifiable", "single-level-input", "constant-target")


def _base(name: str) -> str:
    """'utility[top0to10p]' -> 'utility'."""
    return name.split("[", 1)[0]


def _sci(value: float) -> str:
    return f"{value:.2g}" if 1e-2 <= abs(value) < 1e4 else f"{value:.1e}"


# ---- identifiability ------------------------------------------------------------------------
def wide_intervals(intervals: Mapping[str, Sequence[float]], fixed: Iterable[str] = (), *, factor: float = SPAN_FACTOR) -> list[Note]:
    """Parameters whose bootstrap interval [lo, hi] spans more than `factor` (hi/lo for positive
    parameters, lo/hi for negative ones) or crosses zero. `fixed`: names held fixed or tied."""
    held, wide, spans = set(fixed), [], {}
    for name, (low, high) in intervals.items():
        if _base(name) in held or name in held:
            continue
        if low * high <= 0:
            spans[name] = None
        else:
            ratio = max(abs(low), abs(high)) / min(abs(low), abs(high))
            if ratio <= factor:
                continue
            spans[name] = float(ratio)
        wide.append(name)
    if not wide:
        return []
    shown = ", ".join(f"{n} [{_sci(intervals[n][0])}, {_sci(intervals[n][1])}]" for n in wide)
    return [Note("not-identifiable", f"the runs do not pin down {shown}: each interval spans more than {factor:g}x or crosses zero",
                 "error", {"parameters": wide, "intervals": {n: [float(v) for v in intervals[n]] for n in wide}, "span_factor": spans, "rule": "bootstrap"})]


def null_directions(jacobian: np.ndarray, names: Sequence[str], *, rtol: float = RANK_RTOL) -> tuple[list[str], list[float]]:
    """The coordinates taking part in the near-null directions of J^T J, and the relative singular
    values of those directions. J: [points, coordinates]; columns are scaled to unit norm first, so
    the test does not depend on the parameters' units (a zero column is a null direction itself)."""
    jacobian = np.asarray(jacobian, dtype=float)
    if not np.all(np.isfinite(jacobian)):
        return list(names), [0.0]
    norms = np.linalg.norm(jacobian, axis=0)
    dead = [n for n, norm in zip(names, norms) if norm == 0]
    live = norms > 0
    if not live.any():
        return list(names), [0.0]
    _, singular, vt = np.linalg.svd(jacobian[:, live] / norms[live], full_matrices=True)
    singular = np.r_[singular, np.zeros(int(live.sum()) - singular.size)]  # fewer points than coordinates
    relative = singular / singular[0]
    null = relative < rtol
    loading = np.abs(vt[null]).max(axis=0) if null.any() else np.zeros(int(live.sum()))
    involved = [str(n) for n, load in zip(np.asarray(names)[live], loading) if load > NULL_LOADING]
    return dead + involved, [float(r) for r in relative[null]] + [0.0] * len(dead)


def rank_deficiency(jacobian: np.ndarray, names: Sequence[str]) -> list[Note]:
    """`not-identifiable` from the Jacobian at the optimum (no bootstrap needed)."""
    involved, relative = null_directions(jacobian, names)
    if not involved:
        return []
    several = len(involved) > 1
    told = "cannot be told apart by these runs" if several else "is not determined by these runs"
    advice = "fix or tie one of them, or add runs that vary what they describe" if several else "fix it, or add runs that vary what it describes"
    return [Note("not-identifiable", f"{', '.join(involved)} {told}: J^T J at the optimum is near singular "
                 f"(smallest relative singular value {min(relative):.1e}); {advice}",
                 "error", {"parameters": involved, "relative_singular_values": relative, "rule": "jacobian"})]


LOG_SCALE = ("log", "negative-log")  # coordinates that are the log of a parameter (or of minus it)


def loose_scales(jacobian: np.ndarray, residuals: np.ndarray, names: Sequence[str], transforms: Sequence[str], skip: Iterable[str] = ()) -> list[Note]:
    """`not-identifiable` (rule "laplace") for a fit without bootstrap draws: a log-scale
    coordinate k (LOG_SCALE) whose 95% Laplace interval, holding the others at the optimum, spans
    more than `SPAN_FACTOR`: 2 * 1.96 sigma / ||J_k|| > ln(SPAN_FACTOR), sigma^2 = r^T r / (n - p)
    (J: [n, p] d residuals / d coordinates, r: the log residuals [n]). A parameter that ran off
    to where the runs cannot see it (a half-life of 1e12 epochs from two passes) has a column near
    zero; the rank test, on unit-norm columns, does not see that. Conditional on the others, so it
    flags no more than the marginal interval (the bootstrap's `wide_intervals`) would. None when
    the runs cannot estimate sigma (n <= p) or fit exactly. `skip`: names another rule has named."""
    jacobian, residuals = np.asarray(jacobian, dtype=float), np.asarray(residuals, dtype=float)
    n, p = jacobian.shape
    if n <= p or not np.all(np.isfinite(jacobian)) or not np.all(np.isfinite(residuals)):
        return []
    sigma = float(np.sqrt(residuals @ residuals / (n - p)))
    if sigma == 0.0:
        return []
    norms = np.linalg.norm(jacobian, axis=0)
    log_factor = 2 * 1.959963984540054 * sigma / np.maximum(norms, np.finfo(float).tiny)  # ln of the interval's span
    skipped = set(skip)
    loose = [(str(name), float(np.exp(min(f, 690.0)))) for name, kind, f in zip(names, transforms, log_factor)
             if kind in LOG_SCALE and f > np.log(SPAN_FACTOR) and name not in skipped]
    if not loose:
        return []
    several = len(loose) > 1
    shown = ", ".join(name for name, _ in loose)
    return [Note("not-identifiable", f"{shown} {'are' if several else 'is'} not determined by these runs: with the other parameters held at the fit, "
                 f"{'each' if several else 'its'} 95% interval spans more than {SPAN_FACTOR:g}x (noise {sigma:.2g} in log units); "
                 f"add runs that vary what {'they describe' if several else 'it describes'}, or bootstrap",
                 "error", {"parameters": [name for name, _ in loose], "interval_factors": [f for _, f in loose], "noise": sigma, "rule": "laplace"})]


def constant_target(target: np.ndarray, name: str, parameters: Sequence[str]) -> list[Note]:
    """`constant-target`: the target takes one value (relative spread < 1e-9) in every run, so no
    parameter but a constant level is determined (`parameters`: the free ones, all named)."""
    target = np.asarray(target, dtype=float)
    if target.size == 0 or np.ptp(np.log(target)) > 1e-9:
        return []
    return [Note("constant-target", f"{name} is {_sci(float(target[0]))} in all {target.size} runs: the fit can only match a constant, "
                 f"so {', '.join(parameters)} are not determined", "error", {"target": name, "value": float(target[0]), "parameters": list(parameters)})]


def single_levels(inputs: Mapping[str, np.ndarray]) -> list[str]:
    """The input columns with one distinct value in every run."""
    return [name for name, values in inputs.items() if np.asarray(values).size and np.all(np.asarray(values) == np.asarray(values)[0])]


def single_level_inputs(inputs: Mapping[str, np.ndarray], undetermined: Mapping[str, Sequence[str]]) -> list[Note]:
    """`single-level-input`: a column with one distinct value, for each column that leaves
    parameters undetermined (`undetermined`: column -> those parameters, see `undetermined_by`);
    a single-level column the law does not need to vary (e.g. equal bucket sizes) says nothing."""
    notes = []
    for name in single_levels(inputs):
        parameters = list(undetermined.get(name, ()))
        if parameters:
            value = float(np.asarray(inputs[name])[0])
            notes.append(Note("single-level-input", f"{name} has 1 distinct value ({_sci(value)}) in all {np.asarray(inputs[name]).size} runs: "
                              f"{', '.join(parameters)} cannot be fitted separately; add runs at other {name} or fix/tie them",
                              "error", {"input": name, "value": value, "parameters": parameters}))
    return notes


_JACOBIANS: dict[tuple, Callable] = {}  # compiled d residuals / d u, one per problem structure


@float64
def _jacobian(problem, u, arrays=None) -> np.ndarray:
    """d residuals / d coordinates [n, dimension] at `u`, by one compiled forward-mode pass (run
    op by op it compiled some 25 small kernels, ~2 CPU s in a fresh process)."""
    import jax
    import jax.numpy as jnp

    key = problem.structure_key()
    if key not in _JACOBIANS:
        _JACOBIANS[key] = jax.jit(jax.jacfwd(problem.residuals))
    return np.asarray(_JACOBIANS[key](jnp.asarray(u, dtype=float), problem.arrays if arrays is None else arrays))


def undetermined_by(problem, u: np.ndarray, column: str, undetermined: Sequence[str]) -> list[str]:
    """Of the `undetermined` coordinates at `u`, those that a spread of `column` would determine:
    the Jacobian is recomputed with the column's values spread over a factor of 10 either way
    (seeded, so not collinear with other columns) and the coordinates that leave its null
    directions are the ones the single level leaves undetermined."""
    data = problem.data
    spread = dict(data.inputs)
    spread[column] = data.inputs[column] * 10.0 ** np.random.default_rng(0).uniform(-1.0, 1.0, len(data))
    arrays = {**problem.arrays, "inputs": {**data.law.jax_inputs(spread), **({"group": problem.arrays["inputs"]["group"]} if "group" in problem.arrays["inputs"] else {})}}
    still, _ = null_directions(_jacobian(problem, u, arrays), problem.coordinate_names())
    return [name for name in undetermined if name not in still]


# ---- physical range -------------------------------------------------------------------------
def _must_be_positive(name: str, doc: str) -> bool:
    base = _base(name)
    return base in ("alpha", "beta", "E", "eta", "irreducible_error") or "exponent" in base or "exponent" in doc.split(":")[0]


def out_of_physical_range(law, params: Mapping[str, float], fixed: Iterable[str] = (), intervals: Mapping[str, Sequence[float]] | None = None) -> list[Note]:
    """`out-of-physical-range`: exponents and irreducible terms <= `FLOOR` (the law needs them
    positive), and parameters whose fitting coordinate ran to its bound (|u| > BOUND_COORDINATE)
    unless their bootstrap interval (`intervals`) spans at most SPAN_FACTOR: then the runs do
    determine them, however large (a trial's A = 1e14 came back within [9.2e13, 1.22e14])."""
    held, notes, intervals = set(fixed), [], intervals or {}
    specs = {p.name: p for p in law.params}
    for name, value in params.items():
        spec = specs.get(_base(name))
        if spec is None or _base(name) in held or name in held:
            continue
        if _must_be_positive(name, spec.doc) and value <= FLOOR:
            notes.append(Note("out-of-physical-range", f"{name} = {value:.3g}: {law.name} needs it positive, above {FLOOR:g} ({spec.doc})",
                              "warning", {"parameter": name, "value": float(value), "rule": "positive"}))
            continue
        if spec.transform.name == "identity":
            continue
        with np.errstate(all="ignore"):
            coordinate = float(np.asarray(spec.transform.inverse(np.asarray([value])))[0])
        interval = intervals.get(name)
        determined = interval is not None and 0 < interval[0] and interval[1] <= SPAN_FACTOR * interval[0]
        if (not np.isfinite(coordinate) or abs(coordinate) > BOUND_COORDINATE) and not determined:
            notes.append(Note("out-of-physical-range", f"{name} = {value:.3g} ran to the bound of its range ({spec.transform.name}): "
                              "the runs do not constrain it", "warning", {"parameter": name, "value": float(value), "rule": "bound"}))
    return notes


# ---- units and extrapolation ----------------------------------------------------------------
def unit_mistakes(inputs: Mapping[str, np.ndarray], *, smallest: float = SMALLEST_COUNT) -> list[Note]:
    """`unit-mistake`: a count column (`COUNT_COLUMNS`) with values below `smallest`, which no run
    has as a raw count (tokens given in billions, parameters in millions)."""
    notes = []
    for name, values in inputs.items():
        values = np.asarray(values, dtype=float)
        if name in COUNT_COLUMNS and values.size and values.min() < smallest:
            notes.append(Note("unit-mistake", f"{name} goes down to {_sci(float(values.min()))} (up to {_sci(float(values.max()))}): "
                              f"raw counts below {smallest:g} are unlikely; were they given in millions or billions?",
                              "warning", {"input": name, "min": float(values.min()), "max": float(values.max())}))
    return notes


def extrapolation(input_ranges: Mapping[str, Sequence[float]], points: Mapping[str, Iterable[float]], *, factor: float = EXTRAPOLATION_FACTOR) -> list[Note]:
    """`extrapolation`: for each input the fit saw in [lo, hi], the point farthest outside, when
    it is more than `factor` past hi (x / hi) or below lo (lo / x). Within `factor` of the range a
    point is not flagged (the threshold is in the message and details); with several points the
    note names the rows (1-based, in the order given) that lie past it."""
    notes = []
    for name, values in points.items():
        if name not in input_ranges:
            continue
        values = np.atleast_1d(np.asarray(values, dtype=float))
        low, high = (float(v) for v in input_ranges[name])
        if values.size == 0 or low <= 0:
            continue
        above, below = values.max() / high, low / values.min() if values.min() > 0 else np.inf
        with np.errstate(divide="ignore"):
            outside = np.maximum(values / high, np.where(values > 0, low / values, np.inf))
        rows = [int(i) + 1 for i in np.flatnonzero(outside > factor)]
        where = f" (row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))} of {values.size})" if values.size > 1 else ""
        flagged = f"; points more than {factor:g}x outside the fitted range are flagged"
        details = {"input": name, "range": [low, high], "threshold": factor, "rows": rows}
        if above > factor and above >= below:
            notes.append(Note("extrapolation", f"{name} {values.max():.1e}{where} is {above:.3g}x the largest the fit saw ({high:.2g}){flagged}",
                              "warning", {**details, "value": float(values.max()), "factor": float(above)}))
        elif below > factor:
            notes.append(Note("extrapolation", f"{name} {values.min():.1e}{where} is 1/{below:.3g} of the smallest the fit saw ({low:.2g}){flagged}",
                              "warning", {**details, "value": float(values.min()), "factor": float(below)}))
    return notes


def impossible_errors(errors: Sequence[float], names: Sequence[str], *, kind: str = "candidates", where: str = "at this budget") -> list[Note]:
    """`out-of-physical-range`: a predicted error outside (0, 1) (an accuracy above 100% or below
    0%) means the law is evaluated where it does not hold, typically far below the samples seen
    of the runs it was fitted on. `kind` names the details' list of `names` (plan candidates,
    predicted points); `where` ends the message's clause."""
    bad = [(name, float(e)) for name, e in zip(names, errors) if not 0.0 < float(e) < 1.0]
    if not bad:
        return []
    shown = listed(f"{name} {e:.3g}" for name, e in bad)
    return [Note("out-of-physical-range", f"predicted error outside (0, 1) for {shown}: the law does not hold {where}; do not use these numbers",
                 "error", {kind: [name for name, _ in bad], "errors": [e for _, e in bad]})]


# ---- edges of searches ----------------------------------------------------------------------
def simplex_corner(shares: Sequence[float], names: Sequence[str], *, tolerance: float = CORNER) -> list[Note]:
    """`edge-optimum`: an optimal mixture with (almost) all its share on one bucket lies at a
    corner of the simplex: the softmax search can only approach it, so it is the single-bucket
    plan rather than a mixture."""
    shares = np.asarray(shares, dtype=float)
    top = int(np.argmax(shares))
    if shares[top] < 1 - tolerance:
        return []
    return [Note("edge-optimum", f"the optimal mixture puts {shares[top]:.1%} on {names[top]}: a corner of the simplex, i.e. "
                 f"training on {names[top]} alone, not an interior mixture", "info", {"axis": "mixture", "bucket": names[top], "share": float(shares[top])})]


def grid_edge(axis: str, value, grid: Sequence, *, smaller: str, larger: str, where: str = "", details: Mapping | None = None) -> list[Note]:
    """`edge-optimum`: the best of an ordered search (`grid`) is its first or last entry, so the
    true optimum may lie beyond it (`smaller` / `larger`: what lies beyond each end, in words).
    `where`: a clause on where this holds (e.g. the budgets of a sweep), `details`: more figures
    (e.g. the epochs of the best union and the range of epochs searched)."""
    grid = list(grid)
    if len(grid) < 2 or value not in (grid[0], grid[-1]):
        return []
    beyond = smaller if value == grid[0] else larger
    return [Note("edge-optimum", f"the best {axis} is {value} at the edge of the search ({grid[0]} .. {grid[-1]}){where}: {beyond} might be better still, "
                 "which this search cannot tell", "info", {"axis": axis, "value": value, "range": [grid[0], grid[-1]], **(details or {})})]


def repeated_rows(records: Sequence, source: str) -> list[Note]:
    """`repeated-rows`: rows of a file identical to an earlier row in every column (no run_id)
    count once, as at ingest (`runs_db.ingest.drop_repeated_rows`): the fit has fewer points
    than the file has rows, and says which. `records`: `runs_db.ingest.RunRecord`s."""
    repeats = {r.row: list(r.repeated_rows) for r in records if r.repeated_rows}
    count = sum(len(rows) for rows in repeats.values())
    if not count:
        return []
    later = sorted(row for rows in repeats.values() for row in rows)
    shown = ", ".join(map(str, later[:8])) + (", ..." if len(later) > 8 else "")
    return [Note("repeated-rows", f"{count} rows of {source} repeat an earlier row exactly and count once (rows {shown}); "
                 "give each run a run_id column if they are distinct runs",
                 "warning", {"source": source, "repeated": count, "rows": later, "first_rows": sorted(repeats)})]


def holdout_ties(requested: int, held: int, compute: float) -> list[Note]:
    """`holdout-ties`: runs tied on compute at the cut were held out together (more than asked)."""
    if held <= requested:
        return []
    return [Note("holdout-ties", f"{held} runs held out instead of {requested}: runs tied at compute {compute:.3g} at the cut are held out together",
                 "info", {"requested": requested, "held_out": held, "compute": float(compute)})]


# ---- applying the rules ---------------------------------------------------------------------
def exact_fit(points: int, names: Sequence[str]) -> list[Note]:
    """`exact-fit` (error, so plans refuse unless forced): as many points as free parameters. The
    law then passes through every point (objective 0 when it can), the residuals estimate no noise
    (the `laplace` rule is silent) and every bootstrap draw repeats the fit (intervals of width 0):
    nothing says how wrong the fit is (trial: 5 runs gave A = 72.5 against a truth of 406,
    "converged", intervals [72.5, 72.5])."""
    if points != len(names):
        return []
    return [Note("exact-fit", f"{points} point{'s' if points != 1 else ''} for {len(names)} free parameter{'s' if len(names) != 1 else ''}: "
                 "the fit passes through them, so its objective and intervals say nothing of its error; add runs",
                 "error", {"parameters": list(names), "points": int(points)})]


def fit_notes(problem, u: np.ndarray, params: Mapping[str, float], intervals: Mapping[str, Sequence[float]] | None = None) -> list[Note]:
    """Every fit rule for a fitted `problem` (scaling.problem.Problem) at coordinates `u`."""
    import jax.numpy as jnp

    data, names = problem.data, problem.coordinate_names()
    held = [*problem.fixed, *problem.tied]
    jacobian = _jacobian(problem, u)
    undetermined, _ = null_directions(jacobian, names)
    flat = constant_target(data.target, problem.law.target, names)
    levels = {c: undetermined_by(problem, u, c, undetermined) for c in single_levels(data.inputs)} if undetermined and not flat else {}
    return [
        *exact_fit(len(data), names),
        *flat,
        *single_level_inputs(data.inputs, levels),
        *([] if flat else rank_deficiency(jacobian, names)),
        *([] if flat or intervals else loose_scales(jacobian, np.asarray(problem.residuals(jnp.asarray(u, dtype=float))), names,
                                                    problem.coordinate_transforms(), undetermined)),
        *wide_intervals(intervals or {}, held),
        *out_of_physical_range(problem.law, params, held, intervals),
        *unit_mistakes(data.inputs),
    ]


def blocking(notes: Iterable[Note], deciding: Iterable[str]) -> dict[str, list[str]]:
    """The notes that stop a result, by code: an identifiability note (`IDENTIFIABILITY_CODES`)
    about a parameter in `deciding` (base names; per-bucket names match their base), with those
    parameters, and any other note of severity ``error`` (e.g. a predicted error outside (0, 1)),
    with the parameters or candidates it names. Identifiability notes about parameters that do not
    decide the result (an irreducible term that shifts every candidate alike) do not stop it."""
    deciding, found = set(deciding), {}
    for note in notes:
        if note.severity != "error":
            continue
        if note.code in IDENTIFIABILITY_CODES:
            concerned = [p for p in note.details.get("parameters", []) if _base(p) in deciding]
            if not concerned:
                continue
        else:
            concerned = [str(p) for p in note.details.get("parameters", note.details.get("candidates", []))]
        found.setdefault(note.code, [])
        found[note.code] += [p for p in concerned if p not in found[note.code]]
    return {code: sorted(names) if code in IDENTIFIABILITY_CODES else names for code, names in found.items()}


def require_believable(notes: Iterable[Note], deciding: Iterable[str] = (), *, force: bool = False, what: str = "plan") -> list[Note]:
    """The one refusal rule of plans, sweeps and exported manifests, data and language-model plans
    alike: refuse (CurascaleError, one line naming each note code) a result whose notes `blocking`
    finds, unless `force`; forced, return a ``forced`` note that says what was overridden."""
    found = blocking(notes, deciding)
    if not found:
        return []
    reasons = "; ".join(f"{code}" + (f" ({', '.join(names)})" if names else "") for code, names in found.items())
    identifiability = sorted({p for code, names in found.items() if code in IDENTIFIABILITY_CODES for p in names})
    because = f"the fit does not identify {', '.join(identifiability)}, which decide the {what}" if identifiability else f"the {what} carries error notes"
    if not force:
        raise CurascaleError(f"{because} [{reasons}]; read the notes, refit with more varied runs, or force it (force=True, --force)")
    return [Note("forced", f"{what} forced although it carries error notes [{reasons}]", "warning",
                 {"codes": list(found), "concerned": found})]


def headline(notes: Sequence[Note]) -> str:
    """'' or a short clause for a plan's title: ' - built on a fit with warnings (a, b)'."""
    codes = sorted({n.code for n in notes if n.severity in ("warning", "error")})
    return f" - WARNING: {', '.join(codes)}" if codes else ""


def prediction_notes(fit, points: Mapping[str, Iterable[float]], values: Sequence[float] | None = None) -> list[Note]:
    """The notes of predictions at `points` (input columns): the fit's, then extrapolation, then
    predicted `values` of an error or accuracy target outside (0, 1) (`impossible_errors`, points
    named by their 1-based row)."""
    from curascale.notes import merge

    impossible = []
    if values is not None and fit.target in ("error", "accuracy"):
        errors = [float(v) if fit.target == "error" else 1.0 - float(v) for v in values]
        impossible = impossible_errors(errors, [f"point {i + 1}" for i in range(len(errors))], kind="points", where="at these inputs")
    return merge(carried_notes(fit), extrapolation(fit.input_ranges, points), impossible)


MODEL_PLAN_PARAMETERS = ("A", "B", "alpha", "beta")  # the compute-optimal split (LAWS.md §1)
REPETITION_PARAMETERS = ("data_repetition_decay", "param_repetition_decay")  # R*_D, R*_N: the split under repeated data (LAWS.md §2)


def require_identifiable_fits(fits: Sequence, deciding: Iterable[str] = MODEL_PLAN_PARAMETERS, *, force: bool = False) -> list[Note]:
    """`require_believable` for the notes of every fit a plan is built on; call it before planning,
    since a fit that does not identify its parameters can make the plan itself fail (0 / 0)."""
    deciding = tuple(deciding)
    return [note for fit in fits for note in require_believable(fit.notes, deciding, force=force, what=f"plan ({fit.source})")]


PRECISION_RANGE = (3.0, 16.0)  # the ends of scaling.plan.optimal_precision's default grid of bits


def model_plan_notes(fits: Sequence, params: float, tokens: float, forced: Sequence[Note] = (), *, precision_bits: float | None = None,
                     unique_tokens: float | None = None) -> list[Note]:
    """The notes of a language-model plan at N = `params`, D = `tokens` (and `unique_tokens` U when
    given): every fit's notes, those of `require_identifiable_fits`, the extrapolation of N, D and U
    past the runs each fit saw, and a compute-optimal precision (`precision_bits`) at an end of the
    searched range."""
    from curascale.notes import merge

    edge = []
    if precision_bits is not None:
        edge = grid_edge("training precision (bits)", round(float(precision_bits), 2), PRECISION_RANGE, smaller="fewer bits", larger="more bits")
    points = {"params": [params], "tokens": [tokens], **({} if unique_tokens is None else {"unique_tokens": [unique_tokens]})}
    return merge(*(carried_notes(fit) for fit in fits), forced, *(extrapolation(fit.input_ranges, points) for fit in fits), edge)


# ---- convergence and implausible run shapes -------------------------------------------------
TOKENS_PER_PARAMETER = (1e-2, 1e5)  # language-model runs outside this many tokens a parameter are implausible


def not_converged(fit) -> list[Note]:
    """`not-converged`: the best start stopped at the solver's iteration cap, not at a tolerance
    (`Fit.converged` false): the parameters may still move with more iterations or other starts."""
    if fit.converged:
        return []
    return [Note("not-converged", f"the best of {fit.starts} starts stopped at the iteration cap, not at a tolerance: the optimum may not be "
                 "reached, so its parameters (and what is planned from them) may still move; refit with other starts or check the data",
                 "warning", {"starts": fit.starts, "starts_at_best": fit.starts_at_best})]


def carried_notes(fit) -> list[Note]:
    """The notes a fit brings to a prediction or plan: its own, and `not_converged` (so artifacts
    saved before the rule existed say it too)."""
    from curascale.notes import merge

    return merge(fit.notes, not_converged(fit))


def tokens_per_parameter(inputs: Mapping[str, np.ndarray], *, bounds: tuple[float, float] = TOKENS_PER_PARAMETER) -> list[Note]:
    """`unit-mistake` (rule tokens-per-parameter): runs with tokens / params outside `bounds`
    (default 0.01 to 1e5). Language-model runs train on roughly 1 to 1000 tokens a parameter
    (Chinchilla's 240 runs: about 1 to 400); far outside, a column is in the wrong unit (tokens in
    millions with every value >= 1000 passes `unit_mistakes` but gives ~1e-4 tokens a parameter)."""
    if "params" not in inputs or "tokens" not in inputs:
        return []
    params, tokens = np.asarray(inputs["params"], dtype=float), np.asarray(inputs["tokens"], dtype=float)
    if params.size == 0 or np.any(params <= 0):
        return []
    ratio = tokens / params
    low, high = bounds
    if low <= ratio.min() and ratio.max() <= high:
        return []
    return [Note("unit-mistake", f"tokens per parameter go from {_sci(float(ratio.min()))} to {_sci(float(ratio.max()))}: language-model runs "
                 f"outside {low:g}-{high:g} are implausible; were tokens or params given in millions or billions?", "warning",
                 {"rule": "tokens-per-parameter", "min": float(ratio.min()), "max": float(ratio.max()), "bounds": [low, high]})]


def no_interval(fit) -> list[Note]:
    """`no-interval` (info): a fit without bootstrap draws gives a plan or prediction no interval,
    either because it holds published point estimates (no objective) or was fitted without them."""
    if fit.draws:
        return []
    return [Note("no-interval", f"no interval: {no_interval_reason(fit)}", "info", {"fit": fit.source})]


def no_interval_reason(fit) -> str:
    """Why a plan on `fit` has no interval: published constants, or a fit without bootstrap draws."""
    return "published point estimates" if fit.objective is None else "the fit has no bootstrap draws (fit with --bootstrap N; bootstrap=N in Python)"


def fixed_out_of_range(law, fixed: Mapping[str, float]) -> list[Note]:
    """`out-of-physical-range` for values held fixed (`--fix alpha=-0.3`): an exponent or
    irreducible term fixed at or below `FLOOR`, which the law needs positive. `out_of_physical_range`
    looks at fitted values only; a fixed one is the user's, so the note says it was fixed."""
    specs = {p.name: p for p in law.params}
    notes = []
    for name, value in fixed.items():
        spec = specs.get(_base(name))
        if spec is not None and _must_be_positive(name, spec.doc) and float(value) <= FLOOR:
            notes.append(Note("out-of-physical-range", f"{name} is fixed at {float(value):.3g}: {law.name} needs it positive ({spec.doc})",
                              "warning", {"parameter": name, "value": float(value), "rule": "positive", "fixed": True}))
    return notes


# ---- the laws' domains ----------------------------------------------------------------------
def outside_law_domain(name: str, bucket_samples: float, union_samples: float, epochs: float, *, limit: float, budgets: Sequence[float] = ()) -> list[Note]:
    """`outside-law-domain`: a candidate a plan dropped from its ranking because the budget would
    see it for `limit` or more epochs, past what the law can evaluate (the data filtering laws sum
    fewer than 511 epochs, `scaling.laws.data_filtering.MAX_EPOCHS`). The note names the
    candidate, the bucket size and its pool (samples) and its epochs (the most over `budgets`: for
    a sweep, the budgets at which it was dropped)."""
    budgets = [float(b) for b in budgets]
    where = f" at budgets {min(budgets):.3g} to {max(budgets):.3g} samples seen" if budgets else ""
    return [Note("outside-law-domain", f"{name} left out of the ranking{where}: {epochs:.4g} epochs over its {union_samples:.3g} samples "
                 f"(buckets of {bucket_samples:.3g}), and the law handles fewer than {limit:g}", "warning",
                 {"candidate": name, "bucket_size_samples": float(bucket_samples), "union_samples": float(union_samples), "epochs": float(epochs),
                  "limit_epochs": float(limit), **({"budgets": [min(budgets), max(budgets)]} if budgets else {})})]


def inconsistent_bucket_sizes(sizes: Mapping[str, Sequence[float]]) -> list[Note]:
    """`inconsistent-bucket-size`: a bucket whose runs give more than one `unique_samples`
    (`sizes`: the distinct values of each bucket's runs). Its size is left out of the fit's
    `bucket_size_samples` (the other buckets keep theirs); a plan then needs it from the registry
    or --bucket-sizes. One note per such bucket, naming it and its sizes."""
    return [Note("inconsistent-bucket-size", f"the runs of bucket {bucket} give {len(values)} bucket sizes (unique_samples "
                 f"{', '.join(f'{v:.4g}' for v in values)}): its size is not recorded; give it to a plan (--bucket-sizes {bucket}=SIZE). "
                 "Runs on a random subset of the bucket (subsampled pilots) are fitted with their own sizes",
                 "warning", {"bucket": bucket, "unique_samples": [float(v) for v in values]})
            for bucket, values in sizes.items() if len(values) > 1]


def choice_unchanged(parameter: str, low: float, high: float, choice: str, budgets: Sequence[float]) -> list[Note]:
    """`choice-unchanged`: a parameter the fit does not identify, which would decide the plan, but
    across its plausible range [low, high] the plan's choice stays `choice` at `budgets` (samples
    seen): a warning, not a refusal (`scaling.plan.undecisive_parameters`)."""
    where = f"{min(budgets):.3g}" + (f" to {max(budgets):.3g}" if max(budgets) > min(budgets) else "")
    return [Note("choice-unchanged", f"{parameter} is not identified, but {choice} stays the choice at {where} samples seen for any "
                 f"{parameter} in [{_sci(low)}, {_sci(high)}]: the plan does not depend on it", "warning",
                 {"parameter": parameter, "range": [float(low), float(high)], "choice": choice, "budgets": [float(min(budgets)), float(max(budgets))]})]


def holdout_unseen_groups(groups: Sequence[str], unseen: Sequence[bool]) -> list[Note]:
    """`holdout-unseen-group`: held-out runs of a group (bucket) none of whose runs was left in the
    refit: its per-group parameters were not fitted, so those runs' predictions are no test of
    the law. `groups`, `unseen`: per held-out run. One note naming the groups and the runs' count."""
    named = sorted({g for g, u in zip(groups, unseen) if u})
    if not named:
        return []
    count = sum(bool(u) for u in unseen)
    return [Note("holdout-unseen-group", f"{count} held-out runs belong to {', '.join(named)}, with no run left in the refit: their predictions "
                 "use parameters the refit never saw data for, so they do not test the law; hold out fewer runs", "warning",
                 {"groups": named, "runs": count})]


def point_outside_interval(names: Sequence[str], points: Sequence[float], intervals: Sequence[Sequence[float] | None], *, what: str = "accuracy") -> list[Note]:
    """`point-outside-interval`: a point estimate (the fit's) outside its own bootstrap percentile
    interval, as happens for a skewed statistic (far from the fitted runs): the interval is then
    of the draws, not centred on the point; read both. One note naming the candidates."""
    out = [(n, float(p), [float(v) for v in i]) for n, p, i in zip(names, points, intervals) if i is not None and not i[0] <= p <= i[1]]
    if not out:
        return []
    shown = ", ".join(f"{n} {p:.4g} outside [{i[0]:.4g}, {i[1]:.4g}]" for n, p, i in out[:4])
    return [Note("point-outside-interval", f"the point {what} lies outside its bootstrap interval ({shown}): the draws' statistic is skewed; "
                 "the interval is the draws' percentiles, not a band around the point", "warning",
                 {"candidates": [n for n, _, _ in out], "points": [p for _, p, _ in out], "intervals": [i for _, _, i in out]})]
