"""scaling.plots draws what it claims: the fitted curves are the law's values (checked against a
numpy re-statement on the figure's own line data), the plan's bars are the candidates' accuracies."""

import numpy as np
import pandas as pd
import pytest

from scaling import plots
from scaling.fit import Fit
from scaling.plan import plan_data, sweep_data
from scaling.reference import load_fit

THETA = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


def fitted_chinchilla(**changes):
    """The Epoch constants as a fit with an objective (a reference fit has none to print)."""
    return Fit(**{**load_fit("reference/chinchilla-epoch").__dict__, "objective": 0.01, **changes})


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save (kept open for inspection)."""
    saved = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, path: saved.append(figure) or path)
    return saved


def test_fit_plot_draws_the_fitted_curve_per_series(figures, tmp_path):
    fit = fitted_chinchilla()
    n, d = np.meshgrid([1e8, 1e9, 1e10], [1e9, 1e10, 1e11, 1e12])
    frame = pd.DataFrame({"params": n.ravel(), "tokens": d.ravel()})
    frame["loss"] = THETA["E"] + THETA["A"] / frame["params"] ** THETA["alpha"] + THETA["B"] / frame["tokens"] ** THETA["beta"] + 0.01
    plots.plot_fit(fit, frame, tmp_path / "fit.png")
    (axis,) = figures[0].axes
    assert len(axis.lines) == 3
    for line, params in zip(axis.lines, [1e8, 1e9, 1e10]):
        x, y = line.get_xdata(), line.get_ydata()
        np.testing.assert_allclose(x, np.geomspace(1e9, 1e12, 60), rtol=1e-12)
        np.testing.assert_allclose(y, THETA["E"] + THETA["A"] / params ** THETA["alpha"] + THETA["B"] / x ** THETA["beta"], rtol=1e-12)
    points = np.concatenate([c.get_offsets() for c in axis.collections])
    assert sorted(map(tuple, points)) == sorted(zip(frame["tokens"], frame["loss"]))
    assert axis.get_xscale() == "log" and axis.get_xlabel() == "tokens" and axis.get_ylabel() == "loss"


def test_fit_plot_draws_the_band_of_the_draws(figures, tmp_path):
    fit = fitted_chinchilla(draws=[{**THETA, "E": e} for e in np.linspace(1.7, 1.9, 41)])
    frame = pd.DataFrame({"params": [1e9, 1e9], "tokens": [1e10, 1e11], "loss": [2.5, 2.2]})
    plots.plot_fit(fit, frame, tmp_path / "fit.png")
    (axis,) = figures[0].axes
    (band,) = [c for c in axis.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    vertices = band.get_paths()[0].vertices
    x = np.geomspace(1e10, 1e11, 60)
    curve = THETA["A"] / 1e9 ** THETA["alpha"] + THETA["B"] / x ** THETA["beta"]
    low, high = np.percentile(np.linspace(1.7, 1.9, 41), [2.5, 97.5])
    inside = vertices[(vertices[:, 0] > x[0] * 1.0001) & (vertices[:, 0] < x[-1] * 0.9999)]
    expected = {round(v, 9) for v in np.concatenate([low + curve, high + curve])[1:-1]}
    assert inside.size and all(any(abs(y - e) < 1e-9 for e in expected) for y in inside[:, 1])


def test_plan_plot_bars_are_the_candidates(figures, tmp_path):
    plan = plan_data(load_fit("reference/tmars-imagenet-utility"), 128e6)
    plots.plot_plan(plan, tmp_path / "plan.png")
    (axis,) = figures[0].axes
    heights = {label.get_text(): patch.get_height() for label, patch in zip(axis.get_xticklabels(), axis.patches)}
    assert heights == {c.name: pytest.approx(c.predicted_accuracy, rel=1e-12) for c in plan.candidates}
    best = next(p for label, p in zip(axis.get_xticklabels(), axis.patches) if label.get_text() == plan.best)
    assert all(p.get_facecolor() != best.get_facecolor() for label, p in zip(axis.get_xticklabels(), axis.patches) if label.get_text() != plan.best)


def test_sweep_plot_lines_are_the_frontier(figures, tmp_path):
    rows = sweep_data(load_fit("reference/tmars-imagenet-utility"), 12.8e6, 1.28e9, 5)
    plots.plot_sweep(rows, "reference", tmp_path / "sweep.png")
    (axis,) = figures[0].axes
    lines = {line.get_label(): line.get_ydata() for line in axis.lines}
    for name in ("top10", "top20", "top30", "top40"):
        np.testing.assert_allclose(lines[name], [r["accuracy_by_candidate"][name] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(lines["best"], np.max([[r["accuracy_by_candidate"][n] for n in ("top10", "top20", "top30", "top40")] for r in rows], axis=1), rtol=1e-12)
