"""matplotlib figures of fits and plans, each saved as PNG and PDF with plain tick labels.

- `plot_fit`: observed runs and fitted curves with bootstrap bands, buckets named in the legend,
  panels on shared axes, held-out runs marked; an observed-against-fitted panel when the curves
  cannot pass through every run.
- `plot_plan` / `plot_sweep` (`frontier`): the quality-quantity frontier with the best union's
  bootstrap band (or a caption saying why there is none), the budget, the plan and the fit's
  pilot runs (`Fit.points`); `plot_plan` adds the candidates at the budget with their intervals.
- `plot_model_plan`: a language-model plan's iso-FLOP curves with the chosen point.
Legends sit below the axes, never over the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scaling.figure_output import plain_number
from scaling.problem import law_inputs


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path) -> Path:
    """Plain tick labels, then `path` (.png or .pdf) and its twin in the other format, each written
    atomically (scaling.figure_output)."""
    from scaling.figure_output import save_png_and_pdf

    return save_png_and_pdf(figure, path)


def _axes_of(law, frame: pd.DataFrame) -> tuple[str, str | None]:
    """The swept input (tokens or samples seen) and the input that splits points into curves."""
    x = next((c for c in ("tokens", "samples_seen") if c in law.inputs), law.inputs[-1])
    series = next((c for c in law.inputs if c != x and c in frame and frame[c].nunique() > 1), None)
    return x, series


SERIES_MOST = 6  # a series with more distinct values is binned (log-quantile bins) into this many curves


def _series_bins(values: pd.Series, most: int = SERIES_MOST) -> np.ndarray:
    """A bin label per row: the distinct values when few, else log-quantile bins."""
    if values.nunique() <= most:
        return values.to_numpy(dtype=float)
    edges = np.quantile(np.log(values), np.linspace(0, 1, most + 1))
    bins = np.clip(np.searchsorted(edges, np.log(values), side="right") - 1, 0, most - 1)
    return np.exp(np.array([np.median(np.log(values[bins == b])) for b in range(most)]))[bins]


HELD_OUT = {"marker": "D", "s": 34, "facecolors": "none", "edgecolors": "black", "linewidths": 1.1, "zorder": 4}
HELD_OUT_PREDICTION = {"marker": "x", "s": 30, "color": "tab:red", "linewidths": 1.1, "zorder": 5}


def held_out_rows(fit, frame: pd.DataFrame) -> np.ndarray:
    """A boolean per row of `frame`: True for the runs the fit held out (`fit.holdout`), matched on
    every law input, the group and the target (rtol 1e-12)."""
    held = np.zeros(len(frame), dtype=bool)
    if fit.holdout is None:
        return held
    law = fit.law_spec
    columns = law_inputs(law, frame, source="plot data")
    target = frame[law.target].to_numpy(dtype=float)
    for i, observed in enumerate(fit.holdout.observed):
        same = np.isclose(target, observed, rtol=1e-12, atol=0)
        for name, values in columns.items():
            same &= np.isclose(values, fit.holdout.inputs[name][i], rtol=1e-12, atol=0)
        if law.group_by is not None:
            same &= frame[law.group_by].astype(str).to_numpy() == fit.holdout.inputs[law.group_by][i]
        held |= same
    return held


def _layout(law, frame: pd.DataFrame, series: str | None) -> tuple[list, str | None]:
    """(the panels, the column whose values are the curves): one panel per group only when each
    group has several curves (a series); otherwise one panel, one curve per group (bucket)."""
    if law.group_by is None:
        return [None], series
    if series is None:
        return [None], law.group_by
    return sorted(frame[law.group_by].astype(str).unique()), series


def _curve_label(column: str | None, key, law) -> str | None:
    if column is None:
        return None
    return str(key) if column == law.group_by else f"{column} ~ {plain_number(key)}"


def plot_fit(fit, frame: pd.DataFrame, path: str | Path) -> Path:
    """Observed points and fitted curves (with the bootstrap band when the fit has draws): the law
    swept along tokens / samples seen, one curve per value (or bin) of the series input (e.g.
    params) or per group (bucket, named in the legend), other inputs at each curve's median; one
    panel per group when each group has several curves, panels sharing both axes. When the curves
    cannot pass through every point (binned series, other inputs that vary), a last panel shows
    every run's observed against fitted value with the line y = x. Runs the fit held out
    (`fit.holdout`) are open diamonds ("held out"), with the prediction of the fit made without
    them as red crosses. Written as PNG and PDF (`save_figure`)."""
    plt = _pyplot()
    law = fit.law_spec
    frame = frame.reset_index(drop=True)
    x, series = _axes_of(law, frame)
    panels, column = _layout(law, frame, series)
    held = held_out_rows(fit, frame)
    at_median = [name for name in law.inputs if name not in (x, column) and name in frame and frame[name].nunique() > 1]
    parity = bool(at_median) or (column == series is not None and frame[series].nunique() > SERIES_MOST)
    count = len(panels) + parity
    figure = plt.figure(figsize=((4.6 if count > 1 else 6.0) * count, 4.2))
    first = None
    for i, group in enumerate(panels):
        axis = figure.add_subplot(1, count, i + 1, sharex=first, sharey=first)  # panels compared on one scale
        first = first or axis
        _curve_panel(axis, fit, frame, held, x, column, group, at_median)
    first.set_ylabel(law.target)
    if parity:
        _parity_panel(figure.add_subplot(1, count, count), fit, frame, held)
    objective = "published constants" if fit.objective is None else f"objective {fit.objective:.6g}"  # a reference fit has none
    figure.suptitle(f"{law.name} ({law.section}), {objective}", fontsize=9)
    return _save_and_close(plt, figure, path)


def _curve_panel(axis, fit, frame: pd.DataFrame, held: np.ndarray, x: str, column: str | None, group: str | None, at_median: list[str]) -> None:
    """One panel of `plot_fit`: the points of `group` (all when None) and a fitted curve (and band)
    per value of `column`; held-out runs marked."""
    plt = _pyplot()
    law = fit.law_spec
    inside = np.ones(len(frame), dtype=bool) if group is None else (frame[law.group_by].astype(str) == group).to_numpy()
    part = frame[inside]
    if column is None:
        labels = np.ones(len(part))
    elif column == law.group_by:
        labels = part[column].astype(str).to_numpy()
    else:
        labels = _series_bins(part[column], SERIES_MOST)
    keys = sorted(set(labels))
    for key, color in zip(keys, plt.cm.viridis(np.linspace(0, 0.9, len(keys)))):
        rows = part[labels == key]
        kept = rows[~held[inside][labels == key]]
        axis.scatter(kept[x], kept[law.target], s=12, color=color, label=_curve_label(column, key, law))
        sweep = pd.DataFrame({x: np.geomspace(part[x].min(), part[x].max(), 60)})
        for name in law.inputs:
            if name != x and name in rows:
                sweep[name] = key if name == column else rows[name].median()
        if law.group_by is not None:
            sweep[law.group_by] = group if group is not None else key
        axis.plot(sweep[x], fit.predict(sweep), color=color, lw=1)
        band = fit.predict_interval(sweep)
        if band is not None:
            axis.fill_between(sweep[x], band[:, 0], band[:, 1], color=color, alpha=0.2, lw=0)
    _draw_held_out(axis, fit, frame[inside & held], x, group)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel(x.replace("_", " "))
    if group is not None:
        axis.set_title(f"{law.group_by} {group}", fontsize=9)
    if column is not None or held[inside].any():
        title = law.group_by if column == law.group_by else (None if group is None else f"{law.group_by} {group}")
        if at_median:
            title = "; ".join(filter(None, [title, f"curves at their runs' median {', '.join(at_median)}"]))
        legend_below(axis, title=title)


def _parity_panel(axis, fit, frame: pd.DataFrame, held: np.ndarray) -> None:
    """Every run's observed target against the fit's value at its inputs, held-out runs marked,
    and the line y = x."""
    law = fit.law_spec
    fitted = fit.predict(frame)
    observed = frame[law.target].to_numpy(dtype=float)
    axis.scatter(fitted[~held], observed[~held], s=10, color="0.35", label="run")
    if held.any():
        axis.scatter(fitted[held], observed[held], label="held out", **HELD_OUT)
    low, high = min(fitted.min(), observed.min()), max(fitted.max(), observed.max())
    axis.plot([low, high], [low, high], color="tab:red", lw=0.8, ls="--", label="observed = fitted")
    limits = (low / (high / low) ** 0.04, high * (high / low) ** 0.04)  # one scale on both axes
    axis.set(xscale="log", yscale="log", xlim=limits, ylim=limits, xlabel=f"fitted {law.target}", ylabel=f"observed {law.target}")
    axis.set_title("every run: observed against fitted", fontsize=9)
    legend_below(axis)


def _draw_held_out(axis, fit, rows: pd.DataFrame, x: str, group: str | None) -> None:
    """The held-out runs among `rows` (open diamonds) and the held-out fit's predictions of them."""
    if rows.empty:
        return
    law = fit.law_spec
    axis.scatter(rows[x], rows[law.target], label="held out", **HELD_OUT)
    holdout = fit.holdout
    mine = [i for i in range(holdout.count) if group is None or holdout.inputs[law.group_by][i] == group]
    axis.scatter([holdout.inputs[x][i] for i in mine], [holdout.predicted[i] for i in mine], label="predicted without them", **HELD_OUT_PREDICTION)


def plot_plan(plan, fit, path: str | Path) -> Path:
    """Left: the frontier around the plan's budget (`frontier`) with the budget marked, the plan as
    a star and the fit's pilot runs; right: the predicted accuracy of every candidate at the budget
    (with bootstrap intervals), the plan highlighted. `fit` is the fit the plan was made on."""
    from scaling.plan import frontier_rows

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    low, high = plan.budget_samples / 10, plan.budget_samples * 10
    pilots = fit.points_frame()
    if pilots is not None and "samples_seen" in pilots:
        low, high = min(low, pilots["samples_seen"].min()), max(high, pilots["samples_seen"].max())
    rows = frontier_rows(fit, low, high, 80, bucket_sizes=plan.bucket_size_samples)
    frontier(left, rows, fit, plan.budget_samples)
    best = next(c for c in plan.candidates if c.name == plan.best)
    left.scatter([plan.budget_samples], [best.predicted_accuracy], marker="*", s=170, color="tab:red", zorder=6, label=f"plan: {plan.best}")
    legend_below(left, columns=3)
    _candidate_points(right, plan)
    figure.suptitle(f"data plan: {plan.best} ({plan.fit})", fontsize=9)
    return _save_and_close(plt, figure, path)


def _candidate_points(axis, plan) -> None:
    """Every candidate's predicted accuracy at the plan's budget as a point (the plan larger, in
    green) with its bootstrap interval when it has one: points, not bars, so the y axis need not
    start at 0 to show the differences."""
    candidates = sorted(plan.candidates, key=lambda c: c.name)
    names = [c.name for c in candidates]
    accuracy = [c.predicted_accuracy for c in candidates]
    best = [c.name == plan.best for c in candidates]
    axis.scatter(names, accuracy, c=["tab:green" if b else "dimgray" for b in best], s=[70 if b else 30 for b in best], zorder=3)
    for i, c in enumerate(candidates):
        if c.interval is not None:
            axis.errorbar(i, c.predicted_accuracy, yerr=[[c.predicted_accuracy - c.interval[0]], [c.interval[1] - c.predicted_accuracy]], color="black", capsize=3, lw=1)
    axis.set_xlim(-0.6, len(names) - 0.4)
    axis.set_ylabel("predicted accuracy")
    axis.set_title(f"candidates at {plain_number(plan.budget_samples)} samples seen", fontsize=9)


def plot_sweep(sweep, fit, path: str | Path, budget: float | None = None) -> Path:
    """The quality-quantity frontier of a `sweep_data` sweep (or `frontier_rows` rows) on `fit`
    (`frontier`), the budget marked when it lies inside the sweep."""
    rows = getattr(sweep, "rows", sweep)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.4))
    swept = (rows[0]["budget_samples"], rows[-1]["budget_samples"])
    frontier(axis, rows, fit, budget if budget is not None and swept[0] <= budget <= swept[1] else None)
    legend_below(axis, columns=3)
    return _save_and_close(plt, figure, path)


def frontier(axis, rows, fit, budget: float | None) -> None:
    """Draw a quality-quantity frontier on `axis`: each candidate's predicted accuracy against
    samples seen, the best candidate's (the frontier, thick) with its bootstrap band ("interval" of
    the rows) or a caption saying why there is none, the optimal mixture when the rows have it, the
    budget as a vertical line, and the fit's pilot runs (accuracy = 1 - error) by bucket."""
    from scaling.diagnostics import no_interval_reason

    plt = _pyplot()
    budgets = np.array([r["budget_samples"] for r in rows])
    names = list(rows[0]["accuracy_by_candidate"])
    for name, color in zip(names, plt.cm.viridis(np.linspace(0, 0.9, len(names)))):
        axis.plot(budgets, [r["accuracy_by_candidate"][name] for r in rows], color=color, lw=1, label=name)
    axis.plot(budgets, [r["predicted_accuracy"] for r in rows], color="black", lw=4, alpha=0.25, zorder=1, label="best")
    if "interval" in rows[0]:
        band = np.array([r["interval"] for r in rows])
        axis.fill_between(budgets, band[:, 0], band[:, 1], color="black", alpha=0.12, lw=0, label=f"best, {fit.interval_level:.0%} bootstrap interval")
    else:
        axis.text(0.02, 0.98, f"{no_interval_reason(fit)}: no interval", transform=axis.transAxes, fontsize=7, va="top", color="0.3")
    if "mixture" in rows[0]:
        axis.plot(budgets, [r["mixture"]["predicted_accuracy"] for r in rows], color="black", ls="--", label="best mixture")
    if budget is not None:
        axis.axvline(budget, color="tab:red", ls=":", lw=1.2, label=f"budget {plain_number(budget)}")
    _draw_pilots(axis, fit)
    axis.set_xscale("log")
    axis.set_xlabel("samples seen")
    axis.set_ylabel("predicted accuracy")
    axis.set_title(f"quality-quantity frontier ({fit.source})", fontsize=9)


def legend_below(axis, *, columns: int = 2, title: str | None = None) -> None:
    """The axis's legend under its x label, outside the data (saved with bbox_inches="tight")."""
    axis.legend(fontsize=7, ncol=columns, title=title, title_fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)


PILOT_MARKERS = ("o", "s", "^", "v", "P", "X", "h", "<", ">")


def _draw_pilots(axis, fit) -> None:
    """The runs the fit was fitted on (when it kept them) at (samples seen, 1 - error), one
    open marker per bucket, named in the legend."""
    pilots = fit.points_frame()
    if pilots is None:
        return
    law = fit.law_spec
    for bucket, marker in zip(fit.groups or [None], PILOT_MARKERS * 4):
        rows = pilots if bucket is None else pilots[pilots[law.group_by] == bucket]
        axis.scatter(rows["samples_seen"], 1 - rows[law.target], marker=marker, s=22, facecolors="none", edgecolors="0.25",
                     linewidths=0.8, zorder=3, label=f"pilot run: {bucket}" if bucket is not None else "pilot run")


def plot_model_plan(plan, curves, path: str | Path) -> Path:
    """A language-model plan: predicted loss against N along the budget's iso-FLOP curve
    (D = C / ((6/16) N P)), one curve per alternative training precision with its optimum marked,
    and the chosen (N, loss) as a star; a fixed N (--params) as a dashed vertical line. `curves`: {precision: (N [k], loss [k])} from
    `scaling.plan_model.iso_flop_curves`."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for (name, (params, loss)), color in zip(curves.items(), plt.cm.viridis(np.linspace(0, 0.9, len(curves)))):
        chosen = name == plan.precision
        axis.plot(params, loss, color=color, lw=2.2 if chosen else 1, label=name + (" (plan)" if chosen else ""))
        best = int(np.argmin(loss))
        axis.scatter(params[best], loss[best], color=color, s=14, zorder=3)
    if plan.decided_by.get("params") == "given":
        axis.axvline(plan.params, color="tab:red", ls="--", lw=1, label=f"N fixed at {plain_number(plan.params)}")
    axis.scatter([plan.params], [plan.loss], marker="*", s=160, color="tab:red", zorder=4, label=f"plan: N = {plain_number(plan.params)}, D = {plain_number(plan.tokens)}")
    low = min(float(np.min(loss)) for _, loss in curves.values())
    repetition = "" if plan.unique_tokens is None else f", {plan.unique_tokens:.3g} unique tokens"
    axis.set(xscale="log", xlabel="parameters N", ylabel="predicted loss", ylim=(low - 0.02, low + 0.4))
    axis.set_title(f"{plain_number(plan.budget_flops)} FLOPs iso-FLOP curves ({plan.fit}{repetition})", fontsize=9)
    legend_below(axis, columns=3)
    return _save_and_close(plt, figure, path)


def _save_and_close(plt, figure, path) -> Path:
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)
