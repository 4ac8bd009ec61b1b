"""Every public entry point computes in float64 whatever the caller's JAX mode (LAWS.md §7,
scaling.jaxconf.float64): the same script run in a process where JAX stays float32
(jax_enable_x64 False) and in one where it is float64 gives the same numbers, the float32 caller
keeps its mode, and the Chinchilla fit reproduces Epoch's objective 0.0010182740."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from paths import CASES, DATASETS

SCRIPT = r"""
import json, sys
import jax, jax.numpy as jnp
import numpy as np
import pandas as pd
import curascale as cs
from scaling import diagnostics
from scaling.design import design_pilots

datasets, case05 = sys.argv[1], sys.argv[2]
mode = bool(jax.config.jax_enable_x64)
frame = pd.read_csv(datasets + "/chinchilla/chinchilla_NDL.csv")
frame = frame[frame["in_besiroglu_fit"] == 1].rename(columns={"N_params": "params", "D_tokens": "tokens"})
out = {}
fitted = cs.fit("chinchilla", frame, initial=[{"A": 482.0, "B": 2085.0, "E": 1.82, "alpha": 0.35, "beta": 0.37}])
out["fit"] = [fitted.objective, *fitted.params.values()]
out["predict"] = fitted.predict({"params": [70e9, 1e8], "tokens": [1.4e12, 2e9]}).tolist()
single = cs.fit("chinchilla", pd.read_csv(case05), initial=[{"A": 400.0, "B": 2000.0, "E": 1.8, "alpha": 0.3, "beta": 0.3}])
out["diagnostics"] = [[n.code, sorted(n.details.get("parameters", [])), n.details.get("relative_singular_values", [])] for n in single.notes]
out["undetermined_by"] = [n.details["parameters"] for n in single.notes if n.code == "single-level-input"]
data_fit = cs.load_fit("reference/tmars-imagenet-utility")
plan = cs.plan_data(data_fit, 96e6, mixtures=True)
out["plan_data"] = [[c.name, c.predicted_error, *c.shares] for c in plan.candidates]
out["sweep_data"] = [[r["budget_samples"], r["predicted_accuracy"]] for r in cs.sweep_data(data_fit, 12.8e6, 1.28e9, 5).rows]
model = cs.plan_model(1e22, [cs.load_fit("reference/precision")], quantize_to=4)
out["plan_model"] = [model.params, model.tokens, model.loss, model.bits, model.quantization.degradation]
design = design_pilots(fitted, 1e22, 1e19, unit="flops", truths=16, replicates=2)
out["design"] = [design.prior_plan, design.prior_regret, design.noise, *[[p.pilot, p.regret_reduction, p.interval_reduction] for p in design.pilots]]
out["mode_after"] = [bool(jax.config.jax_enable_x64), str(jnp.ones(1).dtype), mode]
print(json.dumps(out))
"""


def run_in_mode(x64: bool) -> dict:
    env = {**os.environ, "JAX_ENABLE_X64": "1" if x64 else "0", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(DATASETS), str(CASES / "05-single-token-count-negative-beta/sameD6.csv")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both():
    if not DATASETS.exists():
        pytest.fail(f"the shared datasets are missing: {DATASETS}")
    return run_in_mode(False), run_in_mode(True)


def numbers(value):
    """The numbers of a nested result, in order (names and codes dropped)."""
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in numbers(item)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_the_float32_caller_keeps_its_mode(both):
    float32, float64 = both
    assert float32["mode_after"] == [False, "float32", False]
    assert float64["mode_after"] == [True, "float64", True]


@pytest.mark.parametrize("entry", ["fit", "predict", "diagnostics", "undetermined_by", "plan_data", "sweep_data", "plan_model", "design"])
def test_each_entry_point_gives_the_float64_numbers_in_a_float32_process(both, entry):
    float32, float64 = both
    assert [x for x in float32[entry] if isinstance(x, str)] == [x for x in float64[entry] if isinstance(x, str)]
    assert len(numbers(float32[entry])) == len(numbers(float64[entry])) > 0 or entry == "undetermined_by"
    np.testing.assert_allclose(numbers(float32[entry]), numbers(float64[entry]), rtol=1e-9, atol=0)
    assert json.dumps(float32[entry]) == json.dumps(float64[entry])  # in fact the same bytes


def test_the_chinchilla_objective_is_epochs_in_a_float32_process(both):
    """Besiroglu et al. 2024: sum-Huber objective 0.0010182740 (LAWS.md §1); a float32 computation
    would be off from the 7th digit."""
    assert both[0]["fit"][0] == pytest.approx(0.0010182740, rel=1e-7)
