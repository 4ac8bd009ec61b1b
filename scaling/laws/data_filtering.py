"""docs/laws.md §3, data filtering under repetition (Goyal et al. 2024, "Scaling Laws for Data Filtering").

Each quality bucket has a utility b < 0 and a half-life tau (epochs); the utility of epoch k
(k = 0 is the first pass) is b 0.5^(k / tau). Two forms, both as in the authors' reference
implementation, with n samples seen, S samples per epoch, a shared scale `a` and constant `d`:

- utility form:        y(n) = (n_0^(b_0) + d) * prod_{k=1..K} (n_k / m_k)^(b_k),
                       K = floor(n / S), n_k = a min(S (k+1), n) / 1e5, m_k = a S k / 1e5
- effective-data form: y(n) = n_eff^b + d, n_eff = sum_k (n_k - m_k) 0.5^(k / tau)

The union of the best m buckets (each of size S) is a pool of size m S in which each bucket's
half-life becomes m tau_i; its epoch-k utility is the mean of b_i 0.5^(k / (m tau_i)) (utility
form) or the delta-weighted mean sum b_i delta_i / sum delta_i (effective-data form, where the
effective samples of an epoch are weighted by the mean delta). A single bucket is the union of one.
The union functions take the buckets' weights w_i (their shares of the union, 1/m each for the
paper's unions, 0 for buckets left out), with half-life tau_i / w_i and w-weighted means: the
paper's formulas exactly when the weights are uniform.

Epochs are summed over an explicit axis k = 0..K-1 (its length is static under `jit`): the laws
derive it from their inputs (`prepare`), callers of the union functions pass `epoch_axis(...)`.
The union functions take the array module `xp` (jax.numpy by default; numpy for the planner,
which evaluates a handful of points and should not pay for compiling them).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from curascale.errors import UserError
from scaling.laws.base import LOG, NEGATIVE, Law, Param

MAX_EPOCHS = 512
SAMPLE_NORMALISER = 1e5


def epoch_axis(most_epochs: float, xp=jnp):
    """k = 0, 1, ..., K-1 covering `most_epochs` (K a power of two, so few shapes compile)."""
    if most_epochs >= MAX_EPOCHS - 1:
        raise UserError(f"data filtering laws handle fewer than {MAX_EPOCHS - 1} epochs; got {most_epochs:.0f}")
    return xp.arange(1 << int(np.ceil(np.log2(most_epochs + 2))), dtype=float)


def _decays(epoch, half_lives, weights):
    """delta_i(k) = 0.5^(k w_i / tau_i) for every bucket i and epoch k: [..., m, K]."""
    return 0.5 ** (epoch * (weights / half_lives)[..., None])


def _epoch_grid(epoch, samples_seen, union_size, xp):
    """Per-row epochs seen and the mask of completed-epoch terms k >= 1."""
    epochs = samples_seen / union_size
    active = (epoch >= 1) & (epoch <= xp.floor(epochs)[..., None])
    return epochs, active


def union_log_error_utility(epoch, samples_seen, union_size, utilities, half_lives, weights, scale, irreducible, xp=jnp):
    """log y of the utility form for the union of the buckets on the last axis."""
    epoch_utility = xp.sum((weights * utilities)[..., None] * _decays(epoch, half_lives, weights), axis=-2)
    epochs, active = _epoch_grid(epoch, samples_seen, union_size, xp)
    first = scale * xp.minimum(union_size, samples_seen) / SAMPLE_NORMALISER
    k = xp.maximum(epoch, 1.0)
    log_ratio = xp.log(xp.minimum(k + 1.0, epochs[..., None]) / k)
    growth = xp.sum(xp.where(active, epoch_utility * log_ratio, 0.0), axis=-1)
    return xp.log(first ** epoch_utility[..., 0] + irreducible) + growth


def union_error_effective_data(epoch, samples_seen, union_size, utilities, half_lives, weights, scale, irreducible, xp=jnp):
    """y of the effective-data form for the union of the buckets on the last axis."""
    decays = weights[..., None] * _decays(epoch, half_lives, weights)
    epoch_utility = xp.sum(utilities[..., None] * decays, axis=-2) / xp.sum(decays, axis=-2)
    epochs, active = _epoch_grid(epoch, samples_seen, union_size, xp)
    seen_in_epoch = xp.clip(epochs[..., None] - epoch, 0.0, 1.0) * (union_size * scale / SAMPLE_NORMALISER)[..., None]
    effective = xp.cumsum(seen_in_epoch * xp.sum(decays, axis=-2), axis=-1)
    previous = xp.concatenate([effective[..., :1], effective[..., :-1]], axis=-1)
    log_ratio = xp.log(effective / xp.where(active, previous, effective))
    log_core = epoch_utility[..., 0] * xp.log(effective[..., 0]) + xp.sum(xp.where(active, epoch_utility * log_ratio, 0.0), axis=-1)
    return xp.exp(log_core) + irreducible


def _bucket_arguments(theta, inputs):
    group = inputs["group"]
    return (
        inputs["epoch"],
        inputs["samples_seen"],
        inputs["unique_samples"],
        theta["utility"][group][:, None],
        theta["utility_half_life"][group][:, None],
        jnp.ones((group.shape[0], 1)),
        theta["sample_scale"],
        theta["irreducible_error"],
    )


def log_error_utility(theta, inputs):
    return union_log_error_utility(*_bucket_arguments(theta, inputs))


def error_utility(theta, inputs):
    return jnp.exp(log_error_utility(theta, inputs))


def error_effective_data(theta, inputs):
    return union_error_effective_data(*_bucket_arguments(theta, inputs))


def prepare(inputs) -> dict:
    """The epoch axis these inputs need."""
    epochs = np.asarray(inputs["samples_seen"], dtype=float) / np.asarray(inputs["unique_samples"], dtype=float)
    return {"epoch": epoch_axis(float(epochs.max()) if epochs.size else 1.0)}


def _params(scale_starts):
    return (
        Param("sample_scale", scale_starts, LOG, "a: shared scale of samples seen"),
        Param("utility", (-0.05, -0.15), NEGATIVE, "b < 0: the bucket's utility (error exponent) on its first pass", per_group=True),
        Param("utility_half_life", (2.0, 8.0), LOG, "tau: epochs after which the bucket's utility has halved", per_group=True),
        Param("irreducible_error", (0.05, 0.1), LOG, "d: constant error term (fixed at 0.1 as the authors do)"),
    )


def _law(name, predict, log_predict, doc):
    return Law(
        name=name,
        version="1",
        section="docs/laws.md §3",
        inputs=("samples_seen", "unique_samples"),
        target="error",
        params=_params((0.01, 0.03)),
        predict=predict,
        log_predict=log_predict,
        fixed={"irreducible_error": 0.1},
        group_by="bucket",
        compute=lambda inputs: np.asarray(inputs["samples_seen"], dtype=float),
        prepare=prepare,
        description=doc,
    )


LAWS = (
    _law("data_filtering_utility", error_utility, log_error_utility, "zero-shot error of a bucket under repetition, utility form"),
    _law("data_filtering_effective_data", error_effective_data, None, "zero-shot error of a bucket under repetition, effective-data form"),
)
