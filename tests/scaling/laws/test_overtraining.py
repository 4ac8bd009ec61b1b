"""LAWS.md §5: Gadre et al.'s over-training law and our fine-tuning degradation form with its
inflection D*, against numpy re-statements and a brute-force minimum."""

import numpy as np
import pytest

from known import law_prediction
from scaling.laws.overtraining import degradation_onset_tokens

GADRE = {"E": 1.8, "a": 300.0, "b": 2000.0, "eta": 0.15}
FINETUNE = {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37, "sensitivity": 5e-3, "sensitivity_exponent": 0.2, "sensitivity_param_exponent": 0.1}


def gadre_numpy(theta, n, d):
    m, c = d / n, 6 * n * d
    return theta["E"] + (theta["a"] * m ** theta["eta"] + theta["b"] * m ** -theta["eta"]) * c ** -theta["eta"]


def finetune_numpy(theta, n, d):
    s = theta["sensitivity"] * n ** -theta["sensitivity_param_exponent"]
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"] + s * d ** theta["sensitivity_exponent"]


def test_overtraining_matches_the_formula():
    # token multipliers from 2 to 2000: both the a M^eta and the b M^-eta terms matter
    n = np.array([1e7, 1e8, 4e8, 1.4e9, 7e9, 1e10])
    m = np.array([2.0, 20.0, 160.0, 2000.0, 10.0, 60.0])
    d = n * m
    got = law_prediction("overtraining", GADRE, {"params": n, "tokens": d})
    np.testing.assert_allclose(got, gadre_numpy(GADRE, n, d), rtol=1e-12)
    a_term, b_term = 300.0 * m**0.15, 2000.0 * m**-0.15
    assert np.all(np.minimum(a_term, b_term) / np.maximum(a_term, b_term) > 0.05)


def test_overtraining_is_a_power_law_in_compute_at_fixed_multiplier():
    """At fixed M, L - E falls by exactly 10^-eta per decade of compute (Gadre et al.)."""
    # M = 40 in both; N and D each grow by sqrt(10), so C = 6 N D grows tenfold
    got = law_prediction("overtraining", GADRE, {"params": [1e8, np.sqrt(10) * 1e8], "tokens": [4e9, 4e9 * np.sqrt(10)]}) - 1.8
    assert got[1] / got[0] == pytest.approx(10**-0.15, rel=1e-12)


def test_finetune_matches_the_formula():
    n = np.array([1e8, 3e8, 1e9, 1e9, 7e9])
    d = np.array([1e9, 1e11, 3e12, 1e10, 1e13])
    got = law_prediction("finetune_degradation", FINETUNE, {"params": n, "tokens": d})
    np.testing.assert_allclose(got, finetune_numpy(FINETUNE, n, d), rtol=1e-12)


@pytest.mark.parametrize("params", [1e8, 1e9, 1e10])
def test_degradation_onset_is_the_minimum_of_the_finetuned_loss(params):
    """D* from LAWS.md §5's closed form, and the D that minimises L_ft on a fine grid (no formula)."""
    s = 5e-3 * params**-0.1
    closed = (0.37 * 2000.0 / (0.2 * s)) ** (1 / (0.37 + 0.2))
    onset = float(degradation_onset_tokens(FINETUNE, params))
    assert onset == pytest.approx(closed, rel=1e-12)
    d = np.geomspace(1e6, 1e20, 400_001)
    assert onset == pytest.approx(d[np.argmin(finetune_numpy(FINETUNE, params, d))], rel=2e-4)
