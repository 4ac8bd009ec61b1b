"""matplotlib figures of fits (observed vs fitted, with bootstrap bands) and plans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scaling.figure_output import plain_number


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


def _series_bins(values: pd.Series, most: int = 6) -> np.ndarray:
    """A bin label per row: the distinct values when few, else log-quantile bins."""
    if values.nunique() <= most:
        return values.to_numpy(dtype=float)
    edges = np.quantile(np.log(values), np.linspace(0, 1, most + 1))
    bins = np.clip(np.searchsorted(edges, np.log(values), side="right") - 1, 0, most - 1)
    return np.exp(np.array([np.median(np.log(values[bins == b])) for b in range(most)]))[bins]


def plot_fit(fit, frame: pd.DataFrame, path: str | Path) -> Path:
    """Observed points and fitted curves (with the bootstrap band when the fit has draws): the law
    swept along tokens / samples seen, one curve per value (or bin) of the series input (e.g.
    params), other inputs at their median; one panel per group (bucket)."""
    plt = _pyplot()
    law = fit.law_spec
    frame = frame.reset_index(drop=True)
    x, series = _axes_of(law, frame)
    groups = [None] if law.group_by is None else sorted(frame[law.group_by].astype(str).unique())
    figure, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False, sharex=True, sharey=True)  # panels compared on one scale
    for axis, group in zip(axes[0], groups):
        part = frame if group is None else frame[frame[law.group_by].astype(str) == group]
        labels = np.ones(len(part)) if series is None else _series_bins(part[series])
        keys = sorted(set(labels))
        for key, color in zip(keys, plt.cm.viridis(np.linspace(0, 0.9, len(keys)))):
            rows = part[labels == key]
            axis.scatter(rows[x], rows[law.target], s=12, color=color, label=None if series is None else f"{series} ~ {plain_number(key)}")
            sweep = pd.DataFrame({x: np.geomspace(part[x].min(), part[x].max(), 60)})
            for column in law.inputs:
                if column != x and column in rows:
                    sweep[column] = key if column == series else rows[column].median()
            if group is not None:
                sweep[law.group_by] = group
            axis.plot(sweep[x], fit.predict(sweep), color=color, lw=1)
            band = fit.predict_interval(sweep)
            if band is not None:
                axis.fill_between(sweep[x], band[:, 0], band[:, 1], color=color, alpha=0.2, lw=0)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(x)
        axis.set_ylabel(law.target)
        axis.set_title(law.name if group is None else f"{law.name}: {group}", fontsize=9)
        if series is not None:
            axis.legend(fontsize=7)
    objective = "published constants" if fit.objective is None else f"objective {fit.objective:.6g}"  # a reference fit has none
    figure.suptitle(f"{law.name} ({law.section}), {objective}", fontsize=9)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def plot_plan(plan, path: str | Path) -> Path:
    """Predicted accuracy of every candidate (with bootstrap intervals), the plan highlighted."""
    plt = _pyplot()
    candidates = sorted(plan.candidates, key=lambda c: c.name)
    figure, axis = plt.subplots(figsize=(6, 3.5))
    accuracy = [c.predicted_accuracy for c in candidates]
    colors = ["tab:green" if c.name == plan.best else "tab:gray" for c in candidates]
    axis.bar([c.name for c in candidates], accuracy, color=colors)
    for i, c in enumerate(candidates):
        if c.interval is not None:
            axis.errorbar(i, c.predicted_accuracy, yerr=[[c.predicted_accuracy - c.interval[0]], [c.interval[1] - c.predicted_accuracy]], color="black", capsize=3)
    axis.set_ylabel("predicted accuracy")
    axis.set_title(f"{plan.budget_samples:.3g} samples seen ({plan.fit})", fontsize=9)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def plot_sweep(rows, fit_name: str, path: str | Path) -> Path:
    """The quality-quantity frontier: accuracy of every candidate across budgets, best marked."""
    plt = _pyplot()
    budgets = [r["budget_samples"] for r in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    for name in rows[0]["accuracy_by_candidate"]:
        axis.plot(budgets, [r["accuracy_by_candidate"][name] for r in rows], label=name)
    axis.plot(budgets, [r["predicted_accuracy"] for r in rows], color="black", lw=2.5, alpha=0.3, label="best")
    if "mixture" in rows[0]:
        axis.plot(budgets, [r["mixture"]["predicted_accuracy"] for r in rows], color="black", ls="--", label="best mixture")
    axis.set_xscale("log")
    axis.set_xlabel("samples seen")
    axis.set_ylabel("predicted accuracy")
    axis.set_title(f"quality-quantity frontier ({fit_name})", fontsize=9)
    axis.legend(fontsize=8)
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)


def plot_model_plan(plan, curves, path: str | Path) -> Path:
    """A language-model plan: predicted loss against N along the budget's iso-FLOP curve
    (D = C / ((6/16) N P)), one curve per alternative training precision with its optimum marked,
    and the chosen (N, loss) as a star. `curves`: {precision: (N [k], loss [k])} from
    `scaling.plan_model.iso_flop_curves`."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for (name, (params, loss)), color in zip(curves.items(), plt.cm.viridis(np.linspace(0, 0.9, len(curves)))):
        chosen = name == plan.precision
        axis.plot(params, loss, color=color, lw=2.2 if chosen else 1, label=name + (" (plan)" if chosen else ""))
        best = int(np.argmin(loss))
        axis.scatter(params[best], loss[best], color=color, s=14, zorder=3)
    axis.scatter([plan.params], [plan.loss], marker="*", s=160, color="tab:red", zorder=4, label=f"plan: N = {plan.params:.3g}, D = {plan.tokens:.3g}")
    low = min(float(np.min(loss)) for _, loss in curves.values())
    repetition = "" if plan.unique_tokens is None else f", {plan.unique_tokens:.3g} unique tokens"
    axis.set(xscale="log", xlabel="parameters N", ylabel="predicted loss", ylim=(low - 0.02, low + 0.4))
    axis.set_title(f"{plan.budget_flops:.3g} FLOPs iso-FLOP curves ({plan.fit}{repetition})", fontsize=9)
    axis.legend(fontsize=7)
    return _save_and_close(plt, figure, path)


def _save_and_close(plt, figure, path) -> Path:
    try:
        return save_figure(figure, path)
    finally:
        plt.close(figure)
