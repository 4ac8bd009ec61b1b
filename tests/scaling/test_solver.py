"""scaling.solver and scaling.jaxconf: the batched solver against independent minimisers, its
Cholesky against numpy, and float64 that stays inside curascale (a user's float32 JAX program in
the same process keeps its dtypes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scaling.jaxconf import float64
from scaling.solver import BatchedSolver, SolverOptions, _solve_spd, huber

ROOT = Path(__file__).resolve().parents[2]


def numpy_huber(r, delta):
    """Huber (1964), restated: quadratic within delta, linear outside."""
    return np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))


@pytest.mark.parametrize("size", [1, 2, 5, 12, 13, 20])
@float64
def test_cholesky_solve_matches_numpy(size):
    """Written-out (size <= 12) and library (larger) Cholesky solves agree with numpy.linalg.solve."""
    rng = np.random.default_rng(size)
    a = rng.normal(size=(size, size))
    matrix, vector = a @ a.T + size * np.eye(size), rng.normal(size=size)
    np.testing.assert_allclose(np.asarray(_solve_spd(matrix, vector)), np.linalg.solve(matrix, vector), rtol=1e-10, atol=1e-12)


@float64
def test_cholesky_is_written_out_up_to_its_size_limit():
    """Up to UNROLLED_CHOLESKY_MAX (12) coordinates the solve is written out in elementwise
    arithmetic (4x faster than the library's under vmap, measured in _solve_spd); above it the
    library's Cholesky is called."""
    import jax

    from scaling.solver import UNROLLED_CHOLESKY_MAX

    def program(size):
        return str(jax.make_jaxpr(_solve_spd)(np.eye(size), np.ones(size)))

    assert UNROLLED_CHOLESKY_MAX == 12
    assert "cholesky" not in program(12) and "cholesky" in program(13)


@float64
def test_huber_matches_its_definition():
    r = np.array([-0.5, -1e-3, -2e-4, 0.0, 3e-4, 1e-3, 2.0])
    np.testing.assert_allclose(np.asarray(huber(r, 1e-3)), numpy_huber(r, 1e-3), rtol=1e-15, atol=0)


def huber_line(x, y, delta, steps=5000):
    """The Huber regression line by plain IRLS in numpy (weights min(1, delta/|r|); the problem is
    convex and IRLS converges to its minimiser, Holland & Welsch 1977)."""
    design = np.stack([np.ones_like(x), x], axis=1)
    u = np.linalg.lstsq(design, y, rcond=None)[0]
    for _ in range(steps):
        r = design @ u - y
        w = np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        u = np.linalg.solve(design.T @ (w[:, None] * design), design.T @ (w * y))
    return u


def test_solver_finds_the_huber_line():
    """A straight line with outliers under Huber loss: every start reaches the IRLS minimum, and a
    second data set of the same shapes is solved by the same compiled solver."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 60)
    y = 0.3 + 1.7 * x + 0.01 * rng.standard_normal(60)
    y[::7] += 0.5  # outliers: Huber's linear arm matters
    delta = 0.02

    def residuals(u, data):
        return u[0] + u[1] * data["x"] - data["y"]

    solver = BatchedSolver(residuals, SolverOptions(delta=delta))
    starts = np.array([[0.0, 0.0], [5.0, -3.0], [-2.0, 10.0]])
    for target in (y, y[::-1]):
        expected = huber_line(x, target, delta)
        result = solver.minimize(starts, np.ones((3, 60)), {"x": x, "y": target})  # numpy float64
        assert result.converged.all()
        np.testing.assert_allclose(result.value, numpy_huber(expected[0] + expected[1] * x - target, delta).sum(), rtol=1e-10)
        np.testing.assert_allclose(result.u, np.tile(expected, (3, 1)), atol=1e-6)
        for a, b in result.u:  # the gradient of the numpy restatement vanishes there
            r = a + b * x - target
            slope = np.where(np.abs(r) <= delta, r, delta * np.sign(r))
            assert abs(slope.sum()) < 1e-6 and abs((slope * x).sum()) < 1e-6  # of order 1 at the starts


def test_a_pool_longer_than_the_block_compiles_one_shape():
    """140 starts in blocks of 128: the second call has at most 12 starts, padded with copies to the
    one compiled shape (a tail of 16 had a shape of its own before) (a cold process compiles the chunk once); the padding changes no result: every
    start reaches the IRLS minimum, with its own weights (each start drops a different point)."""
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 30)
    y = 0.3 + 1.7 * x + 0.01 * rng.standard_normal(30)
    delta = 0.02
    solver = BatchedSolver(lambda u, data: u[0] + u[1] * data["x"] - data["y"], SolverOptions(delta=delta, block=128))
    starts = rng.normal(scale=3.0, size=(140, 2))
    weights = np.ones((140, 30))
    weights[np.arange(140), np.arange(140) % 30] = 0.0  # start i leaves out point i mod 30
    result = solver.minimize(starts, weights, {"x": x, "y": y})
    assert solver._chunk._cache_size() == 1  # one compiled block shape, although 140 = 128 + 12
    assert result.converged.all()
    for left_out in (0, 13, 29):
        keep = np.arange(30) != left_out
        expected = huber_line(x[keep], y[keep], delta)
        rows = np.flatnonzero(np.arange(140) % 30 == left_out)
        np.testing.assert_allclose(result.u[rows], np.tile(expected, (len(rows), 1)), atol=1e-6)


def test_certificate_stops_a_converged_start_within_one_chunk():
    """Starts whose residuals all lie within delta take exact Gauss-Newton steps on a linear model:
    one step lands on the least-squares line (numpy's lstsq, the minimiser of 0.5 sum r^2), and the
    Newton-decrement certificate then stops the start inside its first chunk; without it a start
    needs a stalled chunk and a polish chunk (2 * chunk steps) before it counts as converged."""
    x = np.linspace(0, 1, 40)
    y = 0.3 + 1.7 * x + 1e-4 * np.sin(17 * x)  # residuals of the line stay far inside delta
    design = np.stack([np.ones_like(x), x], axis=1)
    line = np.linalg.lstsq(design, y, rcond=None)[0]
    options = SolverOptions(delta=0.02)
    solver = BatchedSolver(lambda u, data: u[0] + u[1] * data["x"] - data["y"], options)
    starts = line + np.array([[1e-3, -1e-3], [-2e-3, 1e-3]])
    result = solver.minimize(starts, np.ones((2, 40)), {"x": x, "y": y})
    assert result.converged.all() and (result.iterations <= options.chunk).all()
    np.testing.assert_allclose(result.u, np.tile(line, (2, 1)), atol=1e-9)
    np.testing.assert_allclose(result.value, 0.5 * np.sum((design @ line - y) ** 2), rtol=1e-9)


DEVICES_PROGRAM = """
import json, sys
import numpy as np
from scaling.jaxconf import use_cpu_cores
devices = use_cpu_cores(int(sys.argv[1]))
from scaling.solver import BatchedSolver, SolverOptions
rng = np.random.default_rng(1)
x = np.linspace(0, 1, 30)
y = 0.3 + 1.7 * x + 0.01 * rng.standard_normal(30)
y[::7] += 0.5
weights = np.ones((140, 30))
weights[np.arange(140), np.arange(140) % 30] = 0.0
solver = BatchedSolver(lambda u, data: u[0] + u[1] * data["x"] + 0.3 * u[1] ** 2 * data["x"] ** 2 - data["y"], SolverOptions(delta=0.02, block=16))
result = solver.minimize(rng.normal(scale=3.0, size=(140, 2)), weights, {"x": x, "y": y})
import jax
jax.numpy.ones(1) + 1
print(json.dumps({"devices": devices, "again": use_cpu_cores(5), "u": result.u.tolist(), "value": result.value.tolist(), "iterations": result.iterations.tolist()}))
"""


@pytest.mark.parametrize("devices", [2, 3])
def test_blocks_on_several_cpu_devices_give_the_same_bytes(devices):
    """`use_cpu_cores(k)` splits the CPU into k devices and the solver advances one block on each at
    once (140 starts in blocks of 16: 9 blocks; each device's worker takes the next block as its own
    comes back, so starts move between devices from chunk to chunk); every start's coordinates,
    objective and step count are the same bytes as on one device. Once JAX has computed, the count
    stays and no error is raised."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    run = lambda k: json.loads(subprocess.run([sys.executable, "-c", DEVICES_PROGRAM, str(k)], capture_output=True, text=True, env=env, timeout=600, check=True).stdout)
    one, several = run(1), run(devices)
    assert (one["devices"], one["again"], several["devices"], several["again"]) == (1, 1, devices, devices)
    assert several["u"] == one["u"] and several["value"] == one["value"] and several["iterations"] == one["iterations"]
    assert len(set(one["iterations"])) > 3  # starts finish at different chunks: the pool is reshuffled


FLOAT32_PROGRAM = """
import json, jax, jax.numpy as jnp, numpy as np, pandas as pd
before = bool(jax.config.jax_enable_x64)
mine = jnp.ones(3) / 3                                    # the user's float32 program
import curascale as cs
frame = pd.read_csv({csv!r})
frame = frame[frame["in_besiroglu_fit"] == 1].rename(columns={{"N_params": "params", "D_tokens": "tokens"}})
start = {{"A": 400.0, "B": 2000.0, "E": 1.8, "alpha": 0.34, "beta": 0.37}}
fitted = cs.fit("chinchilla", frame, initial=[start])
predicted = fitted.predict(frame.head(2))
after = jnp.ones(3) / 3
doubled = jax.jit(lambda v: v * 2)(mine)
print(json.dumps({{"before": before, "after_flag": bool(jax.config.jax_enable_x64), "mine": str(mine.dtype),
    "after": str(after.dtype), "jit": str(doubled.dtype), "objective": fitted.objective, "params": fitted.params,
    "predicted": str(predicted.dtype)}}))
"""


def test_curascale_leaves_a_float32_program_float32(datasets):
    """Importing and using curascale neither sets jax_enable_x64 nor changes the user's dtypes; its
    fit is still float64 and gives the Epoch replication's objective (Besiroglu et al. 2024)."""
    program = FLOAT32_PROGRAM.format(csv=str(datasets / "chinchilla/chinchilla_NDL.csv"))
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=600, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"] is False and seen["after_flag"] is False
    assert seen["mine"] == seen["after"] == seen["jit"] == "float32"
    assert seen["predicted"] == "float64"
    # float32 would lose these digits: the objective is a sum of 240 terms near 4e-6
    assert seen["objective"] == pytest.approx(0.0010182740, rel=1e-7)
    assert seen["params"]["E"] == pytest.approx(1.8172, abs=1e-4) and seen["params"]["alpha"] == pytest.approx(0.3473, abs=1e-4)


CACHE_PROGRAM = """
import json, sys, jax
from scaling.jaxconf import use_compilation_cache
path = use_compilation_cache(sys.argv[1])
print(json.dumps({"path": None if path is None else str(path), "dir": jax.config.jax_compilation_cache_dir}))
"""


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_unwritable_cache_directory_is_skipped(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        out = subprocess.run([sys.executable, "-c", CACHE_PROGRAM, str(locked / "jax")], capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(ROOT)}, check=True)
    finally:
        locked.chmod(0o700)
    assert json.loads(out.stdout) == {"path": None, "dir": None}


def test_cache_directory_follows_xdg(tmp_path):
    from scaling.jaxconf import cache_directory

    env = os.environ | {"PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from scaling.jaxconf import cache_directory as c; print(c())"], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == str(tmp_path / "curascale" / "jax")
    assert cache_directory().parts[-2:] == ("curascale", "jax")
    # a file where the cache folder should be: no cache, no error
    (tmp_path / "curascale").write_text("not a folder")
    out = subprocess.run([sys.executable, "-c", CACHE_PROGRAM, str(tmp_path / "curascale" / "jax")], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout)["path"] is None


# Small problems whose every step can be followed by hand: residuals r = design @ u - y, so the
# Jacobian is the design, and dyadic data keep every quantity exact in floating point.


def linear(u, data):
    return data["design"] @ u - data["y"]


def line_data(x, y):
    return {"design": np.stack([np.ones_like(x), x], axis=1), "y": y}


def constant_data(y):
    return {"design": np.ones((len(y), 1)), "y": np.asarray(y, dtype=float)}


def solve_one(data, start, options, **kwargs):
    solver = BatchedSolver(linear, options)
    return solver.minimize(np.array([start], dtype=float), np.ones((1, len(data["y"]))), data, **kwargs)


X8 = np.arange(8) * 0.25


@pytest.mark.parametrize(
    "data, start, delta, iterations",
    [
        # 8 points, 4 per coordinate, settle the start at once: the certificate (promised 0 <= 0) stops it
        (line_data(X8, 0.5 + 2.0 * X8), [0.5, 2.0], 0.02, 1),
        # 7 points are too few to settle: a chunk of null steps stalls (f - f_end = 0 <= 0), the polish's
        # first step certifies
        (line_data(X8[:7], 0.5 + 2.0 * X8[:7]), [0.5, 2.0], 0.02, 8 + 1),
        # the two points at |r| = delta exactly count as inside: 5 >= 4 settle, and g = 0 + 0 + 0 - 1 + 1 = 0
        (constant_data([0.0, 0.0, 0.0, 1.0, -1.0]), [0.0], 1.0, 1),
    ],
)
def test_a_start_at_a_stationary_point_stops_by_the_certificate(data, start, delta, iterations):
    """At a stationary point the gradient is exactly 0, so every step is a null step. A start
    settled at once (weighted points inside delta >= settled_points * P, damping at its initial
    value) is certified in its first step; one that is not settled runs a chunk, stalls, and its
    polish certifies it in one step. Either way the start keeps its point and its value."""
    options = SolverOptions(delta=delta)
    result = solve_one(data, start, options)
    r = data["design"] @ np.array(start) - data["y"]
    assert result.iterations.tolist() == [iterations] and result.converged.tolist() == [True]
    np.testing.assert_array_equal(result.u, [start])
    assert result.value.tolist() == [numpy_huber(r, delta).sum()]


@pytest.mark.parametrize(
    "options, iterations",
    [
        # exact damping: the majoriser keeps 8 null steps (f_trial == f); the polish's steps are 0/0
        # (no curvature on the linear arms), rejected, lam 1 -> 2 -> 4, and lam >= max_damping stops it
        # in its third step
        (SolverOptions(delta=0.25, initial_damping=1.0, shrink=0.5, grow=2.0, max_damping=4.0), 8 + 3),
        # default damping: lam grows 1e-3 -> 1e5 in the polish's chunk, never stuck; the chunk stalls
        # and a polished start is not polished again
        (SolverOptions(delta=0.25), 8 + 8),
    ],
)
def test_a_flat_minimum_keeps_null_steps_and_stops(options, iterations):
    """y = -1, 1 with delta 0.25 and u = 0: both points lie on Huber's linear arms with opposite
    slopes, so f is flat between them (f = 2 * 0.25 * (1 - 0.125) = 0.4375) and the gradient is
    exactly 0. A step that does not raise f is kept (f_trial <= f), so the majoriser's chunk keeps
    its null steps and stalls; the schedule then gives the counts above."""
    result = solve_one(constant_data([-1.0, 1.0]), [0.0], options)
    assert result.iterations.tolist() == [iterations] and result.converged.tolist() == [True]
    assert result.u.tolist() == [[0.0]] and result.value.tolist() == [0.4375]


def test_failed_steps_grow_the_damping_up_to_its_cap():
    """A residual whose Jacobian has the wrong sign (value u - 1, derivative -1): every step goes
    uphill and is rejected, so lam doubles 1 -> 2 -> 4 over a chunk of 2 and f does not move: the
    chunk stalls with lam = max_damping = 4, which is not below the cap, so the start is not
    polished: 2 steps, still at its start (f = 4 * 0.5 = 2)."""
    import jax

    def uphill(u, data):
        return 2.0 * jax.lax.stop_gradient(u[0]) - u[0] - data["y"]

    options = SolverOptions(delta=10.0, chunk=2, initial_damping=1.0, grow=2.0, max_damping=4.0)
    result = BatchedSolver(uphill, options).minimize(np.zeros((1, 1)), np.ones((1, 4)), {"y": np.ones(4)})
    assert result.iterations.tolist() == [2] and result.converged.tolist() == [True]
    assert result.u.tolist() == [[0.0]] and result.value.tolist() == [2.0]


QUADRATIC = constant_data([-1.0, -1.0, 1.0, 1.0])  # delta 10: f(u) = 0.5 sum (u - y)^2 = 2 + 2 u^2, g = 4u, M = 4


@pytest.mark.parametrize(
    "options, expected_u, iterations",
    [
        # settled at once (4 points inside, 4 >= 4): the Newton decrement g^2 / (2M) = 2u^2 = 2 equals
        # stall_tol * f = 0.5 * 4 at u = 1, so the certificate stops the start in its first step, which
        # is still taken: u - g / (M + lam M) with lam = 1e-3
        (SolverOptions(delta=10.0, stall_tol=0.5), 1.0 - 4.0 / (4.0 + 4.0 * 1e-3), 1),
        # never settled (8 > 4 points): with lam = 1 a step halves u (u - 4u / (4 + 4)); the chunk of one
        # step lowers f from 4 to 2.5, by 1.5 <= polish_tol * f_end = 0.75 * 2.5, so it stalls; the
        # polish's step from u = 0.5 (lam back to 1) is certified (decrement 0.5 <= 0.5 * 2.5) and lands
        # on 0.25
        (SolverOptions(delta=10.0, settled_points=8.0, chunk=1, initial_damping=1.0, shrink=0.5, polish_tol=0.75, stall_tol=0.5), 0.25, 2),
    ],
)
def test_stop_rules_on_a_quadratic_at_their_thresholds(options, expected_u, iterations):
    """Least squares on four points (all within delta): the stop rules' thresholds computed by hand."""
    result = solve_one(QUADRATIC, [1.0], options)
    assert result.iterations.tolist() == [iterations] and result.converged.tolist() == [True]
    np.testing.assert_allclose(result.u, [[expected_u]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.value, [2.0 + 2.0 * expected_u**2], rtol=1e-15)


def test_one_damped_majoriser_step_restated_in_numpy():
    """One chunk of one step, capped at one iteration: u1 = u0 - (M + lam max(diag M) I)^-1 g with
    M = J^T diag(w c) J, c = 1 inside delta and delta / |r| outside (the majoriser's curvature,
    Holland & Welsch 1977), restated in numpy; residuals inside delta, outside it below 1 and
    above 1, uneven weights. The start is integer (it is read as float) and the weights too (they
    are counts, as a bootstrap's are: the same single compiled chunk)."""
    design = np.array([[1.0, 0.0], [1.0, 0.5], [1.0, 1.0], [1.0, 1.5], [1.0, 2.0], [1.0, 3.0]])
    y = np.array([1.02, 1.3, 1.6, 1.95, 4.0, 0.5])
    weights = np.array([1, 2, 1, 3, 1, 2])
    delta, lam = 0.1, 0.5
    u0 = np.array([1, 0])
    r = design @ u0 - y
    assert (np.abs(r) <= delta).sum() == 1 and ((np.abs(r) > delta) & (np.abs(r) < 1)).sum() == 4 and (np.abs(r) > 1).sum() == 1
    c = np.where(np.abs(r) <= delta, 1.0, delta / np.abs(r))
    matrix = design.T @ ((weights * c)[:, None] * design)
    gradient = design.T @ (weights * np.where(np.abs(r) <= delta, r, delta * np.sign(r)))
    u1 = u0 - np.linalg.solve(matrix + lam * np.max(np.diag(matrix)) * np.eye(2), gradient)
    f0, f1 = ((weights * numpy_huber(design @ u - y, delta)).sum() for u in (u0, u1))
    assert f1 < f0  # the step is kept

    options = SolverOptions(delta=delta, chunk=1, max_iterations=1, initial_damping=lam)
    solver = BatchedSolver(linear, options)
    data = {"design": design, "y": y}
    result = solver.minimize(u0[None, :], weights[None, :].astype(float), data)
    np.testing.assert_allclose(result.u, [u1], rtol=0, atol=1e-13)
    np.testing.assert_allclose(result.value, [f1], rtol=1e-13)
    assert result.iterations.dtype == np.int64 and result.iterations.tolist() == [1]
    assert result.converged.tolist() == [False]  # stopped by the cap, not by a tolerance
    counted = solver.minimize(u0[None, :], weights[None, :], data)  # integer weights
    np.testing.assert_array_equal(counted.u, result.u)
    assert solver._chunk._cache_size() == 1 and solver._value._cache_size() == 1


def test_progress_reports_finished_starts_after_each_chunk():
    """y = 0, 0, 10 with delta 1: the Huber minimum is u = 0.5 (2u - 1 = 0, the outlier on its
    linear arm), f = 2 * 0.125 + (9.5 - 0.5) = 9.25. Only 2 points lie inside delta (< 4), so the
    start at 0 never settles: its majoriser steps contract u - 0.5 about 20-fold each (curvature
    2 + 1/9.5 against the slope's 2), the first chunk is not stalled, the second is (f moves by
    ~1e-22), and the polish's first Newton step is certified: 8 + 8 + 1 steps. The start at 0.5
    has g = 0.5 + 0.5 - 1 = 0: a stalled chunk of null steps and a certified polish step, 8 + 1.
    progress(finished, total) is called after each chunk: (0, 2), (1, 2), (2, 2)."""
    calls = []

    def progress(finished, total):
        calls.append((finished, total))
        assert len(calls) < 20, "the solver does not finish"

    solver = BatchedSolver(linear, SolverOptions(delta=1.0))
    result = solver.minimize(np.array([[0.0], [0.5]]), np.ones((2, 3)), constant_data([0.0, 0.0, 10.0]), progress=progress)
    assert result.iterations.tolist() == [17, 9] and result.converged.all()
    np.testing.assert_allclose(result.u, [[0.5], [0.5]], atol=1e-12)
    np.testing.assert_allclose(result.value, [9.25, 9.25], rtol=1e-15)
    assert calls == [(0, 2), (1, 2), (2, 2)]


def test_a_pool_is_padded_to_the_next_power_of_two():
    """The block of a pool of n starts (up to the block size) is the smallest power of two >= n."""
    from scaling.solver import _padded

    assert [_padded(n) for n in range(1, 300)] == [1 << (n - 1).bit_length() for n in range(1, 300)]
