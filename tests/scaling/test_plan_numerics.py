"""scaling.plan's numbers against independent known answers: union and mixture predictions from
an epoch-by-epoch loop written from LAWS.md §3, intervals and the probability of being best
recomputed from the draws with numpy, compute-optimal splits from a brute-force iso-FLOP search,
the fine-tuning inflection and the specialized-pretraining fraction from a brute-force search."""

import dataclasses

import numpy as np
import pytest

from known import loop_weighted_effective_data, loop_weighted_utility
from curascale.errors import CurascaleError
from curascale.notes import Note
from scaling.fit import Fit
from scaling.laws.chinchilla import optimal_split
from scaling.plan import candidate_unions, effective_buckets, plan_data, plan_model, frontier_rows


def compute_optimal(fit, flops, params=None):
    """N and D for C = 6 N D under a Chinchilla-form fit; D = C / 6N when N is given."""
    if params is not None:
        return params, flops / (6.0 * params)
    return tuple(float(v) for v in optimal_split(fit.params, flops / 6.0))
from scaling.reference import load_fit

S = 12.8e6
NESTED = ["tmars_top0to10p", "tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p"]
LOOPS = {"data_filtering_utility": loop_weighted_utility, "data_filtering_effective_data": loop_weighted_effective_data}


def union_error(fit_params, law, budget, members, weights=None, size=S):
    """Error of the union of `members` (shares `weights`, uniform by default) by the loop: pool of
    1 / sum w^2 buckets, LAWS.md §3."""
    weights = np.full(len(members), 1.0 / len(members)) if weights is None else np.asarray(weights)
    pool = size / np.sum(weights**2)
    return LOOPS[law](budget, pool, [fit_params[f"utility[{b}]"] for b in members], [fit_params[f"utility_half_life[{b}]"] for b in members],
                      list(weights), fit_params["sample_scale"], fit_params["irreducible_error"])


def with_params(fit, **changes):
    return dataclasses.replace(fit, **changes)


@pytest.fixture(scope="module", params=["tmars-imagenet-utility", "tmars-imagenet-effective-data"])
def reference(request):
    return load_fit(f"reference/{request.param}")


@pytest.mark.parametrize("budget", [6e6, 32e6, 128e6, 600e6])
def test_union_predictions_match_the_loop(reference, budget):
    plan = plan_data(reference, budget, force=True)  # at 6M the errors pass 1 and the plan refuses unforced; the formula is tested here
    by_name = {c.name: c for c in plan.candidates}
    for m, name in enumerate(["top10", "top20", "top30", "top40"], start=1):
        expected = union_error(reference.params, reference.law, budget, NESTED[:m])
        assert by_name[name].predicted_error == pytest.approx(expected, rel=1e-12), name
        assert by_name[name].predicted_accuracy == pytest.approx(1 - expected, rel=1e-12)
        assert by_name[name].epochs == pytest.approx(budget / (m * S), rel=1e-12)
        assert by_name[name].repetitions == pytest.approx({b: budget / m / S for b in NESTED[:m]}, rel=1e-12)
        assert by_name[name].samples == pytest.approx({b: budget / m for b in NESTED[:m]}, rel=1e-12)
    errors = [c.predicted_error for c in plan.candidates]
    assert errors == sorted(errors) and plan.best == plan.candidates[0].name


def test_candidate_unions_order_by_utility_and_name_by_quantile(reference):
    # shuffle the utilities: the best (most negative) bucket comes first whatever its name
    params = dict(reference.params)
    for bucket, utility in zip(NESTED, [-0.09, -0.2, -0.13, -0.11]):
        params[f"utility[{bucket}]"] = utility
    unions = candidate_unions(with_params(reference, params=params))
    assert unions.buckets == ["tmars_top10to20p", "tmars_top20to30p", "tmars_top30to40p", "tmars_top0to10p"]
    assert unions.names == ["top20", "top30", "top40", "top40"]
    np.testing.assert_array_equal(unions.shares, [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0], [0.25] * 4])
    np.testing.assert_array_equal(unions.size_samples, [S] * 4)


def test_bucket_sizes_override_and_checks(reference):
    plan = plan_data(reference, 128e6, bucket_sizes={b: 2 * S for b in NESTED})
    top10 = next(c for c in plan.candidates if c.name == "top10")
    assert top10.epochs == pytest.approx(5.0) and top10.predicted_error == pytest.approx(union_error(reference.params, reference.law, 128e6, NESTED[:1], size=2 * S), rel=1e-12)
    from curascale.errors import CurascaleError

    with pytest.raises(CurascaleError, match="differ"):
        plan_data(reference, 128e6, bucket_sizes={NESTED[0]: 2 * S})
    with pytest.raises(CurascaleError, match="bucket sizes unknown for tmars_top0to10p"):
        candidate_unions(with_params(reference, metadata={**reference.metadata, "bucket_size_samples": {b: S for b in NESTED[1:]}}))


def test_effective_buckets_is_the_inverse_simpson_index():
    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.ones(5), size=20)
    np.testing.assert_allclose(effective_buckets(weights), 1.0 / np.sum(weights**2, axis=1), rtol=1e-14)
    assert effective_buckets(np.array([0.7, 0.3])) == pytest.approx(1 / 0.58, rel=1e-14)
    uniform = effective_buckets(np.full((1, 3), 1 / 3))
    assert uniform[0] == 3.0  # exactly, though 1/3 is not


@pytest.mark.parametrize("budget", [64e6, 200e6])
def test_mixture_prediction_is_the_weighted_union_and_a_local_minimum(reference, budget):
    plan = plan_data(reference, budget, mixtures=True)
    mixture = next(c for c in plan.candidates if c.name == "mixture")
    expected = union_error(reference.params, reference.law, budget, mixture.buckets, mixture.shares)
    assert mixture.predicted_error == pytest.approx(expected, rel=1e-10)
    assert mixture.samples == pytest.approx({b: budget * w for b, w in zip(mixture.buckets, mixture.shares)}, rel=1e-12)
    # moving 2% of the budget between any two of its buckets does not help
    for i in range(len(mixture.buckets)):
        for j in range(len(mixture.buckets)):
            if i != j and mixture.shares[i] > 0.02:
                moved = np.array(mixture.shares)
                moved[i] -= 0.02
                moved[j] += 0.02
                assert union_error(reference.params, reference.law, budget, mixture.buckets, moved) >= expected * (1 - 1e-9)


def test_sweep_matches_the_loop_at_every_budget(reference):
    rows = frontier_rows(reference, 10e6, 1e9, 7)
    np.testing.assert_allclose([r["budget_samples"] for r in rows], np.geomspace(10e6, 1e9, 7), rtol=1e-14)
    for row in rows:
        expected = {name: 1 - union_error(reference.params, reference.law, row["budget_samples"], NESTED[:m]) for m, name in enumerate(["top10", "top20", "top30", "top40"], start=1)}
        assert row["accuracy_by_candidate"] == pytest.approx(expected, rel=1e-12)
        assert row["best"] == max(expected, key=expected.get)
        assert row["predicted_accuracy"] == pytest.approx(max(expected.values()), rel=1e-12)


# ---- draws: intervals and the probability of being best ----------------------------------------
def contested_draws(fit, count=40):
    """Draws in which top10's utility alternates between clearly better and clearly worse, so the
    best candidate at 96M samples differs across draws."""
    rng = np.random.default_rng(11)
    draws = []
    for i in range(count):
        draw = dict(fit.params)
        draw["utility[tmars_top0to10p]"] = -0.16 * (1.25 if i % 3 else 0.7) * (1 + 0.01 * rng.standard_normal())
        draw["utility[tmars_top10to20p]"] = -0.125 * (1 + 0.05 * rng.standard_normal())
        draws.append(draw)
    return draws


@pytest.fixture(scope="module")
def contested():
    fit = load_fit("reference/tmars-imagenet-utility")
    fit = with_params(fit, draws=contested_draws(fit))
    return fit, plan_data(fit, 96e6)


def draw_errors(fit, budget):
    """[draws, candidates] errors of top10..top40 by the loop (the order the candidates' unions use)."""
    # the unions are the fit's (its utilities order the buckets), evaluated with each draw's parameters
    return np.array([[union_error(draw, fit.law, budget, NESTED[:m]) for m in range(1, 5)] for draw in fit.draws])


def test_probability_best_is_the_share_of_draws_where_the_plan_is_best(contested):
    fit, plan = contested
    errors = draw_errors(fit, 96e6)
    names = ["top10", "top20", "top30", "top40"]
    expected = np.mean(np.argmin(errors, axis=1) == names.index(plan.best))
    assert 0 < expected < 1  # the data are built so that the draws disagree
    assert plan.probability_best == pytest.approx(expected, abs=1e-12)


def test_intervals_are_the_central_95_percent_of_the_draws(contested):
    fit, plan = contested
    errors = draw_errors(fit, 96e6)
    names = ["top10", "top20", "top30", "top40"]
    for candidate in plan.candidates:
        column = errors[:, names.index(candidate.name)]
        expected = [1 - np.percentile(column, 97.5), 1 - np.percentile(column, 2.5)]
        assert candidate.interval == pytest.approx(expected, rel=1e-12)
        assert expected[0] > 1 - column.max() or candidate.name != "top10"  # narrower than min-max where the draws spread
    at_90 = plan_data(fit, 96e6, level=0.9)
    top10 = next(c for c in at_90.candidates if c.name == "top10")
    column = errors[:, 0]
    assert top10.interval == pytest.approx([1 - np.percentile(column, 95), 1 - np.percentile(column, 5)], rel=1e-12)


def test_no_draws_no_interval_and_no_probability():
    plan = plan_data(load_fit("reference/tmars-imagenet-utility"), 96e6)
    assert plan.probability_best is None and all(c.interval is None for c in plan.candidates)


# ---- language-model plans (not the precision parts) ---------------------------------------------
def chinchilla_loss(theta, n, d):
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"]


EPOCH = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}


@pytest.mark.parametrize("flops", [1e20, 5.76e23])
def test_compute_optimal_plan_is_the_isoflop_minimum(flops):
    chinchilla = load_fit("reference/chinchilla-epoch")
    n = np.geomspace(1e6, 1e14, 400_001)
    best = n[np.argmin(chinchilla_loss(EPOCH, n, flops / (6 * n)))]
    params, tokens = compute_optimal(chinchilla, flops)
    assert params == pytest.approx(best, rel=2e-4) and 6 * params * tokens == pytest.approx(flops, rel=1e-12)
    plan = plan_model(flops, [chinchilla])
    assert plan.params == params and plan.loss == pytest.approx(chinchilla_loss(EPOCH, params, tokens), rel=1e-12)
    assert compute_optimal(chinchilla, flops, params=1e9) == (1e9, flops / 6e9)


def reference_like(law, params):
    from scaling.laws import get_law

    spec = get_law(law)
    return Fit(law=law, law_version=spec.version, params=params, objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
               data_hash="", target=spec.target, inputs=list(spec.inputs), source=f"test/{law}")


FINETUNE = {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37, "sensitivity": 5e-3, "sensitivity_exponent": 0.2, "sensitivity_param_exponent": 0.1}


def test_finetune_inflection_in_the_plan():
    """D* by brute force on L_ft(N, D) at the plan's N; the plan warns only past it."""
    chinchilla = load_fit("reference/chinchilla-epoch")
    finetune = reference_like("finetune_degradation", FINETUNE)
    for flops, warned in [(1e20, False), (1e25, True)]:
        plan = plan_model(flops, [chinchilla, finetune])
        d = np.geomspace(1e6, 1e20, 400_001)
        s = FINETUNE["sensitivity"] * plan.params ** -FINETUNE["sensitivity_param_exponent"]
        ft = FINETUNE["E"] + FINETUNE["A"] * plan.params ** -0.34 + FINETUNE["B"] * d**-0.37 + s * d**0.2
        onset = d[np.argmin(ft)]
        assert plan.overtraining["degradation_onset_tokens"] == pytest.approx(onset, rel=2e-4)
        assert (plan.tokens > onset) == warned
        assert any("pass D*" in note.message for note in plan.notes) == warned


DOMAIN = {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5}
GENERAL = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.33}


@pytest.mark.parametrize("domain_tokens, tolerance", [(1e8, 0.01), (1e9, 0.01), (1e9, 0.001), (1e9, 6e-5)])
def test_specialized_plan_by_brute_force(domain_tokens, tolerance):
    """LAWS.md §6 (our form): the f in (0, 0.5] minimising domain loss with the general loss within
    the tolerance of f = 0, searched here on the same 0.001 grid with numpy formulas."""
    chinchilla = load_fit("reference/chinchilla-epoch")
    plan = plan_model(1e21, [chinchilla, reference_like("specialized_domain", DOMAIN), reference_like("specialized_general", GENERAL)],
                      domain_tokens=domain_tokens, general_loss_tolerance=tolerance)
    n, d, u = plan.params, plan.tokens, domain_tokens
    f = np.arange(1, 501) / 1000
    r = f * d / u
    d_eff = np.where(r >= 1, u + u * 15.0 * (1 - np.exp(-(np.maximum(r, 1) - 1) / 15.0)), f * d)
    domain = 1.5 + 300.0 * n**-0.34 + 800.0 * d_eff**-0.3 + 0.02 * (r / 15.0) ** 1.5
    general = 1.7 + 400.0 * n**-0.34 + 1500.0 * ((1 - f) * d) ** -0.33
    baseline = 1.7 + 400.0 * n**-0.34 + 1500.0 * d**-0.33
    allowed = general <= baseline * (1 + tolerance)
    best = np.flatnonzero(allowed)[np.argmin(domain[allowed])]
    s = plan.specialized
    assert s["domain_fraction"] == pytest.approx(f[best], abs=1e-12)
    assert s["repetitions"] == pytest.approx(r[best], rel=1e-12)
    assert s["domain_loss"] == pytest.approx(domain[best], rel=1e-12)
    assert s["general_loss"] == pytest.approx(general[best], rel=1e-12)
    assert s["general_loss_cost"] == pytest.approx(general[best] - baseline, rel=1e-9)
    assert 0 < s["general_loss_cost"] <= tolerance * baseline


def test_specialized_plan_needs_both_fits():
    from curascale.errors import CurascaleError

    chinchilla = load_fit("reference/chinchilla-epoch")
    for one in (reference_like("specialized_domain", DOMAIN), reference_like("specialized_general", GENERAL)):
        with pytest.raises(CurascaleError, match="needs specialized_domain and specialized_general fits"):
            plan_model(1e21, [chinchilla, one], domain_tokens=1e9)


def test_sweep_mixture_accuracy_is_the_weighted_union():
    fit = load_fit("reference/tmars-imagenet-utility")
    for row in frontier_rows(fit, 64e6, 256e6, 2, mixtures=True):
        weights = row["mixture"]["shares"]
        expected = 1 - union_error(fit.params, fit.law, row["budget_samples"], list(weights), list(weights.values()))
        assert row["mixture"]["predicted_accuracy"] == pytest.approx(expected, rel=1e-9)


def test_with_mixture_drops_shares_below_the_floor_and_renormalises():
    """Shares under `floor` become 0 (a share equal to it stays), the rest are divided by their sum;
    the mixture is appended after the unions, which are kept as they were."""
    from scaling.plan import Unions, with_mixture

    unions = Unions(["top10", "top20"], ["a", "b", "c", "d"], np.full(4, S), np.array([[1.0, 0, 0, 0], [0.5, 0.5, 0, 0]]))
    mixed = with_mixture(unions, np.array([0.6, 0.3, 0.09995, 0.00005]), floor=1e-4)
    assert mixed.names == ["top10", "top20", "mixture"] and mixed.buckets == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(mixed.size_samples, np.full(4, S))  # the pool's buckets are unchanged
    np.testing.assert_array_equal(mixed.shares[:2], unions.shares)
    np.testing.assert_allclose(mixed.shares[2], [0.6 / 0.99995, 0.3 / 0.99995, 0.09995 / 0.99995, 0.0], rtol=1e-15)
    at_floor = with_mixture(unions, np.array([0.7, 0.2, 0.0999, 0.0001]), floor=1e-4).shares[2]
    np.testing.assert_allclose(at_floor, [0.7, 0.2, 0.0999, 0.0001], rtol=1e-12)  # sums to 1: unchanged
    default = with_mixture(unions, np.array([0.5, 0.49995, 0.00005, 0.0])).shares[2]  # default floor 1e-4
    np.testing.assert_allclose(default, [0.5 / 0.99995, 0.49995 / 0.99995, 0, 0], rtol=1e-15)


def test_effective_buckets_rounds_only_within_a_relative_1e9_of_an_integer():
    """Four near-uniform shares (0.25 + e, 0.25 - e, 0.25, 0.25): 1 / sum w^2 = 1 / (0.25 + 2 e^2),
    by hand. Within 1e-9 * 4 of 4 the value is snapped to exactly 4; past it, it is kept."""
    for e, snapped in [(5.6e-6, True), (2.0e-5, False)]:
        weights = np.array([0.25 + e, 0.25 - e, 0.25, 0.25])
        exact = 1.0 / (0.25 + 2 * e**2)
        assert 1e-10 < 4 - exact < (4e-9 if snapped else 1.0) and (snapped or 4 - exact > 4e-9)
        value = effective_buckets(weights)
        assert value == (4.0 if snapped else pytest.approx(exact, rel=1e-14)) and (snapped or value != 4.0)


# ---- the plan's record and its refusal rule ---------------------------------------------------------
def test_plan_record_fields(reference):
    """The plan's own fields, each from its input: budget, the fit's source, the bucket sizes it
    assumed, and each union's shares 1/m over its m members (no zero shares listed)."""
    plan = plan_data(reference, 128e6, bucket_sizes={b: 2 * S for b in NESTED})
    assert plan.budget_samples == 128e6 and plan.fit == reference.source and reference.source
    assert plan.bucket_size_samples == {b: 2 * S for b in NESTED}
    assert plan.best == plan.candidates[0].name
    for m, name in enumerate(["top10", "top20", "top30", "top40"], start=1):
        candidate = next(c for c in plan.candidates if c.name == name)
        assert candidate.buckets == NESTED[:m] and candidate.shares == pytest.approx([1 / m] * m, rel=1e-15)


UNIDENTIFIED = Note("not-identifiable", "utility[tmars_top0to10p] is not identified", "error", {"parameters": ["utility[tmars_top0to10p]"]})


def test_a_fit_that_does_not_identify_a_utility_refuses_unless_forced(reference):
    """The fit's own identifiability note on a deciding parameter (a utility) stops the plan; forced,
    the plan carries the fit's note and a `forced` note naming the data plan."""
    unidentified = with_params(reference, notes=[UNIDENTIFIED])
    with pytest.raises(CurascaleError, match=r"the fit does not identify utility\[tmars_top0to10p\], which decide the data plan"):
        plan_data(unidentified, 128e6)
    plan = plan_data(unidentified, 128e6, force=True)
    forced = [n for n in plan.notes if n.code == "forced"]
    assert [n.code for n in plan.notes][:2] == ["not-identifiable", "forced"]
    assert len(forced) == 1 and forced[0].message.startswith("data plan forced") and forced[0].details["codes"] == ["not-identifiable"]


def test_forcing_keeps_both_the_fits_and_the_plans_refusals(reference):
    """At 6M samples seen the errors leave (0, 1) (the plan's own error note): with an unidentified
    utility too, the forced plan carries one `forced` note for each, the fit's first."""
    unidentified = with_params(reference, notes=[UNIDENTIFIED])
    with pytest.raises(CurascaleError, match="which decide the data plan"):
        plan_data(unidentified, 6e6)
    with pytest.raises(CurascaleError, match=r"the data plan carries error notes \[out-of-physical-range"):
        plan_data(reference, 6e6)
    plan = plan_data(unidentified, 6e6, force=True)
    forced = [n for n in plan.notes if n.code == "forced"]
    assert [n.details["codes"] for n in forced] == [["not-identifiable"], ["out-of-physical-range"]]
    assert all(n.message.startswith("data plan forced") for n in forced)


def test_sweep_intervals_are_the_central_percentiles_of_the_draws_at_the_best_union(contested):
    """With draws, each sweep row's interval is the best union's accuracy percentile interval over
    the draws (errors by the loop), at 95% by default and at the level asked for."""
    fit, _ = contested
    budgets = np.geomspace(64e6, 128e6, 2)
    for level, rows in [(0.95, frontier_rows(fit, 64e6, 128e6, 2)), (0.8, frontier_rows(fit, 64e6, 128e6, 2, level=0.8))]:
        for budget, row in zip(budgets, rows):
            column = draw_errors(fit, budget)[:, ["top10", "top20", "top30", "top40"].index(row["best"])]
            tail = 50 * (1 - level)
            assert row["interval"] == pytest.approx([1 - np.percentile(column, 100 - tail), 1 - np.percentile(column, tail)], rel=1e-12)


def test_sweep_defaults_to_100_points_and_takes_bucket_sizes(reference):
    """100 log-spaced budgets and no mixture unless asked; bucket sizes given override the fit's (errors by the
    loop on a pool of twice the size)."""
    rows = frontier_rows(reference, 10e6, 1e9)
    np.testing.assert_allclose([r["budget_samples"] for r in rows], np.geomspace(10e6, 1e9, 100), rtol=1e-14)
    assert not any("mixture" in r or "interval" in r for r in rows)  # no mixtures unless asked; no draws, no interval
    row = frontier_rows(reference, 128e6, 128e6, 1, bucket_sizes={b: 2 * S for b in NESTED})[0]
    expected = {name: 1 - union_error(reference.params, reference.law, 128e6, NESTED[:m], size=2 * S) for m, name in enumerate(["top10", "top20", "top30", "top40"], start=1)}
    assert row["accuracy_by_candidate"] == pytest.approx(expected, rel=1e-12)


def test_sweep_mixture_lists_only_buckets_it_draws_from():
    """At 64M samples seen the optimal mixture leaves buckets out (`with_mixture` drops shares
    under 1e-4): the row lists the buckets it draws from, with shares > 0 summing to 1."""
    shares = frontier_rows(load_fit("reference/tmars-imagenet-utility"), 64e6, 64e6, 1, mixtures=True)[0]["mixture"]["shares"]
    assert 0 < len(shares) < len(NESTED) and all(w > 0 for w in shares.values()) and sum(shares.values()) == pytest.approx(1.0, rel=1e-12)


def test_tied_unions_rank_the_stricter_first():
    """Equal buckets (same utility and half-life) at 30M samples seen: top30 (38.4M samples) and
    top40 (51.2M) are both seen for under one epoch, so by the loop their errors are equal, and
    below those of top20 and top10, which repeat data. The plan keeps the stricter union of a tie
    first (a stable ranking): top30, top40, then top20, top10."""
    fit = load_fit("reference/tmars-imagenet-effective-data")
    params = {**fit.params, **{f"utility[{b}]": -0.16 for b in NESTED}, **{f"utility_half_life[{b}]": 4.0 for b in NESTED}}
    loop = [union_error(params, fit.law, 30e6, NESTED[:m]) for m in range(1, 5)]
    assert loop[2] == pytest.approx(loop[3], rel=1e-15) and loop[3] < loop[1] < loop[0]
    plan = plan_data(with_params(fit, params=params), 30e6)
    assert [c.name for c in plan.candidates] == ["top30", "top40", "top20", "top10"] and plan.best == "top30"


# ---- candidate unions of a bare fit (no recorded metadata) and the mixture search's limits ----------
def bare_filtering_fit(utilities, half_life=4.0):
    """A data_filtering_utility fit made in memory with per-bucket utilities and nothing recorded
    beside its parameters (no nested order, bucket sizes or percentile ranges)."""
    params = {"sample_scale": 0.02, "irreducible_error": 0.1}
    for bucket, utility in utilities.items():
        params[f"utility[{bucket}]"], params[f"utility_half_life[{bucket}]"] = utility, half_life
    return Fit(law="data_filtering_utility", law_version="1", params=params, objective=None, n_points=0, starts=0, starts_at_best=0,
               converged=True, data_hash="", target="error", inputs=["samples_seen", "unique_samples"], groups=list(utilities), source="test/bare")


def test_candidate_unions_of_a_fit_without_metadata_come_from_its_groups():
    """Buckets a, b, c with utilities -0.05, -0.2, -0.1: best first is b, c, a (by hand); without
    percentile ranges the unions are named best1..best3; sizes from `bucket_sizes`."""
    fit = bare_filtering_fit({"a": -0.05, "b": -0.2, "c": -0.1})
    unions = candidate_unions(fit, {"a": 5e6, "b": 5e6, "c": 5e6})
    assert unions.buckets == ["b", "c", "a"] and unions.names == ["best1", "best2", "best3"]
    np.testing.assert_array_equal(unions.shares, [[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_array_equal(unions.size_samples, [5e6] * 3)
    with pytest.raises(CurascaleError, match="bucket sizes unknown for a, b, c"):
        candidate_unions(fit)


def test_bucket_sizes_ten_percent_apart_are_not_equal_whatever_their_scale():
    """The equal-size check is relative (1%): buckets of 10 and 11 samples differ by 10% and are
    refused, as 10M and 11M are; 10 and 10.05 (0.5%) pass."""
    fit = bare_filtering_fit({"a": -0.05, "b": -0.2})
    for small, large in ((10.0, 11.0), (10e6, 11e6)):
        with pytest.raises(CurascaleError, match="differ"):
            candidate_unions(fit, {"a": small, "b": large})
    np.testing.assert_allclose(candidate_unions(fit, {"a": 10.0, "b": 10.05}).size_samples, [10.025, 10.025], rtol=1e-15)


def test_the_mixture_search_refuses_a_budget_at_the_epoch_limit():
    """budget / bucket size must stay below EPOCH_LIMIT (511) epochs: exactly 511 is refused, just
    under it is searched."""
    from scaling.plan import EPOCH_LIMIT, optimal_mixture

    assert EPOCH_LIMIT == 511
    fit = bare_filtering_fit({"a": -0.05, "b": -0.2})
    unions = candidate_unions(fit, {"a": 1e6, "b": 1e6})
    with pytest.raises(CurascaleError, match="511 epochs, past the data filtering laws' 511"):
        optimal_mixture(fit, unions, 511e6)
    shares = optimal_mixture(fit, unions, 510.9e6)
    assert shares.shape == (2,) and shares.sum() == pytest.approx(1.0)
    one = bare_filtering_fit({"a": -0.05})  # one bucket: the only mixture is all of it
    np.testing.assert_array_equal(optimal_mixture(one, candidate_unions(one, {"a": 1e6}), 20e6), [1.0])
