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
