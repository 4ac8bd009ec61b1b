"""docs/laws.md §4, precision (Kumar et al. 2024, "Scaling Laws for Precision", ICLR 2025).

Training in low precision shrinks the effective parameter count. The form the authors actually
fitted (their App. K: every saturating exponential carries a bias in its exponent) is

    N_eff = N prod_{x in w, a, kv} (1 - exp(-P_x / gamma_x + n_x)),
    L = A N_eff^(-alpha) + B D^(-beta) + E                                   (law `precision`)

and post-training quantization to P_post bits adds

    delta_PTQ = C_T e^b exp(-P_post / gamma_post) D^gamma_D / N_eff^gamma_N  (law `precision_ptq`)

which grows with D/N: past the critical data size (`critical_tokens`) more pretraining data
makes the quantized model worse.

Readings we adopt (docs/laws.md §4 asks that they be labelled as ours):
- Table 2's `b` is the PTQ term's exponent bias, as each n_x is its factor's; only the product
  C_T e^b (0.0598 e^1.1277 = 0.1847) is identifiable, so it is ONE parameter, `ptq_scale`.
- The unified form multiplies delta_PTQ by prod_x (1 - exp(-C_x (P_x - P_post))) for a model
  trained at P_x (law `precision_ptq_unified`, which fits the C_x from runs trained at low
  precision then quantized; the product is floored at 0). The C_x were not published, so
  `precision_ptq` leaves the product out: for a model trained in BF16 (N_eff = N) it is the
  paper's form, for a model trained at low precision an upper bound (the product is at most 1).
  A model trained at or below P_post loses nothing.
- alpha is tied to beta; missing activation / KV-cache precisions default to the weight
  precision; a part that is not quantized (BF16 and wider) has factor 1 (`NO_QUANTIZATION_BITS`);
  a run without post-training quantization has no delta_PTQ.

Domain: each factor is zero at P_x = n_x gamma_x (weights 0.81 bits, activations 3.11, KV cache
2.32 with the published constants); the law is undefined at or below those precisions and
`check_domain` refuses them with a CurascaleError instead of returning NaN.
Compute with precision: C = (6/16) N D P FLOPs-equivalent (`training_compute`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from curascale.errors import CurascaleError
from scaling.laws.base import IDENTITY, LOG, Law, Param

NO_QUANTIZATION_BITS = 1e4  # stands in for "not quantized": exp(-1e4 / gamma + n) == 0
PARTS = ("weights", "activations", "kv_cache")

PUBLISHED_PTQ_SCALE = 0.0598  # C_T, Table 2
PUBLISHED_PTQ_BIAS = 1.1277  # b, Table 2: the PTQ term's exponent bias (our reading)

# Kumar et al. 2024, Table 2 (integer types)
PUBLISHED = {
    "A": 4.299e3,
    "alpha": 0.4965,
    "B": 1.806e4,
    "beta": 0.4965,
    "E": 2.7648,
    "gamma_weights": 2.6745,
    "n_weights": 0.3037,
    "gamma_activations": 2.2102,
    "n_activations": 1.4072,
    "gamma_kv_cache": 0.9578,
    "n_kv_cache": 2.4185,
    "ptq_scale": PUBLISHED_PTQ_SCALE * math.exp(PUBLISHED_PTQ_BIAS),  # C_T e^b = 0.1847
    "ptq_data_exponent": 0.5068,
    "ptq_param_exponent": 0.3439,
    "gamma_post_training": 0.5907,
}
# Kumar et al. 2024, App. N: floating-point weights (gamma_w and its bias); the rest as Table 2
PUBLISHED_FLOATING_POINT = {**PUBLISHED, "gamma_weights": 2.8111, "n_weights": 0.1240}


def precision_factor(bits, gamma, offset):
    """1 - exp(-P / gamma + n): the share of a parameter's capacity kept at P bits (zero at
    P = n gamma, negative below: outside the law's domain, see `check_domain`)."""
    return 1.0 - jnp.exp(-bits / gamma + offset)


def capacity(theta, bits_weights, bits_activations, bits_kv_cache):
    """f = N_eff / N, the product of the three factors (docs/laws.md §4)."""
    bits = (bits_weights, bits_activations, bits_kv_cache)
    factor = 1.0
    for part, value in zip(PARTS, bits):
        factor = factor * precision_factor(value, theta[f"gamma_{part}"], theta[f"n_{part}"])
    return factor


def domain_floor(theta) -> dict[str, float]:
    """The precision of each part at or below which the law is undefined: n_x gamma_x bits."""
    return {part: float(theta[f"n_{part}"]) * float(theta[f"gamma_{part}"]) for part in PARTS}


def check_domain(theta, bits_weights, bits_activations=None, bits_kv_cache=None) -> None:
    """Raise CurascaleError when any precision is at or below its part's n_x gamma_x (docs/laws.md §4:
    the factor is zero there and the loss is undefined; the paper's runs there diverged).
    Missing activation / KV-cache precisions are the weight precision."""
    floor = domain_floor(theta)
    given = {"weights": bits_weights, "activations": bits_weights if bits_activations is None else bits_activations,
             "kv_cache": bits_weights if bits_kv_cache is None else bits_kv_cache}
    for part in PARTS:
        values = np.atleast_1d(np.asarray(given[part], dtype=float))
        bad = values[~(values > floor[part])]
        if bad.size:
            raise CurascaleError(
                f"bits_{part} = {bad[0]:g} is outside the precision law's domain: {part} need more than "
                f"n_{part} gamma_{part} = {floor[part]:.2f} bits (docs/laws.md §4; at or below it the effective parameter count is zero)"
            )


def check_inputs_domain(theta, inputs) -> None:
    """`check_domain` on a law's input columns (the laws' `domain` hook)."""
    check_domain(theta, inputs["bits_weights"], inputs["bits_activations"], inputs["bits_kv_cache"])


def effective_params(theta, inputs):
    return inputs["params"] * capacity(theta, inputs["bits_weights"], inputs["bits_activations"], inputs["bits_kv_cache"])


def training_loss(theta, inputs):
    return theta["A"] * effective_params(theta, inputs) ** (-theta["alpha"]) + theta["B"] * inputs["tokens"] ** (-theta["beta"]) + theta["E"]


def ptq_degradation_at(theta, effective_parameters, tokens, bits_post_training):
    """delta_PTQ = C_T e^b exp(-P_post / gamma_post) D^gamma_D / N_eff^gamma_N (docs/laws.md §4)."""
    return (
        theta["ptq_scale"]
        * jnp.exp(-bits_post_training / theta["gamma_post_training"])
        * tokens ** theta["ptq_data_exponent"]
        / effective_parameters ** theta["ptq_param_exponent"]
    )


def ptq_degradation(theta, inputs):
    """delta_PTQ of the law's inputs (BF16 form; an upper bound for low-precision training);
    zero when the weights were trained at or below the post-training precision."""
    value = ptq_degradation_at(theta, effective_params(theta, inputs), inputs["tokens"], inputs["bits_post_training"])
    return jnp.where(inputs["bits_weights"] > inputs["bits_post_training"], value, 0.0)


def quantized_loss(theta, inputs):
    return training_loss(theta, inputs) + ptq_degradation(theta, inputs)


def trained_precision_factor(theta, inputs):
    """prod_x max(0, 1 - exp(-C_x (P_x - P_post))): the unified form's share of delta_PTQ left for
    a model trained at P_x (1 for parts not quantized, 0 when trained at P_post; docs/laws.md §4)."""
    factor = 1.0
    for part in PARTS:
        gap = inputs[f"bits_{part}"] - inputs["bits_post_training"]
        factor = factor * jnp.maximum(1.0 - jnp.exp(-theta[f"c_{part}"] * gap), 0.0)
    return factor


def unified_quantized_loss(theta, inputs):
    """The unified form (law `precision_ptq_unified`): trained at P_x, then quantized to P_post."""
    degradation = ptq_degradation_at(theta, effective_params(theta, inputs), inputs["tokens"], inputs["bits_post_training"])
    return training_loss(theta, inputs) + degradation * trained_precision_factor(theta, inputs)


def critical_tokens(theta, effective_parameters, bits_post_training, share=1.0):
    """D_crit: the pretraining tokens minimising B D^-beta + delta_PTQ at fixed N and P_post,
    past which more data raises the quantized loss (docs/laws.md §4, closed form):
    (beta B N^gamma_N / (gamma_D C_T e^b exp(-P_post / gamma_post)))^(1 / (gamma_D + beta)).
    share: the unified form's `trained_precision_factor` (delta_PTQ is scaled by it; 0: infinite)."""
    beta, gamma_d = theta["beta"], theta["ptq_data_exponent"]
    numerator = beta * theta["B"] * effective_parameters ** theta["ptq_param_exponent"]
    denominator = gamma_d * share * theta["ptq_scale"] * jnp.exp(-bits_post_training / theta["gamma_post_training"])
    return (numerator / denominator) ** (1.0 / (gamma_d + beta))


def training_compute(inputs):
    """C = (6/16) N D P with P the weight precision (docs/laws.md §4)."""
    return 6.0 / 16.0 * np.asarray(inputs["params"]) * np.asarray(inputs["tokens"]) * np.asarray(inputs["bits_weights"])


def _part_params(part: str, gamma_starts, offset_starts, symbol: str):
    return (
        Param(f"gamma_{part}", gamma_starts, LOG, f"gamma_{symbol}: bits scale of {part.replace('_', '-')} precision"),
        Param(f"n_{part}", offset_starts, IDENTITY, f"n_{symbol}: bias in the exponent of the {part.replace('_', '-')} factor (zero capacity at n gamma bits)"),
    )


TRAINING_PARAMS = (
    Param("A", (1e3, 1e4), LOG, "scale of the parameter term"),
    Param("alpha", (0.3, 0.6), doc="parameter exponent (tied to beta by default)"),
    Param("B", (1e3, 1e5), LOG, "scale of the data term"),
    Param("beta", (0.3, 0.6), doc="data exponent"),
    Param("E", (1.5, 3.0), LOG, "irreducible loss (nats/token)"),
    *_part_params("weights", (1.5, 3.5), (0.0, 0.5), "w"),
    *_part_params("activations", (1.5, 3.0), (0.5, 1.0), "a"),
    *_part_params("kv_cache", (0.7, 1.4), (1.0, 2.0), "kv"),
)
PTQ_PARAMS = (
    Param("ptq_scale", (0.05, 0.5), LOG, "C_T e^b: scale of the post-training quantization degradation (only the product is identifiable)"),
    Param("ptq_data_exponent", (0.3, 0.7), LOG, "gamma_D: growth of the degradation with training tokens"),
    Param("ptq_param_exponent", (0.2, 0.5), LOG, "gamma_N: decay of the degradation with parameters"),
    Param("gamma_post_training", (0.4, 1.0), LOG, "bits scale of post-training precision"),
)
UNIFIED_PARAMS = tuple(
    Param(f"c_{part}", (0.3, 1.0, 3.0), LOG, f"C_{symbol}: how fast training {part.replace('_', '-')} above P_post shrinks delta_PTQ (unified form, unpublished)")
    for part, symbol in zip(PARTS, ("w", "a", "kv"))
)
TRAINING_INPUTS = ("params", "tokens", "bits_weights", "bits_activations", "bits_kv_cache")
DEFAULTS = {"bits_activations": "bits_weights", "bits_kv_cache": "bits_weights", "bits_post_training": NO_QUANTIZATION_BITS}
TRAINING_NAMES = tuple(p.name for p in TRAINING_PARAMS if p.name != "alpha")



def _precision_law(name, version, params, predict, description, *, post_training=True, fixed=(), section="docs/laws.md §4") -> Law:
    """The precision laws share inputs, defaults, the tie alpha = beta, compute and domain."""
    return Law(
        name=name, version=version, section=section, inputs=TRAINING_INPUTS + (("bits_post_training",) if post_training else ()), target="loss",
        params=params, predict=predict, tied={"alpha": "beta"}, fixed={k: PUBLISHED[k] for k in fixed}, defaults=DEFAULTS,
        compute=training_compute, domain=check_inputs_domain, description=description,
    )


LAWS = (
    _precision_law("precision", "2", TRAINING_PARAMS, training_loss, "loss of a model trained at given weight/activation/KV precisions", post_training=False),
    _precision_law("precision_ptq", "2", TRAINING_PARAMS + PTQ_PARAMS, quantized_loss,
                   "loss after post-training quantization (training part fixed to the published fit by default)", fixed=TRAINING_NAMES),
    _precision_law("precision_ptq_unified", "1", TRAINING_PARAMS + PTQ_PARAMS + UNIFIED_PARAMS, unified_quantized_loss,
                   "loss of a model trained at P_x then quantized to P_post: fits the unpublished C_x (published parts fixed by default)",
                   fixed=TRAINING_NAMES + tuple(p.name for p in PTQ_PARAMS), section="docs/laws.md §4 (unified form)"),
)
