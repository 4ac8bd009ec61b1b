"""scaling.laws.data_filtering against a plain loop over epochs written from LAWS.md §3 (the
authors' reference implementation's semantics), for single buckets and unions."""

import jax.numpy as jnp
import numpy as np
import pytest

from scaling.laws.data_filtering import epoch_axis, union_error_effective_data, union_log_error_utility
from scaling.jaxconf import float64

UTILITIES = [-0.16, -0.125, -0.10, -0.085]
HALF_LIVES = [6.7273, 8.5455, 5.2727, 2.2727]
S = 12.8e6


def loop_utility(n, utilities, half_lives, a, d):
    m = len(utilities)
    union = S * m
    full = int(n // union)
    def b(k):
        return np.mean([u * 0.5 ** (k / (m * t)) for u, t in zip(utilities, half_lives)])
    y = (a * min(union, n) / 1e5) ** b(0) + d
    for k in range(1, full + 1):
        y *= (min(union * (k + 1), n) / (union * k)) ** b(k)
    return y


def loop_effective_data(n, utilities, half_lives, a, d):
    m = len(utilities)
    union = S * m
    effective, previous, y = 0.0, None, None
    for k in range(int(n // union) + 1):
        deltas = [0.5 ** (k / (m * t)) for t in half_lives]
        b = sum(u * dk for u, dk in zip(utilities, deltas)) / sum(deltas)
        effective += a * (min(union * (k + 1), n) - union * k) / 1e5 * np.mean(deltas)
        y = effective**b if k == 0 else y * (effective / previous) ** b
        previous = effective
    return y + d


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [5e6, 12.8e6, 32e6, 64e6, 128e6, 333e6, 640e6])
@float64  # the law's functions compute in float64 only under curascale's x64 context
def test_unions_match_the_epoch_loop(m, n):
    args = (jnp.asarray(n), jnp.asarray(S * m), jnp.asarray(UTILITIES[:m]), jnp.asarray(HALF_LIVES[:m]), jnp.full(m, 1 / m))
    epoch = epoch_axis(n / (S * m))
    utility = float(jnp.exp(union_log_error_utility(epoch, *args, 0.025, 0.1)))
    assert utility == pytest.approx(loop_utility(n, UTILITIES[:m], HALF_LIVES[:m], 0.025, 0.1), rel=1e-12)
    effective = float(union_error_effective_data(epoch, *args, 0.022, 0.1))
    assert effective == pytest.approx(loop_effective_data(n, UTILITIES[:m], HALF_LIVES[:m], 0.022, 0.1), rel=1e-12)
    # numpy and jax evaluate the same formula
    as_numpy = union_log_error_utility(epoch_axis(n / (S * m), xp=np), *(np.asarray(x) for x in args), 0.025, 0.1, xp=np)
    assert float(np.exp(as_numpy)) == pytest.approx(utility, rel=1e-13)


def test_too_many_epochs_is_refused():
    from runs_db import UserError

    with pytest.raises(UserError, match="fewer than"):
        epoch_axis(10_000)
