"""curascale: what data to train on, how often to repeat it and at what precision, for the compute
you have.

The public API, re-exported here so that ``import curascale as cs`` is all a user needs::

    import curascale as cs
    registry = cs.Registry("curascale.duckdb")           # or cs.connect(path)
    fitted = cs.fit("chinchilla", frame, bootstrap=1000)
    fitted.save("pilot.json"); cs.Fit.load("pilot.json")
    plan = cs.plan_data(cs.load_fit("reference/tmars-imagenet-utility"), 128e6)
    model_plan = cs.plan_model(1e22, [cs.load_fit("reference/chinchilla-epoch")])

Names load on first use, so ``import curascale`` is cheap and sets no global state (JAX stays in
whatever precision mode the caller chose).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_EXPORTS = {
    # fitting
    "fit": "scaling.fit",
    "Fit": "scaling.fit",
    "Holdout": "scaling.fit",
    "load_fit": "scaling.reference",
    "get_law": "scaling.laws",
    "all_laws": "scaling.laws",
    "Law": "scaling.laws.base",
    "Param": "scaling.laws.base",
    # planning
    "plan_data": "scaling.plan",
    "plan_model": "scaling.plan",
    "sweep_data": "scaling.plan",
    "DataPlan": "scaling.plan",
    "ModelPlan": "scaling.plan",
    # the run registry
    "Registry": "runs_db.registry",
    "connect": "runs_db.registry",
    # shipped public run data
    "load_dataset": "curascale.datasets",
    # values and errors
    "Note": "curascale.notes",
    "CurascaleError": "curascale.errors",
    "IngestError": "curascale.errors",
    "DatabaseLocked": "curascale.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'curascale' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
