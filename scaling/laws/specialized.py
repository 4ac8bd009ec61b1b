"""docs/laws.md §6, specialized pretraining (OUR form, built from §2; Baek et al. 2026 motivate it but
publish no closed form).

A domain set of U_dom unique tokens mixed into pretraining at a fraction f of D tokens repeats
R = f D / U_dom times. Repeated domain tokens decay into effective tokens,
    D'_dom = U_dom + U_dom R* (1 - exp(-(R - 1) / R*))  for R >= 1,  f D otherwise,
    L_dom  = E_d + A_d / N^alpha + B_d / D'_dom^beta_d + O (R / R*)^kappa      (law `specialized_domain`)
and the general loss pays for the tokens taken from web data,
    L_gen  = E + A / N^alpha + B / ((1 - f) D)^beta                           (law `specialized_general`).
"""

from __future__ import annotations

import jax.numpy as jnp

from scaling.laws.base import IDENTITY, LOG, Law, Param
from scaling.laws.chinchilla import LOG_SCALE_STARTS


def domain_repetitions(inputs):
    return inputs["domain_fraction"] * inputs["tokens"] / inputs["domain_tokens"]


def effective_domain_tokens(theta, inputs):
    repetitions = domain_repetitions(inputs)
    unique = inputs["domain_tokens"]
    decay = theta["repetition_decay"]
    repeated = unique + unique * decay * (1.0 - jnp.exp(-(jnp.maximum(repetitions, 1.0) - 1.0) / decay))
    return jnp.where(repetitions >= 1.0, repeated, repetitions * unique)


def domain_loss(theta, inputs):
    repetitions = domain_repetitions(inputs)
    return (
        theta["E"]
        + theta["A"] / inputs["params"] ** theta["alpha"]
        + theta["B"] / effective_domain_tokens(theta, inputs) ** theta["beta"]
        + theta["overfit_scale"] * (repetitions / theta["repetition_decay"]) ** theta["overfit_exponent"]
    )


def general_loss(theta, inputs):
    web_tokens = (1.0 - inputs["domain_fraction"]) * inputs["tokens"]
    return theta["E"] + theta["A"] / inputs["params"] ** theta["alpha"] + theta["B"] / web_tokens ** theta["beta"]


_BASE = (
    Param("E", (1.0, 2.0), LOG, "irreducible loss (nats/token)"),
    Param("A", LOG_SCALE_STARTS[1:4:2], LOG, "scale of the parameter term"),
    Param("alpha", (0.3, 0.5), IDENTITY, "parameter exponent"),
    Param("B", LOG_SCALE_STARTS[1:4:2], LOG, "scale of the data term"),
    Param("beta", (0.3, 0.5), IDENTITY, "data exponent"),
)

LAWS = (
    Law(
        name="specialized_domain",
        version="1",
        section="docs/laws.md §6 (our form)",
        inputs=("params", "tokens", "domain_tokens", "domain_fraction"),
        target="loss",
        params=_BASE
        + (
            Param("repetition_decay", (5.0, 20.0), LOG, "R*: repetitions after which domain tokens' value has decayed by 1/e"),
            Param("overfit_scale", (1e-3, 1e-1), LOG, "O: scale of the overfitting penalty"),
            Param("overfit_exponent", (1.0, 2.0), LOG, "kappa > 0: growth of the penalty with repetitions"),
        ),
        predict=domain_loss,
        description="domain loss with repeated domain data mixed into pretraining (our form)",
    ),
    Law(
        name="specialized_general",
        version="1",
        section="docs/laws.md §6 (our form)",
        inputs=("params", "tokens", "domain_fraction"),
        target="loss",
        params=_BASE,
        predict=general_loss,
        description="general loss when a fraction of tokens comes from the domain set (our form)",
    ),
)
