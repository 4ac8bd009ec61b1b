"""LAWS.md §1 (Chinchilla, Hoffmann et al. 2022): L = E + A/N^alpha + B/D^beta and the
compute-optimal split, against a numpy re-statement and a brute-force iso-FLOP minimum."""

import numpy as np
import pytest

from known import law_prediction
from scaling.laws.chinchilla import optimal_split


def compute_optimal(theta, flops):
    """The split for C = 6 N D FLOPs (16-bit training): N D = C / 6."""
    return optimal_split(theta, flops / 6.0)

# A != B and alpha != beta, so a swap of the two terms changes every value below.
THETA = {"A": 406.4, "B": 410.7 * 5, "E": 1.69, "alpha": 0.34, "beta": 0.28}
# Besiroglu et al. 2024 (Epoch AI replication), LAWS.md §1.
EPOCH = {"A": 482.01, "B": 2085.43, "E": 1.8172, "alpha": 0.3478, "beta": 0.3658}
# Sizes where each of E, the parameter term and the data term is over 4% of the loss.
N = np.array([1e6, 1e7, 1e8, 1e9, 1e10, 7e10])
D = np.array([1e9, 1e10, 1e11, 1e12, 1e13, 1e14])


def chinchilla_numpy(theta, n, d):
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"]


def test_every_term_matters_at_the_test_points():
    terms = np.stack([np.full(N.size, THETA["E"]), THETA["A"] / N ** THETA["alpha"], THETA["B"] / D ** THETA["beta"]])
    assert np.all(terms / terms.sum(axis=0) > 0.04)


@pytest.mark.parametrize("log", [False, True])
def test_loss_matches_the_formula(log):
    expected = chinchilla_numpy(THETA, N, D)
    got = law_prediction("chinchilla", THETA, {"params": N, "tokens": D}, log=log)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_hoffmann_loss_of_chinchilla_by_hand():
    """Hoffmann's constants at Chinchilla (70B params, 1.4T tokens): 1.69 + 406.4/70e9^0.34 +
    410.7/1.4e12^0.28 = 1.69 + 0.0835 + 0.1632 = 1.9367 (by hand, four digits)."""
    hoffmann = {"A": 406.4, "B": 410.7, "E": 1.69, "alpha": 0.34, "beta": 0.28}
    got = law_prediction("chinchilla", hoffmann, {"params": [70e9], "tokens": [1.4e12]})[0]
    assert got == pytest.approx(1.9367, abs=2e-4)


def isoflop_minimum(theta, flops):
    """The N minimising L(N, C / 6N) on a fine log grid (no closed form used)."""
    n = np.geomspace(1e5, 1e15, 400_001)
    return n[np.argmin(chinchilla_numpy(theta, n, flops / (6 * n)))]


@pytest.mark.parametrize("theta", [THETA, EPOCH], ids=["asymmetric", "epoch"])
@pytest.mark.parametrize("flops", [1e19, 5.76e23, 1e26])
def test_compute_optimal_split_is_the_isoflop_minimum(theta, flops):
    params, tokens = compute_optimal(theta, flops)
    assert 6 * params * tokens == pytest.approx(flops, rel=1e-12)
    assert params == pytest.approx(isoflop_minimum(theta, flops), rel=2e-4)


def test_compute_optimal_split_from_epoch_constants_by_hand():
    """LAWS.md §1 with Epoch's constants at Chinchilla's budget C = 5.76e23:
    G = (0.3478 * 482.01 / (0.3658 * 2085.43))^(1/0.7136), N_opt = G (C/6)^(0.3658/0.7136)."""
    g = (0.3478 * 482.01 / (0.3658 * 2085.43)) ** (1 / 0.7136)
    assert g == pytest.approx(0.11965, rel=1e-3)  # by hand: 0.21976^1.40135
    from scaling.laws.chinchilla import split_constant

    assert split_constant(EPOCH) == pytest.approx(g, rel=1e-12)  # c = 1 unless given (docs/laws.md §1)
    expected = g * (5.76e23 / 6) ** (0.3658 / 0.7136)
    params, tokens = compute_optimal(EPOCH, 5.76e23)
    assert params == pytest.approx(expected, rel=1e-12)
    assert tokens == pytest.approx(5.76e23 / 6 / expected, rel=1e-12)
    # by hand: 0.11965 * (9.6e22)^0.51261 = 0.11965 * 6.04e11 = 7.23e10 parameters, 18.4 tokens each
    assert params == pytest.approx(7.23e10, rel=5e-3)
    assert tokens / params == pytest.approx(18.4, abs=0.1)


@pytest.mark.parametrize("capacity", [0.3, 0.8])
def test_split_of_a_model_with_reduced_capacity_is_its_isoflop_minimum(capacity):
    """docs/laws.md §1 with N_eff = c N (§4's precision factor): the N minimising
    A (c N)^-alpha + B D^-beta at fixed N D, on a fine log grid; a smaller c moves the optimum to
    more parameters. `optimal_params_for_tokens` inverts the split at the same c."""
    from scaling.laws.chinchilla import optimal_params_for_tokens

    product = 1e21
    n = np.geomspace(1e6, 1e14, 400_001)
    brute = n[np.argmin(THETA["A"] * (capacity * n) ** -THETA["alpha"] + THETA["B"] * (product / n) ** -THETA["beta"])]
    params, tokens = optimal_split(THETA, product, capacity)
    assert params == pytest.approx(brute, rel=1e-4) and params * tokens == pytest.approx(product, rel=1e-12)
    assert params > optimal_split(THETA, product)[0] * 1.05  # the capacity matters at this c
    assert optimal_params_for_tokens(THETA, tokens, capacity) == pytest.approx(params, rel=1e-12)
