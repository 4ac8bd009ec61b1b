"""scaling.plots draws what it claims: the fitted curves are the law's values (checked against a
numpy re-statement on the figure's own line data), the plan's bars are the candidates' accuracies."""

import numpy as np
import pandas as pd
import pytest

from scaling import plots
from scaling.fit import Fit
from scaling.plan import frontier_rows, plan_data, sweep_data
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


def test_plan_plot_points_are_the_candidates(figures, tmp_path):
    fit = with_draws(load_fit("reference/tmars-imagenet-utility"), np.linspace(0.9, 1.1, 11))
    plan = plan_data(fit, 128e6)
    plots.plot_plan(plan, fit, tmp_path / "plan.png")
    _, axis = figures[0].axes
    (points,) = [c for c in axis.collections if c.__class__.__name__ == "PathCollection"]
    names = [label.get_text() for label in axis.get_xticklabels()]
    assert names == sorted(c.name for c in plan.candidates)
    accuracy = dict(zip(names, points.get_offsets().data[:, 1]))
    assert accuracy == {c.name: pytest.approx(c.predicted_accuracy, rel=1e-12) for c in plan.candidates}
    colors = dict(zip(names, map(tuple, points.get_facecolors())))
    assert all(colors[n] != colors[plan.best] for n in names if n != plan.best)
    whiskers = {names[int(round(segment[0, 0]))]: sorted(segment[:, 1]) for c in axis.collections if c.__class__.__name__ == "LineCollection" for segment in c.get_segments()}
    assert whiskers == {c.name: pytest.approx(c.interval, rel=1e-12) for c in plan.candidates}


def test_sweep_plot_lines_are_the_frontier(figures, tmp_path):
    sweep = sweep_data(load_fit("reference/tmars-imagenet-utility"), 12.8e6, 1.28e9, 5)
    rows = sweep.rows
    plots.plot_sweep(sweep, load_fit("reference/tmars-imagenet-utility"), tmp_path / "sweep.png")
    (axis,) = figures[0].axes
    lines = {line.get_label(): line.get_ydata() for line in axis.lines}
    for name in ("top10", "top20", "top30", "top40"):
        np.testing.assert_allclose(lines[name], [r["accuracy_by_candidate"][name] for r in rows], rtol=1e-12)
    np.testing.assert_allclose(lines["best"], np.max([[r["accuracy_by_candidate"][n] for n in ("top10", "top20", "top30", "top40")] for r in rows], axis=1), rtol=1e-12)


def test_fit_plot_receives_numeric_inputs_only(tmp_path):
    """A frame whose law inputs arrive as text (as from a registry's extra columns) is validated to
    float64 before fitting or plotting: the plot draws instead of crashing in np.geomspace."""
    import numpy as np
    import pandas as pd

    from curascale.errors import CurascaleError
    from scaling.frames import numeric_inputs
    from scaling.laws import get_law
    from scaling.plots import plot_fit
    from scaling.reference import load_fit

    law = get_law("precision")
    fit = load_fit("reference/precision")
    text = pd.DataFrame({"run_id": ["a", "b", "c"], "params": ["3e7", "1e8", "2.2e8"], "tokens": ["1.5e9", "5e9", "2.6e10"],
                         "bits_weights": ["4", "8", "16"], "bits_activations": ["4", "8", "16"], "bits_kv_cache": ["4", "8", "16"], "loss": [4.0, 3.5, 3.2]})
    frame = numeric_inputs(text, law, "runs.csv")
    assert all(frame[c].dtype == np.float64 for c in law.inputs) and frame["tokens"].tolist() == [1.5e9, 5e9, 2.6e10]
    assert plot_fit(fit, frame, tmp_path / "f.png").exists()
    with pytest.raises(CurascaleError, match="runs.csv.*row 2.*bits_weights"):
        numeric_inputs(text.assign(bits_weights=["4", "int8", "16"]), law, "runs.csv")


def scatter_points(axis, label):
    """The offsets of the scatter collection carrying `label`."""
    (collection,) = [c for c in axis.collections if c.get_label() == label]
    return sorted(map(tuple, collection.get_offsets().data))


def test_held_out_runs_are_marked_and_left_out_of_the_plain_points(figures, tmp_path):
    from scaling.fit import Holdout

    frame = pd.DataFrame({"params": [1e8, 1e8, 1e9, 1e9, 1e10, 1e10], "tokens": [1e9, 1e10, 1e10, 1e11, 1e11, 1e12]})
    frame["loss"] = THETA["E"] + THETA["A"] / frame["params"] ** THETA["alpha"] + THETA["B"] / frame["tokens"] ** THETA["beta"]
    held = frame.iloc[[3, 5]]
    holdout = Holdout(count=2, relative_errors=[0.01, -0.02], observed=held["loss"].tolist(), predicted=[2.4, 2.1], compute=[6e20, 6e22],
                      inputs={"params": held["params"].tolist(), "tokens": held["tokens"].tolist()}, requested=2)
    plots.plot_fit(fitted_chinchilla(holdout=holdout), frame, tmp_path / "fit.png")
    (axis,) = figures[0].axes
    assert scatter_points(axis, "held out") == sorted(zip(held["tokens"], held["loss"]))
    assert scatter_points(axis, "predicted without them") == sorted(zip(held["tokens"], [2.4, 2.1]))
    plain = [tuple(p) for c in axis.collections if c.get_label().startswith("params") for p in c.get_offsets().data]
    assert sorted(plain) == sorted(zip(frame["tokens"].drop([3, 5]), frame["loss"].drop([3, 5])))
    held_marker = next(c for c in axis.collections if c.get_label() == "held out")
    assert all(c.get_paths()[0] != held_marker.get_paths()[0] for c in axis.collections if c.get_label().startswith("params"))  # another marker
    assert "held out" in [t.get_text() for t in axis.get_legend().get_texts()]


def filtering_runs(unique_samples=12.8e6):
    """Runs on the four T-MARS buckets at 1..10 epochs, error from the reference fit (exactly)."""
    fit = load_fit("reference/tmars-imagenet-utility")
    runs = pd.DataFrame([{"bucket": b, "samples_seen": e * unique_samples, "unique_samples": unique_samples} for b in fit.groups for e in (1, 2, 4, 10)])
    return fit, runs.assign(error=fit.predict(runs))


def test_buckets_share_one_panel_and_are_named_in_its_legend(figures, tmp_path):
    fit, runs = filtering_runs()
    plots.plot_fit(fit, runs, tmp_path / "fit.png")
    (axis,) = figures[0].axes
    legend = axis.get_legend()
    assert legend.get_title().get_text() == "bucket" and [t.get_text() for t in legend.get_texts()] == sorted(fit.groups)
    for bucket in fit.groups:  # each bucket's points under its own name
        rows = runs[runs.bucket == bucket]
        assert scatter_points(axis, bucket) == sorted(zip(rows["samples_seen"], rows["error"]))


def test_panels_per_bucket_share_both_axes(figures, tmp_path):
    fit, small = filtering_runs(12.8e6)
    _, large = filtering_runs(25.6e6)
    plots.plot_fit(fit, pd.concat([small, large]), tmp_path / "fit.png")
    axes = figures[0].axes
    assert len(axes) == len(fit.groups)
    assert all(axes[0].get_shared_x_axes().joined(axes[0], a) and axes[0].get_shared_y_axes().joined(axes[0], a) for a in axes[1:])
    assert [a.get_legend().get_title().get_text() for a in axes] == [f"bucket {b}" for b in sorted(fit.groups)]


def with_draws(fit, factors):
    """`fit` with bootstrap draws whose utilities are the fit's times each factor."""
    draws = [{k: v * f if k.startswith("utility[") else v for k, v in fit.params.items()} for f in factors]
    return Fit(**{**fit.__dict__, "draws": draws, "objective": 0.01})


def band_of(axis):
    (band,) = [c for c in axis.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    return band.get_paths()[0].vertices


def test_frontier_band_is_the_percentiles_of_the_draws_plans(figures, tmp_path):
    factors = np.linspace(0.8, 1.2, 21)
    fit = with_draws(load_fit("reference/tmars-imagenet-utility"), factors)
    rows = frontier_rows(fit, 32e6, 512e6, 5)
    plots.plot_sweep(rows, fit, tmp_path / "sweep.png", budget=128e6)
    (axis,) = figures[0].axes
    vertices = band_of(axis)
    for row in rows:  # each draw's accuracy of the best union, recomputed as a plan with that draw's constants, then numpy percentiles
        accuracy = []
        for draw in fit.draws:
            alone = Fit(**{**fit.__dict__, "params": draw, "draws": []})
            accuracy.append(next(c.predicted_accuracy for c in plan_data(alone, row["budget_samples"]).candidates if c.name == row["best"]))
        low, high = np.percentile(accuracy, [2.5, 97.5])
        edges = vertices[np.isclose(vertices[:, 0], row["budget_samples"], rtol=1e-12), 1]
        assert np.isclose(edges, low, rtol=1e-9).any() and np.isclose(edges, high, rtol=1e-9).any() and low < high
    (budget,) = [line for line in axis.lines if line.get_label() == "budget 128M"]
    assert list(budget.get_xdata()) == [128e6, 128e6]
    assert not [t for t in axis.texts if "no interval" in t.get_text()]


def test_plan_figure_marks_the_budget_the_plan_and_the_pilot_runs(figures, tmp_path):
    fit, runs = filtering_runs()
    fit = Fit(**{**fit.__dict__, "points": runs[["samples_seen", "unique_samples", "bucket", "error"]].to_dict(orient="list")})
    plan = plan_data(fit, 128e6)
    plots.plot_plan(plan, fit, tmp_path / "plan.png")
    frontier, _ = figures[0].axes
    (budget,) = [line for line in frontier.lines if line.get_label() == "budget 128M"]
    assert list(budget.get_xdata()) == [128e6, 128e6]
    best = next(c for c in plan.candidates if c.name == plan.best)
    assert scatter_points(frontier, f"plan: {plan.best}") == [(128e6, pytest.approx(best.predicted_accuracy, rel=1e-12))]
    for bucket in fit.groups:
        rows = runs[runs.bucket == bucket]
        assert scatter_points(frontier, f"pilot run: {bucket}") == sorted(zip(rows["samples_seen"], 1 - rows["error"]))
    low, high = frontier.get_xlim()
    assert low <= runs["samples_seen"].min() and high >= runs["samples_seen"].max()


def test_a_frontier_without_draws_says_so(figures, tmp_path):
    fit = load_fit("reference/tmars-imagenet-utility")
    plots.plot_sweep(sweep_data(fit, 12.8e6, 1.28e9, 5), fit, tmp_path / "sweep.png", budget=5e9)
    (axis,) = figures[0].axes
    assert [t.get_text() for t in axis.texts] == ["published point estimates: no interval"]
    assert not [c for c in axis.collections if c.__class__.__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert not [line for line in axis.lines if line.get_label().startswith("budget")]  # 5B lies outside the sweep
    assert not [c for c in axis.collections if c.get_label().startswith("pilot run")]  # published constants: no runs


def test_model_plan_figure_stars_the_chosen_point(tmp_path, monkeypatch):
    from scaling.plan import plan_model
    from scaling.plan_model import iso_flop_curves

    saved = []
    monkeypatch.setattr(plots, "_save_and_close", lambda plt, figure, path: saved.append(figure) or path)
    fits = [load_fit("reference/chinchilla-epoch"), load_fit("reference/precision")]
    plan = plan_model(1e22, fits)
    plots.plot_model_plan(plan, iso_flop_curves(plan, fits), tmp_path / "lm.png")
    (axis,) = saved[0].axes
    assert scatter_points(axis, f"plan: N = {plots.plain_number(plan.params)}, D = {plots.plain_number(plan.tokens)}") == [(plan.params, pytest.approx(plan.loss, rel=1e-9))]
    (chosen,) = [line for line in axis.lines if line.get_label().endswith("(plan)")]
    x, y = chosen.get_xdata(), chosen.get_ydata()
    assert y[np.argmin(np.abs(np.log(x / plan.params)))] == pytest.approx(plan.loss, rel=1e-3)  # the star sits on the chosen precision's curve
