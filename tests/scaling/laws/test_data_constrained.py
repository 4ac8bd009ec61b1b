"""LAWS.md §2 (Muennighoff et al. 2023): effective data and effective parameters under
repetition, against a numpy re-statement at points where both decays matter."""

import numpy as np
import pytest

from known import law_prediction
from scaling.laws.data_constrained import optimal_params_for_data

# LAWS.md §2's published constants (rounded as printed there), decays deliberately unequal.
THETA = {"A": 520.8, "B": 1487.7, "E": 1.869, "alpha": 0.3527, "beta": 0.3527, "data_repetition_decay": 15.39, "param_repetition_decay": 5.31}
# Unequal exponents, so a formula that confuses alpha and beta fails.
ASYMMETRIC = {**THETA, "alpha": 0.34, "beta": 0.37}


def optimal_params_numpy(theta, unique):
    """N_opt(U): the N whose compute-optimal D (LAWS.md §1) equals U. D_opt(C) = (C/6)^(a/(a+b)) / G,
    so C/6 = (U G)^((a+b)/a) and N_opt = (C/6) / U."""
    a, b = theta["alpha"], theta["beta"]
    g = (a * theta["A"] / (b * theta["B"])) ** (1 / (a + b))
    return (unique * g) ** ((a + b) / a) / unique


def loss_numpy(theta, n, d, u):
    r_d = np.maximum(d / u - 1, 0)
    d_eff = u + u * theta["data_repetition_decay"] * (1 - np.exp(-r_d / theta["data_repetition_decay"]))
    u_n = np.minimum(n, optimal_params_numpy(theta, u))
    r_n = np.maximum(n / u_n - 1, 0)
    n_eff = u_n + u_n * theta["param_repetition_decay"] * (1 - np.exp(-r_n / theta["param_repetition_decay"]))
    return theta["E"] + theta["A"] / n_eff ** theta["alpha"] + theta["B"] / d_eff ** theta["beta"]


# params, tokens, unique tokens: one epoch (no repetition), 4 and 60 epochs, and models far past
# N_opt(U) (excess parameters decay), and below it.
POINTS = np.array([
    [1e8, 1e9, 1e9], [1e8, 4e9, 1e9], [1e8, 6e10, 1e9], [2e9, 6e10, 1e9],
    [5e9, 1e11, 2e9], [3e7, 3e9, 1e8], [1e9, 1e9, 1e10], [8e9, 4e11, 1e10],
])


@pytest.mark.parametrize("theta", [THETA, ASYMMETRIC], ids=["published", "asymmetric"])
def test_loss_matches_the_formula(theta):
    n, d, u = POINTS.T
    got = law_prediction("data_constrained", theta, {"params": n, "tokens": d, "unique_tokens": u})
    np.testing.assert_allclose(got, loss_numpy(theta, n, d, u), rtol=1e-12)


def test_the_points_exercise_both_decays():
    n, d, u = POINTS.T
    repeated_data = d / u - 1 > 2
    excess_params = n > 2 * optimal_params_numpy(THETA, u)
    assert repeated_data.sum() >= 4 and excess_params.sum() >= 3 and (~repeated_data).sum() >= 2 and (~excess_params).sum() >= 2


def test_optimal_params_for_data():
    u = np.array([1e8, 1e9, 1e10, 1e11])
    for theta in (THETA, ASYMMETRIC):
        np.testing.assert_allclose(optimal_params_for_data(theta, u), optimal_params_numpy(theta, u), rtol=1e-12)
    # with alpha = beta the compute-optimal ratio is constant: N_opt = G^2 U, G = (A/B)^(1/(2 alpha))
    g = (520.8 / 1487.7) ** (1 / (2 * 0.3527))
    np.testing.assert_allclose(optimal_params_for_data(THETA, u), g**2 * u, rtol=1e-12)


def test_repetition_by_hand():
    """One point by hand: 4 epochs of U = 1e9 tokens, R_D = 3, D' = 1e9 (1 + 15.39 (1 - e^(-3/15.39)))
    = 1e9 (1 + 15.39 * 0.17711) = 1e9 * 3.7257; a model at N_opt(U) has no excess parameters."""
    u = 1e9
    n = optimal_params_numpy(THETA, u)
    d_eff = u * (1 + 15.39 * (1 - np.exp(-3 / 15.39)))
    assert d_eff / u == pytest.approx(3.7257, abs=1e-4)
    expected = 1.869 + 520.8 / n**0.3527 + 1487.7 / d_eff**0.3527
    got = law_prediction("data_constrained", THETA, {"params": [n], "tokens": [4 * u], "unique_tokens": [u]})[0]
    assert got == pytest.approx(expected, rel=1e-10)
