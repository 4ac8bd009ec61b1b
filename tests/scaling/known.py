"""Evaluate a law's own `predict` (and `log_predict`) at given columns and natural parameters, for
comparison with the plain numpy re-statements written in each test from LAWS.md."""

import numpy as np

from scaling.laws import get_law


def law_prediction(name, theta, columns, *, log=False, group=None):
    """`group`: per-row indices into per-group parameters (laws with `group_by`)."""
    law = get_law(name)
    arrays = law.jax_inputs({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    if group is not None:
        arrays["group"] = np.asarray(group)
    if log:
        return np.exp(np.asarray(law.log_of_prediction(theta, arrays), dtype=float))
    return np.asarray(law.predict(theta, arrays), dtype=float)
