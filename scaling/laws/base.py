"""What a law is: a pure JAX prediction function plus a parameter spec.

A `Law` knows nothing about fitting. `predict(theta, inputs)` maps natural parameters (a dict of
scalars, or of per-group arrays for `Param(per_group=True)`) and input columns (a dict of float64
arrays) to the predicted target, which is positive (a loss or an error). Laws are fitted on the
log of that prediction (docs/laws.md §7); a law may define `log_predict` directly where that is more
accurate (the log-sum-exp form of §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from scaling import jaxconf  # noqa: F401  (float64 before any array is made)

Theta = Mapping[str, jnp.ndarray]
Inputs = Mapping[str, jnp.ndarray]


@dataclass(frozen=True)
class Transform:
    """Maps an unconstrained fitting coordinate u to a parameter value and back."""

    name: str
    forward: Callable[[jnp.ndarray], jnp.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]


IDENTITY = Transform("identity", lambda u: u, lambda v: np.asarray(v, dtype=float))
LOG = Transform("log", jnp.exp, lambda v: np.log(np.asarray(v, dtype=float)))
NEGATIVE = Transform("negative-log", lambda u: -jnp.exp(u), lambda v: np.log(-np.asarray(v, dtype=float)))


def bounded(lower: float, upper: float) -> Transform:
    """value = lower + (upper - lower) * sigmoid(u): keeps a parameter strictly inside (lower, upper)."""

    def forward(u):
        return lower + (upper - lower) * (1.0 / (1.0 + jnp.exp(-u)))

    def inverse(v):
        share = (np.asarray(v, dtype=float) - lower) / (upper - lower)
        return np.log(share) - np.log1p(-share)

    return Transform(f"bounded({lower:g},{upper:g})", forward, inverse)


@dataclass(frozen=True)
class Param:
    """One parameter: its name, how it is kept in bounds, and its starting values (natural units)."""

    name: str
    starts: tuple[float, ...]
    transform: Transform = IDENTITY
    doc: str = ""
    per_group: bool = False  # one value per group (e.g. per bucket), fitted jointly

    def start_coordinates(self) -> np.ndarray:
        return self.transform.inverse(np.asarray(self.starts, dtype=float))


@dataclass(frozen=True)
class Law:
    """A scaling law: `predict(theta, inputs)` and what it needs.

    inputs: the run columns it reads (e.g. params, tokens); target: the metric it predicts;
    fixed: parameters fixed by default (natural units), which a fit may free; tied: parameters
    that take another's value by default (e.g. beta = alpha); defaults: input
    columns that may be missing, with the column or constant that stands in for them;
    group_by: the column whose values index per-group parameters; compute: what "largest run"
    means for held-out error; prepare: derives extra arrays from the input columns on the host
    (e.g. an axis whose length must be static under jit), or raises UserError for bad inputs;
    domain: raises CurascaleError when inputs lie where the law is undefined for the given
    parameters (e.g. precisions at or below n_x gamma_x, docs/laws.md §4), checked before predicting.
    """

    name: str
    version: str
    section: str
    inputs: tuple[str, ...]
    target: str
    params: tuple[Param, ...]
    predict: Callable[[Theta, Inputs], jnp.ndarray]
    log_predict: Callable[[Theta, Inputs], jnp.ndarray] | None = None
    fixed: Mapping[str, float] = field(default_factory=dict)
    tied: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str | float] = field(default_factory=dict)
    group_by: str | None = None
    compute: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    prepare: Callable[[Mapping[str, np.ndarray]], Mapping[str, jnp.ndarray]] | None = None
    domain: Callable[[Theta, Inputs], None] | None = None
    description: str = ""

    def __post_init__(self):
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: repeated parameter names {names}")
        unknown = set(self.fixed) - set(names)
        if unknown:
            raise ValueError(f"{self.name}: fixed parameters not in the spec: {sorted(unknown)}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"law {self.name} has no parameter {name!r} (it has: {', '.join(self.param_names)})")

    def log_of_prediction(self, theta: Theta, inputs: Inputs) -> jnp.ndarray:
        if self.log_predict is not None:
            return self.log_predict(theta, inputs)
        return jnp.log(self.predict(theta, inputs))

    def jax_inputs(self, columns: Mapping[str, np.ndarray]) -> dict[str, jnp.ndarray]:
        """Input columns as JAX arrays, plus what `prepare` derives from them."""
        arrays = {k: jnp.asarray(v) for k, v in columns.items()}
        if self.prepare is not None:
            arrays.update(self.prepare(columns))
        return arrays

    def training_compute(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """What "largest runs" means for held-out error: FLOPs (6ND) or samples seen by default."""
        if self.compute is not None:
            return np.asarray(self.compute(inputs), dtype=float)
        if "params" in inputs and "tokens" in inputs:
            return 6.0 * np.asarray(inputs["params"]) * np.asarray(inputs["tokens"])
        for column in ("samples_seen", "tokens", "params"):
            if column in inputs:
                return np.asarray(inputs[column], dtype=float)
        raise ValueError(f"law {self.name}: no notion of compute for inputs {self.inputs}")


def logsumexp3(a, b, c):
    """log(e^a + e^b + e^c), stable; the shift is held out of differentiation (exact, and cheaper
    to differentiate than jax.scipy.special.logsumexp)."""
    shift = jax.lax.stop_gradient(jnp.maximum(jnp.maximum(a, b), c))
    return shift + jnp.log(jnp.exp(a - shift) + jnp.exp(b - shift) + jnp.exp(c - shift))


def grid(*values: float) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def arange_grid(start: float, stop: float, step: float) -> tuple[float, ...]:
    """Inclusive grid start, start + step, ..., stop."""
    count = int(round((stop - start) / step)) + 1
    return tuple(float(start + i * step) for i in range(count))
