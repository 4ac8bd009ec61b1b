"""LAWS.md §4, precision (Kumar et al. 2024, "Scaling Laws for Precision").

Training in low precision shrinks the effective parameter count,
    N_eff = N (1 - exp(-P_w / gamma_w)) (1 - exp(-P_a / gamma_a)) (1 - exp(-P_kv / gamma_kv)),
    L = A N_eff^(-alpha) + B D^(-beta) + E                                    (law `precision`)
and post-training quantization to P_post bits adds
    delta_PTQ = C_T exp(-P_post / gamma_post) D^gamma_D / N^gamma_N         (law `precision_ptq`)
which grows with D/N: past a critical D, more pretraining data hurts the quantized model.

Interpretation we adopt (documented as LAWS.md asks): the published table's offsets n_w, n_a,
n_kv and constant b have no stated role in these forms and are not used; alpha is tied to beta
as in the paper; missing activation / KV-cache precisions default to the weight precision; a run
without post-training quantization has no delta_PTQ (bits_post_training missing = none).
Compute with precision: C = (6/16) N D P FLOPs-equivalent (training_compute below).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from scaling.laws.base import LOG, Law, Param

NO_QUANTIZATION_BITS = 1e4  # stands in for "not quantized": exp(-1e4 / gamma) == 0

PUBLISHED = {
    "A": 4.299e3,
    "alpha": 0.4965,
    "B": 1.806e4,
    "beta": 0.4965,
    "E": 2.7648,
    "gamma_weights": 2.6745,
    "gamma_activations": 2.2102,
    "gamma_kv_cache": 0.9578,
    "ptq_scale": 0.0598,
    "ptq_data_exponent": 0.5068,
    "ptq_param_exponent": 0.3439,
    "gamma_post_training": 0.5907,
}


def precision_factor(bits, gamma):
    """1 - exp(-P / gamma): the share of a parameter's capacity kept at P bits."""
    return 1.0 - jnp.exp(-bits / gamma)


def effective_params(theta, inputs):
    return (
        inputs["params"]
        * precision_factor(inputs["bits_weights"], theta["gamma_weights"])
        * precision_factor(inputs["bits_activations"], theta["gamma_activations"])
        * precision_factor(inputs["bits_kv_cache"], theta["gamma_kv_cache"])
    )


def training_loss(theta, inputs):
    return theta["A"] * effective_params(theta, inputs) ** (-theta["alpha"]) + theta["B"] * inputs["tokens"] ** (-theta["beta"]) + theta["E"]


def ptq_degradation(theta, inputs):
    """delta_PTQ: the loss added by quantizing the trained model to bits_post_training."""
    return (
        theta["ptq_scale"]
        * jnp.exp(-inputs["bits_post_training"] / theta["gamma_post_training"])
        * inputs["tokens"] ** theta["ptq_data_exponent"]
        / inputs["params"] ** theta["ptq_param_exponent"]
    )


def quantized_loss(theta, inputs):
    return training_loss(theta, inputs) + ptq_degradation(theta, inputs)


def training_compute(inputs):
    """C = (6/16) N D P with P the weight precision (LAWS.md §4)."""
    return 6.0 / 16.0 * np.asarray(inputs["params"]) * np.asarray(inputs["tokens"]) * np.asarray(inputs["bits_weights"])


TRAINING_PARAMS = (
    Param("A", (1e3, 1e4), LOG, "scale of the parameter term"),
    Param("alpha", (0.3, 0.6), doc="parameter exponent (tied to beta by default)"),
    Param("B", (1e3, 1e5), LOG, "scale of the data term"),
    Param("beta", (0.3, 0.6), doc="data exponent"),
    Param("E", (1.5, 3.0), LOG, "irreducible loss (nats/token)"),
    Param("gamma_weights", (1.0, 4.0), LOG, "bits scale of weight precision"),
    Param("gamma_activations", (1.0, 4.0), LOG, "bits scale of activation precision"),
    Param("gamma_kv_cache", (0.5, 2.0), LOG, "bits scale of KV-cache precision"),
)
PTQ_PARAMS = (
    Param("ptq_scale", (0.01, 0.1), LOG, "C_T: scale of the post-training quantization degradation"),
    Param("ptq_data_exponent", (0.3, 0.7), LOG, "gamma_D: growth of the degradation with training tokens"),
    Param("ptq_param_exponent", (0.2, 0.5), LOG, "gamma_N: decay of the degradation with parameters"),
    Param("gamma_post_training", (0.4, 1.0), LOG, "bits scale of post-training precision"),
)
TRAINING_INPUTS = ("params", "tokens", "bits_weights", "bits_activations", "bits_kv_cache")
DEFAULTS = {"bits_activations": "bits_weights", "bits_kv_cache": "bits_weights", "bits_post_training": NO_QUANTIZATION_BITS}

LAWS = (
    Law(
        name="precision",
        version="1",
        section="LAWS.md §4",
        inputs=TRAINING_INPUTS,
        target="loss",
        params=TRAINING_PARAMS,
        predict=training_loss,
        tied={"alpha": "beta"},
        defaults=DEFAULTS,
        compute=training_compute,
        description="loss of a model trained at given weight/activation/KV precisions",
    ),
    Law(
        name="precision_ptq",
        version="1",
        section="LAWS.md §4",
        inputs=TRAINING_INPUTS + ("bits_post_training",),
        target="loss",
        params=TRAINING_PARAMS + PTQ_PARAMS,
        predict=quantized_loss,
        tied={"alpha": "beta"},
        fixed={k: PUBLISHED[k] for k in ("A", "B", "E", "beta", "gamma_weights", "gamma_activations", "gamma_kv_cache")},
        defaults=DEFAULTS,
        compute=training_compute,
        description="loss after post-training quantization (training part fixed to the published fit by default)",
    ),
)
