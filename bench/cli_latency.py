"""CLI latency: `plan-curation --compute 128M` against `python -c "import jax, numpy"`, and a
100-point sweep. Each command runs several times; the medians and their ratio are printed."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time


def median_seconds(command: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    planner = shutil.which("plan-curation")
    if planner is None:
        sys.exit("plan-curation is not on PATH: pip install the project first")
    reference = median_seconds([sys.executable, "-c", "import jax, numpy"])
    plan = median_seconds([planner, "--compute", "128M"])
    sweep = median_seconds([planner, "--compute", "128M", "--sweep", "12.8M:1.28B", "--sweep-points", "100"])
    print(f"python -c 'import jax, numpy':  {reference:.2f} s")
    print(f"plan-curation --compute 128M:    {plan:.2f} s  ratio {plan / reference:.2f} (goal <= 2)")
    print(f"100-point --sweep:               {sweep:.2f} s")


if __name__ == "__main__":
    main()
