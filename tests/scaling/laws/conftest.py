"""The law modules are float64 building blocks: curascale's entry points (fit, Fit.predict, the
planners) run them under `scaling.jaxconf.float64`; tests that call a law's functions directly do
the same, so their known answers are compared in float64."""

import jax
import pytest


@pytest.fixture(autouse=True)
def float64_laws():
    with jax.enable_x64(True):
        yield
