"""How every curascale figure leaves the process: plain tick labels, then a PNG and a PDF.

`plain_number(1.4e9)` -> "1.4B": tick labels a reader can quote (no "3.75×10⁰" from matplotlib's
log formatter, no offset text); minor ticks of log axes carry no labels, so labels never overlap.
`save_png_and_pdf(figure, "fit.png")` writes fit.png and fit.pdf (or fit.pdf and fit.png),
each atomically through curascale.io, with no timestamp in the PDF: same figure, same bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

from curascale.errors import CurascaleError
from curascale.io import atomic_path

FORMATS = (".png", ".pdf")
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def plain_number(value: float, _position: object = None) -> str:
    """A tick value as a short plain label: 0.35, 3.75, 120, 12K, 1.4B, 0.0008, 2e-5, 1e22 (3 significant
    digits; past a thousand trillion, as a power of ten)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else ""
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.3g}".replace("e+", "e")
    for scale, suffix in _SUFFIXES:
        if magnitude >= scale:
            return f"{value / scale:.3g}{suffix}"
    if magnitude < 1e-4:
        return f"{value:.0e}".replace("e-0", "e-")
    return f"{value:.3g}"


def plain_ticks(figure) -> None:
    """Plain major tick labels on every axis of `figure`; no labels on log-axis minor ticks."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    for axis in figure.get_axes():
        for side in (axis.xaxis, axis.yaxis):
            if side.get_scale() not in ("log", "linear"):
                continue  # categorical bars and other scales keep their own labels
            if side.get_scale() == "log":
                side.set_minor_formatter(NullFormatter())
                ticks = short_log_ticks(*side.get_view_interval())
                if ticks is not None:
                    side.set_major_locator(FixedLocator(ticks))
            if not _is_categorical(side):
                side.set_major_formatter(FuncFormatter(plain_number))


_MANTISSAS = ((1.0,), (1.0, 3.0), (1.0, 2.0, 5.0), (1.0, 2.0, 3.0, 5.0), tuple(float(d) for d in range(1, 10)))
MOST_TICKS = 6  # labels of "100M" width on a 5-inch axis do not touch at this count


def short_log_ticks(low: float, high: float) -> list[float] | None:
    """Major ticks for a log axis from `low` to `high`: the densest of 1, 1-3, 1-2-5, 1-2-3-5 and
    every digit per decade that gives at most MOST_TICKS ticks; None when powers of ten alone give
    at least 3 (matplotlib's own ticks are then fine) or the axis is not positive; round linear
    steps (2.2, 2.4, ...) when no mantissa set gives two ticks (a range well inside one decade)."""
    low, high = sorted((float(low), float(high)))
    if not (low > 0 and math.isfinite(high)):
        return None
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    options = [[m * 10.0**e for e in decades for m in mantissas if low <= m * 10.0**e <= high] for mantissas in _MANTISSAS]
    if len(options[0]) >= 3:
        return None
    fitting = [ticks for ticks in options if len(ticks) <= MOST_TICKS]
    best = fitting[-1] if fitting else options[0]
    return best if len(best) >= 2 else _linear_steps(low, high)


def _linear_steps(low: float, high: float) -> list[float]:
    step = 10.0 ** math.floor(math.log10((high - low) / 2))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if (high - low) / (step * factor) <= MOST_TICKS:
            step *= factor
            break
    first = math.ceil(low / step)
    return [round(k * step, 12) for k in range(first, math.floor(high / step) + 1)]


def _is_categorical(side) -> bool:
    return side.get_converter() is not None if hasattr(side, "get_converter") else getattr(side, "converter", None) is not None


def figure_paths(path: str | Path) -> tuple[Path, Path]:
    """(the path asked for, its twin in the other format); a suffix other than .png or .pdf is an error."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise CurascaleError(f"figure path {str(path)!r} must end in .png or .pdf (both are written)")
    return path, path.with_suffix(".pdf" if suffix == ".png" else ".png")


def save_png_and_pdf(figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write `figure` to `path` and to its twin in the other format (PNG at `dpi`, vector PDF);
    returns `path`. Raises CurascaleError for another suffix."""
    plain_ticks(figure)
    for target in figure_paths(path):
        fmt = target.suffix.lower().lstrip(".")
        metadata = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(target) as temporary:
            figure.savefig(temporary, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return Path(path)
