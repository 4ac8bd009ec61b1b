"""docs/laws.md §1, Chinchilla (Hoffmann et al. 2022, Approach 3): L(N, D) = E + A / N^alpha + B / D^beta.

Fitted in log space as log L = LSE(log A - alpha log N, log B - beta log D, log E), from the grid of
starts of the Epoch AI replication (Besiroglu et al. 2024): alpha, beta in {0, 0.5, ..., 2},
log E in {-1, -0.5, ..., 1}, log A, log B in {0, 5, ..., 25}.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from scaling.laws.base import LOG, Law, Param, arange_grid, logsumexp3

LOG_SCALE_STARTS = tuple(math.exp(v) for v in arange_grid(0, 25, 5))


def log_loss(theta, inputs):
    return logsumexp3(
        jnp.log(theta["A"]) - theta["alpha"] * jnp.log(inputs["params"]),
        jnp.log(theta["B"]) - theta["beta"] * jnp.log(inputs["tokens"]),
        jnp.log(theta["E"]),
    )


def loss(theta, inputs):
    return theta["E"] + theta["A"] / inputs["params"] ** theta["alpha"] + theta["B"] / inputs["tokens"] ** theta["beta"]


def split_constant(theta, capacity=1.0):
    """G = (alpha A c^-alpha / (beta B))^(1/(alpha+beta)) of the compute-optimal split (docs/laws.md §1),
    for a model whose effective parameter count is c N (c = 1 in §1; c = N_eff / N in §4)."""
    alpha, beta = theta["alpha"], theta["beta"]
    return (alpha * theta["A"] * capacity ** (-alpha) / (beta * theta["B"])) ** (1.0 / (alpha + beta))


def optimal_split(theta, params_times_tokens, capacity=1.0):
    """(N_opt, D_opt) minimising A / (c N)^alpha + B / D^beta at fixed N D (docs/laws.md §1):
    N_opt = G (N D)^(beta/(alpha+beta)), D_opt = N D / N_opt. Scalars or arrays (broadcast);
    the one definition of the split, used by every law and the planner. For C = 6 N D FLOPs
    (16-bit training), N D = C / 6."""
    params = split_constant(theta, capacity) * params_times_tokens ** (theta["beta"] / (theta["alpha"] + theta["beta"]))
    return params, params_times_tokens / params


def optimal_params_for_tokens(theta, tokens, capacity=1.0):
    """The N whose compute-optimal D is `tokens` (the split inverted): G (tokens G)^(beta/alpha)."""
    g = split_constant(theta, capacity)
    return g * (tokens * g) ** (theta["beta"] / theta["alpha"])


LAW = Law(
    name="chinchilla",
    version="1",
    section="docs/laws.md §1",
    inputs=("params", "tokens"),
    target="loss",
    params=(
        Param("A", LOG_SCALE_STARTS, LOG, "scale of the parameter term"),
        Param("B", LOG_SCALE_STARTS, LOG, "scale of the data term"),
        Param("E", tuple(math.exp(v) for v in arange_grid(-1, 1, 0.5)), LOG, "irreducible loss (nats/token)"),
        Param("alpha", arange_grid(0, 2, 0.5), doc="parameter exponent"),
        Param("beta", arange_grid(0, 2, 0.5), doc="data exponent"),
    ),
    predict=loss,
    log_predict=log_loss,
    description="Chinchilla loss in parameters and tokens",
)
