"""scaling.laws.data_filtering against a plain loop over epochs written from docs/laws.md §3 (the
authors' reference implementation's semantics), for single buckets and unions."""

import jax.numpy as jnp
import numpy as np
import pytest

from known import law_prediction, loop_weighted_effective_data, loop_weighted_utility
from scaling.laws.data_filtering import epoch_axis, union_error_effective_data, union_log_error_utility

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


@pytest.mark.parametrize("weights", [[0.7, 0.3, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]])
@pytest.mark.parametrize("n", [7e6, 40e6, 128e6, 700e6])
def test_weighted_unions_match_the_epoch_loop(weights, n):
    size = 1.7 * S  # any pool size: the union functions take it as given
    w = np.asarray(weights)
    args = (np.asarray(n), np.asarray(size), np.asarray(UTILITIES), np.asarray(HALF_LIVES), w)
    epoch = epoch_axis(n / size, xp=np)
    utility = float(np.exp(union_log_error_utility(epoch, *args, 0.025, 0.1, xp=np)))
    assert utility == pytest.approx(loop_weighted_utility(n, size, UTILITIES, HALF_LIVES, weights, 0.025, 0.1), rel=1e-12)
    effective = float(union_error_effective_data(epoch, *args, 0.022, 0.1, xp=np))
    assert effective == pytest.approx(loop_weighted_effective_data(n, size, UTILITIES, HALF_LIVES, weights, 0.022, 0.1), rel=1e-12)


BUCKET_ROWS = {  # bucket index, samples seen, unique samples: a partial first epoch to 21 epochs
    "bucket": [0, 1, 2, 3, 0, 2, 1, 3],
    "samples_seen": [5e6, 12.8e6, 32e6, 64e6, 128e6, 270e6, 200e6, 25.6e6],
    "unique_samples": [12.8e6, 12.8e6, 12.8e6, 12.8e6, 12.8e6, 12.8e6, 25.6e6, 6.4e6],
}


@pytest.mark.parametrize("name, scale, loop, log", [
    ("data_filtering_utility", 0.025, loop_weighted_utility, False),
    ("data_filtering_utility", 0.025, loop_weighted_utility, True),
    ("data_filtering_effective_data", 0.022, loop_weighted_effective_data, False),
])
def test_the_laws_predict_each_bucket_with_its_own_parameters(name, scale, loop, log):
    theta = {"utility": np.array(UTILITIES), "utility_half_life": np.array(HALF_LIVES), "sample_scale": scale, "irreducible_error": 0.1}
    columns = {k: v for k, v in BUCKET_ROWS.items() if k != "bucket"}
    got = law_prediction(name, theta, columns, group=BUCKET_ROWS["bucket"], log=log)
    expected = [loop(n, size, [UTILITIES[g]], [HALF_LIVES[g]], [1.0], scale, 0.1)
                for g, n, size in zip(BUCKET_ROWS["bucket"], BUCKET_ROWS["samples_seen"], BUCKET_ROWS["unique_samples"])]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
