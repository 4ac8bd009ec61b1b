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


def canonical_name(name: str) -> str:
    """A law name as users type it on a command line: case, spaces and hyphens do not matter
    ('data-constrained', 'Data Constrained' -> 'data_constrained')."""
    return "_".join(str(name).strip().lower().replace("-", " ").replace("_", " ").split())


def get_law(name: str) -> Law:
    """The law called `name` (see `canonical_name`); an unknown name is a CurascaleError that
    suggests the nearest known names (difflib)."""
    laws = all_laws()
    key = canonical_name(name)
    if key not in laws:
        import difflib

        from curascale.errors import UserError

        close = difflib.get_close_matches(key, list(laws), n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UserError(f"unknown law {name!r}{hint} (known: {', '.join(sorted(laws))})")
    return laws[key]


__all__ = ["Law", "Param", "all_laws", "canonical_name", "get_law"]
