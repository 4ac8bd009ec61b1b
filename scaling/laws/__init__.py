"""The registry of laws: one module per law family (docs/laws.md), each defining `LAW` or `LAWS`."""

from __future__ import annotations

from scaling.laws.base import Law, Param

_MODULES = ("chinchilla", "data_constrained", "data_filtering", "precision", "overtraining", "specialized")


def all_laws() -> dict[str, Law]:
    import importlib

    laws: dict[str, Law] = {}
    for module_name in _MODULES:
        module = importlib.import_module(f"scaling.laws.{module_name}")
        for law in getattr(module, "LAWS", (getattr(module, "LAW", None),)):
            if law is not None:
                laws[law.name] = law
    return laws


def get_law(name: str) -> Law:
    laws = all_laws()
    if name not in laws:
        from curascale.errors import UserError

        raise UserError(f"unknown law {name!r} (known: {', '.join(sorted(laws))})")
    return laws[name]


__all__ = ["Law", "Param", "all_laws", "get_law"]
