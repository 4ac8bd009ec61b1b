"""docs/laws.md §5, over-training.

- `overtraining` (Gadre et al. 2024): with token multiplier M = D/N and C = 6 N D,
  L(C, M) = E + (a M^eta + b M^(-eta)) C^(-eta); at fixed M the loss is a power law in C.
- `finetune_degradation` (OUR form, not published): the loss after fine-tuning at a fixed
  learning rate, L_ft(N, D) = E + A/N^alpha + B/D^beta + S(N) D^gamma_s, with the sensitivity
  S(N) = S N^(-sensitivity_param_exponent) (also ours). More pretraining tokens help until
  D* = (beta B / (gamma_s S(N)))^(1/(beta + gamma_s)) and hurt past it (Springer et al. 2025
  observed the effect; they publish no closed form).
"""

from __future__ import annotations

from scaling.laws.base import IDENTITY, LOG, Law, Param


def overtrained_loss(theta, inputs):
    multiplier = inputs["tokens"] / inputs["params"]
    compute = 6.0 * inputs["params"] * inputs["tokens"]
    eta = theta["eta"]
    return theta["E"] + (theta["a"] * multiplier**eta + theta["b"] * multiplier ** (-eta)) * compute ** (-eta)


def sensitivity(theta, params):
    return theta["sensitivity"] * params ** (-theta["sensitivity_param_exponent"])


def finetuned_loss(theta, inputs):
    params, tokens = inputs["params"], inputs["tokens"]
    return (
        theta["E"]
        + theta["A"] / params ** theta["alpha"]
        + theta["B"] / tokens ** theta["beta"]
        + sensitivity(theta, params) * tokens ** theta["sensitivity_exponent"]
    )


def degradation_onset_tokens(theta, params):
    """D*: pretraining tokens past which the fine-tuned loss rises (docs/laws.md §5, ours)."""
    gamma = theta["sensitivity_exponent"]
    return (theta["beta"] * theta["B"] / (gamma * sensitivity(theta, params))) ** (1.0 / (theta["beta"] + gamma))


LAWS = (
    Law(
        name="overtraining",
        version="1",
        section="docs/laws.md §5 (Gadre et al.)",
        inputs=("params", "tokens"),
        target="loss",
        params=(
            Param("E", (1.0, 2.0, 3.0), LOG, "irreducible loss (nats/token)"),
            Param("a", (1e2, 1e4, 1e6), LOG, "scale of the multiplier-increasing term"),
            Param("b", (1e2, 1e4, 1e6), LOG, "scale of the multiplier-decreasing term"),
            Param("eta", (0.05, 0.15, 0.3), LOG, "compute exponent"),
        ),
        predict=overtrained_loss,
        description="loss of over-trained models in compute and token multiplier",
    ),
    Law(
        name="finetune_degradation",
        version="1",
        section="docs/laws.md §5 (our form)",
        inputs=("params", "tokens"),
        target="loss",
        params=(
            Param("E", (1.5, 2.5), LOG, "irreducible loss (nats/token)"),
            Param("A", (1e2, 1e4), LOG, "scale of the parameter term"),
            Param("alpha", (0.2, 0.5), IDENTITY, "parameter exponent"),
            Param("B", (1e2, 1e4), LOG, "scale of the data term"),
            Param("beta", (0.2, 0.5), IDENTITY, "data exponent"),
            Param("sensitivity", (1e-6, 1e-3), LOG, "S: scale of the fine-tuning degradation"),
            Param("sensitivity_exponent", (0.1, 0.3), LOG, "gamma_s > 0: growth of the degradation with pretraining tokens"),
            Param("sensitivity_param_exponent", (0.05, 0.3), LOG, "decay of the sensitivity with parameters"),
        ),
        predict=finetuned_loss,
        description="loss after fine-tuning, degrading with over-training (our form)",
    ),
)
