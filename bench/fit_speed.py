"""Fit speed: curascale's batched fit versus plain scipy L-BFGS-B loops over the same starts.

Chinchilla (docs/laws.md §1) on Epoch's 240 points (Besiroglu et al. 2024 drop the 5 highest-loss runs:
`in_besiroglu_fit`) from Epoch's grid of 4,500 starts; then Li et al. 2025's 261 final checkpoints
(the same law and grid). All sides run in this one process, one after another, so a loaded machine
slows them alike. The references are what a competent engineer writes in an afternoon:

- headline: scipy.optimize.minimize(method="L-BFGS-B") per start, with the analytic gradient of
  sum Huber_delta(LSE(a - alpha log N, b - beta log D, e) - log L), delta = 1e-3, in numpy
  (checked once against central finite differences);
- second: the same loop with scipy's finite-difference gradient (the loop of the Epoch
  replication), timed on a seeded subset of starts and scaled up (labelled).

curascale is timed as a whole process (`curascale fit chinchilla --csv ... --json` in a fresh
interpreter: imports and compilation included), first with an empty compilation cache and then
with the cache the first run left, and in-process once compiled. Then a 1,000-draw bootstrap.
curascale uses every core (one block of starts per core, `scaling.jaxconf.use_cpu_cores`), the
scipy loops one: the CPU-second ratios compare the work, the wall ratios what a user waits. A
process that only imports and reads the CSV is timed too: the reference's time over it is the
ceiling of any whole-process ratio on this machine.

    python bench/fit_speed.py [--scipy-starts N] [--fd-starts N] [--skip-li]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The scipy loops run one start after another on 240-point arrays: BLAS threads only spin. On a
# shared machine they did worse: 30 starts took 5.16 CPU s and 52 s wall with OpenBLAS's default
# threads, 0.12 CPU s and 1.4 s wall with one (2026-11-29, load 13). One thread is the strong loop.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np
import pandas as pd
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
from curascale.datasets import data_root

DATASETS = data_root()  # the public run data shipped inside the package
if not DATASETS.exists():
    DATASETS = Path("/work/shared/datasets")
DELTA = 1e-3
AT_BEST_RTOL = 1e-9  # as scaling.fit counts starts at the best


def chinchilla_frame() -> pd.DataFrame:
    frame = pd.read_csv(DATASETS / "chinchilla/chinchilla_NDL.csv")
    return frame[frame["in_besiroglu_fit"] == 1].rename(columns={"N_params": "params", "D_tokens": "tokens"})[["params", "tokens", "loss"]]


def li_frame() -> pd.DataFrame:
    frame = pd.read_csv(DATASETS / "misfitting_li2025/scaling_results_last_ckpt_only.csv")
    return frame.rename(columns={"N": "params", "D": "tokens"})[["params", "tokens", "loss"]]


def huber_objective(log_n, log_d, log_loss):
    """The objective and its analytic gradient in (a, b, e, alpha, beta), a = log A etc.

    Written for speed as a competent engineer would (numpy, arrays of the data precomputed once):
    the log-sum-exp shifted by its largest term by hand, Huber's derivative as a clip, sums as dot
    products. The first version used scipy.special.logsumexp and softmax on a stacked [3, 240]
    array: the same numbers (2e-15 relative) at 245 us a call instead of 29 us, which made this
    loop 4x slower than it need be (measured 2026-11-29: 3.12 vs 0.78 CPU s for 150 starts)."""

    def value_and_gradient(u):
        a, b, e, alpha, beta = u
        t0 = a - alpha * log_n
        t1 = b - beta * log_d
        m = np.maximum(np.maximum(t0, t1), e)
        x0, x1, x2 = np.exp(t0 - m), np.exp(t1 - m), np.exp(e - m)  # softmax shares times s
        s = x0 + x1 + x2
        r = m + np.log(s) - log_loss
        slope = np.clip(r, -DELTA, DELTA)  # Huber's derivative
        value = np.dot(slope, r - 0.5 * slope)  # = 0.5 r^2 inside delta, delta (|r| - delta / 2) outside
        w = slope / s
        w0, w1 = w * x0, w * x1
        return value, np.array([w0.sum(), w1.sum(), np.dot(w, x2), -np.dot(w0, log_n), -np.dot(w1, log_d)])

    return value_and_gradient


def check_gradient(value_and_gradient, points: np.ndarray) -> float:
    """Largest relative difference between the analytic gradient and central differences."""
    worst = 0.0
    for u in points:
        _, analytic = value_and_gradient(u)
        numeric = np.array([(value_and_gradient(u + h)[0] - value_and_gradient(u - h)[0]) / (2 * 1e-6) for h in 1e-6 * np.eye(5)])
        worst = max(worst, float(np.max(np.abs(analytic - numeric)) / max(np.max(np.abs(analytic)), 1e-12)))
    return worst


class Clock:
    """Wall seconds and CPU seconds (this process and its finished children, all threads): on a
    shared machine the wall clock measures the neighbours too, CPU time measures the work."""

    def __enter__(self):
        self._start = (time.perf_counter(), self._cpu())
        return self

    def __exit__(self, *_):
        self.wall, self.cpu = time.perf_counter() - self._start[0], self._cpu() - self._start[1]

    @staticmethod
    def _cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def scaled(self, factor: float) -> "Clock":
        self.wall, self.cpu = self.wall * factor, self.cpu * factor
        return self

    def __str__(self) -> str:
        return f"{self.wall:9.2f} s wall {self.cpu:9.2f} s CPU"


def scipy_loop(value_and_gradient, starts: np.ndarray, *, analytic: bool):
    with Clock() as clock:
        if analytic:
            values = [minimize(value_and_gradient, s, jac=True, method="L-BFGS-B").fun for s in starts]
        else:
            values = [minimize(lambda u: value_and_gradient(u)[0], s, method="L-BFGS-B").fun for s in starts]
    return clock, np.asarray(values)


def subset(starts: np.ndarray, count: int) -> np.ndarray:
    if count >= len(starts):
        return starts
    return starts[np.sort(np.random.default_rng(0).choice(len(starts), count, replace=False))]


def cli_fit(csv: Path, cache_home: str) -> tuple[Clock, dict]:
    """Times of `curascale fit chinchilla --csv CSV --json` in a fresh interpreter."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": cache_home}
    command = [sys.executable, "-c", "from curascale.cli.app import main; main()", "fit", "chinchilla", "--csv", str(csv), "--json"]
    with Clock() as clock:
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return clock, json.loads(out.stdout)


def process_floor(csv: Path) -> Clock:
    """A fresh interpreter that imports what `curascale fit` imports and reads the CSV as it does,
    but solves nothing: what the whole process costs before its first start (the ceiling of any
    whole-process ratio is the reference's time over this). The fastest of three, by wall time."""
    code = ("from pathlib import Path; from curascale.cli.app import main; from scaling.frames import load_frame; "
            "from scaling.laws import get_law; import scaling.fit; "
            f"load_frame(get_law('chinchilla'), db=None, where=None, csv=Path({str(csv)!r}), mapping={{}}, split=None, task=None)")
    clocks = []
    for _ in range(3):
        with Clock() as clock:
            subprocess.run([sys.executable, "-c", code], check=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
        clocks.append(clock)
    return min(clocks, key=lambda clock: clock.wall)


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes) and core count: a shared machine's wall times need them."""
    return "load {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


def at_best(values: np.ndarray, best: float) -> int:
    return int(np.sum(values <= best * (1 + AT_BEST_RTOL)))


def compare(name: str, frame: pd.DataFrame, args, workdir: Path) -> None:
    from scaling.fit import fit
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    law = get_law("chinchilla")
    starts = Problem(law, Data.from_frame(law, frame)).start_grid()
    csv = workdir / f"{name}.csv"
    # a run_id per row: rows repeating another exactly (Li et al. has 21 once reduced to N, D, loss) stay
    # separate points, as they are in the in-process fit and the scipy loops
    frame.assign(run_id=[f"run{i}" for i in range(len(frame))]).to_csv(csv, index=False)

    cache_home = tempfile.mkdtemp(dir=workdir)
    floor = process_floor(csv)
    cold_time, cold = cli_fit(csv, cache_home)  # empty compilation cache: compiles
    cached_time, cached = cli_fit(csv, cache_home)  # a fresh process, the cache of the first
    fit(law, frame)  # compile in this process
    with Clock() as warm_time:
        ours = fit(law, frame)
    assert cold["objective"] == cached["objective"], "two CLI processes must give the same bytes"
    # the CLI reads the CSV through the ingest validator, pandas' default float parser may differ from it by an ulp
    assert abs(cold["objective"] - ours.objective) <= 1e-12 * ours.objective, (cold["objective"], ours.objective)

    value_and_gradient = huber_objective(*(np.log(frame[c].to_numpy()) for c in ("params", "tokens", "loss")))
    gradient_error = check_gradient(value_and_gradient, starts[:: len(starts) // 5][:5])
    chosen = subset(starts, args.scipy_starts)
    analytic_time, analytic_values = scipy_loop(value_and_gradient, chosen, analytic=True)
    analytic_time.scaled(len(starts) / len(chosen))
    fd_chosen = subset(starts, args.fd_starts)
    fd_time, fd_values = scipy_loop(value_and_gradient, fd_chosen, analytic=False)
    fd_time.scaled(len(starts) / len(fd_chosen))

    scaled = lambda chosen: "" if len(chosen) == len(starts) else f"  (timed on {len(chosen)} seeded starts, scaled to {len(starts)})"
    best = min(ours.objective, analytic_values.min())
    print(f"== {name}: {len(frame)} points, {len(starts)} starts; analytic gradient vs central differences: max relative difference {gradient_error:.1e}; {load()}")
    print(f"curascale fit, whole process, empty compile cache: {cold_time}")
    print(f"curascale fit, whole process, compile cache warm:  {cached_time}")
    print(f"curascale fit, in process, compiled:               {warm_time}")
    print(f"a process that imports and reads the CSV, no solve:{floor}  (fastest of 3)")
    print(f"scipy L-BFGS-B, analytic gradient:                 {analytic_time}{scaled(chosen)}")
    print(f"scipy L-BFGS-B, finite differences:                {fd_time}{scaled(fd_chosen)}")
    print(f"headline: whole process (empty compile cache) vs the analytic-gradient loop: {analytic_time.cpu / cold_time.cpu:.1f}x CPU, "
          f"{analytic_time.wall / cold_time.wall:.1f}x wall; with the cache warm {analytic_time.cpu / cached_time.cpu:.1f}x CPU, {analytic_time.wall / cached_time.wall:.1f}x wall")
    print(f"ceiling: with a solve of no time at all, a whole process would be {analytic_time.cpu / floor.cpu:.1f}x CPU, {analytic_time.wall / floor.wall:.1f}x wall the analytic-gradient loop")
    for unit in ("wall", "cpu"):
        ratio = lambda reference, ours: f"{getattr(reference, unit) / getattr(ours, unit):.1f}x"
        print(f"speed-up ({unit}) vs analytic-gradient loop: {ratio(analytic_time, cold_time)} whole process (empty cache), "
              f"{ratio(analytic_time, cached_time)} whole process (warm cache), {ratio(analytic_time, warm_time)} in process; "
              f"vs finite-difference loop: {ratio(fd_time, cold_time)} whole process (empty cache), {ratio(fd_time, warm_time)} in process")
    print(f"best objective: curascale {ours.objective:.12g}, scipy analytic {analytic_values.min():.12g} "
          f"(relative difference {(analytic_values.min() - ours.objective) / ours.objective:+.2e}), scipy finite differences {fd_values.min():.12g}")
    print(f"starts within {AT_BEST_RTOL:g} of the best: curascale {ours.starts_at_best} of {len(starts)}, scipy analytic {at_best(analytic_values, best)} of {len(chosen)}, "
          f"scipy finite differences {at_best(fd_values, best)} of {len(fd_chosen)}; within 1e-6: scipy analytic {int(np.sum(analytic_values <= best * (1 + 1e-6)))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scipy-starts", type=int, default=4500, help="starts of the analytic-gradient loop (fewer: a seeded subset, scaled up)")
    parser.add_argument("--fd-starts", type=int, default=450, help="starts of the finite-difference loop (a seeded subset, scaled up)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--skip-li", action="store_true")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each result as soon as it is measured
    from scaling.jaxconf import use_cpu_cores

    devices = use_cpu_cores()  # as `curascale fit` does, so the in-process times are the command's
    print(f"curascale runs blocks of starts on {devices} CPU device(s); the scipy loops use one core")

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        compare("Chinchilla (Epoch)", chinchilla_frame(), args, workdir)
        if not args.skip_li:
            compare("Li et al. 2025", li_frame(), args, workdir)

    from scaling.fit import fit

    frame = chinchilla_frame()
    with Clock() as plain:
        fit("chinchilla", frame)
    with Clock() as first:
        boot = fit("chinchilla", frame, bootstrap=args.bootstrap)
    with Clock() as again:
        fit("chinchilla", frame, bootstrap=args.bootstrap)
    print(f"== bootstrap of {args.bootstrap} draws (4 seeds each), beyond the fit's own time ({plain}): "
          f"{first.wall - plain.wall:.2f} s wall {first.cpu - plain.cpu:.2f} s CPU first (compiles), "
          f"{again.wall - plain.wall:.2f} s wall {again.cpu - plain.cpu:.2f} s CPU compiled; alpha interval {boot.intervals['alpha']}; {load()}")

if __name__ == "__main__":
    main()
