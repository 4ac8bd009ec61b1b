"""Simulation study of `scaling.design`: do designed pilots lead to better plans than a grid or random
pilots of the same compute, when the team refits its law on its runs?

    python bench/pilot_design.py [--seeds 50] [--scenario data|chinchilla|both] [--workers 2] [--json out.json]

For each seed a synthetic world (the truth) is drawn around a published fit. The team has trained a
few initial pilots (observed in the world: log metric + noise) and fitted the law on them with
`scaling.fit.fit`. Its belief is the Laplace approximation of the posterior given those runs, at
the posterior mode under the law's weak prior (`scaling.design.laplace_truths`, with the known
noise), and it adds pilots chosen by

    design  the greedy batch of `scaling.design.design` on those plausible truths
    grid    the uniform grid a team would train without a design (below)
    random  pilots drawn at random from the same candidates until no other fits

each within the same pilot compute. The pilots are observed in the world (the seed's noise per
pilot, the same whoever picks it), the team REFITS the law on all its runs (`scaling.fit.fit`, the
same call as before) and chooses the plan of least predicted metric under the refit. Reported per
strategy over seeds: the regret of that choice in the world (metric units) with its standard
error, how often it is the world's best plan, the compute spent; the paired differences to the
design; and the share of the pilot budget the design needs to reach the grid's (and random's)
final mean regret (log-interpolated between the design's regrets at 1/8, 1/4, 1/2 and all of it).

The design's inner loop updates its truths by reweighting (scaling/design.py); only the study's
team refits. Nothing here is tuned to the answer: seeds 0..n-1, the candidates are the design
module's own, the grid is the obvious one.

Worlds:
- data  (LAWS.md §3, reference/tmars-imagenet-utility): utilities b_i x exp(0.1 z), half-lives
        tau_i x exp(0.4 z) for the four nested T-MARS buckets, a and d as published (the team
        fixes them at the published values); decision: the top-m union for 1.28B samples seen.
        Initial pilots: every bucket for one and for two epochs (12.8M, 25.6M samples), the fewest
        runs that determine the eight per-bucket parameters. Candidates: single buckets (the law
        is fitted per bucket, so only those can be refitted), whole or a random 1/2 or 1/4 of the
        bucket (`scaling.design.SUBSETS` down to the 4x extrapolation floor under the team's
        12.8M buckets), at EPOCH_GRID passes, seeing 3.2M to 51.2M samples. Grids: "grid", every
        bucket for pilot budget / 4 samples (one pass over the whole bucket, a team's habit);
        "grid-subsets", the same samples over a quarter of each bucket (four passes). Also
        "design-whole": the design offered the whole-bucket candidates only. Pilot budget 51.2M.
- chinchilla (LAWS.md §1, Epoch AI fit with its bootstrap SEs, lognormal for A and B): decision: N
        among 21 sizes from N_opt / 10 to 10 N_opt of the published fit on the iso-FLOP line at 1e22
        FLOPs. Initial pilots: N = 20M, 40M, 80M at 10 and 40 tokens per parameter. Candidates:
        `scaling.design.model_pilots`. Grid: the 20-tokens-per-parameter pilots of every candidate
        size, largest first, while they fit. Pilot budget 3e19 FLOPs.
Noise: sd 0.01 of the log metric, known to the team.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.design import EPOCH_GRID, SUBSETS, DesignProblem, data_problem, design, laplace_truths, model_problem, union_errors  # noqa: E402
from scaling.diagnostics import EXTRAPOLATION_FACTOR  # noqa: E402
from scaling.fit import Fit, fit  # noqa: E402
from scaling.plan import candidate_unions  # noqa: E402
from scaling.reference import load_fit  # noqa: E402

NOISE = 0.01
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


@dataclass
class Scenario:
    """One world family. `runs` turns pilot specs and observed log metrics into the law's frame;
    `refit` fits the law on a frame; `problem` is the design problem of a fit and its truths;
    `log_metric` the world's log metric of pilot specs; `regret` the world's regret and whether
    the plan a fit chooses is the world's best."""

    name: str
    budget: float
    pilot_budget: float
    world: Callable  # rng -> params
    initial: list  # pilot specs
    runs: Callable  # (specs, log metric) -> frame
    refit: Callable  # frame -> Fit
    problem: Callable  # (Fit, Truths) -> DesignProblem
    log_metric: Callable  # (world params, specs) -> [P]
    regret: Callable  # (world params, Fit) -> (regret, right)
    grid: Callable  # DesignProblem -> {strategy name: [pilot indices]}: the grids a team would train
    whole: Callable | None = None  # DesignProblem -> [pilot indices]: the candidates without subsets, for "design-whole"


# ---- data filtering (LAWS.md §3) ----------------------------------------------------------------
def data_scenario() -> Scenario:
    reference = load_fit("reference/tmars-imagenet-utility")
    nested = list(reference.metadata["nested_buckets"])
    size = 12.8e6
    budget, pilot_budget = 1.28e9, 4 * size
    fixed = {"sample_scale": reference.params["sample_scale"], "irreducible_error": reference.params["irreducible_error"]}
    metadata = {k: v for k, v in reference.metadata.items() if k != "bucket_size_samples"}  # nested buckets and their ranges, whatever the key; sizes come from the runs
    smallest = size / EXTRAPOLATION_FACTOR  # the team's runs see 12.8M-25.6M samples of 12.8M buckets: no pilot farther below (`grid_floor`)
    candidates = [(b, e * size / f, size / f) for b in nested for f in SUBSETS for e in EPOCH_GRID
                  if (f == 1 or e > 1) and smallest <= e * size / f <= pilot_budget and size / f >= smallest]  # one pass over a subset is the whole bucket's pilot
    def world(rng):
        params = dict(fixed)
        for b in nested:
            params[f"utility[{b}]"] = reference.params[f"utility[{b}]"] * np.exp(0.1 * rng.standard_normal())
            params[f"utility_half_life[{b}]"] = reference.params[f"utility_half_life[{b}]"] * np.exp(0.4 * rng.standard_normal())
        return params

    def log_metric(params, specs):
        one = np.eye(len(nested))
        shares = np.array([one[nested.index(s["pool"])] for s in specs])
        samples = np.array([s["samples"] for s in specs])
        return np.log(union_errors("data_filtering_utility", [params], nested, shares, np.array([s.get("unique_samples", size) for s in specs]), samples)[0])

    def runs(specs, log_y):
        return pd.DataFrame({"bucket": [s["pool"] for s in specs], "samples_seen": [s["samples"] for s in specs],
                             "unique_samples": [s.get("unique_samples", size) for s in specs], "error": np.exp(log_y)})

    def refit(frame):
        fitted = fit("data_filtering_utility", frame, fixed=fixed, source="team")
        fitted.metadata.update(metadata)
        fitted.metadata["bucket_size_samples"] = {b: size for b in nested}  # the team knows its buckets (subsampled pilots train on less)
        fitted.notes = [note for note in fitted.notes if note.code != "inconsistent-bucket-size"]  # ... so the subsets' other sizes are no mistake
        return fitted

    def problem(team, truths):
        return data_problem(team, truths, budget, pilot_budget, candidates=candidates)

    def regret(params, team):
        chosen, world_unions = _union_choice(team, [team.params], budget), candidate_unions(_with_params(team, params))
        errors = union_errors("data_filtering_utility", [params], world_unions.buckets, world_unions.shares, world_unions.size_samples * (np.arange(len(nested)) + 1), np.full(len(nested), budget))[0]
        mine = union_errors("data_filtering_utility", [params], chosen[0], chosen[1][None], np.array([size * chosen[1].astype(bool).sum()]), np.array([budget]))[0, 0]
        best = int(np.argmin(errors))
        right = set(world_unions.buckets[: best + 1]) == {b for b, w in zip(chosen[0], chosen[1]) if w > 0}
        return float(mine - errors[best]), bool(right)

    def grid(problem):
        share = pilot_budget / len(nested)
        at = lambda unique: [i for i, p in enumerate(problem.pilots) if abs(p.spec["samples"] - share) < 1e-6 * share and abs(p.spec["unique_samples"] - unique) < 1e-6 * unique]  # noqa: E731
        return {"grid": at(size), "grid-subsets": at(smallest)}

    def whole(problem):
        return [i for i, p in enumerate(problem.pilots) if p.spec["unique_samples"] == size]

    initial = [{"pool": b, "samples": e * size} for b in nested for e in (1.0, 2.0)]
    return Scenario("data filtering (T-MARS, 1.28B samples)", budget, pilot_budget, world, initial, runs, refit, problem, log_metric, regret, grid, whole)


def _with_params(template: Fit, params) -> Fit:
    return Fit(**{**template.__dict__, "params": dict(params), "draws": []})


def _union_choice(team: Fit, params, budget):
    """The team's plan: the top-m union (its bucket order, shares) of least predicted error."""
    unions = candidate_unions(team)
    sizes = unions.size_samples * np.count_nonzero(unions.shares, axis=1)
    errors = union_errors(team.law, params, unions.buckets, unions.shares, sizes, np.full(len(sizes), budget))[0]
    return list(unions.buckets), unions.shares[int(np.argmin(errors))]


# ---- Chinchilla (LAWS.md §1) --------------------------------------------------------------------
def chinchilla_scenario() -> Scenario:
    from scaling.design import PLAN_SIZES, iso_flop_optimum

    reference = load_fit("reference/chinchilla-epoch")
    budget, pilot_budget = 1e22, 3e19
    centre = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
    se = {"A": 124.5, "B": 1293.0, "E": 0.0257, "alpha": 0.0154, "beta": 0.0206}
    optimum = iso_flop_optimum(reference, budget)
    sizes = np.geomspace(optimum / 10, optimum * 10, PLAN_SIZES)  # the decision: fixed, the same for every team and world

    def world(rng):
        params = {k: centre[k] + se[k] * rng.standard_normal() for k in ("E", "alpha", "beta")}
        for k in ("A", "B"):  # lognormal with the published mean and SE
            sigma = np.sqrt(np.log1p((se[k] / centre[k]) ** 2))
            params[k] = centre[k] * np.exp(sigma * rng.standard_normal() - sigma**2 / 2)
        return params

    def loss(p, n, d):
        return p["E"] + p["A"] / np.asarray(n, dtype=float) ** p["alpha"] + p["B"] / np.asarray(d, dtype=float) ** p["beta"]

    def log_metric(params, specs):
        return np.log(loss(params, [s["params"] for s in specs], [s["tokens"] for s in specs]))

    def runs(specs, log_y):
        return pd.DataFrame({"params": [s["params"] for s in specs], "tokens": [s["tokens"] for s in specs], "loss": np.exp(log_y)})

    def refit(frame):
        return fit("chinchilla", frame, initial=[centre], source="team")  # the team starts from the published fit

    def problem(team, truths):
        return model_problem(team, truths, budget, pilot_budget)

    def regret(params, team):
        world_loss = loss(params, sizes, budget / (6 * sizes))
        choice = int(np.argmin(loss(team.params, sizes, budget / (6 * sizes))))
        return float(world_loss[choice] - world_loss.min()), bool(choice == int(np.argmin(world_loss)))

    def grid(problem):
        ordered = sorted((i for i, p in enumerate(problem.pilots) if abs(p.spec["tokens"] / p.spec["params"] - 20) < 1e-6), key=lambda i: -problem.pilots[i].cost)
        chosen, spent = [], 0.0
        for i in ordered:
            if spent + problem.pilots[i].cost <= pilot_budget:
                chosen.append(i)
                spent += problem.pilots[i].cost
        return {"grid": chosen}

    initial = [{"params": n, "tokens": r * n} for n in (20e6, 40e6, 80e6) for r in (10.0, 40.0)]
    return Scenario("Chinchilla (N at 1e22 FLOPs)", budget, pilot_budget, world, initial, runs, refit, problem, log_metric, regret, grid)


# ---- the study ------------------------------------------------------------------------------------
def random_pilots(problem: DesignProblem, budget: float, rng) -> list[int]:
    chosen, spent = [], 0.0
    for i in rng.permutation(len(problem.pilots)):
        if spent + problem.pilots[i].cost <= budget:
            chosen.append(int(i))
            spent += problem.pilots[i].cost
    return chosen


def starting_point(scenario: Scenario, seed: int, truths: int):
    """The world of `seed`, the team's initial runs observed in it, the team's fit on them and its
    design problem (`truths` Laplace draws around the fit)."""
    rng = np.random.default_rng(seed)
    truth = scenario.world(rng)
    initial_log = scenario.log_metric(truth, scenario.initial) + NOISE * rng.standard_normal(len(scenario.initial))
    frame = scenario.runs(scenario.initial, initial_log)
    team = scenario.refit(frame)
    belief = laplace_truths(team, frame, count=truths, seed=seed, noise=NOISE)
    return truth, frame, team, scenario.problem(team, belief)


def one_seed(scenario: Scenario, seed: int, truths: int, replicates: int) -> dict:
    """(regret, right plan, cost) of every strategy in the world of `seed`."""
    truth, frame, team, problem = starting_point(scenario, seed, truths)
    specs = [dict(p.spec) for p in problem.pilots]
    names = [p.name for p in problem.pilots]
    picks = {"none": [], **scenario.grid(problem), "random": random_pilots(problem, scenario.pilot_budget, np.random.default_rng(10_000 + seed))}
    for fraction in FRACTIONS:
        chosen = design(problem, fraction * scenario.pilot_budget, replicates=replicates, seed=seed)
        picks[f"design@{fraction:g}"] = [names.index(step.pilot) for step in chosen.batch]
    if scenario.whole is not None:  # the design offered only whole-bucket pilots (the candidates before subsets)
        kept = scenario.whole(problem)
        restricted = dataclasses.replace(problem, pilots=tuple(problem.pilots[i] for i in kept), log_outcome=problem.log_outcome[:, kept])
        picks["design-whole"] = [names.index(step.pilot) for step in design(restricted, scenario.pilot_budget, replicates=replicates, seed=seed).batch]
    noise = np.random.default_rng(20_000 + seed).standard_normal(len(specs))  # the world's noise on each pilot, whoever picks it
    pilot_log = scenario.log_metric(truth, specs) + NOISE * noise
    rows = {}
    for name, chosen in picks.items():
        after = team if not chosen else scenario.refit(pd.concat([frame, scenario.runs([specs[i] for i in chosen], pilot_log[chosen])], ignore_index=True))
        regret, right = scenario.regret(truth, after)
        rows[name] = (regret, right, float(sum(problem.pilots[i].cost for i in chosen)))
    return rows


_BUILT: dict[str, Scenario] = {}


def _seed_in_worker(key: str, seed: int, truths: int, replicates: int) -> dict:
    """`one_seed` in a worker process (scenarios hold closures: each process builds its own)."""
    if key not in _BUILT:
        from scaling.jaxconf import use_compilation_cache

        use_compilation_cache()
        _BUILT[key] = SCENARIOS[key]()
    return one_seed(_BUILT[key], seed, truths, replicates)


def run(key: str, seeds: int, truths: int = 256, replicates: int = 4, workers: int = 1) -> dict:
    """`one_seed` for seeds 0..seeds-1 (in `workers` processes; the rows do not depend on how many),
    the raw rows printed to stderr as they come, then `summarize`d in seed order."""
    rows: dict[int, dict] = {}
    if workers <= 1:
        for seed in range(seeds):
            rows[seed] = _seed_in_worker(key, seed, truths, replicates)
            print(f"seed {seed}: " + json.dumps(rows[seed]), file=sys.stderr, flush=True)  # progress, and the raw rows
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_seed_in_worker, key, seed, truths, replicates): seed for seed in range(seeds)}
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                print(f"seed {futures[future]}: " + json.dumps(rows[futures[future]]), file=sys.stderr, flush=True)
    return summarize([rows[seed] for seed in range(seeds)])


def summarize(per_seed: list[dict]) -> dict:
    """Means and standard errors over seeds of `one_seed`'s rows, the paired gaps, the compute ratios."""
    rows = {name: [r[name] for r in per_seed] for name in per_seed[0]}
    summary = {}
    for name, values in rows.items():
        regret, right, cost = (np.array(v, dtype=float) for v in zip(*values))
        summary[name] = {"mean_regret": float(regret.mean()), "se_regret": float(regret.std(ddof=1) / np.sqrt(len(regret))),
                         "right_plan": float(right.mean()), "mean_cost": float(cost.mean())}
    design_regret = np.array([r for r, _, _ in rows[f"design@{FRACTIONS[-1]:g}"]])
    for name in baselines(rows):
        gap = np.array([r for r, _, _ in rows[name]]) - design_regret  # paired by seed: same world, same noise
        summary[f"{name}_minus_design"] = {"mean": float(gap.mean()), "se": float(gap.std(ddof=1) / np.sqrt(len(gap))),
                                           "design_better_seeds": int(np.sum(gap > 0)), "design_worse_seeds": int(np.sum(gap < 0))}
        summary[f"design_compute_for_{name}_regret"] = compute_ratio(summary, name)
    return summary


def baselines(rows) -> list[str]:
    """The strategies the design is compared with: every one but no pilots and the design's own budgets."""
    return [name for name in rows if name != "none" and not name.startswith("design@")]


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


SCENARIOS = {"data": data_scenario, "chinchilla": chinchilla_scenario}


def report_lines(scenario: Scenario, summary: dict, seeds: int) -> list[str]:
    lines = [f"{scenario.name}: {seeds} seeds, pilot budget {scenario.pilot_budget:.3g}",
             f"{'strategy':<14}{'mean regret':>14}{'± se':>10}{'right plan':>12}{'pilot compute':>15}"]
    for name, row in summary.items():
        if isinstance(row, dict) and "mean_regret" in row:
            lines.append(f"{name:<14}{row['mean_regret']:>14.5f}{row['se_regret']:>10.5f}{row['right_plan']:>12.0%}{row['mean_cost']:>15.3g}")
    compared = [name for name in summary if f"{name}_minus_design" in summary]
    for name in compared:
        gap = summary[f"{name}_minus_design"]
        lines.append(f"{name} - design regret, paired by seed: {gap['mean']:.5f} ± {gap['se']:.5f} (design better in {gap['design_better_seeds']} seeds, worse in {gap['design_worse_seeds']})")
    for name in compared:
        ratio = summary[f"design_compute_for_{name}_regret"]
        if ratio is None:
            lines.append(f"the design's mean regret does not reach the {name}'s final one within the pilot budget")
        elif ratio == FRACTIONS[0] and summary[f"design@{ratio:g}"]["mean_regret"] <= summary[name]["mean_regret"]:
            lines.append(f"the design's mean regret reaches the {name}'s final one with at most {ratio:g} of the pilot compute (the smallest share measured; means, not a test)")
        else:
            lines.append(f"the design's mean regret reaches the {name}'s final one with {ratio:.2f} of the pilot compute (means, not a test)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--truths", type=int, default=256, help="the team's plausible truths (Laplace draws; the command's default)")
    parser.add_argument("--replicates", type=int, default=4, help="simulated outcomes per truth in the design (the command's default)")
    parser.add_argument("--workers", type=int, default=1, help="processes running seeds side by side")
    parser.add_argument("--scenario", choices=("data", "chinchilla", "both"), default="both")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from scaling.jaxconf import use_compilation_cache

    use_compilation_cache()  # the team's refits repeat a few shapes (runs, epoch axis): compiled once, loaded after
    chosen = list(SCENARIOS) if args.scenario == "both" else [args.scenario]
    report = {}
    for key in chosen:
        scenario = SCENARIOS[key]()
        start = time.perf_counter()
        summary = run(key, args.seeds, args.truths, args.replicates, args.workers)
        summary["seconds"] = time.perf_counter() - start
        report[key] = summary
        print("\n" + "\n".join(report_lines(scenario, summary, args.seeds)) + f"\n({summary['seconds']:.0f} s)")
    if args.json is not None:
        from curascale.io import write_json

        write_json(args.json, report)


if __name__ == "__main__":
    main()
