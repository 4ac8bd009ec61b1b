"""scaling.plan: the published planner's choices, sweeps, intervals (language-model plans: test_plan_model.py)."""

import numpy as np
import pytest

from scaling.plan import candidate_unions, effective_buckets, optimal_mixture, plan_data, sweep_data
from scaling.reference import load_fit


@pytest.fixture(scope="module")
def utility_fit():
    return load_fit("reference/tmars-imagenet-utility")


@pytest.mark.parametrize("budget, best", [(32e6, "top10"), (64e6, "top10"), (128e6, "top20")])
def test_reference_fit_reproduces_published_choices(utility_fit, budget, best):
    plan = plan_data(utility_fit, budget)
    assert plan.best == best
    assert [c.name for c in plan.candidates][0] == best
    assert {c.name for c in plan.candidates} == {"top10", "top20", "top30", "top40"}


def test_candidate_bookkeeping(utility_fit):
    plan = plan_data(utility_fit, 128e6)
    top20 = next(c for c in plan.candidates if c.name == "top20")
    assert top20.buckets == ["tmars_top0to10p", "tmars_top10to20p"]
    assert top20.epochs == pytest.approx(5.0)
    assert top20.repetitions == {"tmars_top0to10p": 5.0, "tmars_top10to20p": 5.0}
    assert sum(top20.samples.values()) == pytest.approx(128e6)
    # accuracy of top10 at 128M samples: 10 passes over one 12.8M bucket (docs/laws.md §3, by hand)
    top10 = next(c for c in plan.candidates if c.name == "top10")
    b, tau = -0.16, 6.7273
    y = (0.025 * 12.8e6 / 1e5) ** b + 0.1
    for k in range(1, 10):
        y *= ((k + 1) / k) ** (b * 0.5 ** (k / tau))
    assert top10.predicted_error == pytest.approx(y, rel=1e-12)


def test_effective_buckets_is_m_for_uniform_unions():
    for m in range(1, 9):
        assert effective_buckets(np.full(m, 1.0 / m)) == m
    assert 1 < effective_buckets(np.array([0.7, 0.3])) < 2


@pytest.mark.parametrize("budget", [32e6, 64e6, 128e6, 512e6])
def test_the_optimal_mixture_is_never_worse_than_the_best_union(utility_fit, budget):
    plan = plan_data(utility_fit, budget, mixtures=True)
    by_name = {c.name: c for c in plan.candidates}
    mixture = by_name["mixture"]
    best_union = min(c.predicted_error for name, c in by_name.items() if name != "mixture")
    assert mixture.predicted_error <= best_union * (1 + 1e-12)
    assert sum(mixture.shares) == pytest.approx(1.0) and sum(mixture.samples.values()) == pytest.approx(budget)
    if budget == 32e6:  # top10 wins by a wide margin: the mixture is top10
        assert mixture.buckets == ["tmars_top0to10p"]
    if budget == 128e6:  # between top10 and top20, strictly better than both, more of the better bucket
        assert mixture.buckets == ["tmars_top0to10p", "tmars_top10to20p"] and mixture.shares[0] > 0.5
        assert mixture.predicted_error < best_union - 1e-4 and plan.best == "mixture"


def test_the_mixture_frontier_shifts_weight_to_less_filtered_buckets(utility_fit):
    rows = sweep_data(utility_fit, 12.8e6, 1.28e9, 24, mixtures=True).rows
    for row in rows:
        assert row["mixture"]["predicted_accuracy"] >= row["predicted_accuracy"] - 1e-12
        assert sum(row["mixture"]["shares"].values()) == pytest.approx(1.0)
    best_share = [row["mixture"]["shares"].get("tmars_top0to10p", 0.0) for row in rows]
    assert best_share[0] == pytest.approx(1.0) and best_share[-1] < 0.6
    assert np.all(np.diff(best_share) <= 1e-3)  # never moves back to the best bucket
    assert len(rows[-1]["mixture"]["shares"]) > len(rows[0]["mixture"]["shares"])


def test_identical_buckets_mix_uniformly(utility_fit):
    """Known answer: with every bucket alike, the best mixture spreads the budget evenly (the
    largest pool, the slowest decay), i.e. the union of all of them."""
    params = dict(utility_fit.params)
    for name in utility_fit.groups:
        params[f"utility[{name}]"], params[f"utility_half_life[{name}]"] = -0.12, 4.0
    fit = type(utility_fit)(**{**utility_fit.__dict__, "params": params})
    unions = candidate_unions(fit)
    weights = optimal_mixture(fit, unions, 256e6)
    np.testing.assert_allclose(weights, 1.0 / len(weights), atol=0.01)


def test_frontier_moves_to_larger_pools(utility_fit):
    rows = sweep_data(utility_fit, 12.8e6, 1.28e9, 100).rows
    order = {"top10": 1, "top20": 2, "top30": 3, "top40": 4}
    sizes = [order[r["best"]] for r in rows]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] >= 2
    accuracy = [r["predicted_accuracy"] for r in rows]
    assert np.all(np.diff(accuracy) > 0)


def test_bootstrap_draws_give_intervals_and_probability(utility_fit):
    rng = np.random.default_rng(0)
    draws = [{k: v * (1 + 0.02 * rng.standard_normal()) if k.startswith(("utility", "sample")) else v for k, v in utility_fit.params.items()} for _ in range(200)]
    fit = type(utility_fit)(**{**utility_fit.__dict__, "draws": draws})
    plan = plan_data(fit, 128e6)
    for c in plan.candidates:
        assert c.interval[0] <= c.predicted_accuracy <= c.interval[1]
    assert 0.5 < plan.probability_best <= 1.0


def _union_error_by_loop(fit, union, budget):
    """docs/laws.md §3 for the top-m union of the reference buckets, epoch by epoch (known.py)."""
    from known import loop_weighted_utility

    order = sorted(fit.metadata["nested_buckets"], key=lambda b: fit.params[f"utility[{b}]"])[:int(union[3:]) // 10]
    size = fit.metadata["bucket_size_samples"][order[0]]
    return loop_weighted_utility(budget, size * len(order), [fit.params[f"utility[{b}]"] for b in order],
                                 [fit.params[f"utility_half_life[{b}]"] for b in order], [1 / len(order)] * len(order),
                                 fit.params["sample_scale"], fit.params["irreducible_error"])


def test_a_best_union_at_the_end_of_the_epoch_axis_is_an_edge_optimum(utility_fit):
    """32M samples seen: top10, the strictest union, is best (by the loop as by the plan) and it is
    the end of the epoch axis searched: 32M / 12.8M = 2.5 epochs, the loosest 32M / 51.2M = 0.625."""
    errors = {u: _union_error_by_loop(utility_fit, u, 32e6) for u in ("top10", "top20", "top30", "top40")}
    assert min(errors, key=errors.get) == "top10"
    [edge] = [n for n in plan_data(utility_fit, 32e6).notes if n.code == "edge-optimum"]
    assert edge.details == {"axis": "union", "value": "top10", "range": ["top10", "top40"], "epochs": 2.5, "epochs_range": [0.625, 2.5]}
    assert "2.5 epochs over it" in edge.message and "stricter filter" in edge.message


def test_a_sweep_says_which_budgets_have_their_best_union_at_an_edge(utility_fit):
    """Over 25.6M to 1.28B samples seen the best union moves from top10 (an edge) to top20 and top30;
    the note gives the budgets of the sweep where the loop (docs/laws.md §3) finds top10 best."""
    sweep = sweep_data(utility_fit, 25.6e6, 1.28e9, 9)
    rows = sweep.rows
    best = [min(("top10", "top20", "top30", "top40"), key=lambda u: _union_error_by_loop(utility_fit, u, row["budget_samples"])) for row in rows]
    assert [row["best"] for row in rows] == best
    at_edge = [row["budget_samples"] for row, name in zip(rows, best) if name == "top10"]
    assert 1 <= len(at_edge) < len(rows) and "top40" not in best
    [edge] = [n for n in sweep.notes if n.code == "edge-optimum"]
    assert edge.details["value"] == "top10" and edge.details["budgets"] == [min(at_edge), max(at_edge)]
    assert edge.details["epochs"] == pytest.approx([min(at_edge) / 12.8e6, max(at_edge) / 12.8e6], rel=1e-12)


def test_a_sweep_reaching_below_the_laws_range_refuses_unless_forced(utility_fit):
    """The library's sweep refuses like the command line's (one rule), and forced it says so."""
    from curascale.errors import CurascaleError
    from scaling.plan import frontier_rows

    rows = frontier_rows(utility_fit, 3e6, 3e7, 3)  # 3M samples seen: the best union's error is above 1
    error = _union_error_by_loop(utility_fit, rows[0]["best"], 3e6)
    assert error > 1 and 1 - rows[0]["predicted_accuracy"] == pytest.approx(error, rel=1e-12)
    with pytest.raises(CurascaleError, match=r"the sweep carries error notes \[out-of-physical-range \(3e\+06 samples seen"):
        sweep_data(utility_fit, 3e6, 3e7, 3)
    forced = sweep_data(utility_fit, 3e6, 3e7, 3, force=True)
    assert forced.rows == rows and [n.code for n in forced.notes].count("forced") == 1


def test_a_candidate_past_the_laws_epochs_is_dropped_with_a_note(utility_fit):
    """12.8B samples seen: top10 (one 12.8M bucket) would be seen 12.8B / 12.8M = 1000 epochs, past
    the 511 the law sums; top20..top40 (500, 333, 250 epochs) are ranked, best as by the loop."""
    plan = plan_data(utility_fit, 12.8e9)
    assert [c.name for c in plan.candidates] == sorted(("top20", "top30", "top40"), key=lambda u: _union_error_by_loop(utility_fit, u, 12.8e9))
    for c in plan.candidates:
        assert c.predicted_error == pytest.approx(_union_error_by_loop(utility_fit, c.name, 12.8e9), rel=1e-10)
    [dropped] = [n for n in plan.notes if n.code == "outside-law-domain"]
    assert dropped.details == {"candidate": "top10", "bucket_size_samples": 12.8e6, "union_samples": 12.8e6, "epochs": 1000.0, "limit_epochs": 511.0}
    assert "top10" in dropped.message and "1000 epochs" in dropped.message


def test_no_candidate_within_the_laws_epochs_is_an_error_naming_them(utility_fit):
    from curascale.errors import CurascaleError

    # 100B samples: top40 (51.2M samples) would be seen 1953 epochs, the others more
    with pytest.raises(CurascaleError, match=r"at 1e\+11 samples seen \(buckets of 1.28e\+07 samples; epochs: top10 7812, top20 3906, top30 2604, top40 1953\)"):
        plan_data(utility_fit, 1e11)


def test_a_sweep_drops_a_candidate_only_where_it_leaves_the_laws_domain(utility_fit):
    sweep = sweep_data(utility_fit, 12.8e6, 12.8e9, 6)  # budgets 12.8M * 10^(0.6 i); top10 leaves at 12.8B only
    rows = sweep.rows
    assert ["top10" in row["accuracy_by_candidate"] for row in rows] == [True] * 5 + [False]
    assert len(rows[-1]["accuracy_by_candidate"]) == 3
    [dropped] = [n for n in sweep.notes if n.code == "outside-law-domain"]
    assert dropped.details["candidate"] == "top10" and dropped.details["budgets"] == pytest.approx([12.8e9, 12.8e9])


def _with_unidentified(fit, name, value=None):
    """`fit` with a not-identifiable note on `name` (and, if given, that parameter set to `value`)."""
    import dataclasses

    from curascale.notes import Note

    params = {**fit.params, **({name: value} if value is not None else {})}
    note = Note("not-identifiable", f"{name} cannot be told apart", "error", {"parameters": [name]})
    return dataclasses.replace(fit, params=params, notes=[*fit.notes, note])


@pytest.mark.parametrize("budget, decides", [(32e6, False), (2.56e9, True)])
def test_an_unidentified_parameter_refuses_only_when_it_changes_the_choice(utility_fit, budget, decides):
    """tau of the worst bucket (top30to40p) unknown in [0.5, 1e6] epochs: at 32M samples (top10
    best, the union without that bucket) the loop finds top10 best at both ends; at 2.56B the
    loop's choice moves with it, so the plan refuses."""
    from curascale.errors import CurascaleError

    name = "utility_half_life[tmars_top30to40p]"
    unions = ("top10", "top20", "top30", "top40")
    ends = [min(unions, key=lambda u: _union_error_by_loop(_with_unidentified(utility_fit, name, tau), u, budget)) for tau in (0.5, 1e6)]
    assert (ends[0] != ends[1]) == decides
    fit = _with_unidentified(utility_fit, name)
    if decides:
        with pytest.raises(CurascaleError, match=r"does not identify utility_half_life\[tmars_top30to40p\]"):
            plan_data(fit, budget)
        return
    plan = plan_data(fit, budget)
    [note] = [n for n in plan.notes if n.code == "choice-unchanged"]
    assert plan.best == ends[0] == note.details["choice"] and note.details["range"] == [0.5, 1e6] and note.severity == "warning"


def test_the_documented_effective_data_union_formula_and_its_worked_number():
    """docs/laws.md §3 writes the effective-data union exactly; this loop restates it line by line
    and must give the documented 0.694685 for top20 at 128M, as the planner does."""
    from pathlib import Path

    fit = load_fit("reference/tmars-imagenet-effective-data")
    b, tau, a, d, size, n = np.array([-0.18227, -0.14485]), np.array([4.0, 4.3636]), 0.022, 0.1, 12.8e6, 128e6
    w = np.full(2, 0.5)
    passes = n / (2 * size)
    effective, log_y = [], 0.0
    for k in range(int(np.floor(passes)) + 1):
        delta = 0.5 ** (k * w / tau)
        b_k = (w * b * delta).sum() / (w * delta).sum()
        effective.append((effective[-1] if effective else 0.0) + min(max(passes - k, 0.0), 1.0) * a * 2 * size / 1e5 * (w * delta).sum())
        log_y += b_k * (np.log(effective[0]) if k == 0 else np.log(effective[k] / effective[k - 1]))
    y = np.exp(log_y) + d
    assert round(y, 6) == 0.694685
    assert "y = 0.694685, accuracy 30.53%" in (Path(__file__).parents[2] / "docs" / "laws.md").read_text()
    top20 = next(c for c in plan_data(fit, n).candidates if c.name == "top20")
    assert top20.predicted_error == pytest.approx(y, rel=1e-12)


def test_a_point_outside_its_bootstrap_interval_is_said(utility_fit):
    """Draws whose sample scale is 1.5 and 2 times the point's: every draw predicts a lower error
    (more samples per unit of a), so every accuracy interval lies above the point."""
    draws = [{**utility_fit.params, "sample_scale": utility_fit.params["sample_scale"] * f} for f in (1.5, 2.0)]
    fit = type(utility_fit)(**{**utility_fit.__dict__, "draws": draws})
    plan = plan_data(fit, 128e6)
    assert all(c.predicted_accuracy < c.interval[0] for c in plan.candidates)
    [note] = [n for n in plan.notes if n.code == "point-outside-interval"]
    assert note.details["candidates"] == [c.name for c in plan.candidates]
    assert note.details["points"][0] == plan.candidates[0].predicted_accuracy
    assert not [n for n in plan_data(utility_fit, 128e6).notes if n.code == "point-outside-interval"]
