"""LAWS.md §6 (our form): domain loss with repeated domain tokens and the general loss paying for
the tokens taken from web data, against numpy re-statements."""

import numpy as np

from known import law_prediction

DOMAIN = {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5}
GENERAL = {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.33}


def domain_numpy(theta, n, d, u, f):
    r = f * d / u
    decay = theta["repetition_decay"]
    d_eff = np.where(r >= 1, u + u * decay * (1 - np.exp(-(np.maximum(r, 1) - 1) / decay)), f * d)
    return theta["E"] + theta["A"] / n ** theta["alpha"] + theta["B"] / d_eff ** theta["beta"] + theta["overfit_scale"] * (r / decay) ** theta["overfit_exponent"]


def general_numpy(theta, n, d, f):
    return theta["E"] + theta["A"] / n ** theta["alpha"] + theta["B"] / ((1 - f) * d) ** theta["beta"]


# repetitions R = f D / U from 0.1 (under one pass) through 1 and 1.5 to 300 (the overfitting
# term dominates)
N = np.array([1e8, 1e8, 5e8, 5e8, 2e9, 2e9, 1e8])
D = np.array([1e10, 1e10, 4e10, 4e10, 1e11, 1e11, 1e10])
U = np.array([1e10, 1e9, 1e9, 1e8, 1e8, 1e9, 1e9])
F = np.array([0.1, 0.05, 0.2, 0.4, 0.3, 0.01, 0.15])


def test_domain_loss_matches_the_formula():
    got = law_prediction("specialized_domain", DOMAIN, {"params": N, "tokens": D, "domain_tokens": U, "domain_fraction": F})
    np.testing.assert_allclose(got, domain_numpy(DOMAIN, N, D, U, F), rtol=1e-12)
    r = F * D / U
    assert r.min() < 1 < r.max() and r.max() > 100 and np.any((r > 1) & (r < 2))


def test_general_loss_matches_the_formula():
    got = law_prediction("specialized_general", GENERAL, {"params": N, "tokens": D, "domain_fraction": F})
    np.testing.assert_allclose(got, general_numpy(GENERAL, N, D, F), rtol=1e-12)
