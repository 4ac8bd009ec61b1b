"""docs/laws.md §4: the precision law as Kumar et al. fitted it (offsets in every exponent), its domain,
the one PTQ prefactor, and the critical data size against a numeric minimisation."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from curascale.errors import CurascaleError
from scaling.laws import get_law
from scaling.laws.precision import PUBLISHED, capacity, check_domain, critical_tokens, domain_floor, ptq_degradation_at
from scaling.reference import load_fit

# Table 2 of Kumar et al. 2024, written out again here (not imported from the code)
GAMMA = {"weights": 2.6745, "activations": 2.2102, "kv_cache": 0.9578}
OFFSET = {"weights": 0.3037, "activations": 1.4072, "kv_cache": 2.4185}
A, B, E, BETA = 4.299e3, 1.806e4, 2.7648, 0.4965
C_T, BIAS, GAMMA_D, GAMMA_N, GAMMA_POST = 0.0598, 1.1277, 0.5068, 0.3439, 0.5907


def f_numpy(bits):
    return np.prod([1 - np.exp(-bits / GAMMA[x] + OFFSET[x]) for x in GAMMA], axis=0)


def test_one_ptq_prefactor_and_the_offsets_are_parameters():
    law = get_law("precision_ptq")
    assert {"n_weights", "n_activations", "n_kv_cache", "ptq_scale"} <= set(law.param_names)
    assert law.version == "2" and get_law("precision").version == "2"
    assert PUBLISHED["ptq_scale"] == pytest.approx(0.1847, abs=1e-4)
    assert PUBLISHED["ptq_scale"] == pytest.approx(C_T * math.exp(BIAS), rel=1e-12)


def test_reference_fit_predicts_the_published_form():
    fit = load_fit("reference/precision")
    n, d, w, a, kv, post = 1e8, 5e9, 6.0, 8.0, 4.0, 3.0
    trained = A * (n * (1 - math.exp(-w / GAMMA["weights"] + OFFSET["weights"])) * (1 - math.exp(-a / GAMMA["activations"] + OFFSET["activations"]))
                   * (1 - math.exp(-kv / GAMMA["kv_cache"] + OFFSET["kv_cache"]))) ** -BETA + B * d**-BETA + E
    assert fit.predict({"params": [n], "tokens": [d], "bits_weights": [w], "bits_activations": [a], "bits_kv_cache": [kv]})[0] == pytest.approx(trained, rel=1e-12)
    # a BF16-trained model (not quantized: factor 1) quantized after training
    bf16 = {"params": [n], "tokens": [d], "bits_weights": [1e4], "bits_post_training": [post]}
    delta = C_T * math.exp(BIAS) * math.exp(-post / GAMMA_POST) * d**GAMMA_D / n**GAMMA_N
    assert fit.predict(bf16)[0] == pytest.approx(A * n**-BETA + B * d**-BETA + E + delta, rel=1e-12)


def test_floating_point_reference_fit():
    fit = load_fit("reference/precision-fp")
    assert (fit.params["gamma_weights"], fit.params["n_weights"]) == (2.8111, 0.1240)
    assert fit.params["gamma_activations"] == GAMMA["activations"]


@pytest.mark.parametrize("bits, part", [(3.0, "activations"), (3.11, "activations"), ((16.0, 16.0, 2.0), "kv_cache"), ((16.0, 16.0, 2.3), "kv_cache"), ((0.8, 16.0, 16.0), "weights")])
def test_precisions_at_or_below_the_domain_are_refused(bits, part):
    theta = load_fit("reference/precision").params
    floor = OFFSET[part] * GAMMA[part]
    assert domain_floor(theta)[part] == pytest.approx(floor)
    with pytest.raises(CurascaleError, match=f"bits_{part} = .* outside the precision law's domain.*{floor:.2f} bits"):
        check_domain(theta, *np.atleast_1d(bits))
    row = dict(zip(("bits_weights", "bits_activations", "bits_kv_cache"), np.broadcast_to(np.atleast_1d(bits), 3)))
    with pytest.raises(CurascaleError, match="outside the precision law's domain"):  # predictions refuse too, never NaN
        load_fit("reference/precision").predict({"params": [1e8], "tokens": [1e9], **{k: [v] for k, v in row.items()}})


def test_just_inside_the_domain_is_finite():
    theta = load_fit("reference/precision").params
    check_domain(theta, 3.12)
    assert 0 < float(capacity(theta, 3.12, 3.12, 3.12)) == pytest.approx(f_numpy(3.12), rel=1e-12)


@pytest.mark.parametrize("params, bits_post", [(30e6, 4.0), (1e9, 3.0), (7e9, 6.0)])
def test_critical_data_size_is_the_minimum_of_the_quantized_loss(params, bits_post):
    """D_crit in closed form (docs/laws.md §4) = argmin over D of B D^-beta + delta_PTQ, found numerically."""
    theta = load_fit("reference/precision").params

    def quantized(log_tokens):
        d = math.exp(log_tokens)
        return B * d**-BETA + C_T * math.exp(BIAS) * math.exp(-bits_post / GAMMA_POST) * d**GAMMA_D / params**GAMMA_N

    numeric = math.exp(minimize_scalar(quantized, bounds=(math.log(1e6), math.log(1e18)), method="bounded", options={"xatol": 1e-10}).x)
    assert float(critical_tokens(theta, params, bits_post)) == pytest.approx(numeric, rel=1e-4)
    if (params, bits_post) == (30e6, 4.0):  # docs/laws.md §4: about 2.9e10 tokens for a 30M model at 4 bits
        assert float(critical_tokens(theta, params, bits_post)) == pytest.approx(2.9e10, rel=0.01)
    assert float(ptq_degradation_at(theta, params, numeric, bits_post)) > 0


def test_unified_form_against_a_numpy_restatement():
    """docs/laws.md §4 (unified form): L = L_train + delta_PTQ prod_x max(0, 1 - exp(-C_x (P_x - P_post))),
    written out here with the Table 2 constants and made-up C_x; rows where a part is trained at
    or below P_post (its share floors at 0: nothing lost), where it is not quantized (1e4 bits:
    share 1), and ordinary ones."""
    import jax.numpy as jnp

    from scaling.laws.precision import NO_QUANTIZATION_BITS, trained_precision_factor, unified_quantized_loss

    c = {"weights": 0.6, "activations": 0.9, "kv_cache": 0.5}
    theta = {**PUBLISHED, **{f"c_{part}": value for part, value in c.items()}}
    n = np.array([1e8, 3e8, 1e9, 2e9, 5e8])
    d = np.array([5e9, 2e10, 2e10, 4e10, 1e10])
    bits = {"weights": np.array([6.0, 8.0, 4.0, NO_QUANTIZATION_BITS, 8.0]), "activations": np.array([8.0, 5.0, 8.0, 16.0, 8.0]),
            "kv_cache": np.array([4.0, 8.0, 3.5, 12.0, 3.5])}
    post = np.array([3.0, 4.0, 4.0, 4.0, 4.0])
    inputs = {"params": jnp.asarray(n), "tokens": jnp.asarray(d), **{f"bits_{p}": jnp.asarray(v) for p, v in bits.items()},
              "bits_post_training": jnp.asarray(post)}
    quantized = {p: np.where(v >= NO_QUANTIZATION_BITS, 1.0, 1 - np.exp(-v / GAMMA[p] + OFFSET[p])) for p, v in bits.items()}
    effective = n * quantized["weights"] * quantized["activations"] * quantized["kv_cache"]
    trained = A * effective**-BETA + B * d**-BETA + E
    delta = C_T * math.exp(BIAS) * np.exp(-post / GAMMA_POST) * d**GAMMA_D / effective**GAMMA_N
    share = np.prod([np.maximum(1 - np.exp(-c[p] * (bits[p] - post)), 0.0) for p in c], axis=0)
    assert share[2] == 0.0 and 0 < share[0] < share[1] < 1  # row 3 trains weights at P_post: nothing lost
    # row 5: only the KV cache is trained below P_post (3.5 < 4): its own term 1 - e^(0.25) is negative, and the
    # floor (not a part at P_post) makes the share 0, so quantizing costs nothing rather than lowering the loss
    assert 1 - np.exp(-c["kv_cache"] * (3.5 - 4.0)) < 0 and share[4] == 0.0
    assert all(1 - np.exp(-c[p] * (bits[p][4] - 4.0)) > 0 for p in ("weights", "activations"))
    np.testing.assert_allclose(np.asarray(trained_precision_factor(theta, inputs)), share, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(unified_quantized_loss(theta, inputs)), trained + delta * share, rtol=1e-12)


def test_training_compute_is_three_eighths_of_n_d_and_the_weight_precision():
    """C = (6/16) N D P_w (docs/laws.md §4): at 16 bits, Chinchilla's 6 N D."""
    runs = {"params": np.array([1e8, 1e9]), "tokens": np.array([2e9, 3e10]), "bits_weights": np.array([16.0, 4.0]),
            "bits_activations": np.array([8.0, 8.0]), "bits_kv_cache": np.array([8.0, 8.0])}
    expected = [6 * 1e8 * 2e9, 6 / 16 * 1e9 * 3e10 * 4]
    for name in ("precision", "precision_ptq", "precision_ptq_unified"):
        np.testing.assert_allclose(get_law(name).training_compute(runs), expected, rtol=1e-15)


@pytest.mark.parametrize("share", [0.3, 0.05])
def test_critical_data_size_with_the_unified_share_is_the_minimum(share):
    """With the unified form's share s of delta_PTQ, D_crit = argmin over D of B D^-beta + s delta_PTQ
    (found numerically here): a smaller share moves it to more data."""
    theta = load_fit("reference/precision").params
    params, bits_post = 1e9, 4.0

    def quantized(log_tokens):
        d = math.exp(log_tokens)
        return B * d**-BETA + share * C_T * math.exp(BIAS) * math.exp(-bits_post / GAMMA_POST) * d**GAMMA_D / params**GAMMA_N

    numeric = math.exp(minimize_scalar(quantized, bounds=(math.log(1e6), math.log(1e20)), method="bounded", options={"xatol": 1e-10}).x)
    assert float(critical_tokens(theta, params, bits_post, share)) == pytest.approx(numeric, rel=1e-4)
    assert float(critical_tokens(theta, params, bits_post, share)) > 1.5 * float(critical_tokens(theta, params, bits_post))


def test_each_part_is_checked_against_its_own_floor_and_the_floor_itself_is_refused():
    """check_domain: activations given apart from the weights are checked against 3.11 bits
    (n_a gamma_a), not the weights' 0.81; a precision exactly at a floor is refused (the factor is 0)."""
    theta = load_fit("reference/precision").params
    check_domain(theta, 8.0, 3.2, 8.0)
    with pytest.raises(CurascaleError, match="bits_activations = 3 is outside"):
        check_domain(theta, 8.0, 3.0, 8.0)
    for part, given in (("weights", 0), ("activations", 1), ("kv_cache", 2)):
        bits = [8.0, 8.0, 8.0]
        bits[given] = OFFSET[part] * GAMMA[part]  # the floor itself, as the law computes it
        with pytest.raises(CurascaleError, match=f"bits_{part} = "):
            check_domain(theta, *bits)


def test_no_ptq_loss_when_the_weights_train_at_the_target_precision():
    """delta_PTQ is zero for weights trained at or below P_post (docs/laws.md §4): at exactly P_post
    the loss is the training loss, just above it the PTQ term is there."""
    fit = load_fit("reference/precision")  # a precision_ptq fit
    n, d = 1e8, 5e9
    rows = {"params": [n, n], "tokens": [d, d], "bits_weights": [4.0, 4.5], "bits_activations": [8.0, 8.0], "bits_kv_cache": [8.0, 8.0],
            "bits_post_training": [4.0, 4.0]}
    factor = [(1 - math.exp(-w / GAMMA["weights"] + OFFSET["weights"])) * (1 - math.exp(-8 / GAMMA["activations"] + OFFSET["activations"]))
              * (1 - math.exp(-8 / GAMMA["kv_cache"] + OFFSET["kv_cache"])) for w in (4.0, 4.5)]
    trained = [A * (n * f) ** -BETA + B * d**-BETA + E for f in factor]
    delta = C_T * math.exp(BIAS) * math.exp(-4.0 / GAMMA_POST) * d**GAMMA_D / (n * factor[1]) ** GAMMA_N
    got = fit.predict(rows)
    assert got[0] == pytest.approx(trained[0], rel=1e-12) and got[1] == pytest.approx(trained[1] + delta, rel=1e-12)
