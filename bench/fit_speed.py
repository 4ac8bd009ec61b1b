"""Fit speed: curascale's batched fit versus a scipy L-BFGS-B loop over the same starts.

Chinchilla (docs/laws.md §1) on Epoch's 240 points from Epoch's grid of 4,500 starts, both in this
process. The reference is the plain loop of the Epoch replication: scipy.optimize.minimize with
method L-BFGS-B on a numpy sum-of-Huber objective (scipy's own finite-difference gradient).
Then a 1,000-draw bootstrap. Prints times, ratios and both best objectives.

    python bench/fit_speed.py [--scipy-starts N]   # N < 4500 times a seeded subset and scales up
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/chinchilla/chinchilla_NDL.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scipy-starts", type=int, default=4500)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    frame = pd.read_csv(DATA)
    frame = frame[frame["in_besiroglu_fit"] == 1].rename(columns={"N_params": "params", "D_tokens": "tokens"})

    from scaling.fit import fit
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    law = get_law("chinchilla")
    started = time.perf_counter()
    ours = fit(law, frame)
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = fit(law, frame)
    warm_seconds = time.perf_counter() - started
    assert again.objective == ours.objective

    # the same starts, in the law's coordinates (log A, log B, log E, alpha, beta)
    starts = Problem(law, Data.from_frame(law, frame)).start_grid()
    log_n, log_d, log_loss = np.log(frame["params"].to_numpy()), np.log(frame["tokens"].to_numpy()), np.log(frame["loss"].to_numpy())

    def objective(u):
        a, b, e, alpha, beta = u
        predicted = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
        return np.sum(huber(1e-3, predicted - log_loss))

    chosen = starts if args.scipy_starts >= len(starts) else starts[np.sort(np.random.default_rng(0).choice(len(starts), args.scipy_starts, replace=False))]
    started = time.perf_counter()
    values = [minimize(objective, start, method="L-BFGS-B").fun for start in chosen]
    scipy_seconds = (time.perf_counter() - started) * len(starts) / len(chosen)
    scipy_best = min(values)

    started = time.perf_counter()
    boot = fit(law, frame, bootstrap=args.bootstrap)
    bootstrap_seconds = time.perf_counter() - started - warm_seconds

    scaled = "" if len(chosen) == len(starts) else f" (timed on {len(chosen)} starts, scaled to {len(starts)})"
    print(f"starts: {len(starts)}; points: {len(frame)}")
    print(f"curascale fit, first call (compiles): {ours_seconds:8.2f} s  best objective {ours.objective:.12g}  ({ours.starts_at_best} starts at best)")
    print(f"curascale fit, compiled:              {warm_seconds:8.2f} s")
    print(f"scipy L-BFGS-B loop:                  {scipy_seconds:8.2f} s{scaled}  best objective {scipy_best:.12g}")
    print(f"speed-up: {scipy_seconds / ours_seconds:.1f}x (first call), {scipy_seconds / warm_seconds:.1f}x (compiled)")
    print(f"best objectives: relative difference (scipy - ours) / ours = {(scipy_best - ours.objective) / ours.objective:.3e}")
    print(f"bootstrap of {args.bootstrap} draws: {bootstrap_seconds:.2f} s; alpha interval {boot.intervals['alpha']}")


if __name__ == "__main__":
    main()
