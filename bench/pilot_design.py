"""Simulation study of `scaling.design`: do designed pilots lead to better plans than a grid or random
pilots of the same compute?

    python bench/pilot_design.py [--seeds 50] [--scenario data|chinchilla|both] [--json out.json]

For each seed a synthetic world (the truth) is drawn around a published fit; the team knows what a
few initial pilots told it, holds its belief as weighted particles (other draws from the same
distribution: the world is never one of them), adds pilots chosen by

    design  the greedy batch of `scaling.design.design` on the team's particles and weights
    grid    the uniform grid a team would train without a design (below)
    random  pilots drawn at random from the same candidate grid until no other fits

each within the same pilot compute, observes them in the world (log metric + noise), updates its
particles by their likelihood (`scaling.design.kernel_width`, as the design assumes) and chooses the
plan of least posterior-mean metric. Reported per strategy over seeds: the regret of that choice
in the world (metric units), how often it is the world's best plan, and the compute spent; and the
share of the pilot budget the design needs for the grid's (and random's) final mean regret
(log-interpolated between the design's regrets at 1/8, 1/4, 1/2 and all of the budget).

Worlds:
- data  (LAWS.md §3, reference/tmars-imagenet-utility): utilities b_i x exp(0.1 z), half-lives
        tau_i x exp(0.4 z) for the four nested T-MARS buckets, a and d as published; decision:
        top10..top40 for 1.28B samples seen. Initial pilots: every bucket for one epoch (12.8M),
        which pins b_i (the team's particles take b_i from inverting the observed error, with its
        noise, and tau_i from the prior: a 1-epoch pilot says nothing about a half-life). Grid: every
        bucket for the same samples, pilot budget / 4 (one more epoch each). Pilot budget 51.2M.
- chinchilla (LAWS.md §1, Epoch AI fit with its bootstrap SEs, lognormal for A and B): decision: N
        on the iso-FLOP line at 1e22 FLOPs. Initial pilots: N = 20M, 40M, 80M at 20 tokens per
        parameter; the team's particles are draws of the same distribution weighted by them. Grid:
        the 20-tokens-per-parameter pilots of every candidate size, largest first, while they fit.
        Pilot budget 3e19 FLOPs.
Noise: sd 0.01 of the log metric.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.design import DesignProblem, Truths, data_problem, design, kernel_width, model_problem  # noqa: E402
from scaling.reference import load_fit  # noqa: E402

NOISE = 0.01
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


@dataclass
class Scenario:
    name: str
    budget: float
    pilot_budget: float
    belief: object  # (world params, rng) -> (particles, weights) after the initial pilots
    world: object  # rng -> params
    problem: object  # Truths -> DesignProblem
    grid: object  # DesignProblem -> [pilot indices]


# ---- data filtering (LAWS.md §3) ----------------------------------------------------------------
def data_scenario(particles: int) -> Scenario:
    fit = load_fit("reference/tmars-imagenet-utility")
    nested = list(fit.metadata["nested_buckets"])
    size = 12.8e6
    budget, pilot_budget = 1.28e9, 4 * size

    def world(rng):
        params = dict(fit.params)
        for b in nested:
            params[f"utility[{b}]"] *= np.exp(0.1 * rng.standard_normal())
            params[f"utility_half_life[{b}]"] *= np.exp(0.4 * rng.standard_normal())
        return params

    def belief(truth, rng):
        # one epoch of bucket i: y = (a S / 1e5)^b_i + d exactly (no repetition), so the observed
        # error gives b_i; its sd follows from the noise by the delta method
        scale, irreducible = fit.params["sample_scale"], fit.params["irreducible_error"]
        log_n = np.log(scale * size / 1e5)
        draws = []
        observed = {}
        for b in nested:
            clean = np.exp(truth[f"utility[{b}]"] * log_n) + irreducible
            y = clean * np.exp(NOISE * rng.standard_normal())
            estimate = np.log(max(y - irreducible, 1e-9)) / log_n
            sd = NOISE * y / ((y - irreducible) * log_n)
            observed[b] = (estimate, abs(sd))
        for _ in range(particles):
            params = dict(fit.params)
            for b in nested:
                estimate, sd = observed[b]
                params[f"utility[{b}]"] = min(estimate + sd * rng.standard_normal(), -1e-4)
                params[f"utility_half_life[{b}]"] = fit.params[f"utility_half_life[{b}]"] * np.exp(0.4 * rng.standard_normal())
            draws.append(params)
        return draws, np.full(particles, 1.0 / particles)

    def problem(truths):
        return data_problem(fit, truths, budget, pilot_budget)

    def grid(problem):
        share = pilot_budget / len(nested)
        return [i for i, p in enumerate(problem.pilots) if p.spec["pool"] in nested and abs(p.spec["samples"] - share) < 1e-6 * share]

    return Scenario("data filtering (T-MARS, 1.28B samples)", budget, pilot_budget, belief, world, problem, grid)


# ---- Chinchilla (LAWS.md §1) --------------------------------------------------------------------
def chinchilla_scenario(particles: int) -> Scenario:
    fit = load_fit("reference/chinchilla-epoch")
    budget, pilot_budget = 1e22, 3e19
    initial = [(n, 20 * n) for n in (20e6, 40e6, 80e6)]
    centre = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
    se = {"A": 124.5, "B": 1293.0, "E": 0.0257, "alpha": 0.0154, "beta": 0.0206}

    def world(rng):
        params = {k: centre[k] + se[k] * rng.standard_normal() for k in ("E", "alpha", "beta")}
        for k in ("A", "B"):  # lognormal with the published mean and SE
            sigma = np.sqrt(np.log1p((se[k] / centre[k]) ** 2))
            params[k] = centre[k] * np.exp(sigma * rng.standard_normal() - sigma**2 / 2)
        return params

    def belief(truth, rng):
        draws = [world(rng) for _ in range(particles)]
        outcome = lambda params: np.log(np.array([params["E"] + params["A"] / n ** params["alpha"] + params["B"] / d ** params["beta"] for n, d in initial]))
        observed = outcome(truth) + NOISE * rng.standard_normal(len(initial))
        log_w = np.array([-0.5 * np.sum(((observed - outcome(p)) / NOISE) ** 2) for p in draws])
        weights = np.exp(log_w - log_w.max())
        return draws, weights / weights.sum()

    def problem(truths):
        return model_problem(fit, truths, budget, pilot_budget)

    def grid(problem):
        ordered = sorted((i for i, p in enumerate(problem.pilots) if abs(p.spec["tokens"] / p.spec["params"] - 20) < 1e-6), key=lambda i: -problem.pilots[i].cost)
        chosen, spent = [], 0.0
        for i in ordered:
            if spent + problem.pilots[i].cost <= pilot_budget:
                chosen.append(i)
                spent += problem.pilots[i].cost
        return chosen

    return Scenario("Chinchilla (N at 1e22 FLOPs)", budget, pilot_budget, belief, world, problem, grid)


# ---- the study ------------------------------------------------------------------------------------
def random_pilots(problem: DesignProblem, budget: float, rng) -> list[int]:
    chosen, spent = [], 0.0
    for i in rng.permutation(len(problem.pilots)):
        if spent + problem.pilots[i].cost <= budget:
            chosen.append(int(i))
            spent += problem.pilots[i].cost
    return chosen


def run(scenario: Scenario, seeds: int, particles: int, replicates: int) -> dict:
    rows = {name: [] for name in ["none", "grid", "random", *(f"design@{f:g}" for f in FRACTIONS)]}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        truth = scenario.world(rng)
        draws, weights = scenario.belief(truth, rng)
        keep = weights > 1e-3 * weights.max()  # particles the initial pilots have not ruled out
        team = scenario.problem(Truths(tuple(d for d, k in zip(draws, keep) if k), weights[keep] / weights[keep].sum(), NOISE, "particles"))
        world = scenario.problem(Truths((truth,), np.ones(1), NOISE, "world"))
        names = [p.name for p in team.pilots]
        picks = {"none": [], "grid": scenario.grid(team), "random": random_pilots(team, scenario.pilot_budget, np.random.default_rng(10_000 + seed))}
        for fraction in FRACTIONS:
            chosen = design(team, fraction * scenario.pilot_budget, replicates=replicates, seed=seed)
            picks[f"design@{fraction:g}"] = [names.index(step.pilot) for step in chosen.batch]
        observe = np.random.default_rng(20_000 + seed)
        noise = observe.standard_normal(len(names))  # the world's noise on each pilot, the same whoever picks it
        for name, chosen in picks.items():
            regret, right, cost = _observe(team, world, chosen, noise)
            rows[name].append((regret, right, cost))
    summary = {}
    for name, values in rows.items():
        regret, right, cost = (np.array(v, dtype=float) for v in zip(*values))
        summary[name] = {"mean_regret": float(regret.mean()), "se_regret": float(regret.std(ddof=1) / np.sqrt(len(regret))),
                         "right_plan": float(right.mean()), "mean_cost": float(cost.mean())}
    design_regret = np.array([r for r, _, _ in rows[f"design@{FRACTIONS[-1]:g}"]])
    for name in ("grid", "random"):
        gap = np.array([r for r, _, _ in rows[name]]) - design_regret  # paired by seed: same world, same noise
        summary[f"{name}_minus_design"] = {"mean": float(gap.mean()), "se": float(gap.std(ddof=1) / np.sqrt(len(gap))), "design_better_seeds": int(np.sum(gap > 0)), "design_worse_seeds": int(np.sum(gap < 0))}
    summary["design_compute_for_grid_regret"] = compute_ratio(summary, "grid")
    summary["design_compute_for_random_regret"] = compute_ratio(summary, "random")
    return summary


def _observe(team, world, chosen, noise):
    """Observe `chosen` in the world (the seed's noise per pilot: common random numbers across
    strategies), update the team's particles, decide: (regret, right plan, cost)."""
    log_w = np.log(team.weights)
    if chosen:
        observed = world.log_outcome[0, chosen] + NOISE * noise[chosen]
        widths = kernel_width(team.log_outcome, team.weights, team.noise)[chosen]
        log_w = log_w - 0.5 * np.sum(((observed[None, :] - team.log_outcome[:, chosen]) / widths) ** 2, axis=1)
    w = np.exp(log_w - log_w.max())
    choice = int(np.argmin((w / w.sum()) @ team.metric))
    truth = world.metric[0]
    return float(truth[choice] - truth.min()), bool(choice == int(np.argmin(truth))), float(sum(team.pilots[i].cost for i in chosen))


def compute_ratio(summary: dict, strategy: str) -> float | None:
    """Smallest share of the pilot budget at which the design's mean regret reaches `strategy`'s
    with the whole budget (log-linear interpolation between the measured shares; the smallest
    share when it already does); None if even the full budget does not."""
    target = summary[strategy]["mean_regret"]
    regrets = [summary[f"design@{f:g}"]["mean_regret"] for f in FRACTIONS]
    if regrets[0] <= target:
        return FRACTIONS[0]
    for (f0, r0), (f1, r1) in zip(zip(FRACTIONS, regrets), zip(FRACTIONS[1:], regrets[1:])):
        if r1 <= target:
            share = (r0 - target) / (r0 - r1) if r0 != r1 else 1.0
            return float(np.exp(np.log(f0) + share * (np.log(f1) - np.log(f0))))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--particles", type=int, default=None, help="team particles (default: 256 data, 2048 chinchilla)")
    parser.add_argument("--replicates", type=int, default=1, help="simulated outcomes per particle in the design")
    parser.add_argument("--scenario", choices=("data", "chinchilla", "both"), default="both")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    scenarios = {"data": data_scenario, "chinchilla": chinchilla_scenario}
    chosen = list(scenarios) if args.scenario == "both" else [args.scenario]
    report = {}
    for key in chosen:
        particles = args.particles or {"data": 256, "chinchilla": 2048}[key]
        scenario = scenarios[key](particles)
        start = time.perf_counter()
        summary = run(scenario, args.seeds, particles, args.replicates)
        summary["seconds"] = time.perf_counter() - start
        report[key] = summary
        print(f"\n{scenario.name}: {args.seeds} seeds, {particles} particles, pilot budget {scenario.pilot_budget:.3g} ({summary['seconds']:.0f} s)")
        print(f"{'strategy':<14}{'mean regret':>14}{'± se':>10}{'right plan':>12}{'pilot compute':>15}")
        for name, row in summary.items():
            if isinstance(row, dict) and "mean_regret" in row:
                print(f"{name:<14}{row['mean_regret']:>14.5f}{row['se_regret']:>10.5f}{row['right_plan']:>12.0%}{row['mean_cost']:>15.3g}")
        for name in ("grid", "random"):
            gap = summary[f"{name}_minus_design"]
            print(f"{name} - design regret, paired by seed: {gap['mean']:.5f} ± {gap['se']:.5f} (design better in {gap['design_better_seeds']} seeds, worse in {gap['design_worse_seeds']})")
        for name in ("grid", "random"):
            ratio = summary[f"design_compute_for_{name}_regret"]
            if ratio is None:
                print(f"the design does not reach the {name}'s final regret within the pilot budget")
            elif ratio == FRACTIONS[0] and summary[f"design@{ratio:g}"]["mean_regret"] <= summary[name]["mean_regret"]:
                print(f"the design reaches the {name}'s final regret with at most {ratio:g} of the pilot compute (the smallest share measured)")
            else:
                print(f"the design reaches the {name}'s final regret with {ratio:.2f} of the pilot compute")
    if args.json is not None:
        from curascale.io import write_json

        write_json(args.json, report)


if __name__ == "__main__":
    main()
