"""Data generated from a known law: for tests, demos and checking that a fit gives back its truth.

    frame = sample(law, truth, design, noise=0.01, seed=0)

`design` is a frame of the law's inputs (and group column); the target is the law's prediction
times exp(noise * standard normal), i.e. `noise` is the relative noise.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from scaling.laws.base import Law
from scaling.jaxconf import float64
from scaling.problem import Data, unflatten


@float64
def sample(law: Law, truth: Mapping[str, float], design: pd.DataFrame, *, noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """`design` plus the target column drawn from `law` at the (flat) parameters `truth`."""
    placeholder = design.assign(**{law.target: 1.0})
    data = Data.from_frame(law, placeholder, source="design")
    theta = unflatten(law, truth, data.groups)
    clean = np.asarray(law.predict(theta, data.jax_inputs()), dtype=float)
    rng = np.random.default_rng(seed)
    return design.assign(**{law.target: clean * np.exp(noise * rng.standard_normal(len(clean)))})


def grid_design(**columns) -> pd.DataFrame:
    """Every combination of the given column values, as a frame."""
    index = pd.MultiIndex.from_product(list(columns.values()), names=list(columns))
    return index.to_frame(index=False)
