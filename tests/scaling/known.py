"""Known answers shared by the law and planner tests: `law_prediction` evaluates a law's own
`predict` (or `log_predict`) for comparison with the numpy re-statements written in the tests
from LAWS.md; the loops re-state LAWS.md §3 epoch by epoch, independently of the code."""

import numpy as np

from scaling.jaxconf import float64
from scaling.laws import get_law


@float64
def law_prediction(name, theta, columns, *, log=False, group=None):
    """`group`: per-row indices into per-group parameters (laws with `group_by`)."""
    law = get_law(name)
    arrays = law.jax_inputs({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    if group is not None:
        arrays["group"] = np.asarray(group)
    if log:
        return np.exp(np.asarray(law.log_of_prediction(theta, arrays), dtype=float))
    return np.asarray(law.predict(theta, arrays), dtype=float)


def loop_weighted_utility(n, size, utilities, half_lives, weights, a, d):
    """LAWS.md §3 utility form for a union of pool size `size` with bucket shares w_i: half-life
    tau_i / w_i, epoch utility sum_i w_i b_i 0.5^(k w_i / tau_i) (the paper's mean for w = 1/m)."""
    def b(k):
        return sum(w * u * 0.5 ** (k * w / t) for u, t, w in zip(utilities, half_lives, weights))
    y = (a * min(size, n) / 1e5) ** b(0) + d
    for k in range(1, int(n // size) + 1):
        y *= (min(size * (k + 1), n) / (size * k)) ** b(k)
    return y


def loop_weighted_effective_data(n, size, utilities, half_lives, weights, a, d):
    """The effective-data form with shares: delta_i(k) = w_i 0.5^(k w_i / tau_i), epoch utility
    sum b_i delta_i / sum delta_i, effective samples of epoch k weighted by sum_i delta_i."""
    effective, previous, y = 0.0, None, None
    for k in range(int(n // size) + 1):
        deltas = [w * 0.5 ** (k * w / t) for t, w in zip(half_lives, weights)]
        b = sum(u * dk for u, dk in zip(utilities, deltas)) / sum(deltas)
        effective += a * (min(size * (k + 1), n) - size * k) / 1e5 * sum(deltas)
        y = effective**b if k == 0 else y * (effective / previous) ** b
        previous = effective
    return y + d
