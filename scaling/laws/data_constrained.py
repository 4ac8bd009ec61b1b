"""docs/laws.md §2, data-constrained scaling (Muennighoff et al. 2023): repeated data and excess
parameters decay into effective data D' and effective parameters N', then L = E + A/N'^alpha + B/D'^beta.

    U_D = min(U, D), R_D = max(D/U_D - 1, 0),  D' = U_D + U_D R*_D (1 - exp(-R_D / R*_D))
    U_N = min(N, N_opt(U)), R_N = max(N/U_N - 1, 0),  N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N))

N_opt(U) is the compute-optimal N for D = U under the base fit (§1's split, `chinchilla.optimal_params_for_tokens`). The base (A, B, E, alpha,
beta) is fixed by default to the published refit on Chinchilla's C4 IsoFLOP points, so only the
repetition decays R*_D and R*_N are fitted (free them with `free=` / `--free`).
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from scaling.laws.base import LOG, Law, Param, arange_grid
from scaling.laws.chinchilla import LOG_SCALE_STARTS, optimal_params_for_tokens

PUBLISHED_BASE = {
    "A": math.exp(6.255414),
    "B": math.exp(7.3049974),
    "E": math.exp(0.6254804),
    "alpha": 0.3526596,
    "beta": 0.3526596,
}
PUBLISHED_DECAYS = {"data_repetition_decay": 15.387756, "param_repetition_decay": 5.309743}


def effective(unique, repetitions, decay):
    """U + U R* (1 - exp(-R / R*)): repeated units count less and less (docs/laws.md §2)."""
    return unique + unique * decay * (1.0 - jnp.exp(-repetitions / decay))


def effective_data_and_params(theta, inputs):
    params, tokens = inputs["params"], inputs["tokens"]
    unique = jnp.minimum(inputs["unique_tokens"], tokens)  # U_D = min(U, D): the unique tokens actually seen (Muennighoff et al.)
    data_repetitions = jnp.maximum(tokens / unique - 1.0, 0.0)
    effective_tokens = effective(unique, data_repetitions, theta["data_repetition_decay"])
    unique_params = jnp.minimum(params, optimal_params_for_tokens(theta, unique))
    param_repetitions = jnp.maximum(params / unique_params - 1.0, 0.0)
    effective_params = effective(unique_params, param_repetitions, theta["param_repetition_decay"])
    return effective_params, effective_tokens


def loss(theta, inputs):
    effective_params, effective_tokens = effective_data_and_params(theta, inputs)
    return theta["E"] + theta["A"] / effective_params ** theta["alpha"] + theta["B"] / effective_tokens ** theta["beta"]


LAW = Law(
    name="data_constrained",
    version="1",
    section="docs/laws.md §2",
    inputs=("params", "tokens", "unique_tokens"),
    target="loss",
    params=(
        Param("A", LOG_SCALE_STARTS[:3], LOG, "scale of the parameter term"),
        Param("B", LOG_SCALE_STARTS[:3], LOG, "scale of the data term"),
        Param("E", (1.5, 2.0), LOG, "irreducible loss (nats/token)"),
        Param("alpha", arange_grid(0.25, 0.5, 0.25), doc="parameter exponent"),
        Param("beta", arange_grid(0.25, 0.5, 0.25), doc="data exponent"),
        Param("data_repetition_decay", (1.0, 3.0, 10.0, 30.0, 100.0), LOG, "R*_D: repetitions of data after which its value has decayed by 1/e"),
        Param("param_repetition_decay", (1.0, 3.0, 10.0, 30.0, 100.0), LOG, "R*_N: the same for parameters past the compute-optimal size"),
    ),
    predict=loss,
    fixed=PUBLISHED_BASE,
    description="loss with repeated data and excess parameters",
)
