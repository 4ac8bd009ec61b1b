"""Quantities on the command line: `128M`, `1.28B`, `3e9`, `1.4T` (DESIGN.md conventions)."""

from __future__ import annotations

import math

from curascale.errors import UserError

SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}


def parse_quantity(text: str, *, name: str = "value", positive: bool = True) -> float:
    """'128M' -> 1.28e8. Finite (and positive unless `positive=False`, for parameter values such as
    a negative utility), or a UserError naming `name`."""
    raw = str(text).strip().replace("_", "")
    scale = 1.0
    if raw and raw[-1].upper() in SUFFIXES:
        scale = SUFFIXES[raw[-1].upper()]
        raw = raw[:-1]
    try:
        value = float(raw) * scale
    except ValueError:
        raise UserError(f"{name}: not a number: {text!r} (examples: 128M, 1.28B, 3e9)") from None
    if not math.isfinite(value):
        raise UserError(f"{name}: must be finite, got {text!r}")
    if positive and value <= 0:
        raise UserError(f"{name}: must be positive and finite, got {text!r}")
    return value


def format_quantity(value: float) -> str:
    """1.28e8 -> '128M'."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.4g}"
