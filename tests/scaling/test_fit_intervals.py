"""scaling.fit's intervals and held-out error against independent answers: percentiles recomputed
with numpy, a held-out error known in closed form that a fit seeing the held-out runs cannot give."""

import numpy as np
import pandas as pd
import pytest

from scaling.fit import Fit, fit, percentile_intervals
from scaling.synthetic import grid_design

THETA = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
SHAPE = {k: v for k, v in THETA.items() if k != "E"}  # fixed: only E is fitted below


def chinchilla_numpy(theta, n, d):
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"]


@pytest.mark.parametrize("level, tails", [(0.95, (2.5, 97.5)), (0.9, (5, 95)), (0.5, (25, 75))])
def test_percentile_intervals_are_numpy_percentiles(level, tails):
    rng = np.random.default_rng(0)
    values = rng.lognormal(size=(37, 3))
    draws = [{"a": a, "b": b, "c": c} for a, b, c in values]
    intervals = percentile_intervals(draws, level)
    assert list(intervals) == ["a", "b", "c"]
    for i, name in enumerate("abc"):
        assert intervals[name] == [np.percentile(values[:, i], tails[0]), np.percentile(values[:, i], tails[1])]
        assert intervals[name][0] > values[:, i].min() and intervals[name][1] < values[:, i].max()


def small_runs():
    design = grid_design(params=[1e7, 3e7, 1e8, 3e8], tokens=[2e8, 1e9, 5e9])
    design["loss"] = chinchilla_numpy(THETA, design["params"], design["tokens"])
    return design


def test_held_out_error_comes_from_a_fit_without_the_held_out_runs():
    """The 3 largest runs (by 6ND) have 0.5 more loss than the law: a fit of E on the other 9
    (exact) runs gives E back exactly, so each held-out relative error is L / (L + 0.5) - 1. A fit
    that saw the held-out runs would move E towards them."""
    runs = small_runs()
    compute = 6 * runs["params"] * runs["tokens"]
    largest = compute.nlargest(3).index
    runs.loc[largest, "loss"] += 0.5
    fitted = fit("chinchilla", runs, fixed=SHAPE, holdout_largest=3, max_starts=50)
    truth = chinchilla_numpy(THETA, runs.loc[largest, "params"], runs.loc[largest, "tokens"]).to_numpy()
    holdout = fitted.holdout
    order = np.argsort(holdout.compute)
    np.testing.assert_allclose(np.asarray(holdout.compute)[order], np.sort(compute[largest].to_numpy()), rtol=1e-15)
    truth = truth[np.argsort(compute[largest].to_numpy())]
    np.testing.assert_allclose(np.asarray(holdout.predicted)[order], truth, rtol=1e-7)
    np.testing.assert_allclose(np.asarray(holdout.observed)[order], truth + 0.5, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(holdout.relative_errors)[order], truth / (truth + 0.5) - 1, atol=1e-7)
    # the full fit did see them: its E is measurably above the truth
    assert fitted.params["E"] > THETA["E"] + 1e-4


def test_holdout_leaves_enough_points():
    from curascale.errors import CurascaleError

    runs = small_runs()  # 12 runs, 1 free parameter: holding out 10 leaves 2, 11 leaves 1
    assert fit("chinchilla", runs, fixed=SHAPE, holdout_largest=10, max_starts=20).holdout.count == 10
    with pytest.raises(CurascaleError, match="holds out 11 of 12 runs, leaving 1: fitting 1 parameter of chinchilla needs at least 2 runs left"):
        fit("chinchilla", runs, fixed=SHAPE, holdout_largest=11, max_starts=20)


def test_as_many_points_as_parameters_carry_the_exact_fit_note():
    """An exact fit (1 run for E alone; 5 noisy runs for Chinchilla's 5 parameters) passes through
    its points: objective 0 and bootstrap intervals of width 0 whatever the truth, so it carries the
    `exact-fit` error note (every parameter named: plans refuse it); one point more does not; fewer
    points than parameters are refused in one line."""
    from curascale.errors import CurascaleError

    runs = small_runs()
    one = fit("chinchilla", runs.head(1), fixed=SHAPE, bootstrap=20, max_starts=20)
    assert one.intervals["E"][0] == one.intervals["E"][1] and one.objective == pytest.approx(0.0, abs=1e-20)
    assert [(n.code, n.severity, n.details) for n in one.notes if n.code == "exact-fit"] == [("exact-fit", "error", {"parameters": ["E"], "points": 1})]
    noisy = runs.assign(loss=runs["loss"] * np.exp(0.02 * np.random.default_rng(3).standard_normal(len(runs))))
    assert "exact-fit" in [n.code for n in fit("chinchilla", noisy.head(5), max_starts=200).notes]
    assert "exact-fit" not in [n.code for n in fit("chinchilla", runs.head(2), fixed=SHAPE, max_starts=20).notes]
    with pytest.raises(CurascaleError, match=r"4 points cannot determine 5 free parameters of chinchilla: at least 5 are needed, and more than 5 to judge the fit"):
        fit("chinchilla", runs.head(4), max_starts=20)


@pytest.fixture(scope="module")
def bootstrapped():
    runs = small_runs()
    runs["loss"] *= np.exp(0.02 * np.random.default_rng(5).standard_normal(len(runs)))
    return runs, fit("chinchilla", runs, fixed={k: v for k, v in SHAPE.items() if k != "alpha"}, bootstrap=200, max_starts=50, seed=3)


def test_fit_intervals_are_the_central_95_percent_of_its_draws(bootstrapped):
    _, fitted = bootstrapped
    assert len(fitted.draws) == 200 and fitted.interval_level == 0.95
    for name in ("E", "alpha"):
        values = np.array([d[name] for d in fitted.draws])
        assert fitted.intervals[name] == [np.percentile(values, 2.5), np.percentile(values, 97.5)]
        outside = np.sum((values < fitted.intervals[name][0]) | (values > fitted.intervals[name][1]))
        assert 6 <= outside <= 12  # 5% of 200, not min-max (0) nor 90% (20)
    assert len({d["E"] for d in fitted.draws}) > 150  # resampled: the draws differ


def test_bootstrap_is_seeded(bootstrapped):
    runs, fitted = bootstrapped
    fixed = {k: v for k, v in SHAPE.items() if k != "alpha"}
    again = fit("chinchilla", runs, fixed=fixed, bootstrap=200, max_starts=50, seed=3)
    assert again.draws == fitted.draws
    other = fit("chinchilla", runs, fixed=fixed, bootstrap=200, max_starts=50, seed=4)
    assert other.draws != fitted.draws and other.params == pytest.approx(fitted.params, rel=1e-9)


def test_predict_interval_is_the_percentile_of_per_draw_predictions(bootstrapped):
    _, fitted = bootstrapped
    at = pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]})
    per_draw = np.array([[chinchilla_numpy({**THETA, **d}, n, t) for n, t in zip(at["params"], at["tokens"])] for d in fitted.draws])
    expected = np.stack([np.percentile(per_draw, 2.5, axis=0), np.percentile(per_draw, 97.5, axis=0)], axis=1)
    np.testing.assert_allclose(fitted.predict_interval(at), expected, rtol=1e-12)
    at_80 = np.stack([np.percentile(per_draw, 10, axis=0), np.percentile(per_draw, 90, axis=0)], axis=1)
    np.testing.assert_allclose(fitted.predict_interval(at, level=0.8), at_80, rtol=1e-12)
    np.testing.assert_allclose(fitted.predict(at), chinchilla_numpy({**THETA, **fitted.params}, at["params"], at["tokens"]), rtol=1e-12)
    assert Fit.from_dict(fitted.to_dict()).predict_interval(at) == pytest.approx(fitted.predict_interval(at), rel=0)


# ---- least squares (delta above every residual): the fit of E alone is a 1-D problem numpy solves --
def least_squares_E(runs, weights):
    """argmin_E sum w_i (log(E + r_i) - log L_i)^2 / 2, r_i the fixed terms of THETA: the Huber
    objective of docs/laws.md §1 with delta larger than every residual, solved by scipy's bounded
    scalar search (tolerance 1e-12), independent of the project's solver."""
    from scipy.optimize import minimize_scalar

    rest = (chinchilla_numpy(THETA, runs["params"], runs["tokens"]) - THETA["E"]).to_numpy()
    log_loss = np.log(runs["loss"].to_numpy())
    weights = np.asarray(weights, dtype=float)
    result = minimize_scalar(lambda e: 0.5 * np.sum(weights * (np.log(e + rest) - log_loss) ** 2), bounds=(0.5, 4.0), method="bounded",
                             options={"xatol": 1e-12})
    return result.x


def noisy_runs(seed=11):
    runs = small_runs()
    runs["loss"] *= np.exp(0.03 * np.random.default_rng(seed).standard_normal(len(runs)))
    return runs


def test_bootstrap_draws_are_least_squares_fits_of_seeded_resamples():
    """Each draw is the refit on one resample of the runs with replacement: the resample counts
    restated with numpy (draw k: bincount of n integers in [0, n) from default_rng(seed), drawn in
    order), each refit solved independently. A resample that never picks a run, or a draw refit on
    the full data, gives another E."""
    runs = noisy_runs()
    fitted = fit("chinchilla", runs, fixed=SHAPE, delta=10.0, bootstrap=12, max_starts=20, seed=9)
    n = len(runs)
    rng = np.random.default_rng(9)
    counts = [np.bincount(rng.integers(0, n, size=n), minlength=n) for _ in range(12)]
    expected = [least_squares_E(runs, c) for c in counts]
    np.testing.assert_allclose([d["E"] for d in fitted.draws], expected, rtol=1e-7)
    assert fitted.params["E"] == pytest.approx(least_squares_E(runs, np.ones(n)), rel=1e-7)
    assert np.std(expected) > 1e-3  # the resamples differ enough for the check to mean something


def test_held_out_refit_keeps_delta_and_the_fixed_parameters():
    """With delta = 10 (least squares) the refit on the 9 kept runs is the 1-D least-squares E; with
    the default delta (close to least absolute deviations) it would be another."""
    runs = noisy_runs()
    compute = 6 * runs["params"] * runs["tokens"]
    largest = compute.nlargest(3).index
    fitted = fit("chinchilla", runs, fixed=SHAPE, delta=10.0, holdout_largest=3, max_starts=20)
    e_kept = least_squares_E(runs.drop(index=largest), np.ones(len(runs) - 3))
    order = np.argsort(compute[largest].to_numpy())
    truth = chinchilla_numpy({**THETA, "E": e_kept}, runs.loc[largest, "params"], runs.loc[largest, "tokens"]).to_numpy()[order]
    np.testing.assert_allclose(sorted(fitted.holdout.predicted), np.sort(truth), rtol=1e-7)
    l1 = fit("chinchilla", runs, fixed=SHAPE, holdout_largest=3, max_starts=20)  # default delta: another refit
    assert abs(l1.holdout.predicted[0] - fitted.holdout.predicted[0]) > 1e-4


def test_held_out_error_of_a_count_holds_the_largest_runs():
    """`held_out_error(problem, starts, 3)`: a count is the 3 largest-compute runs (holdout_rows),
    requested 3, the same answer as the fit's own holdout."""
    from scaling.fit import held_out_error
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    runs = noisy_runs()
    law = get_law("chinchilla")
    problem = Problem(law, Data.from_frame(law, runs), fixed=dict(SHAPE), delta=10.0)
    holdout = held_out_error(problem, problem.start_grid(20, 0), 3)
    compute = (6 * runs["params"] * runs["tokens"]).to_numpy()
    assert holdout.count == 3 and holdout.requested == 3
    assert holdout.compute == sorted(np.sort(compute)[-3:].tolist())
    explicit = held_out_error(problem, problem.start_grid(20, 0), np.argsort(compute)[-3:])
    assert explicit.predicted == pytest.approx(holdout.predicted, rel=1e-12) and explicit.requested == 3
    assert held_out_error(problem, problem.start_grid(20, 0), 3, requested=2).requested == 2


def test_held_out_ties_go_together_and_requested_is_kept():
    """Two runs tie at the cut (5e8 x 1e9 and 1e8 x 5e9: 6ND = 3e18 each): asking for 2 holds out 3."""
    runs = pd.concat([noisy_runs(), pd.DataFrame({"params": [5e8], "tokens": [1e9], "loss": [2.6]})], ignore_index=True)
    fitted = fit("chinchilla", runs, fixed=SHAPE, delta=10.0, holdout_largest=2, max_starts=20)
    assert fitted.holdout.count == 3 and fitted.holdout.requested == 2
    assert fitted.holdout.compute == pytest.approx([3e18, 3e18, 9e18], rel=1e-15)
    assert fitted.holdout.inputs["params"][-1] == 3e8 and sorted(fitted.holdout.inputs["params"][:2]) == [1e8, 5e8]
    from scaling.fit import held_out_error  # a count given to held_out_error directly: requested is the count, not the rows held

    problem = chinchilla_problem(runs)
    direct = held_out_error(problem, problem.start_grid(20, 0), 2)
    assert direct.count == 3 and direct.requested == 2


def test_predict_interval_without_draws_is_none():
    runs = noisy_runs()
    fitted = fit("chinchilla", runs, fixed=SHAPE, max_starts=20)
    assert fitted.draws == [] and fitted.predict_interval(runs) is None


# ---- holdout_rows: which rows, in which order (no fitting) ---------------------------------------
def chinchilla_problem(runs):
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    law = get_law("chinchilla")
    return Problem(law, Data.from_frame(law, runs), fixed=dict(SHAPE))


def test_holdout_rows_are_the_largest_by_compute_then_row_with_ties_together():
    """200 runs on 4 compute values (many ties): the held rows are those at or above the cut-off's
    compute, ordered by (compute, row) as Python's stable sort orders them; a sort that is not
    stable would shuffle the tied rows."""
    from scaling.fit import holdout_rows

    rng = np.random.default_rng(4)
    params = rng.choice([1e7, 2e7, 4e7, 8e7], size=200)
    runs = pd.DataFrame({"params": params, "tokens": np.full(200, 1e9), "loss": np.full(200, 3.0)})
    compute = 6 * params * 1e9
    problem = chinchilla_problem(runs)
    for count in (1, 70, 120):
        cut = sorted(compute)[-count]
        expected = sorted((i for i in range(200) if compute[i] >= cut), key=lambda i: (compute[i], i))
        assert holdout_rows(problem, count).tolist() == expected
    none = holdout_rows(problem, 0)
    assert none.tolist() == [] and none.dtype.kind == "i"  # row indices, usable to index with


@pytest.mark.parametrize("count, message", [(-1, ">= 0, got -1"), (11, "holds out 11 of 12 runs"), (12, "holds out 12 of 12 runs"),
                                            (13, "holds out 12 of 12 runs"), (40, "holds out 12 of 12 runs")])
def test_holdout_rows_refuses_negative_counts_and_leaving_too_few(count, message):
    from curascale.errors import CurascaleError
    from scaling.fit import holdout_rows

    problem = chinchilla_problem(small_runs())  # 12 runs, 1 free parameter: 2 must stay, 10 is the most
    with pytest.raises(CurascaleError, match=message):
        holdout_rows(problem, count)
    assert len(holdout_rows(problem, 10)) == 10


def test_percentile_intervals_of_one_draw_is_that_draw():
    assert percentile_intervals([{"E": 1.5, "alpha": 0.3}], 0.95) == {"E": [1.5, 1.5], "alpha": [0.3, 0.3]}


def test_progress_reports_every_stage_to_its_end():
    """fit's progress callback hears the starts, the bootstrap refits and the held-out refit, each
    ending at done == total (a stage that stops reporting leaves a progress bar hanging)."""
    seen = []
    fit("chinchilla", noisy_runs(), fixed=SHAPE, bootstrap=5, holdout_largest=3, max_starts=20,
        progress=lambda stage, done, total: seen.append((stage, done, total)))
    for stage in ("starts", "bootstrap", "holdout"):
        reports = [(done, total) for name, done, total in seen if name == stage]
        assert reports and reports[-1][0] == reports[-1][1] > 0, stage
    assert {total for name, _, total in seen if name == "bootstrap"} == {5}  # counted in draws, not seeds x draws (trial: 800/800 for 200)


def test_held_out_refit_keeps_the_tied_parameters():
    """beta tied to alpha, A, B, E fixed: the refit on the kept runs is a 1-D least-squares problem in
    alpha (delta = 10), solved here by scipy; untied, the refit would fit alpha and beta apart."""
    from scipy.optimize import minimize_scalar

    runs = noisy_runs(seed=21)
    compute = 6 * runs["params"] * runs["tokens"]
    largest = compute.nlargest(3).index
    kept = runs.drop(index=largest)
    fixed = {"A": THETA["A"], "B": THETA["B"], "E": THETA["E"]}

    def objective(a):
        return np.sum((np.log(chinchilla_numpy({**fixed, "alpha": a, "beta": a}, kept["params"], kept["tokens"])) - np.log(kept["loss"])) ** 2)

    alpha = minimize_scalar(objective, bounds=(0.1, 0.8), method="bounded", options={"xatol": 1e-12}).x
    fitted = fit("chinchilla", runs, fixed=fixed, tied={"beta": "alpha"}, delta=10.0, holdout_largest=3, max_starts=50)
    truth = chinchilla_numpy({**fixed, "alpha": alpha, "beta": alpha}, runs.loc[largest, "params"], runs.loc[largest, "tokens"]).to_numpy()
    np.testing.assert_allclose(sorted(fitted.holdout.predicted), np.sort(truth), rtol=1e-7)


def test_predict_interval_of_a_per_bucket_fit_uses_each_rows_bucket():
    """A fit with per-bucket parameters (the shipped T-MARS utility fit, draws made by scaling its
    utilities): the interval at each row is the percentile over draws of that row's own bucket's
    prediction, `Fit.predict` with the draw's parameters (itself checked against the paper's
    table in tests/scaling/test_reference.py)."""
    import dataclasses

    from scaling.reference import load_fit

    reference = load_fit("reference/tmars-imagenet-utility")
    draws = [{k: v * (factor if k.startswith("utility[") else 1.0) for k, v in reference.params.items()} for factor in (0.8, 0.9, 1.0, 1.1, 1.3)]
    fitted = dataclasses.replace(reference, draws=draws, interval_level=0.5)
    at = pd.DataFrame({"samples_seen": [32e6, 128e6, 128e6], "unique_samples": [12.8e6, 12.8e6, 12.8e6],
                       "bucket": ["tmars_top0to10p", "tmars_top0to10p", "tmars_top30to40p"]})
    per_draw = np.array([fitted.predict(at, d) for d in draws])
    expected = np.stack([np.percentile(per_draw, 25, axis=0), np.percentile(per_draw, 75, axis=0)], axis=1)
    np.testing.assert_allclose(fitted.predict_interval(at), expected, rtol=1e-12)
    assert expected[1, 1] - expected[1, 0] != pytest.approx(expected[2, 1] - expected[2, 0], rel=1e-3)  # the buckets differ


# ---- several starts: a start on a plateau is not the best, and comes first -----------------------
def plateau_problem(runs):
    """Chinchilla with only alpha free (A, B, E, beta fixed at THETA, delta = 10: least squares)."""
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    law = get_law("chinchilla")
    return Problem(law, Data.from_frame(law, runs), fixed={k: THETA[k] for k in ("A", "B", "E", "beta")}, delta=10.0)


def least_squares_alpha(runs, weights):
    """argmin_alpha sum w_i (log L(alpha) - log L_i)^2 / 2 with A, B, E, beta at THETA, by scipy's
    bounded scalar search (independent of the project's solver)."""
    from scipy.optimize import minimize_scalar

    weights = np.asarray(weights, dtype=float)
    log_loss = np.log(runs["loss"].to_numpy())

    def objective(a):
        return 0.5 * np.sum(weights * (np.log(chinchilla_numpy({**THETA, "alpha": a}, runs["params"], runs["tokens"]).to_numpy()) - log_loss) ** 2)

    return minimize_scalar(objective, bounds=(0.1, 0.8), method="bounded", options={"xatol": 1e-12}).x


def plateau_starts(problem):
    """Two starts, the first on a plateau: at alpha = 60, N^-alpha underflows to 0 for every run, the
    gradient is 0 and the solver stays there with a worse objective than the second start's."""
    from scaling.fit import _minimize

    starts = problem.starts_from([{"alpha": 60.0}, {"alpha": 0.3}])
    result = _minimize(problem, starts, np.ones((2, len(problem.data))))
    assert result.u[0, 0] == 60.0 and result.value[0] > 10 * result.value[1]  # the premise: the first start is the worse
    return starts


def test_bootstrap_draws_take_each_resamples_best_start_not_the_first():
    from scaling.fit import bootstrap_draws

    runs = noisy_runs(seed=21)
    problem = plateau_problem(runs)
    draws = bootstrap_draws(problem, plateau_starts(problem), 8, 9)
    rng = np.random.default_rng(9)
    counts = [np.bincount(rng.integers(0, len(runs), size=len(runs)), minlength=len(runs)) for _ in range(8)]
    expected = [least_squares_alpha(runs, c) for c in counts]
    np.testing.assert_allclose([d["alpha"] for d in draws], expected, rtol=1e-7)
    assert np.std(expected) > 1e-4  # the resamples differ


def test_held_out_refit_takes_the_best_start_not_the_first():
    from scaling.fit import held_out_error

    runs = noisy_runs(seed=21)
    problem = plateau_problem(runs)
    compute = (6 * runs["params"] * runs["tokens"]).to_numpy()
    held = np.argsort(compute)[-3:]
    holdout = held_out_error(problem, plateau_starts(problem), held)
    alpha = least_squares_alpha(runs.drop(index=held), np.ones(len(runs) - 3))
    truth = chinchilla_numpy({**THETA, "alpha": alpha}, runs["params"].to_numpy()[held], runs["tokens"].to_numpy()[held])
    np.testing.assert_allclose(holdout.predicted, truth, rtol=1e-7)


def test_held_out_runs_of_a_per_bucket_fit_carry_their_bucket():
    """A per-bucket law (data_filtering_utility, buckets in an order that is not alphabetical): the
    held-out runs' bucket labels are the frame's, in the order of holdout_rows (by compute, which is
    samples_seen, ties in row order), restated here with a plain sort; lq has runs only at 16 and 32
    epochs, all held out, so its held-out runs are the unseen ones."""
    rows = [("mq", 1), ("hq", 8), ("lq", 32), ("mq", 16), ("hq", 2), ("mq", 8), ("mq", 32), ("hq", 16), ("hq", 4), ("hq", 32), ("mq", 4), ("lq", 16)]
    frame = pd.DataFrame({"bucket": [b for b, _ in rows], "samples_seen": [12.8e6 * e for _, e in rows], "unique_samples": 12.8e6})
    utility = {"hq": -0.16, "mq": -0.12, "lq": -0.09}
    epochs = np.array([e for _, e in rows], dtype=float)
    frame["error"] = 0.1 + 0.5 * epochs ** np.array([utility[b] for b, _ in rows])  # any positive error falling with epochs
    from scaling.fit import held_out_error
    from scaling.laws import get_law
    from scaling.problem import Data, Problem

    law = get_law("data_filtering_utility")
    fixed = {"irreducible_error": 0.1, "sample_scale": 0.5, "utility_half_life": 8.0}  # 3 free utilities: 6 runs are enough
    problem = Problem(law, Data.from_frame(law, frame), fixed=fixed)
    holdout = held_out_error(problem, problem.start_grid(4, 0), 5)
    cut = sorted(e for _, e in rows)[-5]  # the 5th largest: 16 epochs, tied with a 6th run, held out with it
    order = sorted((i for i in range(len(rows)) if rows[i][1] >= cut), key=lambda i: (rows[i][1], i))
    assert len(order) == 6 and holdout.count == 6
    assert holdout.inputs["bucket"] == [rows[i][0] for i in order]
    assert holdout.inputs["samples_seen"] == [12.8e6 * rows[i][1] for i in order]
    kept_buckets = {rows[i][0] for i in range(len(rows)) if i not in order}
    assert kept_buckets == {"hq", "mq"} and holdout.unseen == [rows[i][0] not in kept_buckets for i in order]
    assert holdout.unseen.count(True) == 2
