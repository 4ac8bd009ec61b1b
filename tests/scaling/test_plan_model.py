"""scaling.plan_model: one language-model plan, checked against known answers computed here with
plain numpy from LAWS.md (§1, §2, §4), never with the planner's own functions."""

import math

import numpy as np
import pytest

from curascale.errors import CurascaleError
from scaling.plan import plan_model
from scaling.reference import load_fit

# docs/laws.md §4, Table 2 (integer types)
GAMMA = {"w": 2.6745, "a": 2.2102, "kv": 0.9578}
OFFSET = {"w": 0.3037, "a": 1.4072, "kv": 2.4185}
A, B, E, ALPHA = 4.299e3, 1.806e4, 2.7648, 0.4965
PTQ_SCALE, GAMMA_D, GAMMA_N, GAMMA_POST = 0.0598 * math.exp(1.1277), 0.5068, 0.3439, 0.5907


def f(bits):
    """N_eff / N with weights, activations and KV cache at `bits` (docs/laws.md §4)."""
    return np.prod([1 - np.exp(-np.asarray(bits, dtype=float) / GAMMA[x] + OFFSET[x]) for x in GAMMA], axis=0)


def numpy_optimal_bits():
    """Plain maximisation of f(P)/P on a 1e-5-bit grid above the domain (3.11 bits)."""
    bits = np.arange(3.2, 32.0, 1e-5)
    return float(bits[np.argmax(f(bits) / bits)])


@pytest.fixture(scope="module")
def fits():
    return {name: load_fit(f"reference/{name}") for name in ("precision", "chinchilla-epoch", "data-constrained")}


@pytest.mark.parametrize("flops", [1e18, 1e22, 1e26])
def test_compute_optimal_precision_is_seven_bits_at_every_budget(fits, flops):
    plan = plan_model(flops, [fits["precision"]])
    assert plan.bits == pytest.approx(numpy_optimal_bits(), abs=1e-3)
    assert f"{plan.bits:.2f}" == "7.00" and plan.precision == "7.00 bits"
    assert 6 / 16 * plan.params * plan.tokens * plan.bits == pytest.approx(flops, rel=1e-9)


def test_jointly_optimal_size_and_data_at_1e22(fits):
    plan = plan_model(1e22, [fits["precision"]])
    assert plan.params == pytest.approx(1.69e10, rel=0.02)  # docs/laws.md §4
    assert plan.tokens == pytest.approx(2.25e11, rel=0.02)
    # brute force over N at the numpy optimum P: min A (N f)^-alpha + B D^-alpha, D = 16 C / (6 P N)
    bits = numpy_optimal_bits()
    params = np.geomspace(1e9, 1e12, 200_001)
    loss = A * (params * f(bits)) ** -ALPHA + B * (16e22 / (6 * bits * params)) ** -ALPHA + E
    assert plan.params == pytest.approx(params[np.argmin(loss)], rel=1e-3)
    assert plan.loss == pytest.approx(loss.min(), rel=1e-9)


def test_parameter_and_compute_multipliers_per_precision(fits):
    plan = plan_model(1e22, [fits["precision"]], precisions="4,8,16,bf16")
    rows = {a.precision: a for a in plan.alternatives}
    assert rows["4 bits"].params_multiplier == pytest.approx(5.24, abs=0.005)  # docs/laws.md §4
    best = numpy_optimal_bits()
    for name, bits in (("4 bits", 4.0), ("8 bits", 8.0)):
        assert rows[name].params_multiplier == pytest.approx(1 / f(bits), rel=1e-9)
        assert rows[name].compute_multiplier == pytest.approx((bits / f(bits)) / (best / f(best)), rel=1e-5)
        assert rows[name].compute_efficiency == pytest.approx(1 / rows[name].compute_multiplier)
    # 16 bits is not quantized (factor 1, docs/laws.md §4) and is the same precision as bf16: one row
    assert "bf16" not in rows and rows["16 bits"].capacity == 1.0 and not rows["16 bits"].quantized
    assert rows["16 bits"].compute_multiplier == pytest.approx(16 / (best / f(best)), rel=1e-5)
    assert rows["16 bits"].compute_multiplier == pytest.approx(1.69, abs=0.005)
    # restricted to these formats the plan is the best of them: 8 bits, at a loss cost
    assert plan.precision == "8 bits" and [a.precision for a in plan.alternatives if a.chosen] == ["8 bits"]
    assert plan.loss == min(a.loss for a in plan.alternatives if a.precision != "7.00 bits")
    free = plan_model(1e22, [fits["precision"]])
    assert [c.name for c in plan.constraints] == ["training formats 4 bits, 8 bits, 16 bits"]
    assert plan.constraints[0].cost == pytest.approx(plan.loss - free.loss) and plan.constraints[0].cost > 0
    # each row's N, D and loss: the compute-optimal split of N D = 16 C / (6 P) with N_eff = N f(P)
    # (alpha = beta: N = (A f^-alpha / B)^(1 / (2 alpha)) (N D)^(1/2)), restated in numpy
    for name, bits, factor in (("4 bits", 4.0, f(4.0)), ("8 bits", 8.0, f(8.0)), ("16 bits", 16.0, 1.0)):
        product = 16 * 1e22 / (6 * bits)
        n = (A * factor**-ALPHA / B) ** (1 / (2 * ALPHA)) * product**0.5
        assert rows[name].params == pytest.approx(n, rel=1e-9) and rows[name].tokens == pytest.approx(product / n, rel=1e-9)
        assert rows[name].loss == pytest.approx(A * (n * factor) ** -ALPHA + B * (product / n) ** -ALPHA + E, rel=1e-12)


def test_hardware_format_names(fits):
    plan = plan_model(1e22, [fits["precision"]], precisions="int4,fp8,bf16")
    assert {a.precision: a.bits for a in plan.alternatives} == {"int4": 4.0, "fp8": 8.0, "bf16": 16.0, "7.00 bits": pytest.approx(7.0, abs=0.01)}
    assert plan.precision == "fp8"
    assert "integer-constants" in [n.code for n in plan.notes]  # fp8 with the integer-type fit
    with pytest.raises(CurascaleError, match="neither a number of bits nor a format"):
        plan_model(1e22, [fits["precision"]], precisions="int4,tf32x")


@pytest.mark.parametrize("precisions", ["3", "int3,int8", "2.5"])
def test_precisions_outside_the_law_are_refused(fits, precisions):
    with pytest.raises(CurascaleError, match="outside the precision law's domain: activations need more than .* 3.11 bits"):
        plan_model(1e22, [fits["precision"]], precisions=precisions)


def test_best_precision_at_fixed_size(fits):
    """--params: N fixed, D = 16 C / (6 P N); the best P by brute force over a 1e-4-bit grid."""
    n, flops = 1e9, 6 * 1e9 * 200e9  # 200 tokens a parameter at 16 bits
    plan = plan_model(flops, [fits["precision"]], params=n)
    bits = np.arange(3.2, 32, 1e-4)
    loss = A * (n * f(bits)) ** -ALPHA + B * (16 * flops / (6 * bits * n)) ** -ALPHA + E
    assert plan.params == n and plan.bits == pytest.approx(bits[np.argmin(loss)], abs=2e-3)
    assert plan.bits == pytest.approx(10.9, abs=0.05)  # docs/laws.md §4: about 10.9 bits at 200 tokens a parameter
    assert plan.loss == pytest.approx(loss.min(), rel=1e-9)
    assert plan.constraints[0].name.startswith("N fixed") and plan.constraints[0].cost > 0


def test_quantized_loss_is_for_the_trained_precision_and_never_below_the_unquantized(fits):
    plan = plan_model(1e22, [fits["precision"]], quantize_to=4)
    q = plan.quantization
    effective = plan.params * f(plan.bits)  # trained at 7.00 bits, not 16
    delta = PTQ_SCALE * math.exp(-4 / GAMMA_POST) * plan.tokens**GAMMA_D / effective**GAMMA_N
    assert q.trained_at == "7.00 bits" and q.degradation == pytest.approx(delta, rel=1e-9)
    assert q.loss == plan.loss and q.loss_quantized == pytest.approx(plan.loss + delta, rel=1e-12)
    assert q.loss_quantized >= plan.loss
    assert q.bound and "ptq-upper-bound" in [n.code for n in plan.notes]
    critical = (ALPHA * B * effective**GAMMA_N / (GAMMA_D * PTQ_SCALE * math.exp(-4 / GAMMA_POST))) ** (1 / (GAMMA_D + ALPHA))
    assert q.critical_tokens == pytest.approx(critical, rel=1e-9)
    assert q.past_critical == (plan.tokens > critical)


def test_warning_when_the_data_pass_the_critical_size(fits):
    plan = plan_model(1e22, [fits["precision"]], params=1e9, quantize_to=4)  # 2e12 tokens on a 1B model
    q = plan.quantization
    assert plan.tokens > q.critical_tokens and q.past_critical
    warning = next(n for n in plan.notes if n.code == "past-critical-data")
    assert warning.severity == "warning" and warning.details["critical_tokens"] == q.critical_tokens
    assert "past-critical-data" in [w["code"] for w in plan.to_json()["notes"]]
    # trained at or below the target: quantizing costs nothing
    low = plan_model(1e22, [fits["precision"]], precisions="4", quantize_to=4)
    assert low.quantization.degradation == 0 and low.quantization.loss_quantized == low.loss


# docs/laws.md §2, published fit (Muennighoff et al. 2023), written out again
DC = {"A": math.exp(6.255414), "B": math.exp(7.3049974), "E": math.exp(0.6254804), "alpha": 0.3526596, "rd": 15.387756, "rn": 5.309743}


def data_constrained_loss(n, d, u):
    """The §2 law in plain numpy (U_D = min(U, D): the unique tokens actually seen)."""
    a = DC["alpha"]
    unique = np.minimum(u, d)
    d_eff = unique + unique * DC["rd"] * (1 - np.exp(-np.maximum(d / unique - 1, 0) / DC["rd"]))
    g = (DC["A"] / DC["B"]) ** (1 / (2 * a))  # alpha = beta
    n_opt = g * (u * g)  # N whose compute-optimal D is U (beta / alpha = 1)
    unique_n = np.minimum(n, n_opt)
    n_eff = unique_n + unique_n * DC["rn"] * (1 - np.exp(-np.maximum(n / unique_n - 1, 0) / DC["rn"]))
    return DC["E"] + DC["A"] / n_eff**a + DC["B"] / d_eff**a


@pytest.mark.parametrize("unique", [2e10, 1e11])
def test_data_constrained_plan_matches_a_brute_force_search(fits, unique):
    flops = 1e22
    plan = plan_model(flops, [fits["data-constrained"]], unique_tokens=unique)
    params = np.geomspace(1e8, 1e12, 400_001)
    tokens = flops / (6 * params)
    loss = data_constrained_loss(params, tokens, unique)
    best = int(np.argmin(loss))
    assert plan.epochs == pytest.approx(tokens[best] / unique, rel=2e-3)
    assert plan.params == pytest.approx(params[best], rel=2e-3) and plan.loss == pytest.approx(loss[best], rel=1e-9)
    # the loss lost to repetition: against the same law with unlimited data (Chinchilla form)
    unlimited = (DC["E"] + DC["A"] / params**DC["alpha"] + DC["B"] / tokens**DC["alpha"]).min()
    repetition = next(c for c in plan.constraints if "repetition" in c.name)
    assert repetition.cost == pytest.approx(loss[best] - unlimited, rel=1e-4) and repetition.cost > 0
    assert plan.decided_by["epochs"] == "tokens / unique tokens" and "docs/laws.md §2" in plan.decided_by["params"]
    if unique == 2e10:
        assert plan.epochs > 5
    assert "repetition-saturated" not in [n.code for n in plan.notes]  # below R*_D = 15.39 repetitions
    saturated = plan_model(flops, [fits["data-constrained"]], unique_tokens=1e9)
    assert saturated.epochs > 1 + DC["rd"] and "repetition-saturated" in [n.code for n in saturated.notes]


def test_unique_tokens_need_the_data_constrained_law(fits):
    with pytest.raises(CurascaleError, match="unique_tokens needs a data_constrained fit"):
        plan_model(1e22, [fits["chinchilla-epoch"]], unique_tokens=1e11)


def test_chinchilla_alone_plans_bf16_at_6ND(fits):
    alpha, beta, a, b = 0.3478, 0.3658, 482.01, 2085.43
    plan = plan_model(5.76e23, [fits["chinchilla-epoch"]])
    g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
    assert plan.precision == "bf16" and plan.params == pytest.approx(g * (5.76e23 / 6) ** (beta / (alpha + beta)), rel=1e-12)
    assert 6 * plan.params * plan.tokens == pytest.approx(5.76e23) and plan.alternatives == ()
    with pytest.raises(CurascaleError, match="need a precision fit"):
        plan_model(1e22, [fits["chinchilla-epoch"]], precisions="int8")


def test_one_plan_with_every_constraint(fits):
    """Chinchilla-form loss from the data-constrained fit, f(P) from the precision fit: ONE
    recommendation whose constraint costs add up to its loss minus the unconstrained optimum."""
    free = plan_model(1e22, [fits["data-constrained"], fits["precision"]])
    plan = plan_model(1e22, [fits["data-constrained"], fits["precision"]], precisions="int4,int8,bf16", unique_tokens=5e10, quantize_to=4)
    assert [c.name.split()[0] for c in plan.constraints] == ["training", "5e+10"]
    assert [c.law for c in plan.constraints] == ["docs/laws.md §4", "docs/laws.md §2"]  # the section each constraint comes from
    # applied in order: the formats' cost is the formats-only plan's loss above the free one, and
    # each constraint's loss is the plan's loss with it and those before it
    formats_only = plan_model(1e22, [fits["data-constrained"], fits["precision"]], precisions="int4,int8,bf16")
    assert plan.constraints[0].loss == pytest.approx(formats_only.loss, rel=1e-12) and plan.constraints[1].loss == pytest.approx(plan.loss, rel=1e-12)
    assert plan.constraints[0].cost == pytest.approx(formats_only.loss - free.loss, rel=1e-9) and plan.constraints[1].cost > 1e-4
    assert sum(c.cost for c in plan.constraints) == pytest.approx(plan.loss - free.loss, rel=1e-9)
    assert all(c.cost >= 0 for c in plan.constraints)
    assert plan.epochs == pytest.approx(plan.tokens / 5e10) and plan.precision in ("int4", "int8", "bf16")
    assert set(plan.decided_by) >= {"params", "tokens", "precision", "epochs", "quantization", "loss"}
    record = plan.to_json()
    assert "warnings" not in record and all(set(w) == {"code", "severity", "message", "details"} for w in record["notes"])


def test_finetuning_inflection_is_reported_and_warned(fits):
    """docs/laws.md §5 (our form): D* = (beta B / (gamma_s S N^-k))^(1/(beta + gamma_s)) at the plan's N."""
    from scaling.fit import Fit

    truth = {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37, "sensitivity": 5e-3, "sensitivity_exponent": 0.2, "sensitivity_param_exponent": 0.1}
    finetune = Fit(law="finetune_degradation", law_version="1", params=truth, objective=None, n_points=0, starts=0, starts_at_best=0,
                   converged=True, data_hash="", target="loss", inputs=["params", "tokens"], source="test/finetune")
    plan = plan_model(1e22, [fits["chinchilla-epoch"], finetune])
    onset = (0.37 * 2000.0 / (0.2 * 5e-3 * plan.params**-0.1)) ** (1 / (0.37 + 0.2))
    assert plan.overtraining["degradation_onset_tokens"] == pytest.approx(onset, rel=1e-9)
    assert plan.fit == "reference/chinchilla-epoch"  # the loss law stays the Chinchilla fit
    past = plan.tokens > onset
    assert plan.overtraining["past_onset"] == past and ("past-finetune-onset" in [n.code for n in plan.notes]) == past
    over = plan_model(1e24, [fits["chinchilla-epoch"], finetune], params=1e9)  # 1.7e14 tokens on 1B parameters
    assert over.overtraining["past_onset"] and over.overtraining["loss_above_onset"] > 0
    assert "past-finetune-onset" in [n.code for n in over.notes]
    # every figure of the record, restated in numpy: L_ft(N, D) = E + A/N^alpha + B/D^beta + S N^-k D^gamma_s
    for case in (plan, over):
        n, d = case.params, case.tokens
        star = (0.37 * 2000.0 / (0.2 * 5e-3 * n**-0.1)) ** (1 / (0.37 + 0.2))

        def finetuned(tokens):
            return 1.8 + 400.0 / n**0.34 + 2000.0 / tokens**0.37 + 5e-3 * n**-0.1 * tokens**0.2

        record = case.overtraining
        assert record["tokens"] == d and record["degradation_onset_tokens"] == pytest.approx(star, rel=1e-9)
        assert record["finetuned_loss"] == pytest.approx(finetuned(d), rel=1e-12)
        assert record["finetuned_loss_at_onset"] == pytest.approx(finetuned(star), rel=1e-12)
        assert record["loss_above_onset"] == pytest.approx(max(finetuned(d) - finetuned(star), 0.0), abs=1e-12)
        assert record["past_onset"] == (d > star)
        assert finetuned(star) < min(finetuned(star * 0.99), finetuned(star * 1.01))  # D* is the minimum in D
    assert over.overtraining["loss_above_onset"] > 0.1 > plan.overtraining["loss_above_onset"] > 0.01


def test_fitted_unified_form_replaces_the_upper_bound(fits):
    """With a precision_ptq_unified fit (C_x known) the PTQ cost of a 7-bit-trained model is the
    bound times prod_x (1 - exp(-C_x (7 - 4))), no longer flagged as a bound."""
    from scaling.fit import Fit

    c = {"c_weights": 0.6, "c_activations": 0.9, "c_kv_cache": 0.5}
    unified = Fit(law="precision_ptq_unified", law_version="1", params={**fits["precision"].params, **c}, objective=None, n_points=0, starts=0,
                  starts_at_best=0, converged=True, data_hash="", target="loss", inputs=[], source="test/unified")
    bound = plan_model(1e22, [fits["precision"]], quantize_to=4).quantization
    plan = plan_model(1e22, [unified], quantize_to=4)
    share = np.prod([1 - np.exp(-value * (plan.bits - 4)) for value in c.values()])
    assert plan.bits == pytest.approx(7.0, abs=0.01) and not plan.quantization.bound
    assert plan.quantization.degradation == pytest.approx(bound.degradation * share, rel=1e-9)
    assert plan.quantization.degradation < bound.degradation and plan.quantization.loss_quantized >= plan.loss
    assert "ptq-upper-bound" not in [n.code for n in plan.notes]
    effective = plan.params * f(plan.bits)
    critical = (ALPHA * B * effective**GAMMA_N / (GAMMA_D * share * PTQ_SCALE * math.exp(-4 / GAMMA_POST))) ** (1 / (GAMMA_D + ALPHA))
    assert plan.quantization.critical_tokens == pytest.approx(critical, rel=1e-9)


def test_specialized_fraction_in_the_plan(fits):
    """docs/laws.md §6 (our form), restated in numpy: the domain fraction of least domain loss whose
    general loss stays within 1% of the f = 0 model, at the plan's N and D."""
    from scaling.fit import Fit

    dom = {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5}
    gen = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.33}

    def fit_of(law, params):
        return Fit(law=law, law_version="1", params=params, objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
                   data_hash="", target="loss", inputs=[], source=f"test/{law}")

    plan = plan_model(1e21, [fits["chinchilla-epoch"], fit_of("specialized_domain", dom), fit_of("specialized_general", gen)], domain_tokens=1e9)
    assert plan.fit == "reference/chinchilla-epoch"
    n, d = plan.params, plan.tokens
    share = np.arange(1, 50001) * 1e-5
    repetitions = share * d / 1e9
    effective = np.where(repetitions >= 1, 1e9 + 1e9 * 15 * (1 - np.exp(-(np.maximum(repetitions, 1) - 1) / 15)), share * d)
    domain_loss = 1.5 + 300 / n**0.34 + 800 / effective**0.3 + 0.02 * (repetitions / 15) ** 1.5
    general = 1.7 + 400 / n**0.34 + 1500 / ((1 - share) * d) ** 0.33
    baseline = 1.7 + 400 / n**0.34 + 1500 / d**0.33
    allowed = general <= baseline * 1.01
    best = share[allowed][np.argmin(domain_loss[allowed])]
    s = plan.specialized
    assert s["domain_fraction"] == pytest.approx(best, abs=1e-3)
    assert s["repetitions"] == pytest.approx(s["domain_fraction"] * d / 1e9)
    assert 0 < s["general_loss_cost"] <= 0.01 * baseline + 1e-12
    assert "domain_fraction" in plan.decided_by


# ---- a new user's report: one coherent plan ------------------------------------------------------
def test_default_fits_plan_on_the_precision_law(fits):
    """Chinchilla + precision (the CLI default): the precision law's own A, B, E, alpha decide N, D
    (1.69e10, 2.25e11 at 1e22, docs/laws.md §4); Chinchilla's 16-bit split is a labelled alternative."""
    plan = plan_model(1e22, [fits["chinchilla-epoch"], fits["precision"]])
    assert plan.params == pytest.approx(1.69e10, rel=0.02) and plan.tokens == pytest.approx(2.25e11, rel=0.02)
    assert plan.fit == "reference/precision" and "A, B, E, alpha, beta" in plan.decided_by["params"]
    alt = next(a for a in plan.alternatives if "chinchilla-epoch" in a.precision)
    alpha, beta, a, b = 0.3478, 0.3658, 482.01, 2085.43
    g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
    n = g * (1e22 / 6) ** (beta / (alpha + beta))
    assert alt.params == pytest.approx(n, rel=1e-9) and not alt.chosen
    assert alt.loss == pytest.approx(1.8172 + a / n**alpha + b / (1e22 / 6 / n) ** beta, rel=1e-3)
    assert "alternative" in plan.decided_by


def test_repetition_is_one_chain_on_the_deciding_law(fits):
    """--unique-tokens keeps the deciding law; the loss with repetition = the loss without + its cost,
    and the epochs match a brute-force search of the precision law at §2's effective data."""
    both = [fits["chinchilla-epoch"], fits["precision"], fits["data-constrained"]]
    free = plan_model(1e22, both)
    plan = plan_model(1e22, both, unique_tokens=2e10)
    cost = next(c.cost for c in plan.constraints if "repetition" in c.name)
    assert free.loss + cost == pytest.approx(plan.loss, abs=1e-9) and plan.fit == free.fit == "reference/precision"
    bits = np.arange(5.0, 12.0, 0.01)[:, None]
    params = np.geomspace(1e9, 1e11, 4001)[None, :]
    tokens = 16e22 / (6 * bits * params)
    u = 2e10
    unique = np.minimum(u, tokens)
    d_eff = unique + unique * DC["rd"] * (1 - np.exp(-np.maximum(tokens / unique - 1, 0) / DC["rd"]))
    n_eff = params * f(bits)
    g = (A / B) ** (1 / (2 * ALPHA))
    unique_n = np.minimum(n_eff, g * (u * g))
    n_eff = unique_n + unique_n * DC["rn"] * (1 - np.exp(-np.maximum(n_eff / unique_n - 1, 0) / DC["rn"]))
    loss = A / n_eff**ALPHA + B / d_eff**ALPHA + E
    i, j = np.unravel_index(np.argmin(loss), loss.shape)
    assert plan.epochs == pytest.approx(tokens[i, j] / u, rel=1e-2)
    assert plan.loss == pytest.approx(loss.min(), abs=1e-6)


@pytest.mark.parametrize("params", [1e30, 1e22])
def test_a_size_the_budget_cannot_train_is_refused(fits, params):
    with pytest.raises(CurascaleError, match="leaves at most .* training tokens"):
        plan_model(1e22, [fits["precision"]], params=params)


def test_absurd_ratio_and_edge_precision_are_warned(fits):
    plan = plan_model(1e22, [fits["precision"]], params=1e15)  # D = 16e22 / (6 P 1e15): ~1e7 tokens
    codes = [n.code for n in plan.notes]
    assert plan.tokens / plan.params < 0.1 and "tokens-per-parameter" in codes
    assert plan.bits == pytest.approx(3.11, abs=0.06) and "edge-optimum" in codes
    assert "precision-extrapolation" not in codes  # 3.11 bits is inside the fitted 3-12 bits
    wide = plan_model(1e22, [fits["precision"]], precisions="14", quantize_to=2.5)
    assert [n.details["bits"] for n in wide.notes if n.code == "precision-extrapolation"] == [14.0, 2.5]


def test_sixteen_bits_is_not_quantized_and_repeats_are_one(fits):
    plan = plan_model(1e22, [fits["precision"]], precisions="4,8,8,16")
    rows = {a.precision: a for a in plan.alternatives}
    assert [a.precision for a in plan.alternatives].count("8 bits") == 1
    assert rows["16 bits"].capacity == 1.0 and rows["16 bits"].quantized is False
    bf16 = {a.precision: a for a in plan_model(1e22, [fits["precision"]], precisions="bf16").alternatives}["bf16"]
    assert rows["16 bits"].loss == bf16.loss


def test_the_users_precision_fit_decides_training_and_the_reference_the_ptq_term(fits):
    from scaling.fit import Fit

    mine = {**{k: fits["precision"].params[k] for k in ("alpha", "beta", "gamma_weights", "n_weights", "gamma_activations",
                                                      "n_activations", "gamma_kv_cache", "n_kv_cache")}, "A": 3000.0, "B": 20000.0, "E": 2.5}
    own = Fit(law="precision", law_version="2", params=mine, objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
              data_hash="", target="loss", inputs=[], source="my-precision.json")
    for order in ([own, fits["precision"]], [fits["precision"], own]):
        plan = plan_model(1e22, order, quantize_to=4)
        assert plan.fit == "my-precision.json" and "my-precision.json" in plan.decided_by["quantization"]
        bits = plan.bits
        loss = 3000.0 / (plan.params * f(bits)) ** ALPHA + 20000.0 / plan.tokens**ALPHA + 2.5
        assert plan.loss == pytest.approx(loss, rel=1e-9)
        assert plan.quantization.law.startswith("reference/precision")


def test_user_fits_override_the_default_of_their_role_only(fits):
    from scaling.fit import Fit
    from scaling.plan_model import with_default_fits

    finetune = Fit(law="finetune_degradation", law_version="1", params={}, objective=None, n_points=0, starts=0, starts_at_best=0,
                   converged=True, data_hash="", target="loss", inputs=[], source="ft.json")
    own = Fit(law="precision", law_version="2", params={}, objective=None, n_points=0, starts=0, starts_at_best=0,
              converged=True, data_hash="", target="loss", inputs=[], source="mine.json")
    defaults = [fits["chinchilla-epoch"], fits["precision"]]
    assert [f.source for f in with_default_fits([finetune], defaults)] == ["ft.json", "reference/chinchilla-epoch", "reference/precision"]
    # a plain precision fit takes training; the PTQ-capable default stays for the post-training term
    assert [f.source for f in with_default_fits([own], defaults)] == ["mine.json", "reference/chinchilla-epoch", "reference/precision"]
    assert [f.source for f in with_default_fits([fits["precision"]], defaults)] == ["reference/precision", "reference/chinchilla-epoch"]


def test_integer_formats_on_floating_point_constants_get_a_note(fits):
    fp = load_fit("reference/precision-fp")
    plan = plan_model(1e22, [fp], precisions="int4,fp8")
    note = next(n for n in plan.notes if n.code == "floating-point-constants")
    assert "int4" in note.message and "fp8" not in note.message and "reference/precision" in note.message


def test_fixed_size_plot_marks_the_fixed_n(fits, monkeypatch, tmp_path):
    from scaling import plots
    from scaling.plan_model import iso_flop_curves

    seen = {}
    monkeypatch.setattr(plots, "_save_and_close", lambda plt, figure, path: seen.setdefault("figure", figure))
    plan = plan_model(1e22, [fits["precision"]], params=5e9)
    plots.plot_model_plan(plan, iso_flop_curves(plan, [fits["precision"]]), tmp_path / "p.png")
    lines = [line for line in seen["figure"].axes[0].get_lines() if line.get_label().startswith("N fixed")]
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [5e9, 5e9]


def test_optimal_precision_is_refined_to_a_millionth_of_a_bit(fits):
    """docs/laws.md §4: P* = argmax f(P)/P, to 1e-6 bits as `optimal_bits` says: against a plain
    numpy search (the 1e-5-bit grid, then a 1e-8-bit grid around its best); a plan with N free and
    unlimited data trains at that P*."""
    from scaling.plan_model import optimal_precision

    coarse = numpy_optimal_bits()
    fine = np.linspace(coarse - 2e-5, coarse + 2e-5, 4001)
    expected = float(fine[np.argmax(f(fine) / fine)])
    assert optimal_precision(fits["precision"]) == pytest.approx(expected, abs=6e-7)  # half the last grid step, and a little
    # with N free and the data unlimited, the plan's precision is that P* whatever the budget
    assert plan_model(1e22, [fits["precision"]]).bits == pytest.approx(expected, abs=6e-7)


@pytest.mark.parametrize("params, tokens_per_param", [(1e9, 20), (1e9, 200), (3e8, 1000)])
def test_best_precision_at_fixed_size_to_the_searchs_resolution(fits, params, tokens_per_param):
    """--params: the search's last grid has steps of 2e-4 bits (0.05 bits, refined on 51 then 21
    points over +-1 step), so P lies within 1e-4 bits of the minimum of the loss of D = 16 C / (6 P N)
    found by plain numpy (a 1e-4-bit grid, then a 1e-7-bit grid around its best)."""
    flops = 6 * params * tokens_per_param * params

    def loss(bits):
        return A * (params * f(bits)) ** -ALPHA + B * (16 * flops / (6 * bits * params)) ** -ALPHA + E

    coarse = np.arange(3.2, 32, 1e-4)
    coarse = coarse[np.argmin(loss(coarse))]
    fine = np.linspace(coarse - 2e-4, coarse + 2e-4, 4001)
    plan = plan_model(flops, [fits["precision"]], params=params)
    assert plan.bits == pytest.approx(float(fine[np.argmin(loss(fine))]), abs=1.01e-4)


@pytest.mark.parametrize("unique", [2e10, 5e10, 1e11])
@pytest.mark.parametrize("flops", [1e21, 1e22])
def test_data_constrained_size_to_the_searchs_resolution(fits, unique, flops):
    """docs/laws.md §2 has no closed form: the N search's last grid has log steps of
    2 ln(1e3) / 400 / 100 = 3.45e-4, so N lies within half of it (1.73e-4 relative) of the
    minimum of the §2 loss in plain numpy (a log grid, then a 5e-9 log grid around its best)."""
    params = np.geomspace(1e7, 1e13, 600_001)
    coarse = params[np.argmin(data_constrained_loss(params, flops / (6 * params), unique))]
    fine = coarse * np.exp(np.linspace(-5e-5, 5e-5, 20_001))
    expected = fine[np.argmin(data_constrained_loss(fine, flops / (6 * fine), unique))]
    assert plan_model(flops, [fits["data-constrained"]], unique_tokens=unique).params == pytest.approx(expected, rel=1.75e-4)


def test_a_fit_whose_loss_is_not_finite_gives_no_plan():
    """E = inf (a corrupt fit made in memory; fit files refuse it on reading): the plan refuses in
    one line naming the loss (predicted, or the data-constrained one of the N search) instead of
    returning an infinite one."""
    import dataclasses

    chinchilla = load_fit("reference/chinchilla-epoch")
    broken = dataclasses.replace(chinchilla, params={**chinchilla.params, "E": float("inf")})
    with pytest.raises(CurascaleError, match=r"^the predicted loss is not finite on the search grid"):
        plan_model(1e21, [broken])
    # R*_D = inf: the repeated data's term is inf * 0 (nan) only where data repeat, so the numeric N
    # search under unique tokens is where it shows, on the data-constrained loss
    constrained = load_fit("reference/data-constrained")
    broken = dataclasses.replace(constrained, params={**constrained.params, "data_repetition_decay": float("inf")})
    with pytest.raises(CurascaleError, match=r"^the data-constrained loss is not finite on the search grid"):
        plan_model(1e21, [broken], unique_tokens=2e10)


@pytest.mark.parametrize("scale", [0.2, 0.8, 1.3, 1.7])
def test_optimal_bits_to_a_millionth_of_a_bit_for_other_constants(scale):
    """argmax f(P)/P for the Table 2 constants with every gamma scaled (the optimum moves with
    them), against plain numpy: a 1e-5-bit grid above the domain, then a 1e-8-bit grid. At scale
    0.2 the optimum (1.40 bits) lies within 1 bit of the domain floor (0.62 bits), where the
    refinement's lower clamp to the floor decides the grid."""
    from scaling.plan_model import optimal_bits

    gamma = {x: g * scale for x, g in GAMMA.items()}
    theta = {f"{k}_{part}": v for part, x in zip(("weights", "activations", "kv_cache"), GAMMA) for k, v in (("gamma", gamma[x]), ("n", OFFSET[x]))}

    def share(bits):
        return np.prod([1 - np.exp(-bits / gamma[x] + OFFSET[x]) for x in GAMMA], axis=0)

    bits = np.arange(max(gamma[x] * OFFSET[x] for x in GAMMA) + 1e-5, 32.0, 1e-5)
    coarse = bits[np.argmax(share(bits) / bits)]
    fine = np.linspace(coarse - 2e-5, coarse + 2e-5, 4001)
    assert optimal_bits(theta) == pytest.approx(float(fine[np.argmax(share(fine) / fine)]), abs=6e-7)


@pytest.mark.parametrize("bits_post", [0.0, -2.0, math.inf, math.nan])
def test_quantizing_to_a_non_positive_or_infinite_precision_is_refused(fits, bits_post):
    from scaling.plan_model import BF16, quantization_cost

    with pytest.raises(CurascaleError, match="bits_post_training must be a positive number of bits, got"):
        quantization_cost(fits["precision"], 1e9, 2e10, BF16, bits_post, 3.0)
    for positive in (4.0, 1.0, 0.5):  # any positive precision is costed
        assert quantization_cost(fits["precision"], 1e9, 2e10, BF16, positive, 3.0)[0].degradation > 0


def test_the_ptq_cost_uses_the_training_laws_capacity(fits):
    """delta_PTQ = C_T e^b exp(-P_post / gamma_post) D^gamma_D / (N f(P_train))^gamma_N with f from
    `training_theta` when given (the precision law that decided training), else from the PTQ fit
    itself; restated with numpy for a model trained at 6 bits and quantized to 4."""
    from scaling.plan_model import Precision, quantization_cost

    n, d, post = 1e9, 2e10, 4.0
    other = {**fits["precision"].params, **{f"gamma_{p}": GAMMA[x] * 1.3 for p, x in zip(("weights", "activations", "kv_cache"), GAMMA)}}

    def delta(gamma):
        factor = np.prod([1 - np.exp(-6.0 / gamma[x] + OFFSET[x]) for x in GAMMA])
        return PTQ_SCALE * math.exp(-post / GAMMA_POST) * d**GAMMA_D / (n * factor) ** GAMMA_N

    own = quantization_cost(fits["precision"], n, d, Precision("6 bits", 6.0), post, 3.0)[0]
    given = quantization_cost(fits["precision"], n, d, Precision("6 bits", 6.0), post, 3.0, training_theta=other)[0]
    assert own.degradation == pytest.approx(delta(GAMMA), rel=1e-12)
    assert given.degradation == pytest.approx(delta({x: g * 1.3 for x, g in GAMMA.items()}), rel=1e-12)
    assert given.degradation > 1.1 * own.degradation  # larger gammas: less capacity at 6 bits, a larger PTQ cost


def finetune_fit():
    from scaling.fit import Fit

    truth = {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37, "sensitivity": 5e-3, "sensitivity_exponent": 0.2, "sensitivity_param_exponent": 0.1}
    return Fit(law="finetune_degradation", law_version="1", params=truth, objective=None, n_points=0, starts=0, starts_at_best=0,
               converged=True, data_hash="", target="loss", inputs=["params", "tokens"], source="test/finetune")


def test_a_plan_at_exactly_the_finetuning_onset_is_not_past_it():
    """D* itself: the fine-tuned loss is at its minimum there, nothing is past the onset and nothing lost."""
    from scaling.plan_model import _overtraining

    n = 1e9
    onset = (0.37 * 2000.0 / (0.2 * 5e-3 * n**-0.1)) ** (1 / (0.37 + 0.2))
    record = _overtraining(finetune_fit(), n, onset)
    assert record["degradation_onset_tokens"] == pytest.approx(onset, rel=1e-12)
    at = _overtraining(finetune_fit(), n, record["degradation_onset_tokens"])  # the very float the law gives
    assert at["past_onset"] is False and at["loss_above_onset"] == 0.0
    assert _overtraining(finetune_fit(), n, onset * 1.001)["past_onset"] is True


def test_a_general_loss_exactly_at_the_tolerance_is_allowed():
    """plan_specialized keeps fractions whose general loss is within the tolerance, bound included: a
    general fit with B = 0 (the fraction does not change its loss) at tolerance 0 allows every
    fraction, so the plan is the grid's least domain loss (restated in numpy as in
    test_specialized_fraction_in_the_plan)."""
    from scaling.fit import Fit
    from scaling.plan_model import plan_specialized

    dom = {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5}
    gen = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 0.0, "beta": 0.33}

    def fit_of(law, params):
        return Fit(law=law, law_version="1", params=params, objective=None, n_points=0, starts=0, starts_at_best=0, converged=True,
                   data_hash="", target="loss", inputs=[], source=f"test/{law}")

    n, d, u = 1e9, 2e10, 1e9
    plan = plan_specialized({"specialized_domain": fit_of("specialized_domain", dom), "specialized_general": fit_of("specialized_general", gen)}, n, d, u, 0.0)
    share = np.arange(1, 501) / 1000
    repetitions = share * d / u
    effective = np.where(repetitions >= 1, u + u * 15 * (1 - np.exp(-(np.maximum(repetitions, 1) - 1) / 15)), share * d)
    domain_loss = 1.5 + 300 / n**0.34 + 800 / effective**0.3 + 0.02 * (repetitions / 15) ** 1.5
    assert plan["domain_fraction"] == pytest.approx(share[np.argmin(domain_loss)], abs=1e-12)
    assert plan["general_loss_cost"] == 0.0 and plan["domain_loss"] == pytest.approx(domain_loss.min(), rel=1e-12)


def test_ptq_notes_and_the_unified_share_of_an_unquantized_model(fits):
    """Trained at or below the target: no cost, no bound, one `ptq-no-op` info note naming both
    precisions. Trained at 6 bits without the C_x: the cost is the BF16-form upper bound, said by a
    `ptq-upper-bound` info note. Trained in BF16 under a unified fit: not quantized, so its share
    prod_x (1 - exp(-C_x (P_x - P_post))) is 1 (P_x = infinity), not that of 16 bits."""
    from scaling.fit import Fit
    from scaling.plan_model import BF16, Precision, quantization_cost

    n, d = 1e9, 2e10
    low, notes = quantization_cost(fits["precision"], n, d, Precision("int4", 4.0), 4.0, 3.0)
    assert (low.degradation, low.bound, low.loss_quantized, low.critical_tokens) == (0.0, False, 3.0, math.inf)
    assert [(note.code, note.severity) for note in notes] == [("ptq-no-op", "info")]
    assert notes[0].message == "the model trains at int4, at or below the 4-bit target: post-training quantization costs nothing"
    bound, notes = quantization_cost(fits["precision"], n, d, Precision("6 bits", 6.0), 4.0, 3.0)
    assert bound.bound and [(note.code, note.severity) for note in notes] == [("ptq-upper-bound", "info")]
    assert notes[0].message == ("the PTQ cost of a model trained at 6 bits is the BF16-form upper bound: the unified form's C_x were not "
                                "published; fit precision_ptq_unified on runs trained low then quantized (docs/laws.md §4)")
    c = {"c_weights": 0.5, "c_activations": 0.5, "c_kv_cache": 0.5}  # at 16 bits the share would be (1 - e^-6)^3 = 0.9926
    unified = Fit(law="precision_ptq_unified", law_version="1", params={**fits["precision"].params, **c}, objective=None, n_points=0, starts=0,
                  starts_at_best=0, converged=True, data_hash="", target="loss", inputs=[], source="test/unified")
    bf16 = quantization_cost(unified, n, d, BF16, 4.0, 3.0)[0]
    bf16_form = PTQ_SCALE * math.exp(-4.0 / GAMMA_POST) * d**GAMMA_D / n**GAMMA_N  # N_eff = N: not quantized
    assert bf16.degradation == pytest.approx(bf16_form, rel=1e-12) and not bf16.bound


def test_the_largest_fixed_size_a_budget_trains_on_one_token():
    """D = 16 C / (6 P N) >= 1 at the lowest precision allowed: with C = 6e18 FLOPs, N D = 1e18 at
    16 bits (no precision fit), 4e18 at int4 (formats given), 16e18 / 3.1102 at the law's floor
    P = n_a gamma_a (a precision fit, any P): N exactly there trains on one token, 1% more on none."""
    from scaling.plan_model import Precision, _check_params_fit_budget

    theta = load_fit("reference/precision").params
    floor = OFFSET["a"] * GAMMA["a"]  # 3.1102 bits, the highest of the three floors
    for formats, law, most in ((None, None, 1e18), ((Precision("int4", 4.0), Precision("int8", 8.0)), theta, 4e18), (None, theta, 16e18 / floor)):
        _check_params_fit_budget(6e18, most, formats, law)
        with pytest.raises(CurascaleError, match="leaves at most 0.99 training tokens"):
            _check_params_fit_budget(6e18, most * 1.01, formats, law)


def test_the_critical_data_note_and_record(fits):
    """At exactly D_crit the data do not pass it; past it, one warning note with both figures."""
    from scaling.plan_model import Precision, quantization_cost

    trained = Precision("6 bits", 6.0)
    critical = quantization_cost(fits["precision"], 1e9, 1e9, trained, 4.0, 3.0)[0].critical_tokens
    at, notes = quantization_cost(fits["precision"], 1e9, critical, trained, 4.0, 3.0)
    assert at.bits_post_training == 4.0 and at.trained_at == "6 bits" and not at.past_critical
    assert [n.code for n in notes] == ["ptq-upper-bound"] and "C_x were not published" in notes[0].message
    past, notes = quantization_cost(fits["precision"], 1e9, 2 * critical, trained, 4.0, 3.0)
    assert past.past_critical and [n.code for n in notes] == ["ptq-upper-bound", "past-critical-data"]
    assert notes[1].severity == "warning" and notes[1].details == {"tokens": 2 * critical, "critical_tokens": critical}
    assert notes[1].message == f"the plan's {2 * critical:.3g} tokens pass D_crit = {critical:.3g} for 4-bit quantization: more pretraining data makes the quantized model worse"
