"""Pilot design (scaling/design.py): a case whose most informative pilot is known analytically, the
Laplace approximation against finite differences, the noise from a fit's objective, determinism,
the JSON shape and the CLI's one-line errors."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from scaling.design import (DesignProblem, Pilot, Simulator, Truths, contrast_variance, data_problem, design, exchange, greedy_batch, iso_flop_optimum, laplace_truths, model_problem,
                            residual_noise, uniform_batches)
from scaling.fit import Fit

S = 12.8e6  # samples per bucket
SCALE, IRREDUCIBLE = 0.025, 0.1
B_A, B_B, TAU_B = -0.16, -0.12, 8.0


def plain_error(samples, pool, utilities, half_lives):
    """LAWS.md §3 restated with loops: the utility form for the uniform union of the given buckets."""
    m = len(utilities)
    epoch_utility = lambda k: np.mean([b * 0.5 ** (k / (m * t)) for b, t in zip(utilities, half_lives)])
    value = (SCALE * min(pool, samples) / 1e5) ** epoch_utility(0) + IRREDUCIBLE
    for k in range(1, int(np.floor(samples / pool)) + 1):
        value *= (min(pool * (k + 1), samples) / (pool * k)) ** epoch_utility(k)
    return value


def two_bucket_fit(draws=()):
    params = {"sample_scale": SCALE, "irreducible_error": IRREDUCIBLE, "utility[A]": B_A, "utility[B]": B_B, "utility_half_life[A]": 6.0, "utility_half_life[B]": TAU_B}
    return Fit(
        law="data_filtering_utility", law_version="1", params=params, objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
        data_hash="", target="error", inputs=["samples_seen", "unique_samples"], fixed={"irreducible_error": IRREDUCIBLE}, groups=["A", "B"],
        draws=list(draws), source="two-buckets",
        metadata={"bucket_size_samples": {"A": S, "B": S}, "bucket_percentile_ranges": {"A": [0, 10], "B": [10, 20]}, "nested_buckets": ["A", "B"]},
    )


def half_life_truths(count=48):
    """Everything known but bucket A's half-life, log-uniform on [1.5, 24] epochs."""
    fit = two_bucket_fit()
    return tuple({**fit.params, "utility_half_life[A]": float(t)} for t in np.geomspace(1.5, 24, count))


CANDIDATES = [(bucket, epochs * S) for bucket in ("A", "B") for epochs in (0.5, 1.0, 2.0, 4.0)]


def two_bucket_problem(noise=0.01):
    truths = half_life_truths()
    return data_problem(two_bucket_fit(), Truths(truths, np.full(len(truths), 1 / len(truths)), noise, "test"), 8 * S, 4 * S, candidates=CANDIDATES)


def test_the_metric_and_outcomes_are_the_law():
    problem = two_bucket_problem()
    tau = [t["utility_half_life[A]"] for t in half_life_truths()]
    assert problem.plans == ("top10", "top20")
    for row, t in enumerate(tau[::7]):
        i = row * 7
        assert problem.metric[i, 0] == pytest.approx(plain_error(8 * S, S, [B_A], [t]), rel=1e-12)
        assert problem.metric[i, 1] == pytest.approx(plain_error(8 * S, 2 * S, [B_A, B_B], [t, TAU_B]), rel=1e-12)
        for p, (bucket, samples) in enumerate(CANDIDATES):
            utility, half_life = (B_A, t) if bucket == "A" else (B_B, TAU_B)
            assert problem.log_outcome[i, p] == pytest.approx(np.log(plain_error(samples, S, [utility], [half_life])), rel=1e-12)


def test_only_a_multi_epoch_pilot_of_the_uncertain_bucket_informs_the_decision():
    problem = two_bucket_problem()
    best = problem.metric.argmin(axis=1)
    assert best[0] == 1 and best[-1] == 0  # the ranking flips with A's half-life: short -> the union, long -> A alone
    result = design(problem, 4 * S, seed=0)
    assert result.prior_regret > 0
    by_name = {p.pilot: p for p in result.pilots}
    for p in result.pilots:
        if p.spec["pool"] == "B" or p.spec["epochs"] <= 1:
            # analytically worthless: the outcome is the same under every truth, the posterior is the prior
            assert p.regret_reduction == 0.0 and p.interval_reduction == 0.0, p.pilot
    first = result.pilots[0]
    assert first.spec["pool"] == "A" and first.spec["epochs"] > 1
    assert first.regret_reduction > 0.5 * result.prior_regret
    assert by_name["A@51.2M"].regret_reduction > 0.5 * result.prior_regret
    assert by_name["A@51.2M"].informs in ("top10 vs top20", "top20 vs top10")
    assert result.batch and result.batch[0].pilot == first.pilot
    assert result.batch[-1].cumulative_cost <= 4 * S and result.batch[-1].regret < result.prior_regret


def test_among_pilots_of_equal_cost_the_repeated_uncertain_bucket_is_ranked_first():
    # every candidate costs 25.6M samples, so per-cost ranking is value ranking; analytically only
    # a pilot that repeats bucket A (the one whose half-life is unknown) sees the half-life: B's
    # outcome and one pass over the top20 union are the same under every truth
    truths = half_life_truths()
    candidates = [("A", 2 * S), ("B", 2 * S), ("top20", 2 * S)]
    problem = data_problem(two_bucket_fit(), Truths(truths, np.full(len(truths), 1 / len(truths)), 0.01, "test"), 8 * S, 4 * S, candidates=candidates)
    assert np.ptp(problem.log_outcome[:, 1]) == 0.0 and np.ptp(problem.log_outcome[:, 2]) == 0.0 and np.ptp(problem.log_outcome[:, 0]) > 3 * 0.01  # A@2 epochs spans several noise sds
    result = design(problem, 4 * S, seed=0)
    assert [p.pilot for p in result.pilots][0] == "A@25.6M"
    assert result.pilots[0].regret_reduction > 0.5 * result.prior_regret
    assert all(p.regret_reduction == 0.0 and p.interval_reduction == 0.0 for p in result.pilots[1:])


def half_life_problem(pilot_budget, candidates=None, fit=None):
    truths = half_life_truths()
    return data_problem(fit or two_bucket_fit(), Truths(truths, np.full(len(truths), 1 / len(truths)), 0.01, "test"), 8 * S, pilot_budget, candidates=candidates)


def test_a_subsampled_pilot_is_the_law_over_its_subset():
    # LAWS.md §3 takes each run's pool size S: a pilot on a random quarter of bucket A is A's utility
    # and half-life with S / 4, so 12.8M samples are four passes over it
    problem = half_life_problem(4 * S, [("A", S, S / 4), ("A", S), ("B", 2 * S, S / 8)])
    assert [p.name for p in problem.pilots] == ["A@12.8M,U=3.2M", "A@12.8M", "B@25.6M,U=1.6M"]
    assert [(p.spec["unique_samples"], p.spec["epochs"], p.cost) for p in problem.pilots] == [(S / 4, 4.0, S), (S, 1.0, S), (S / 8, 16.0, 2 * S)]
    for i, t in enumerate(half_life_truths()):
        assert problem.log_outcome[i, 0] == pytest.approx(np.log(plain_error(S, S / 4, [B_A], [t["utility_half_life[A]"]])), rel=1e-12)
        assert problem.log_outcome[i, 1] == pytest.approx(np.log(plain_error(S, S, [B_A], [t["utility_half_life[A]"]])), rel=1e-12)
        assert problem.log_outcome[i, 2] == pytest.approx(np.log(plain_error(2 * S, S / 8, [B_B], [TAU_B])), rel=1e-12)
    with pytest.raises(Exception, match="a pilot on A trains on a subset of its 12.8M unique samples, got 25.6M"):
        half_life_problem(4 * S, [("A", S, 2 * S)])


def test_with_one_pass_of_budget_only_a_subsampled_pilot_sees_the_half_life():
    # a pilot budget of one pass over a bucket: every whole-bucket pilot is one epoch or less and
    # analytically worthless (its outcome is the same under every truth); repeating a subset of A
    # is the only way to see A's half-life, and the design finds it among the default candidates
    problem = half_life_problem(S)
    whole = [i for i, p in enumerate(problem.pilots) if "U=" not in p.name]
    assert whole and all(problem.pilots[i].spec["epochs"] <= 1 and np.ptp(problem.log_outcome[:, i]) < 1e-12 for i in whole)
    pool_size = {"A": S, "B": S, "top20": 2 * S}
    assert {pool_size[p.spec["pool"]] / p.spec["unique_samples"] for p in problem.pilots} == {1.0, 2.0, 4.0, 8.0}
    result = design(problem, S, seed=0)
    first = result.pilots[0]
    assert first.spec["pool"] == "A" and first.spec["unique_samples"] < S and first.spec["epochs"] > 1
    assert first.regret_reduction > 0.5 * result.prior_regret
    assert all(p.regret_reduction == 0.0 for p in result.pilots if "U=" not in p.pilot)
    assert result.batch and "U=" in result.batch[0].pilot
    # at most one pass over a subset is the whole bucket's pilot (with n <= S only n enters): not offered twice
    assert all(p.spec["epochs"] > 1 for p in problem.pilots if "U=" in p.name)
    same = half_life_problem(S, [("A", S / 2, S / 2), ("A", S / 4, S / 2)])
    assert [(p.name, p.spec["unique_samples"]) for p in same.pilots] == [("A@6.4M", S), ("A@3.2M", S)]


def test_subsets_stop_where_the_fits_runs_stop():
    # the fit saw buckets of 12.8M only: a subset more than EXTRAPOLATION_FACTOR (4) smaller is a
    # pool size no run had, left out of the default candidates
    import dataclasses

    ranged = dataclasses.replace(two_bucket_fit(), input_ranges={"samples_seen": [S, 2 * S], "unique_samples": [S, S]})
    sizes = {p.spec["unique_samples"] for p in half_life_problem(S, fit=ranged).pilots}
    assert sizes == {S, S / 2, S / 4}


def test_union_pilots_are_offered_only_when_asked_for_and_noted():
    # the data-filtering fit takes runs of one bucket: a union's run cannot be refitted, so the default
    # candidates are single buckets; a requested union is valued (the law predicts it) and noted
    from scaling.design_notes import union_pilots

    assert {p.spec["pool"] for p in half_life_problem(4 * S).pilots} == {"A", "B"}
    result = design(half_life_problem(4 * S, [("top20", 2 * S), ("A", 2 * S)]), 4 * S, seed=0)
    [note] = union_pilots(two_bucket_fit(), result.pilots)
    assert note.code == "pilot-not-fittable" and note.details == {"pilots": ["top20@25.6M"]} and note.severity == "warning"
    assert union_pilots(two_bucket_fit(), [p for p in result.pilots if p.spec["pool"] == "A"]) == []


def test_default_pilots_whose_error_would_be_above_one_are_left_out():
    """A trial's batch was four fifths pilots the design itself said would have an error of 1 or
    more (the law does not hold there; `runs ingest` refuses such an error). The default grid now
    leaves them out, by the law restated here (`plain_error`: a pilot is out when most truths give
    it an error >= 1), and says which in an info note the design passes on; named candidates stay
    (the test below)."""
    problem = half_life_problem(4 * S)
    (note,) = problem.notes
    assert note.code == "pilot-outside-range" and note.severity == "info" and note.details["left_out"] is True and note.details["in_batch"] == []

    def share_above_one(pool, samples, unique):
        utility = {"A": B_A, "B": B_B}[pool]
        return np.mean([plain_error(samples, unique, [utility], [t[f"utility_half_life[{pool}]"]]) >= 1 for t in half_life_truths()])
    for pilot in problem.pilots:
        assert share_above_one(pilot.spec["pool"], pilot.spec["samples"], pilot.spec["unique_samples"]) <= 0.5, pilot.name
    assert len(note.details["pilots"]) >= 4 and {"A@3.2M", "B@3.2M", "A@6.4M", "B@6.4M"} <= set(note.details["pilots"])
    assert all(f > 0.5 for f in note.details["share"]) and not {p.name for p in problem.pilots} & set(note.details["pilots"])
    assert note in design(problem, 4 * S, seed=0).notes


def test_pilots_whose_error_would_be_above_one_are_noted():
    # (a n / 1e5)^b + d with a = 0.025, b = -0.16, d = 0.1: 1M samples give 0.25^-0.16 + 0.1 = 1.35, beyond any
    # error; 12.8M give 3.2^-0.16 + 0.1 = 0.93
    assert (SCALE * 1e6 / 1e5) ** B_A + IRREDUCIBLE > 1 > (SCALE * S / 1e5) ** B_A + IRREDUCIBLE
    result = design(half_life_problem(4 * S, [("A", 1e6), ("A", S), ("A", 2 * S)]), 4 * S, seed=0)
    (note,) = [n for n in result.notes if n.code == "pilot-outside-range"]
    assert note.details["pilots"] == ["A@1M"] and note.details["share"] == [pytest.approx(1.0, rel=1e-12)] and note.severity == "warning"
    assert note.details["in_batch"] == [p for p in (s.pilot for s in result.batch) if p == "A@1M"]
    assert not [n for n in design(half_life_problem(4 * S, [("A", S), ("A", 2 * S)]), 4 * S, seed=0).notes if n.code == "pilot-outside-range"]


def test_contrast_variance_is_the_scalar_gaussian_update():
    # plans' metric a_c theta and one pilot observing theta (+ noise sigma): a scalar linear-Gaussian
    # model, where Var(theta | o) = v sigma^2 / (v + sigma^2) with v the truths' variance of theta
    theta = np.random.default_rng(1).normal(0.3, 0.05, 200)
    slopes, sigma = np.array([1.0, 2.0, -0.5]), 0.02
    problem = DesignProblem(("a", "b", "c"), np.outer(theta, slopes), (Pilot("p", {}, 1.0), Pilot("flat", {}, 1.0)),
                            np.stack([theta, np.full_like(theta, 0.7)], axis=1), np.full(200, 1 / 200), sigma, "samples", "error", 1.0)
    v = np.var(theta)
    contrasts = np.sum((slopes - slopes[1]) ** 2)
    assert contrast_variance(problem, [], 1) == pytest.approx(contrasts * v, rel=1e-10)
    assert contrast_variance(problem, [0], 1) == pytest.approx(contrasts * v * sigma**2 / (v + sigma**2), rel=1e-10)
    assert contrast_variance(problem, [1], 1) == pytest.approx(contrasts * v, rel=1e-10)  # a pilot that sees nothing changes nothing


def test_same_seed_same_design_other_seed_other_simulations():
    problem = two_bucket_problem()
    first, again, other = design(problem, 4 * S, seed=3), design(problem, 4 * S, seed=3), design(problem, 4 * S, seed=4)
    assert json.dumps(first.to_dict()) == json.dumps(again.to_dict())
    assert json.dumps(first.to_dict()) != json.dumps(other.to_dict())


def test_residual_noise_inverts_the_huber_objective():
    fit = two_bucket_fit()
    free = len(fit.params) - len(fit.fixed)  # 5
    quadratic = Fit(**{**fit.__dict__, "objective": 20 * 0.5 * 0.02**2, "n_points": 20, "delta": 1.0})
    assert residual_noise(quadratic) == pytest.approx(0.02 * np.sqrt(20 / (20 - free)), rel=1e-12)
    r, delta = 0.05, 1e-3  # every residual 0.05, in Huber's linear zone
    linear = Fit(**{**fit.__dict__, "objective": 20 * delta * (r - delta / 2), "n_points": 20, "delta": delta})
    assert residual_noise(linear) == pytest.approx(np.sqrt(np.pi / 2) * r * np.sqrt(20 / (20 - free)), rel=1e-12)
    assert residual_noise(fit) is None  # published constants: no objective


CHINCHILLA = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


def chinchilla_fit(draws=()):
    return Fit(law="chinchilla", law_version="1", params=dict(CHINCHILLA), objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
               data_hash="", target="loss", inputs=["params", "tokens"], draws=list(draws), source="chinchilla-test")


def test_laplace_covariance_is_sigma_squared_inverse_gauss_newton():
    import pandas as pd

    n, d = np.meshgrid(np.geomspace(5e7, 2e9, 6), np.geomspace(1e9, 1e11, 5))
    frame = pd.DataFrame({"params": n.ravel(), "tokens": d.ravel()})
    u0 = np.array([np.log(CHINCHILLA["A"]), np.log(CHINCHILLA["B"]), np.log(CHINCHILLA["E"]), CHINCHILLA["alpha"], CHINCHILLA["beta"]])
    log_loss = lambda u: np.log(np.exp(u[2]) + np.exp(u[0]) / frame.params.to_numpy() ** u[3] + np.exp(u[1]) / frame.tokens.to_numpy() ** u[4])
    frame["loss"] = np.exp(log_loss(u0))
    step = 1e-6
    jacobian = np.stack([(log_loss(u0 + step * e) - log_loss(u0 - step * e)) / (2 * step) for e in np.eye(5)], axis=1)
    expected = 0.01**2 * np.linalg.inv(jacobian.T @ jacobian)
    truths = laplace_truths(chinchilla_fit(), frame, count=4000, seed=1, noise=0.01, prior_sd=1e6)
    drawn = np.array([[np.log(t["A"]), np.log(t["B"]), np.log(t["E"]), t["alpha"], t["beta"]] for t in truths.params])
    sd_expected, sd_drawn = np.sqrt(np.diag(expected)), drawn.std(axis=0)
    assert np.allclose(sd_drawn, sd_expected, rtol=0.06)
    assert np.allclose(np.corrcoef(drawn.T), expected / np.outer(sd_expected, sd_expected), atol=0.05)
    assert np.allclose(drawn.mean(axis=0), u0, atol=4 * sd_expected / np.sqrt(4000))
    assert truths.source == "laplace" and truths.noise == 0.01


def sub_epoch_runs():
    """Both buckets at 0.25, 0.5 and 0.75 passes: no repetition, so nothing about a half-life."""
    import pandas as pd

    samples = np.array([0.25, 0.5, 0.75] * 2) * S
    buckets = ["A"] * 3 + ["B"] * 3
    errors = [plain_error(n, S, [B_A if b == "A" else B_B], [6.0]) for n, b in zip(samples, buckets)]
    return pd.DataFrame({"bucket": buckets, "samples_seen": samples, "unique_samples": S, "error": errors})


def runaway_fit():
    import dataclasses

    fit = two_bucket_fit()
    return dataclasses.replace(fit, params={**fit.params, "utility_half_life[A]": 1e12})


def test_laplace_is_centred_at_the_posterior_mode_not_at_a_runaway_fit():
    """Runs of less than one pass say nothing of a half-life (LAWS.md §3: no repetition, no decay),
    so its posterior is the prior: the centre of the law's start grid (2, 8) epochs in log, log 4,
    with sd max(PRIOR_SD = 1, half the grid's log span = log 2) = 1, whatever the fit says (here a
    plain fit's runaway 1e12 epochs, which a Gaussian around the fit kept)."""
    truths = laplace_truths(runaway_fit(), sub_epoch_runs(), count=4000, seed=2, noise=0.01)
    log_tau = np.log([t["utility_half_life[A]"] for t in truths.params])
    assert abs(log_tau.mean() - np.log(4.0)) < 4 / np.sqrt(4000)
    assert log_tau.std() == pytest.approx(1.0, rel=0.06)
    utility = np.array([t["utility[A]"] for t in truths.params])  # the runs do pin the utility down: its draws stay near the truth
    assert abs(np.median(utility) - B_A) < 0.01


def test_a_fit_far_from_the_posterior_mode_gets_a_note():
    """The runaway half-life lies (log 1e12 - log 4) / 1 = 26.3 posterior sds from the mode (the
    prior's centre and sd, as above); the fit at 6 epochs lies log(6 / 4) = 0.4 sds away: no note."""
    [note] = laplace_truths(runaway_fit(), sub_epoch_runs(), count=8, seed=2, noise=0.01).notes
    assert note.code == "fit-off-posterior" and note.severity == "warning" and note.details["parameters"] == ["utility_half_life[A]"]
    assert note.details["sds"][0] == pytest.approx(np.log(1e12) - np.log(4.0), rel=1e-3)
    assert note.details["mode"][0] == pytest.approx(4.0, rel=1e-3) and "utility_half_life[A] = 1e+12" in note.message
    assert laplace_truths(two_bucket_fit(), sub_epoch_runs(), count=8, seed=2, noise=0.01).notes == ()
    import dataclasses

    from scaling.design import design_pilots

    kept = dataclasses.replace(runaway_fit(), points=sub_epoch_runs().to_dict("list"))  # the runs the fit keeps: the Laplace route
    result = design_pilots(kept, 1.28e9, 51.2e6, truths=16, replicates=1, noise=0.01)
    assert [n.details["parameters"] for n in result.notes if n.code == "fit-off-posterior"] == [["utility_half_life[A]"]]


@pytest.mark.parametrize("flops", [1e19, 1e22, 1e24])
def test_iso_flop_optimum_is_the_closed_form(flops):
    a, b, alpha, beta = CHINCHILLA["A"], CHINCHILLA["B"], CHINCHILLA["alpha"], CHINCHILLA["beta"]
    g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))  # LAWS.md §1: N_opt = G (C/6)^(beta/(alpha+beta))
    assert iso_flop_optimum(chinchilla_fit(), flops) == pytest.approx(g * (flops / 6) ** (beta / (alpha + beta)), rel=2e-4)


def test_language_model_design_costs_and_prior_plan():
    rng = np.random.default_rng(0)
    truths = tuple({**CHINCHILLA, "alpha": CHINCHILLA["alpha"] + 0.01 * rng.standard_normal(), "beta": CHINCHILLA["beta"] + 0.01 * rng.standard_normal()} for _ in range(32))
    budget, pilot_budget = 1e22, 1e19
    problem = model_problem(chinchilla_fit(), Truths(truths, np.full(32, 1 / 32), 0.01, "test"), budget, pilot_budget)
    for p in problem.pilots:
        assert p.cost == pytest.approx(6 * p.spec["params"] * p.spec["tokens"]) and p.cost <= pilot_budget * (1 + 1e-12)
    result = design(problem, pilot_budget, seed=0)
    sizes = np.array([float(name.split("=")[1].rstrip("MB")) * (1e9 if name.endswith("B") else 1e6) for name in problem.plans])
    mean_loss = np.mean([[t["E"] + t["A"] / n ** t["alpha"] + t["B"] / (budget / (6 * n)) ** t["beta"] for n in sizes] for t in truths], axis=0)
    assert result.prior_plan == problem.plans[int(np.argmin(mean_loss))]
    assert result.unit == "flops" and result.metric_name == "loss"


def dc_fit(draws=()):
    from scaling.laws.data_constrained import PUBLISHED_BASE, PUBLISHED_DECAYS

    return Fit(law="data_constrained", law_version="1", params={**PUBLISHED_BASE, **PUBLISHED_DECAYS}, objective=None, n_points=0, starts=0, starts_at_best=0,
               converged=True, data_hash="", target="loss", inputs=["params", "tokens", "unique_tokens"], fixed=dict(PUBLISHED_BASE), draws=list(draws), source="dc-test")


def plain_data_constrained(p, n, d, u):
    """LAWS.md §2 restated: effective data and parameters, then the Chinchilla form."""
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    unique = min(u, d)
    data = unique + unique * p["data_repetition_decay"] * (1 - np.exp(-max(d / unique - 1, 0) / p["data_repetition_decay"]))
    unique_n = min(n, g * (unique * g) ** (p["beta"] / p["alpha"]))
    params = unique_n + unique_n * p["param_repetition_decay"] * (1 - np.exp(-max(n / unique_n - 1, 0) / p["param_repetition_decay"]))
    return p["E"] + p["A"] / params ** p["alpha"] + p["B"] / data ** p["beta"]


def test_data_constrained_design_adds_repeated_data_pilots_and_ranks_one_first():
    # only R*_D is uncertain: a pilot that sees its data once has the same loss under every truth,
    # so only a unique-token (repeated-data) variant can inform the plan, which repeats 8x
    base = dc_fit().params
    truths = tuple({**base, "data_repetition_decay": float(r)} for r in np.geomspace(2, 60, 32))
    budget, pilot_budget, unique = 1e22, 1e19, 25e9
    problem = model_problem(dc_fit(), Truths(truths, np.full(32, 1 / 32), 0.01, "test"), budget, pilot_budget, unique_tokens=unique)
    repeated = [i for i, p in enumerate(problem.pilots) if p.spec["unique_tokens"] < p.spec["tokens"]]
    assert repeated and len(problem.pilots) == 5 * len(problem.pilots) // 5 and len(repeated) == 4 * (len(problem.pilots) - len(repeated))
    for i, p in enumerate(problem.pilots):
        assert p.cost == pytest.approx(6 * p.spec["params"] * p.spec["tokens"], rel=1e-12)
        for t in (0, 31):
            expected = plain_data_constrained(truths[t], p.spec["params"], p.spec["tokens"], p.spec["unique_tokens"])
            assert problem.log_outcome[t, i] == pytest.approx(np.log(expected), rel=1e-10)
    sizes = np.geomspace(iso_flop_optimum(dc_fit(), budget, unique_tokens=unique) / 10, iso_flop_optimum(dc_fit(), budget, unique_tokens=unique) * 10, 21)
    assert problem.metric[5, 3] == pytest.approx(plain_data_constrained(truths[5], sizes[3], budget / (6 * sizes[3]), unique), rel=1e-10)
    result = design(problem, pilot_budget, seed=0)
    assert result.prior_regret > 0
    assert result.pilots[0].spec["unique_tokens"] < result.pilots[0].spec["tokens"] and result.pilots[0].regret_reduction > 0
    for p in result.pilots:
        if p.spec["unique_tokens"] == p.spec["tokens"]:
            assert p.regret_reduction == 0.0 and p.interval_reduction == 0.0, p.pilot


def test_precision_design_adds_low_precision_pilots_priced_by_their_bits():
    from scaling.reference import load_fit

    fit = load_fit("reference/precision")
    rng = np.random.default_rng(0)
    truths = tuple({**fit.params, "gamma_weights": fit.params["gamma_weights"] * np.exp(0.2 * rng.standard_normal())} for _ in range(16))
    problem = model_problem(fit, Truths(truths, np.full(16, 1 / 16), 0.01, "test"), 1e22, 1e19)
    bits = sorted({p.spec["bits"] for p in problem.pilots})
    assert bits == [4.0, 8.0, 16.0]
    for i, p in enumerate(problem.pilots):
        n, d, b = p.spec["params"], p.spec["tokens"], p.spec["bits"]
        assert p.cost == pytest.approx(6 / 16 * n * d * b, rel=1e-12) and p.cost <= 1e19 * (1 + 1e-12)
        t = truths[3]
        kept = [1 - np.exp(-b / t[f"gamma_{part}"] + t[f"n_{part}"]) for part in ("weights", "activations", "kv_cache")]
        expected = t["A"] * (n * np.prod(kept)) ** -t["alpha"] + t["B"] * d ** -t["beta"] + t["E"]  # Kumar et al. 2024, no post-training quantization
        assert problem.log_outcome[3, i] == pytest.approx(np.log(expected), rel=1e-10)
    spread = {(p.spec["params"], p.spec["tokens"], p.spec["bits"]): np.ptp(problem.log_outcome[:, i]) for i, p in enumerate(problem.pilots)}
    for n, d, b in spread:
        if b == 4.0:  # at 16 bits the weights keep all but exp(-16 / gamma_w + n_w) of their capacity: gamma_w barely shows
            assert spread[(n, d, 4.0)] > 10 * spread[(n, d, 16.0)] > 0


def test_a_chinchilla_design_has_no_variants():
    problem = model_problem(chinchilla_fit(), Truths((CHINCHILLA, CHINCHILLA), np.full(2, 0.5), 0.01, "test"), 1e22, 1e19)
    assert all(set(p.spec) == {"params", "tokens"} for p in problem.pilots)
    with pytest.raises(Exception, match="unique_tokens needs a data_constrained fit"):
        model_problem(chinchilla_fit(), Truths((CHINCHILLA, CHINCHILLA), np.full(2, 0.5), 0.01, "test"), 1e22, 1e19, unique_tokens=1e9)


# ---- the command line ----------------------------------------------------------------------------
def curascale(*args):
    program = "from curascale.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def fit_file(tmp_path_factory):
    fit = two_bucket_fit(half_life_truths(24))
    fit.objective, fit.n_points = 12 * 1e-3 * (0.01 - 5e-4), 12  # residuals of 0.01: noise from the objective
    path = tmp_path_factory.mktemp("design") / "fit.json"
    path.write_text(json.dumps(fit.to_dict()))
    return str(path)


def test_cli_json_shape(fit_file):
    result = curascale("design-pilots", "--fit", fit_file, "--budget", "102.4M", "--pilot-budget", "51.2M", "--json", "--seed", "2")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == {"budget", "pilot_budget", "unit", "metric", "prior", "pilots", "batch", "truths", "seed", "fit", "notes"}
    assert record["budget"] == 102.4e6 and record["pilot_budget"] == 51.2e6 and record["seed"] == 2
    assert record["fit"] == {"law": "data_filtering_utility", "source": "two-buckets", "data_hash": "", "file": fit_file}  # which fit (a registry's newest is picked silently)
    assert set(record["batch"]) >= {"source", "alternatives", "expected_regret_fresh", "expected_regret_fresh_se"} and record["batch"]["alternatives"][0]["name"] == "greedy"
    assert record["truths"]["source"] == "bootstrap" and record["truths"]["count"] == 24
    assert set(record["pilots"][0]) >= {"pilot", "pool", "samples", "epochs", "cost", "expected_regret_reduction", "interval_reduction", "informs"}
    per_cost = [p["regret_reduction_per_cost"] for p in record["pilots"]]
    assert per_cost == sorted(per_cost, reverse=True)
    assert sum(p["cost"] for p in record["pilots"] if p["pilot"] in record["batch"]["pilots"]) == record["batch"]["cost"] <= 51.2e6


def test_cli_bucket_sizes_after_subsampled_pilots(tmp_path):
    # runs on subsets give a bucket several unique_samples, so the fit records no size: the design
    # asks for it and takes it from --bucket-sizes, as plan-curation does
    fit = two_bucket_fit(half_life_truths(24))
    fit.objective, fit.n_points = 12 * 1e-3 * (0.01 - 5e-4), 12
    fit.metadata = {k: v for k, v in fit.metadata.items() if k != "bucket_size_samples"}
    path = tmp_path / "subsampled.json"
    path.write_text(json.dumps(fit.to_dict()))
    args = ("design-pilots", "--fit", str(path), "--budget", "102.4M", "--pilot-budget", "51.2M", "--json")
    missing = curascale(*args)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "bucket sizes unknown for A, B: give bucket_sizes (--bucket-sizes A=128M,...) or register the buckets" in missing.stderr, missing.stderr
    given = curascale(*args, "--bucket-sizes", "A=12.8M,B=12.8M")
    assert given.returncode == 0, given.stderr
    sized = tmp_path / "sized.json"  # the same fit with its sizes recorded: the same design
    sized.write_text(json.dumps({**fit.to_dict(), "metadata": two_bucket_fit().metadata}))
    assert json.loads(given.stdout)["pilots"] == json.loads(curascale("design-pilots", "--fit", str(sized), *args[3:]).stdout)["pilots"]
    wrong = curascale(*args, "--bucket-sizes", "C=12.8M")
    assert wrong.returncode == 2 and "--bucket-sizes: no bucket 'C' in the fit (its buckets: A, B)" in wrong.stderr, wrong.stderr
    flops = curascale(*args, "--bucket-sizes", "A=12.8M", "--unit", "flops")
    assert flops.returncode == 2 and "--bucket-sizes is for data plans (--unit samples)" in flops.stderr, flops.stderr


def test_cli_candidates_take_a_subset(fit_file):
    result = curascale("design-pilots", "--fit", fit_file, "--budget", "102.4M", "--pilot-budget", "51.2M", "--json", "--candidates", "A:12.8M:3.2M,A:12.8M")
    assert result.returncode == 0, result.stderr
    pilots = {p["pilot"]: p for p in json.loads(result.stdout)["pilots"]}
    assert set(pilots) == {"A@12.8M,U=3.2M", "A@12.8M"}
    assert (pilots["A@12.8M,U=3.2M"]["unique_samples"], pilots["A@12.8M,U=3.2M"]["epochs"]) == (3.2e6, 4.0)
    assert (pilots["A@12.8M"]["unique_samples"], pilots["A@12.8M"]["epochs"]) == (12.8e6, 1.0)
    assert pilots["A@12.8M,U=3.2M"]["expected_regret_reduction"] > pilots["A@12.8M"]["expected_regret_reduction"] == 0.0


@pytest.mark.parametrize(
    "args, message",
    [
        (("--budget", "1.28B", "--pilot-budget", "2B"), "--pilot-budget 2B must be smaller than --budget 1.28B"),
        (("--budget", "lots", "--pilot-budget", "50M"), "--budget: not a number: 'lots'"),
        (("--budget", "1.28B", "--pilot-budget", "-5M"), "--pilot-budget: must be positive and finite"),
        (("--budget", "1.28B", "--pilot-budget", "1K"), "no candidate pilot fits --pilot-budget=1K samples"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--unit", "tokens"), "--unit must be samples or flops"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "C:12.8M"), "--candidates: no pool named 'C'"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--noise", "-1"), "--noise must be positive and finite, got -1.0"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "A:51.2M"), "costs 51.2M samples, more than --pilot-budget=50M"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "A:25.6M:25.6M"), "--candidates: a pilot on A trains on a subset of its 12.8M unique samples, got 25.6M"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "A:25.6M:lots"), "--candidates A:25.6M:lots: not a number: 'lots'"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "A:6.4M:6.4M,A:6.4M"), "candidate A@6.4M is given 2 times"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--candidates", "A:12.8M:100"), "--candidates: A:12.8M:100 is 1.28e+05 passes over its samples; the data filtering laws handle fewer than 511"),
        (("--budget", "1e22", "--pilot-budget", "50M"), "--budget (1e+22 samples) is 7.81e+14 passes over top10; the data filtering laws handle fewer than 511 (a FLOPs budget is --unit flops)"),
        (("--budget", "1.28B", "--pilot-budget", "50M", "--unique-tokens", "1B"), "--unique-tokens is for language-model plans: add --unit flops"),
        (("--budget", "1e22", "--pilot-budget", "1e19", "--unit", "flops"), "a language-model design needs a fit of chinchilla, data_constrained"),
    ],
)
def test_cli_bad_budgets_are_one_line_errors(fit_file, args, message):
    result = curascale("design-pilots", "--fit", fit_file, *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr


def test_cli_errors_name_the_fit_file_given_and_the_flags(tmp_path):
    """Finding 8: the error named the artifact's recorded source and 'give noise', not the file and --noise."""
    fit_path = tmp_path / "mine.json"
    fit_path.write_text(json.dumps(two_bucket_fit(half_life_truths(4)).to_dict()))  # draws, no objective: no noise to estimate
    result = curascale("design-pilots", "--fit", str(fit_path), "--budget", "102.4M", "--pilot-budget", "51.2M")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"fit {fit_path}: no objective" in result.stderr and result.stderr.rstrip().endswith("give --noise"), result.stderr


def test_cli_fit_without_draws_or_runs_is_one_line():
    result = curascale("design-pilots", "--fit", "reference/tmars-imagenet-utility", "--budget", "1.28B", "--pilot-budget", "50M")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no bootstrap draws and no runs" in result.stderr


def _two_family_registry(tmp_path):
    """A registry of two families on the same buckets: 'pilot' (log noise 0.01, the runs fitted)
    and 'other' (log noise 0.2). Returns (db, the pilot family's frame with its truth)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    frames = {}
    for family, sd in (("pilot", 0.01), ("other", 0.2)):
        rows = [{"run_id": f"{family}{b}{e}", "bucket": b, "samples_seen": e * S, "unique_samples": S, "truth": plain_error(e * S, S, [u], [t])}
                for b, (u, t) in {"A": (B_A, 6.0), "B": (B_B, TAU_B)}.items() for e in (1, 2, 3, 4)]
        frame = pd.DataFrame(rows)
        frame["error"] = frame.truth * np.exp(sd * rng.standard_normal(len(frame)))
        frame.drop(columns="truth").to_csv(tmp_path / f"{family}.csv", index=False)
        frames[family] = frame
    db = str(tmp_path / "r.duckdb")
    for family in frames:
        assert curascale("runs", "ingest", str(tmp_path / f"{family}.csv"), "--set", f"family={family}", "--db", db).returncode == 0
    return db, frames["pilot"]


@pytest.mark.parametrize("kept", ["points", "selection"])
def test_cli_without_draws_linearises_at_the_fits_own_runs(tmp_path, kept):
    """Finding 1 of the pilot trial: with --db the noise came from every run of the registry (30x
    the fit's). The runs the fit keeps (points), else its recorded --where on the registry."""
    db, frame = _two_family_registry(tmp_path)
    fit = two_bucket_fit()
    if kept == "points":
        fit.points = {"samples_seen": frame.samples_seen.tolist(), "unique_samples": frame.unique_samples.tolist(),
                      "bucket": frame.bucket.tolist(), "error": frame.error.tolist()}
    else:
        fit.source = f"{db} where family = 'pilot'"
    fit_path = tmp_path / "fit.json"
    fit_path.write_text(json.dumps(fit.to_dict()))  # no draws: the Laplace approximation on the fit's runs
    result = curascale("design-pilots", "--fit", str(fit_path), "--db", db, "--budget", "102.4M", "--pilot-budget", "51.2M", "--json", "--truths", "64")
    assert result.returncode == 0, result.stderr
    truths = json.loads(result.stdout)["truths"]
    residuals = np.log(frame.error) - np.log(frame.truth)  # the fit's parameters are the truth here
    assert {k: truths[k] for k in ("count", "source", "replicates")} == {"count": 64, "source": "laplace", "replicates": 4}
    assert truths["noise"] == pytest.approx(np.sqrt(residuals @ residuals / (8 - 5)), rel=1e-9)
    assert truths["runs"]["count"] == 8 and "family = 'pilot'" in truths["runs"]["source"] if kept == "selection" else truths["runs"]["count"] == 8


def test_cli_fit_without_its_runs_is_refused_not_fitted_to_the_whole_registry(tmp_path):
    db, _ = _two_family_registry(tmp_path)
    fit_path = tmp_path / "fit.json"
    fit_path.write_text(json.dumps(two_bucket_fit().to_dict()))  # source 'two-buckets': not this registry, no points
    result = curascale("design-pilots", "--fit", str(fit_path), "--db", db, "--budget", "102.4M", "--pilot-budget", "51.2M", "--json")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot tell which runs it was fitted on" in result.stderr, result.stderr


def test_the_design_figure_labels_the_batch_in_order_without_overlap(tmp_path, monkeypatch):
    """Two batch pilots at the same (cost, value) share one label; labels carry the batch order;
    the green points are the batch, the grey ones the rest."""
    from scaling import design as module
    from scaling import plots
    from scaling.design import BatchStep, Design, PilotValue

    def pilot(name, cost, gain):
        return PilotValue(name, {}, cost, gain, 0.0, gain / cost, 0.0, "a vs b", {})

    pilots = (pilot("a@12.8M", 12.8e6, 4e-4), pilot("b@6.4M", 6.4e6, 0.0), pilot("c@6.4M", 6.4e6, 0.0), pilot("d@25.6M", 25.6e6, 1e-4))
    batch = (BatchStep("a@12.8M", 12.8e6, 12.8e6, 3e-3, 0.1), BatchStep("c@6.4M", 6.4e6, 19.2e6, 2.9e-3, 0.1), BatchStep("b@6.4M", 6.4e6, 25.6e6, 2.8e-3, 0.1))
    result = Design(51.2e6, 25.6e6, "samples", "error", "top20", 3.5e-3, 0.1, {"top20": 1.0}, pilots, batch, 256, "draws", 0.01, 4, 0)
    saved = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path: saved.append(figure) or path)
    module.plot_design(result, tmp_path / "d.png")
    (axis, interval_axis) = saved[0].axes
    assert sorted(t.get_text() for t in axis.texts) == ["1. a@12.8M", "2. c@6.4M\n3. b@6.4M"]
    (grey, green) = axis.collections
    assert sorted(map(tuple, green.get_offsets().data)) == [(6.4e6, 0.0), (6.4e6, 0.0), (12.8e6, 4e-4)]
    assert sorted(map(tuple, grey.get_offsets().data)) == [(25.6e6, 1e-4)]
    # finding 9: each label points at its own pilot (the label of a@12.8M sat over another point)
    assert {t.get_text(): tuple(t.xy) for t in axis.texts} == {"1. a@12.8M": (12.8e6, 4e-4), "2. c@6.4M\n3. b@6.4M": (6.4e6, 0.0)}
    assert all(t.arrow_patch is not None for t in axis.texts)
    assert sorted(map(tuple, interval_axis.collections[1].get_offsets().data)) == [(6.4e6, 0.0), (6.4e6, 0.0), (12.8e6, 0.0)]  # the interval panel


def test_reduction_standard_error_is_the_clustered_se_over_truths():
    """Equal weights: SE = sd(d_t, ddof=1) / sqrt(T) of the per-truth differences (plain numpy)."""
    from scaling.design import Outlook, reduction_se

    rng = np.random.default_rng(3)
    before_r, after_r, before_w, after_w = rng.random((4, 10))
    se_regret, se_width = reduction_se(Outlook(0, 0, {}, before_r, before_w), Outlook(0, 0, {}, after_r, after_w), np.ones(10))
    assert se_regret == pytest.approx(np.std(before_r - after_r, ddof=1) / np.sqrt(10), rel=1e-12)
    assert se_width == pytest.approx(np.std(before_w - after_w, ddof=1) / np.sqrt(10), rel=1e-12)
    # unequal weights (bootstrap draws reweighted): the weighted-mean SE written out with loops
    weights = np.arange(1.0, 11.0)
    w = weights / weights.sum()
    d = before_r - after_r
    mean = sum(w[t] * d[t] for t in range(10))
    by_hand = np.sqrt(10 / 9 * sum(w[t] ** 2 * (d[t] - mean) ** 2 for t in range(10)))
    assert reduction_se(Outlook(0, 0, {}, before_r, before_w), Outlook(0, 0, {}, after_r, after_w), weights)[0] == pytest.approx(by_hand, rel=1e-12)


def test_a_batch_whose_regret_estimate_rises_is_reported_as_chosen_by_interval():
    """Finding 3: a batch reported 'expected regret 0.0001985 -> 0.0004521' as if it reduced regret."""
    from scaling.design import BatchStep, Design, Outlook, batch_by_interval

    prior = Outlook(1.985e-4, 0.01338, {})
    batch = (BatchStep("a", 1.0, 1.0, 3e-4, 0.011, "interval reduction"), BatchStep("b", 1.0, 2.0, 4.521e-4, 0.009055, "interval reduction"))
    [note] = batch_by_interval(prior, batch)
    assert note.code == "batch-by-interval" and note.details["batch_regret"] == 4.521e-4
    [fresh] = batch_by_interval(prior, batch, 2.5e-4, 4e-5)  # a trial: 'within simulation error' was said with no figure behind it
    assert "on fresh simulated outcomes 0.00025 ± 4e-05" in fresh.message and (fresh.details["fresh_regret"], fresh.details["fresh_regret_se"]) == (2.5e-4, 4e-5)
    result = Design(10.0, 2.0, "flops", "loss", "p", prior.regret, prior.width, {}, (), batch, 5, "bootstrap", 0.01, 1, 0)
    assert result.batch_regret_reduction == 0.0 and result.batch_chosen_by == "interval reduction"
    assert result.to_dict()["batch"]["chosen_by"] == "interval reduction"
    assert batch_by_interval(prior, (BatchStep("a", 1.0, 1.0, 1e-4, 0.011),)) == []


def test_few_truths_or_close_top_pilots_are_flagged_and_every_value_has_a_standard_error():
    from scaling.design import MIN_TRUTHS

    truths = [dict(CHINCHILLA, alpha=a) for a in np.linspace(0.3, 0.38, 5)]
    problem = model_problem(chinchilla_fit(), Truths(truths, np.full(5, 0.2), 0.01, "test"), 1e22, 1e19)
    result = design(problem, 1e19, replicates=2, seed=0)
    [note] = [n for n in result.notes if n.code == "values-indistinguishable"]
    assert note.details["truths"] == 5 < MIN_TRUTHS
    assert all(np.isfinite(p.regret_reduction_se) and p.regret_reduction_se >= 0 and p.interval_reduction_se >= 0 for p in result.pilots)
    assert any(p.interval_reduction_se > 0 for p in result.pilots)
    assert {"expected_regret_reduction_se", "interval_reduction_se"} <= set(result.to_dict()["pilots"][0])


def test_a_pilot_that_moves_the_decision_to_a_less_certain_plan_says_its_interval_widens():
    """'safe' has metric 0.5 under every truth (no interval); 'bold' 0.51 + 0.2 theta, theta ~ N(0, 1)
    over the truths, so before any pilot 'safe' is chosen (mean 0.51 > 0.5) with width 0. A pilot
    observing theta (noise 0.1) lets the worlds with theta below -0.05 choose 'bold': the expected
    regret falls, the chosen plan's interval (2 z sd of 0.2 theta given the outcome) is wider than
    0, so the interval reduction is negative and the design says why."""
    result, value = _safe_or_bold(0.51)
    theta = np.random.default_rng(0).standard_normal(400)
    theta = (theta - theta.mean()) / theta.std()
    assert result.prior_plan == "safe" and result.prior_width == 0.0
    # the prior regret by hand: 'safe' chosen everywhere, regret max(0.5 - (0.51 + 0.2 theta), 0)
    assert result.prior_regret == pytest.approx(np.mean(np.maximum(0.5 - (0.51 + 0.2 * theta), 0.0)), rel=1e-12)
    assert value.regret_reduction > 0.5 * result.prior_regret and value.interval_reduction < -2 * value.interval_reduction_se < 0
    [note] = [n for n in result.notes if n.code == "interval-widens"]
    assert note.details["pilot"] == "see-theta" and note.details["prior_plan"] == "safe"
    assert note.details["interval_reduction"] == value.interval_reduction and "from safe" in note.message


def test_a_pilot_that_moves_the_decision_to_the_certain_plan_narrows_the_interval_and_says_nothing():
    """The mirror case: 'bold' 0.49 + 0.2 theta is chosen before the pilot (mean 0.49 < 0.5); seeing
    theta, the worlds with theta above 0.05 move to 'safe' (width 0) and the others keep a narrower
    'bold': the interval shrinks, regret falls, no interval-widens note."""
    result, value = _safe_or_bold(0.49)
    assert result.prior_plan == "bold" and result.prior_width == pytest.approx(2 * 1.959963984540054 * 0.2, rel=1e-4)  # 2 z sd; each world leaves its own truth out
    assert value.regret_reduction > 0 and value.interval_reduction > 0
    assert "interval-widens" not in [n.code for n in result.notes]


def _safe_or_bold(offset):
    """'safe': 0.5 under every truth; 'bold': offset + 0.2 theta, theta exactly standardised over
    400 truths; one pilot observing theta with noise 0.1; the design and the pilot's value."""
    theta = np.random.default_rng(0).standard_normal(400)
    theta = (theta - theta.mean()) / theta.std()
    metric = np.stack([np.full_like(theta, 0.5), offset + 0.2 * theta], axis=1)
    problem = DesignProblem(("safe", "bold"), metric, (Pilot("see-theta", {}, 1.0),), theta[:, None], np.full(400, 1 / 400), 0.1, "samples", "error", 1.0)
    result = design(problem, 1.0, seed=0)
    return result, result.pilots[0]


# ---- the greedy batch against the uniform batches ---------------------------------------------
def data_pilot(pool, samples, unique, cost=None):
    return Pilot(f"{pool}@{samples:g},U={unique:g}", {"pool": pool, "samples": float(samples), "unique_samples": float(unique), "epochs": samples / unique}, float(cost or samples))


def test_uniform_batches_take_every_pool_at_the_most_samples_that_fit_per_share():
    """Pools a and b of 8 unique samples: whole at 4 and 8 samples, a half (4 unique) at 8 and 16,
    and a quarter at 16 only for a: with 20 samples of budget, the whole pools' batch is 8 each
    (2 x 8 <= 20; 2 x 16 is not whole), the half's 8 each (2 x 16 > 20), no quarter batch (b has
    none)."""
    pilots = [data_pilot("a", 4, 8), data_pilot("a", 8, 8), data_pilot("b", 4, 8), data_pilot("b", 8, 8),
              data_pilot("a", 8, 4), data_pilot("a", 16, 4), data_pilot("b", 8, 4), data_pilot("b", 16, 4), data_pilot("a", 16, 2)]
    problem = DesignProblem(("x", "y"), np.zeros((2, 2)), tuple(pilots), np.zeros((2, len(pilots))), np.full(2, 0.5), 0.01, "samples", "error", 100.0)
    assert uniform_batches(problem, 20.0) == [("every pool whole, 8 samples each", (1, 3)), ("every pool 1/2 of it, 8 samples each", (4, 6))]
    assert uniform_batches(problem, 15.9) == [("every pool whole, 4 samples each", (0, 2))]  # 2 x 8 > 15.9; the half has nothing at 4
    one_pool = dataclasses.replace(problem, pilots=tuple(pilots[:2]), log_outcome=np.zeros((2, 2)))
    assert uniform_batches(one_pool, 20.0) == []
    models = dataclasses.replace(problem, pilots=(Pilot("N=1e6,D=2e7", {"params": 1e6, "tokens": 2e7}, 1.2e14),) * 2, log_outcome=np.zeros((2, 2)))
    assert uniform_batches(models, 1e15) == []


def xor_problem():
    """Plan x is best when s1 s2 > 0, plan y otherwise (regret 1 for the wrong one), plus 0.25 s3
    on both plans; pilot a@1 shows s1, b@1 shows s2 (log outcome 0.1 s), a@2 shows s3 at twice the
    cost. 16 truths: every (s1, s2, s3) twice (a world's own truth is left out of its posterior, its
    twin stays). Neither a@1 nor b@1 alone says which plan is best (s1 s2 needs both); a@2 only
    narrows the interval."""
    signs = np.array([(s1, s2, s3) for s1 in (-1, 1) for s2 in (-1, 1) for s3 in (-1, 1)] * 2, dtype=float)
    wrong_x = (signs[:, 0] * signs[:, 1] < 0).astype(float)
    metric = np.stack([wrong_x, 1 - wrong_x], axis=1) + 0.25 * signs[:, [2]] + 2.0
    pilots = (data_pilot("a", 1, 1), data_pilot("b", 1, 1), data_pilot("a", 2, 1))
    return DesignProblem(("x", "y"), metric, pilots, 0.1 * signs, np.full(16, 1 / 16), 0.01, "samples", "error", 100.0)


def test_a_uniform_batch_of_lower_regret_replaces_the_myopic_greedy_one():
    """The greedy batch cannot see that a@1 and b@1 are worth everything together and nothing
    alone: it buys a@2 (interval) and stops with the budget spent, expected regret 1 (the
    leave-one-out prior's: a world's remaining truths favour the wrong plan, 4 to 3). The uniform
    batch {a@1, b@1} pins s1 s2: regret 0 in every world. `design` proposes it, says so in a note,
    and lists both batches."""
    problem = xor_problem()
    simulator = Simulator(problem, replicates=1, seed=0)
    assert simulator.outlook().regret == 1.0
    greedy = greedy_batch(simulator, 2.0)
    assert [s.pilot for s in greedy] == ["a@2,U=1"] and greedy[-1].regret == 1.0
    result = design(problem, 2.0, replicates=1, seed=0)
    assert [s.pilot for s in result.batch] == ["a@1,U=1", "b@1,U=1"] and result.batch[-1].regret == 0.0
    assert [s.chosen_by for s in result.batch] == ["uniform batch"] * 2 and result.batch_source == "every pool whole, 1 samples each"
    assert [(a.name, a.pilots, a.regret) for a in result.alternatives] == [("greedy", ("a@2,U=1",), 1.0), ("every pool whole, 1 samples each", ("a@1,U=1", "b@1,U=1"), 0.0)]
    note = next(n for n in result.notes if n.code == "uniform-batch")
    assert note.details == {"greedy": ["a@2,U=1"], "greedy_regret": 1.0, "chosen": "every pool whole, 1 samples each", "regret": 0.0}
    out = result.to_dict()["batch"]
    assert out["source"] == "every pool whole, 1 samples each" and out["pilots"] == ["a@1,U=1", "b@1,U=1"] and len(out["alternatives"]) == 2
    # re-scored on fresh outcomes (noise from the seed sequence (0, 1), not 0): the pair still pins s1 s2
    assert not np.array_equal(Simulator(problem, replicates=1, seed=(0, 1)).observed, simulator.observed)
    assert (result.fresh_regret, out["expected_regret_fresh"]) == (0.0, 0.0) and out["expected_regret_fresh_se"] == 0.0


def test_the_greedy_batch_stays_when_no_uniform_batch_is_better():
    """With a budget of 1 no uniform batch fits (two pools at 1 sample each cost 2): the greedy batch
    stays, alone in the comparison and without the note; with the xor problem's outcomes made equal
    for a@1 and b@1 (both show s1: together they are worth no more than either), the uniform batch
    has the greedy batch's regret and the greedy one stays (ties keep it)."""
    problem = xor_problem()
    result = design(problem, 1.0, replicates=1, seed=0)
    assert result.batch_source == "greedy" and [a.name for a in result.alternatives] == ["greedy"]
    assert not any(n.code == "uniform-batch" for n in result.notes)
    same = problem.log_outcome.copy()
    same[:, 1] = same[:, 0]
    tied = design(dataclasses.replace(problem, log_outcome=same), 2.0, replicates=1, seed=0)
    assert tied.batch_source == "greedy" and tied.alternatives[1].regret >= tied.alternatives[0].regret


def test_exchange_revisits_a_greedy_choice_once_the_later_ones_are_known():
    """The xor problem with b's pilot at 3 samples (cost 1: no uniform batch exists) and a budget of
    3: greedy buys a@2 (the interval) and then one of a@1 / b@3, expected regret 1; exchange swaps
    a@2 for the other of the pair, and the pair pins s1 s2: regret 0. Exchange then stops (nothing
    is below 0); the swapped-in pilot is marked 'exchange'."""
    problem = xor_problem()
    pilots = (problem.pilots[0], data_pilot("b", 3, 1, cost=1.0), problem.pilots[2])
    problem = dataclasses.replace(problem, pilots=pilots)
    simulator = Simulator(problem, replicates=1, seed=0)
    greedy = greedy_batch(simulator, 3.0)
    assert greedy[0].pilot == "a@2,U=1" and len(greedy) == 2 and greedy[-1].regret == 1.0
    assert uniform_batches(problem, 3.0) == []
    improved = exchange(simulator, greedy, 3.0)
    assert sorted(s.pilot for s in improved) == ["a@1,U=1", "b@3,U=1"] and improved[-1].regret == 0.0
    assert sorted(s.chosen_by for s in improved) == ["exchange", "kept by exchange"] and improved[-1].cumulative_cost == 2.0
    result = design(problem, 3.0, replicates=1, seed=0)
    assert [s.pilot for s in result.batch] == [s.pilot for s in improved] and result.batch_source == "greedy, then exchange"
    assert [(a.name, a.regret) for a in result.alternatives] == [("greedy", 1.0), ("greedy, then exchange", 0.0)]  # the proposal is listed with what it came from
    assert exchange(simulator, improved, 3.0) == improved  # no move lowers a regret of 0
    assert design(problem, 3.0, replicates=1, seed=0, exchange_rounds=0).batch == greedy and exchange(simulator, greedy, 3.0, rounds=0) == greedy
    models = dataclasses.replace(problem, unit="flops")  # language-model designs take no exchange by default (EXCHANGE_ROUNDS)
    assert design(models, 3.0, replicates=1, seed=0).batch == greedy


def test_no_batch_when_no_pilot_can_change_the_decision_or_its_interval():
    """Every truth gives the plans the same metric (0 and 1): the prior regret and the interval
    width are 0, nothing can improve, and no pilot is proposed (a trial's data-constrained design
    bought 41 pilots here, 'chosen by interval reduction: width 0 -> 6.4e-08')."""
    problem = dataclasses.replace(xor_problem(), metric=np.tile([0.0, 1.0], (16, 1)))
    result = design(problem, 2.0, replicates=1, seed=0)
    assert (result.prior_regret, result.prior_width, result.batch) == (0.0, 0.0, ())
    assert [n.code for n in result.notes] == ["no-pilot-value"] and result.to_dict()["batch"]["pilots"] == []


def test_a_batch_that_leaves_budget_unspent_says_so():
    """Plan x is best iff s1 > 0; pilot a@1 shows s1, c@1 shows nothing (the same outcome under every
    truth). With 3 of budget the batch is a@1 alone (regret 0; c@1 adds nothing, and the uniform
    batch {a@1, c@1} only ties): 2 of 3 stay unspent though c@1 fits, and a note says so. With a
    budget of 1.05 what is left (0.05) is under a tenth of it: no note."""
    signs = np.array([(s1, s2) for s1 in (-1, 1) for s2 in (-1, 1)] * 2, dtype=float)
    metric = np.stack([(signs[:, 0] < 0).astype(float), (signs[:, 0] > 0).astype(float)], axis=1)
    pilots = (data_pilot("a", 1, 1), data_pilot("c", 1, 1))
    problem = DesignProblem(("x", "y"), metric, pilots, np.stack([0.1 * signs[:, 0], np.zeros(8)], axis=1), np.full(8, 1 / 8), 0.01, "samples", "error", 100.0)
    result = design(problem, 3.0, replicates=1, seed=0)
    assert [s.pilot for s in result.batch] == ["a@1,U=1"] and result.batch[-1].regret == 0.0 and result.batch_source == "greedy"
    [note] = [n for n in result.notes if n.code == "budget-unspent"]
    assert note.details == {"spent": 1.0, "pilot_budget": 3.0, "remaining": 2.0, "fitting": 1} and note.severity == "info"
    assert not [n for n in design(problem, 1.05, replicates=1, seed=0).notes if n.code == "budget-unspent"]
