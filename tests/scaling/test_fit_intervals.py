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
