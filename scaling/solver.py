"""Batched Levenberg-Marquardt on Huber's majoriser: minimise a sum of Huber losses from many starts.

The objective is f(u) = sum_i w_i rho(r_i(u)), rho the Huber loss, r the residuals of one start.
Every start takes damped reweighted Gauss-Newton steps (IRLS, Holland & Welsch 1977):

    M = J^T diag(w * c) J,   c = 1 for |r| <= delta, else s * delta / |r|
    u <- u - (M + lam * max(diag M) I)^-1 g,         g the gradient, solved by Cholesky

With s = 1, M is the Hessian of Huber's quadratic majoriser: robust far from a minimum, where Huber
behaves like L1, but only linearly convergent near one. So once a start has settled (at least 4
points per coordinate within delta, damping low) it takes Gauss-Newton steps on the exact Huber
objective (s = 0: the linear arms have no curvature), which converge in a few steps; and when the
majoriser's phase stalls (f falls by less than polish_tol relatively over a chunk) the start is
polished with s = 0 to the final tolerance. A start taking steps on the exact objective stops at
once when the undamped Gauss-Newton model promises less than stall_tol * f of further decrease
(g^T M^-1 g / 2, the Newton decrement of Boyd & Vandenberghe 2004 §9.5.1) instead of waiting for
a chunk to stall and a polish chunk to confirm it: 12% fewer steps on Chinchilla's 4,500 starts,
the same minima. A step is kept only when it lowers f; lam shrinks
after a kept step and grows after a rejected one (Marquardt 1963). The residuals and their forward
Jacobian come out of one pass and are carried, so a step costs one evaluation of the law.

Scheduling: steps run in chunks under `jit` on blocks of a fixed number of starts. Between chunks
the starts that have converged leave the pool and waiting ones take their places, so converged
starts stop costing (a plain `vmap` of a while loop runs every start until the slowest finishes)
and a fit compiles one block shape, whatever its number of starts: a pool shorter than the block
is padded with copies of its first start (their results are dropped), so a cold process compiles
the chunk once and a second process finds it in the persistent cache (scaling.jaxconf). The block is
small (128 starts): measured on Chinchilla's 4,500 starts (CPU s of the solve, compiled, loaded
machine): 128: 5.5-6.0, 256: 5.8, 512: 6.6, 1024: 10.9 (a padded tail of stragglers runs at full
width); the former two shapes (1024, tail 128): 6.9 and a second compile.

Several devices (the CPU split by `scaling.jaxconf.use_cpu_cores`, as the command line does): a
worker thread per device takes the next block from the shared pool as soon as its own is back (a
device's first call compiles the chunk for it, so the devices compile at once too). Each start's
steps are its own whatever its block-mates, so the results are the same bytes on any number of
devices (tests/scaling/test_solver.py). Measured on Chinchilla's 4,500 starts, 2 cores, compiled:
one device 5.3-5.5 s wall, two 3.2-3.4 s (one round of a block per device, waiting for both before
the next: 3.4 s).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from scaling.jaxconf import float64

Residuals = Callable[[jnp.ndarray, object], jnp.ndarray]  # (u [P], data pytree) -> r [n]

UNROLLED_CHOLESKY_MAX = 12  # up to this many coordinates the solve is written out (see _solve_spd)


def huber(residuals, delta):
    """0.5 r^2 for |r| <= delta, else delta (|r| - delta / 2) (Huber 1964).

    Kept rather than optax.losses.huber_loss, for a measured reason: on 1,024 x 240 residuals both
    take the same time under jit (0.54 vs 0.56 ms, gradients 0.28 ms each) and agree to 3e-16, but
    `curascale fit` does not otherwise import optax, whose import adds 0.24 s to every process."""
    absolute = jnp.abs(residuals)
    return jnp.where(absolute <= delta, 0.5 * residuals**2, delta * (absolute - 0.5 * delta))


@dataclass(frozen=True)
class SolverOptions:
    delta: float = 1e-3  # Huber's delta, in units of log prediction
    max_iterations: int = 600
    stall_tol: float = 1e-10  # converged: a whole chunk lowers f by less than stall_tol * |f|
    polish_tol: float = 1e-6  # the same test, ending the majoriser phase and starting the polish
    chunk: int = 8  # steps between compactions
    block: int = 128  # starts advanced together by one compiled call (the one compiled shape)
    shrink: float = 0.2  # damping factor after a kept step
    grow: float = 10.0  # and after a rejected one
    initial_damping: float = 1e-3
    settled_points: float = 4.0  # Gauss-Newton steps once this many points per coordinate lie within delta
    max_damping: float = 1e12


@dataclass
class SolverResult:
    u: np.ndarray  # [S, P] final coordinates
    value: np.ndarray  # [S] objective (inf where it was never finite)
    converged: np.ndarray  # [S] bool: stopped by a tolerance, not by the iteration cap
    iterations: np.ndarray  # [S] steps taken, all phases


def _solve_spd(matrix: jnp.ndarray, vector: jnp.ndarray) -> jnp.ndarray:
    """matrix^-1 vector for a symmetric positive definite [P, P] matrix, by Cholesky.

    Measured under vmap on CPU for 4,096 5x5 systems: written out 0.43 ms, jnp.linalg.cholesky with
    cho_solve 1.9 ms, eigh 29 ms (it was the old step's largest single cost). NaN when the matrix is
    not positive definite, which the caller treats as a rejected step."""
    size = matrix.shape[0]
    if size > UNROLLED_CHOLESKY_MAX:
        factor = jnp.linalg.cholesky(matrix)
        return jax.scipy.linalg.cho_solve((factor, True), vector)
    lower = [[None] * size for _ in range(size)]
    for j in range(size):
        pivot = jnp.sqrt(matrix[j, j] - sum(lower[j][k] ** 2 for k in range(j)))
        lower[j][j] = pivot
        for i in range(j + 1, size):
            lower[i][j] = (matrix[i, j] - sum(lower[i][k] * lower[j][k] for k in range(j))) / pivot
    forward = []
    for i in range(size):
        forward.append((vector[i] - sum(lower[i][k] * forward[k] for k in range(i))) / lower[i][i])
    backward = [None] * size
    for i in reversed(range(size)):
        backward[i] = (forward[i] - sum(lower[k][i] * backward[k] for k in range(i + 1, size))) / lower[i][i]
    return jnp.stack(backward)


def _chunk_fn(residuals: Residuals, options: SolverOptions):
    delta = options.delta

    def objective(u, weights, data):
        return jnp.sum(weights * huber(residuals(u, data), delta))

    def twice(u, data):
        r = residuals(u, data)
        return r, r

    residuals_and_jacobian = jax.jacfwd(twice, has_aux=True)  # -> (J [n, P], r [n]) from one pass

    def step(state, majorise, weights, data):
        u, lam, f, jac, r, done, certified, iterations = state
        inside = jnp.abs(r) <= delta
        gradient = jac.T @ (weights * jnp.where(inside, r, delta * jnp.sign(r)))
        settled = (jnp.sum(weights * inside) >= options.settled_points * u.shape[0]) & (lam <= options.initial_damping)
        share = jnp.where(settled, 0.0, majorise)
        curvature_weights = weights * jnp.where(inside, 1.0, share * delta / jnp.maximum(jnp.abs(r), 1e-300))
        matrix = jac.T @ (curvature_weights[:, None] * jac)
        diagonal = jnp.diag(matrix)
        damping = lam * jnp.max(diagonal) * jnp.ones_like(diagonal)
        trial = u - _solve_spd(matrix + jnp.diag(damping), gradient)
        # The certificate: on the exact objective (share 0), the undamped Gauss-Newton model
        # promises a decrease of g^T M^-1 g / 2 at most; below stall_tol * f the start has
        # converged (NaN when M is singular: no certificate).
        promised = 0.5 * gradient @ _solve_spd(matrix, gradient)
        converged = (share == 0.0) & (promised <= options.stall_tol * jnp.abs(f)) & ~done
        jac_trial, r_trial = residuals_and_jacobian(trial, data)
        f_trial = jnp.sum(weights * huber(r_trial, delta))
        kept = jnp.isfinite(f_trial) & (f_trial <= f) & ~done
        stuck = lam >= options.max_damping
        return (
            jnp.where(kept, trial, u),
            jnp.where(done, lam, jnp.where(kept, jnp.maximum(lam * options.shrink, 1e-15), lam * options.grow)),
            jnp.where(kept, f_trial, f),
            jnp.where(kept, jac_trial, jac),
            jnp.where(kept, r_trial, r),
            done | stuck | converged,
            certified | converged,
            iterations + jnp.where(done, 0, 1),
        )

    def chunk(u, lam, f, done, iterations, majorise, tolerance, weights, data):
        jac, r = residuals_and_jacobian(u, data)
        state = (u, lam, f, jac, r, done, jnp.zeros_like(done), iterations)
        state = jax.lax.fori_loop(0, options.chunk, lambda _, s: step(s, majorise, weights, data), state)
        u, lam, f_end, _, _, done, certified, iterations = state
        stalled = (f - f_end) <= tolerance * jnp.abs(f_end)
        return u, lam, f_end, done | stalled, certified, iterations

    batched = (0, 0, 0, 0, 0, 0, 0, 0, None)
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

    @float64
    def value(self, u: np.ndarray, weights: np.ndarray, data) -> np.ndarray:
        value = np.asarray(self._value(jnp.asarray(u), jnp.asarray(weights), data))
        return np.where(np.isfinite(value), value, np.inf)

    @float64
    def minimize(self, starts: np.ndarray, weights: np.ndarray, data, progress: Callable[[int, int], None] | None = None) -> SolverResult:
        u, weights = np.array(starts, dtype=float), np.asarray(weights, dtype=float)
        pool = _Pool(self.options, u, weights, self.value(u, weights, data), progress)
        devices = jax.local_devices()
        if len(devices) == 1:
            self._work(pool, None, data)
        else:  # a worker thread per device: each refills its device as soon as its block is back
            x64 = jax.config.jax_enable_x64  # JAX's x64 mode is per thread
            with ThreadPoolExecutor(len(devices)) as workers:
                try:
                    for finished in [workers.submit(self._work, pool, device, jax.device_put(data, device), x64) for device in devices]:
                        finished.result()
                except BaseException:  # Ctrl-C or a worker's error: the others stop after their chunk
                    pool.fail()
                    raise
        return pool.result()

    def _work(self, pool: "_Pool", device, data, x64: bool = True) -> None:
        """Chunks of blocks of starts on one device (None: the default one), one after another, until no start is left running."""
        with jax.enable_x64(x64):
            while (taken := pool.take()) is not None:
                active, inputs = taken
                try:
                    out = [np.asarray(x) for x in self._chunk(*(inputs if device is None else jax.device_put(inputs, device)), data)]
                except BaseException:
                    pool.fail()  # the other workers stop instead of waiting for this block
                    raise
                pool.give_back(active, out)


class _Pool:
    """Every start's state between chunks, and the starts still running, in order (a block takes the
    first ones, survivors go to the back); shared by the devices' workers under one lock."""

    def __init__(self, options: SolverOptions, u: np.ndarray, weights: np.ndarray, value: np.ndarray, progress):
        count = len(u)
        self.options, self.progress, self.count = options, progress, count
        self.size = min(_padded(count), options.block)  # the one compiled block shape of this fit
        self.u, self.weights, self.value = u, weights, value
        self.lam = np.full(count, options.initial_damping)
        self.done = ~np.isfinite(value)
        self.iterations = np.zeros(count, dtype=np.int64)
        self.capped = np.zeros(count, dtype=bool)
        self.certified = np.zeros(count, dtype=bool)  # stopped by the Gauss-Newton certificate: no polish
        self.majorise = np.ones(count)  # 1: IRLS on the majoriser; 0: the polish (Gauss-Newton on the inside points)
        self.tolerance = np.full(count, options.polish_tol)
        self.running = np.flatnonzero(~self.done)
        self.taken = 0  # starts in blocks taken and not yet given back
        self.failed = False
        self.turn = threading.Condition()

    def take(self) -> tuple[np.ndarray, tuple] | None:
        """(starts, the chunk's inputs for them, padded to the block) or None when none is left."""
        with self.turn:
            while not self.running.size and self.taken and not self.failed:  # survivors of a block out may come back
                self.turn.wait()
            if not self.running.size or self.failed:
                return None
            active, self.running = self.running[: self.size], self.running[self.size :]
            self.taken += active.size
            index = np.concatenate([active, np.repeat(active[:1], self.size - active.size)])  # a short tail is padded with copies
            return active, tuple(x[index] for x in (self.u, self.lam, self.value, self.done, self.iterations, self.majorise, self.tolerance, self.weights))

    def give_back(self, active: np.ndarray, out) -> None:
        """A chunk's outputs for `active`: a stalled majoriser phase goes on to the polish, the
        iteration cap stops a start, the survivors go to the back."""
        options = self.options
        with self.turn:
            self.u[active], self.lam[active], self.value[active], self.done[active], self.certified[active], self.iterations[active] = (x[: active.size] for x in out)
            polish = active[self.done[active] & ~self.certified[active] & (self.majorise[active] > 0) & (self.lam[active] < options.max_damping)]
            self.done[polish], self.majorise[polish], self.tolerance[polish] = False, 0.0, options.stall_tol
            self.lam[polish] = options.initial_damping
            self.capped[active] = ~self.done[active] & (self.iterations[active] >= options.max_iterations)
            self.done[active] |= self.capped[active]
            self.running = np.concatenate([self.running, active[~self.done[active]]])
            self.taken -= active.size
            if self.progress is not None:
                self.progress(self.count - self.running.size - self.taken, self.count)
            self.turn.notify_all()

    def fail(self) -> None:
        with self.turn:
            self.failed = True
            self.turn.notify_all()

    def result(self) -> SolverResult:
        finite = np.isfinite(self.value)
        return SolverResult(self.u, np.where(finite, self.value, np.inf), finite & ~self.capped, self.iterations)
