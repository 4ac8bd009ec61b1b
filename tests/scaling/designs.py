"""Known truths and designs for every law: data drawn from them must give the truth back."""

import numpy as np
import pandas as pd

from scaling.laws.data_constrained import PUBLISHED_BASE
from scaling.laws.precision import PUBLISHED, TRAINING_NAMES
from scaling.synthetic import grid_design

BUCKETS = {"top0to10": (-0.16, 6.7273), "top10to20": (-0.125, 8.5455), "top20to30": (-0.10, 5.2727), "top30to40": (-0.085, 2.2727)}


def _filtering():
    design = grid_design(bucket=list(BUCKETS), epochs=[0.5, 1, 2, 3, 4, 6, 8, 10, 14, 20])
    design["unique_samples"] = 12.8e6
    design["samples_seen"] = design["epochs"] * 12.8e6
    truth = {"sample_scale": 0.025, "irreducible_error": 0.1}
    for name, (utility, half_life) in BUCKETS.items():
        truth[f"utility[{name}]"] = utility
        truth[f"utility_half_life[{name}]"] = half_life
    return design, truth


def _data_constrained():
    design = grid_design(params=[1e8, 5e8, 2e9], unique_tokens=[1e8, 1e9, 1e10], epochs=[1, 2, 4, 8, 16, 32, 64])
    design["tokens"] = design["unique_tokens"] * design["epochs"]
    return design, {**PUBLISHED_BASE, "data_repetition_decay": 15.0, "param_repetition_decay": 5.0}


# inside the law's domain (docs/laws.md §4: activations above 3.11 bits, KV cache above 2.32), as the paper's grid
PRECISION_CONFIGS = [(w, 16, 16) for w in (3, 4, 6, 8)] + [(16, a, 16) for a in (4, 5, 6, 8)] + [(16, 16, kv) for kv in (3, 4, 6)] + [(8, 8, 8), (6, 6, 6), (16, 16, 16)]


def _precision():
    sizes = grid_design(params=[30e6, 60e6, 110e6, 220e6], tokens=[1.5e9, 3e9, 6e9, 13e9, 26e9])
    bits = pd.DataFrame(PRECISION_CONFIGS, columns=["bits_weights", "bits_activations", "bits_kv_cache"])
    design = sizes.merge(bits, how="cross")
    truth = {k: PUBLISHED[k] for k in TRAINING_NAMES + ("alpha",)}
    return design, truth


def _precision_ptq():
    design = grid_design(params=[30e6, 60e6, 110e6, 220e6], tokens=[1.5e9, 3e9, 6e9, 13e9, 26e9, 52e9], bits_post_training=[2, 2.5, 3, 3.5, 4, 6])
    design["bits_weights"] = 16.0
    return design, dict(PUBLISHED)


UNIFIED_CONFIGS = [(w, 16, 16) for w in (4, 6, 8)] + [(16, a, 16) for a in (4, 6, 8)] + [(16, 16, kv) for kv in (4, 6, 8)]


def _precision_ptq_unified():
    """Trained at low precision, then quantized: the C_x of the unified form (unpublished; ours)."""
    sizes = grid_design(params=[30e6, 110e6], tokens=[3e9, 13e9, 52e9], bits_post_training=[2.5, 3, 3.5])
    bits = pd.DataFrame(UNIFIED_CONFIGS, columns=["bits_weights", "bits_activations", "bits_kv_cache"])
    return sizes.merge(bits, how="cross"), {**PUBLISHED, "c_weights": 0.6, "c_activations": 0.9, "c_kv_cache": 0.5}


def _overtraining():
    design = grid_design(params=[1e7, 8e7, 1.5e8, 4e8, 1.4e9], multiplier=[5, 10, 20, 40, 80, 160, 320])
    design["tokens"] = design["params"] * design["multiplier"]
    return design, {"E": 1.8, "a": 300.0, "b": 2000.0, "eta": 0.15}


def _finetune():
    design = grid_design(params=[1e8, 3e8, 1e9], tokens=list(np.logspace(9, 12.5, 8)))
    return design, {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 2000.0, "beta": 0.37, "sensitivity": 5e-3, "sensitivity_exponent": 0.2, "sensitivity_param_exponent": 0.1}


def _specialized_domain():
    design = grid_design(params=[1e8, 5e8], tokens=[1e10, 4e10], domain_tokens=[1e8, 1e9], domain_fraction=[0.01, 0.05, 0.1, 0.2, 0.4])
    return design, {"E": 1.5, "A": 300.0, "alpha": 0.34, "B": 800.0, "beta": 0.3, "repetition_decay": 15.0, "overfit_scale": 0.02, "overfit_exponent": 1.5}


def _specialized_general():
    design = grid_design(params=[1e8, 5e8, 2e9], tokens=[1e10, 4e10, 1e11], domain_fraction=[0.0, 0.1, 0.3, 0.5])
    return design, {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.33}


def _chinchilla():
    design = grid_design(params=list(np.logspace(7, 10, 6)), tokens=list(np.logspace(8.5, 11.5, 6)))
    return design, {"A": 482.0, "B": 2085.0, "E": 1.817, "alpha": 0.3478, "beta": 0.3658}


DESIGNS = {
    "chinchilla": _chinchilla,
    "data_constrained": _data_constrained,
    "data_filtering_utility": _filtering,
    "data_filtering_effective_data": lambda: (_filtering()[0], {**_filtering()[1], "sample_scale": 0.022}),
    "precision": _precision,
    "precision_ptq": _precision_ptq,
    "precision_ptq_unified": _precision_ptq_unified,
    "overtraining": _overtraining,
    "finetune_degradation": _finetune,
    "specialized_domain": _specialized_domain,
    "specialized_general": _specialized_general,
}
