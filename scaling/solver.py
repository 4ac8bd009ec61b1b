"""Batched IRLS: minimise a sum of Huber losses of residuals from many starts at once.

The objective is f(u) = sum_i w_i rho(r_i(u)), rho the Huber loss, r the residuals of one start.
Every start takes damped reweighted Gauss-Newton steps (IRLS):

    M = J^T diag(w * min(1, delta / |r|)) J          (the Hessian of Huber's quadratic majoriser)
    u <- u - V diag(1 / (|eig| + lam * max|eig|)) V^T g,   V, eig diagonalising M, g the gradient

Far from a minimum Huber behaves like L1 and IRLS is robust there; it converges to the exact
minimiser (its fixed point). A step is kept only when it lowers f; lam shrinks after a kept step
and grows after a rejected one. Steps run in chunks under `jit` for the whole batch; between
chunks the starts that have converged are dropped, so they stop costing (a plain `vmap` of a
while loop runs every start until the slowest one finishes). Batches after the first are padded
to powers of two so that few shapes compile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from scaling import jaxconf  # noqa: F401  (float64)

Residuals = Callable[[jnp.ndarray, object], jnp.ndarray]  # (u [P], data pytree) -> r [n]


def huber(residuals, delta):
    """0.5 r^2 for |r| <= delta, else delta (|r| - delta / 2)."""
    absolute = jnp.abs(residuals)
    return jnp.where(absolute <= delta, 0.5 * residuals**2, delta * (absolute - 0.5 * delta))


@dataclass(frozen=True)
class SolverOptions:
    delta: float = 1e-3  # Huber's delta, in units of log prediction
    max_iterations: int = 600
    stall_tol: float = 1e-10  # converged: a whole chunk lowers f by less than stall_tol * |f|
    chunk: int = 8  # steps between compactions
    initial_damping: float = 1e-3
    max_damping: float = 1e12


@dataclass
class SolverResult:
    u: np.ndarray  # [S, P] final coordinates
    value: np.ndarray  # [S] objective (inf where it was never finite)
    converged: np.ndarray  # [S] bool: stopped by a tolerance, not by the iteration cap
    iterations: np.ndarray  # [S] steps taken, all phases


def _chunk_fn(residuals: Residuals, options: SolverOptions):
    delta = options.delta

    def objective(u, weights, data):
        return jnp.sum(weights * huber(residuals(u, data), delta))

    jacobian = jax.jacfwd(residuals)

    def step(state, weights, data):
        u, lam, f, done, iterations = state
        r = residuals(u, data)
        jac = jacobian(u, data)
        inside = jnp.abs(r) <= delta
        gradient = jac.T @ (weights * jnp.where(inside, r, delta * jnp.sign(r)))
        curvature_weights = weights * jnp.where(inside, 1.0, delta / jnp.maximum(jnp.abs(r), 1e-300))
        matrix = jac.T @ (curvature_weights[:, None] * jac)
        eigenvalues, vectors = jnp.linalg.eigh(0.5 * (matrix + matrix.T))
        scale = jnp.maximum(jnp.max(jnp.abs(eigenvalues)), 1e-300)
        trial = u - vectors @ ((vectors.T @ gradient) / (jnp.abs(eigenvalues) + lam * scale))
        f_trial = objective(trial, weights, data)
        kept = jnp.isfinite(f_trial) & (f_trial <= f)
        stuck = lam >= options.max_damping
        return (
            jnp.where(done | ~kept, u, trial),
            jnp.where(done, lam, jnp.where(kept, jnp.maximum(lam * 0.2, 1e-15), lam * 10.0)),
            jnp.where(done | ~kept, f, f_trial),
            done | stuck,
            iterations + jnp.where(done, 0, 1),
        )

    def chunk(u, lam, f, done, iterations, weights, data):
        state = jax.lax.fori_loop(0, options.chunk, lambda _, s: step(s, weights, data), (u, lam, f, done, iterations))
        u, lam, f_end, done, iterations = state
        stalled = (f - f_end) <= options.stall_tol * jnp.abs(f_end)
        return u, lam, f_end, done | stalled, iterations

    batched = (0, 0, 0, 0, 0, 0, None)
    return jax.jit(jax.vmap(chunk, in_axes=batched)), jax.jit(jax.vmap(objective, in_axes=(0, 0, None)))


def _padded(size: int) -> int:
    return 1 << max(0, int(np.ceil(np.log2(max(size, 1)))))


class BatchedSolver:
    """Minimise sum_i w_i Huber(r_i(u, data)) from every row of `starts`, each row with its own
    weights. `data` is an argument, not a constant, so one solver serves every data set of the
    same shapes (bootstrap, held-out fits, repeated seeds) without compiling again."""

    def __init__(self, residuals: Residuals, options: SolverOptions = SolverOptions()):
        self.options = options
        self._chunk, self._value = _chunk_fn(residuals, options)

    def value(self, u: np.ndarray, weights: np.ndarray, data) -> np.ndarray:
        value = np.asarray(self._value(jnp.asarray(u), jnp.asarray(weights), data))
        return np.where(np.isfinite(value), value, np.inf)

    def minimize(self, starts: np.ndarray, weights: np.ndarray, data, progress: Callable[[int, int], None] | None = None) -> SolverResult:
        u = np.array(starts, dtype=float)
        weights = np.asarray(weights, dtype=float)
        count = len(u)
        value = self.value(u, weights, data)
        lam = np.full(count, self.options.initial_damping)
        done = ~np.isfinite(value)
        iterations = np.zeros(count, dtype=np.int64)
        capped = np.zeros(count, dtype=bool)
        active = np.flatnonzero(~done)
        while active.size:
            size = min(count, _padded(active.size))
            index = np.concatenate([active, np.repeat(active[:1], size - active.size)])
            out = self._chunk(*(jnp.asarray(x[index]) for x in (u, lam, value, done, iterations, weights)), data)
            u[active], lam[active], value[active], done[active], iterations[active] = (np.asarray(x)[: active.size] for x in out)
            capped[active] = ~done[active] & (iterations[active] >= self.options.max_iterations)
            done[active] |= capped[active]
            active = active[~done[active]]
            if progress is not None:
                progress(count - active.size, count)
        finite = np.isfinite(value)
        return SolverResult(u, np.where(finite, value, np.inf), finite & ~capped, iterations)
