"""Where the regret of the data scenario of `bench/pilot_design.py` comes from: the same
worlds, initial runs, pilots and noise (seeds 0..n-1), each strategy's pilots refitted by the
study's team (`scaling.fit.fit`, plain least squares: the plug-in plan) and also planned from the
posterior mode under the law's weak prior (`scaling.design.laplace_posterior`, the belief the
design works with: a Bayesian team). Per strategy: mean regret ± s.e. of both teams, the seeds whose
plug-in refit has a runaway half-life (above 100 or below 0.5 epochs; the published ones are 2 to
9) and the share of the plug-in regret in those seeds; and how many seeds give the Bayesian team
the same regret whatever the strategy (the pilots do not change its decision).

    python bench/pilot_design_diagnosis.py [--seeds 20] [--truths 128] [--scenario data]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pilot_design as study  # noqa: E402
from scaling.design import design, laplace_posterior  # noqa: E402

RUNAWAY = (0.5, 100.0)  # half-lives (epochs) outside these are a fit running off, not a measurement
FRACTIONS = (0.5, 1.0)


def one_seed(scenario, seed: int, truths: int) -> dict:
    """{strategy: (plug-in regret, Bayesian-team regret, runaway half-life in the refit)}."""
    truth, frame, team, problem = study.starting_point(scenario, seed, truths)
    specs, names = [dict(p.spec) for p in problem.pilots], [p.name for p in problem.pilots]
    pilot_log = scenario.log_metric(truth, specs) + study.NOISE * np.random.default_rng(20_000 + seed).standard_normal(len(specs))
    picks = {"none": [], **scenario.grid(problem), "random": study.random_pilots(problem, scenario.pilot_budget, np.random.default_rng(10_000 + seed))}
    for fraction in FRACTIONS:
        picks[f"design@{fraction:g}"] = [names.index(s.pilot) for s in design(problem, fraction * scenario.pilot_budget, replicates=1, seed=seed).batch]
    row = {}
    for name, chosen in picks.items():
        runs = frame if not chosen else pd.concat([frame, scenario.runs([specs[i] for i in chosen], pilot_log[chosen])], ignore_index=True)
        plug_in = team if not chosen else scenario.refit(runs)
        half_lives = [v for k, v in plug_in.params.items() if "half_life" in k]
        bayes = study._with_params(plug_in, laplace_posterior(plug_in, runs, noise=study.NOISE).mode_params())
        runaway = bool(half_lives) and (max(half_lives) > RUNAWAY[1] or min(half_lives) < RUNAWAY[0])
        row[name] = (scenario.regret(truth, plug_in)[0], scenario.regret(truth, bayes)[0], runaway)
    return row


def summary_lines(rows: list[dict]) -> list[str]:
    lines = [f"{'strategy':<14}{'plug-in regret':>22}{'Bayesian-team regret':>24}{'runaway seeds':>15}{'plug-in regret in them':>24}"]
    for name in rows[0]:
        plug_in, bayes, runaway = (np.array(v) for v in zip(*(r[name] for r in rows)))
        runaway = runaway.astype(bool)
        se = lambda x: x.std(ddof=1) / np.sqrt(len(x))  # noqa: E731
        share = plug_in[runaway].sum() / plug_in.sum() if plug_in.sum() > 0 else 0.0
        lines.append(f"{name:<14}{plug_in.mean():>14.4f} ± {se(plug_in):.4f}{bayes.mean():>16.4f} ± {se(bayes):.4f}{runaway.sum():>15d}{share:>24.0%}")
    same = sum(len({r[name][1] for name in r}) == 1 for r in rows)
    lines.append(f"the Bayesian team's regret is the same for every strategy in {same} of {len(rows)} seeds")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--truths", type=int, default=128)
    parser.add_argument("--scenario", choices=tuple(study.SCENARIOS), default="data")
    args = parser.parse_args()
    from scaling.jaxconf import use_compilation_cache

    use_compilation_cache()  # the refits repeat a few shapes
    scenario = study.SCENARIOS[args.scenario]()
    rows = []
    for seed in range(args.seeds):
        rows.append(one_seed(scenario, seed, args.truths))
        print(f"seed {seed}: " + json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("\n".join(summary_lines(rows)))


if __name__ == "__main__":
    main()
