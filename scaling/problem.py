"""A fitting problem: a law, its data, and which parameters are free, fixed or tied.

`Problem` turns a flat vector of unconstrained coordinates into the law's natural parameters
(`theta`), and defines the objective of docs/laws.md §7: the weighted sum of Huber losses of
log prediction - log observation. Weights are per-point counts (all ones for a fit; bootstrap
draws resample runs by giving each a count).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import pandas as pd

from curascale.errors import UserError
from scaling.jaxconf import float64
from scaling.laws.base import Law


def law_inputs(law: Law, frame: pd.DataFrame, *, source: str = "data") -> dict[str, np.ndarray]:
    """The law's input columns as float64 arrays, with the law's stand-ins for missing values."""
    columns = {}
    for name in law.inputs:
        if name in frame:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        elif name in law.defaults:
            values = np.full(len(frame), np.nan)
        else:
            raise UserError(f"{source}: law {law.name} needs column '{name}' (map one with --map {name}=COLUMN)")
        stand_in = law.defaults.get(name)
        if stand_in is not None and np.isnan(values).any():
            replacement = frame[stand_in].to_numpy(dtype=float) if isinstance(stand_in, str) else np.full(len(frame), float(stand_in))
            values = np.where(np.isnan(values), replacement, values)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise UserError(f"{source}: column '{name}' is missing or not finite in row {bad[0] + 1}")
        columns[name] = values
    return columns


@dataclass
class Data:
    """Inputs, target and group codes of the points a law is fitted on."""

    law: Law
    inputs: dict[str, np.ndarray]
    target: np.ndarray
    groups: list[str] | None = None
    group_codes: np.ndarray | None = None

    @classmethod
    def from_frame(cls, law: Law, frame: pd.DataFrame, *, source: str = "data") -> "Data":
        if law.target not in frame:
            raise UserError(f"{source}: law {law.name} predicts '{law.target}', which the data lacks (map one with --map {law.target}=COLUMN)")
        target = pd.to_numeric(frame[law.target], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(np.isfinite(target) & (target > 0)))
        if bad.size:
            raise UserError(f"{source}: '{law.target}' must be positive and finite, row {bad[0] + 1} has {frame[law.target].iloc[bad[0]]!r}")
        inputs = law_inputs(law, frame, source=source)
        if law.group_by is None:
            return cls(law, inputs, target)
        if law.group_by not in frame:
            raise UserError(f"{source}: law {law.name} fits one set of parameters per '{law.group_by}', which the data lacks")
        labels = frame[law.group_by].astype(str).to_numpy()
        groups = sorted(set(labels))
        codes = np.searchsorted(np.asarray(groups), labels)
        return cls(law, inputs, target, groups, codes)

    def __len__(self) -> int:
        return len(self.target)

    def columns(self) -> dict[str, list]:
        """The points as plain lists, one per column: every law input (after the law's stand-ins),
        the group label (under the law's `group_by`) and the target, in row order."""
        columns: dict[str, list] = {name: values.tolist() for name, values in self.inputs.items()}
        if self.groups is not None:
            columns[self.law.group_by] = [self.groups[code] for code in self.group_codes]
        columns[self.law.target] = self.target.tolist()
        return columns

    def subset(self, rows: np.ndarray) -> "Data":
        codes = None if self.group_codes is None else self.group_codes[rows]
        return Data(self.law, {k: v[rows] for k, v in self.inputs.items()}, self.target[rows], self.groups, codes)

    @float64
    def jax_inputs(self) -> dict[str, jnp.ndarray]:
        arrays = self.law.jax_inputs(self.inputs)
        if self.group_codes is not None:
            arrays["group"] = jnp.asarray(self.group_codes)
        return arrays

    def digest(self) -> str:
        """sha256 of the points (inputs, target, groups): the data hash of a fit."""
        h = hashlib.sha256()
        for name in sorted(self.inputs):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.inputs[name], dtype="<f8").tobytes())
        h.update(np.ascontiguousarray(self.target, dtype="<f8").tobytes())
        if self.groups is not None:
            h.update("\0".join(self.groups).encode())
            h.update(np.ascontiguousarray(self.group_codes, dtype="<i8").tobytes())
        return h.hexdigest()


@dataclass
class Problem:
    """Which parameters are free, fixed (natural values) or tied (to another parameter)."""

    law: Law
    data: Data
    fixed: dict[str, float] = field(default_factory=dict)
    tied: dict[str, str] = field(default_factory=dict)
    delta: float = 1e-3

    @float64
    def __post_init__(self):
        names = set(self.law.param_names)
        for name in list(self.fixed) + list(self.tied) + list(self.tied.values()):
            if name not in names:
                raise UserError(f"law {self.law.name} has no parameter {name!r} (it has: {', '.join(self.law.param_names)})")
        for name, other in self.tied.items():
            if name in self.fixed or other in self.tied or name == other:
                raise UserError(f"--tie {name}={other}: tie a free parameter to a free or fixed one")
            if self.law.param(name).per_group != self.law.param(other).per_group:
                raise UserError(f"--tie {name}={other}: cannot tie a per-group parameter to a shared one")
        if self.law.group_by is None and any(p.per_group for p in self.law.params):
            raise ValueError(f"law {self.law.name}: per-group parameters need group_by")
        self.free = [p for p in self.law.params if p.name not in self.fixed and p.name not in self.tied]
        if not self.free:
            raise UserError(f"law {self.law.name}: every parameter is fixed; nothing to fit")
        self.n_groups = len(self.data.groups) if self.data.groups is not None else 1
        self.sizes = [self.n_groups if p.per_group else 1 for p in self.free]
        self.offsets = np.cumsum([0] + self.sizes)
        self.arrays = {"inputs": self.data.jax_inputs(), "log_target": jnp.log(jnp.asarray(self.data.target))}

    @property
    def dimension(self) -> int:
        return int(self.offsets[-1])

    def coordinate_names(self) -> list[str]:
        names = []
        for p, size in zip(self.free, self.sizes):
            names += [f"{p.name}[{g}]" for g in self.data.groups] if p.per_group else [p.name]
        return names

    def coordinate_transforms(self) -> list[str]:
        """The transform name of each coordinate ('log', 'negative-log', 'identity', ...), in the
        order of `coordinate_names`."""
        return [p.transform.name for p, size in zip(self.free, self.sizes) for _ in range(size)]

    def theta(self, u: jnp.ndarray) -> dict[str, jnp.ndarray]:
        """Natural parameters from unconstrained coordinates u (shape [dimension])."""
        theta = {}
        for p, start, size in zip(self.free, self.offsets[:-1], self.sizes):
            block = u[start : start + size]
            theta[p.name] = p.transform.forward(block if p.per_group else block[0])
        for name, value in self.fixed.items():
            theta[name] = jnp.full(self.n_groups, value) if self.law.param(name).per_group and np.ndim(value) == 0 else jnp.asarray(value)
        for name, other in self.tied.items():
            theta[name] = theta[other] if other in theta else jnp.asarray(self.fixed[other])
        return theta

    def residuals(self, u: jnp.ndarray, arrays=None) -> jnp.ndarray:
        """log prediction - log observation; `arrays` (default: this problem's) lets one compiled
        function serve other data of the same structure."""
        arrays = self.arrays if arrays is None else arrays
        return self.law.log_of_prediction(self.theta(u), arrays["inputs"]) - arrays["log_target"]

    def structure_key(self) -> tuple:
        """Problems with equal keys share compiled solvers (same law, spec and data layout)."""
        return (
            self.law.name,
            self.law.version,
            tuple(sorted((k, repr(v)) for k, v in self.fixed.items())),
            tuple(sorted(self.tied.items())),
            self.delta,
            self.n_groups,
            tuple(sorted(self.data.inputs)),
        )

    def start_grid(self, max_starts: int | None = None, seed: int = 0) -> np.ndarray:
        """Cartesian product of each free parameter's starts (per-group ones shared by all groups)."""
        axes = [p.start_coordinates() for p in self.free]
        total = int(np.prod([len(a) for a in axes]))
        rows = np.array(list(itertools.product(*axes)), dtype=float) if total <= 2_000_000 else None
        if rows is None or (max_starts is not None and total > max_starts):
            if max_starts is None:
                raise UserError(f"law {self.law.name}: {total} starts; pass max_starts")
            rng = np.random.default_rng(seed)
            if rows is not None:
                rows = rows[np.sort(rng.choice(total, size=max_starts, replace=False))]
            else:
                rows = np.stack([rng.choice(a, size=max_starts) for a in axes], axis=1)
        return np.repeat(rows, self.sizes, axis=1)

    def starts_from(self, points: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Coordinates of user-given starting points (natural values of every free parameter)."""
        rows = []
        for point in points:
            missing = [p.name for p in self.free if p.name not in point]
            if missing:
                raise UserError(f"a start must give every free parameter; missing: {', '.join(missing)}")
            rows.append(np.concatenate([np.repeat(p.transform.inverse(np.asarray([point[p.name]], dtype=float)), size) for p, size in zip(self.free, self.sizes)]))
        if not rows:
            raise UserError("no starting points given")
        return np.asarray(rows)

    @float64
    def natural(self, u: np.ndarray) -> dict[str, float]:
        """Flat natural parameters: 'name' for shared ones, 'name[group]' for per-group ones."""
        theta = self.theta(jnp.asarray(u))
        flat = {}
        for p in self.law.params:
            value = np.asarray(theta[p.name], dtype=float)
            if p.per_group:
                flat.update({f"{p.name}[{g}]": float(v) for g, v in zip(self.data.groups, np.broadcast_to(value, (self.n_groups,)))})
            else:
                flat[p.name] = float(value)
        return flat


@float64
def unflatten(law: Law, flat: Mapping[str, float], groups: Sequence[str] | None) -> dict[str, jnp.ndarray]:
    """The inverse of Problem.natural: flat names back to the law's theta."""
    theta = {}
    for p in law.params:
        if p.per_group:
            theta[p.name] = jnp.asarray([flat[f"{p.name}[{g}]"] for g in groups or ()])
        else:
            theta[p.name] = jnp.asarray(flat[p.name])
    return theta
