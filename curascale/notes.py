"""Warnings as values (DESIGN.md `Warning`): a `Note` is a code, a severity, a message a user can
read, and the figures that triggered it. Fits, predictions and plans carry lists of them into
tables, JSON and saved artifacts; `scaling.diagnostics` holds the rules that make them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Note:
    """One structured warning.

    code: a stable kebab-case identifier (e.g. ``not-identifiable``, ``extrapolation``);
    severity: ``info``, ``warning`` or ``error`` (an ``error`` note makes a plan refuse unless
    forced); message: one sentence for a person; details: the parameters or inputs concerned and
    the figures that triggered the rule (JSON-serialisable values).
    """

    code: str
    message: str
    severity: str = "warning"
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"note severity must be one of {SEVERITIES}, got {self.severity!r}")
        object.__setattr__(self, "details", _plain(dict(self.details)))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "details": dict(self.details)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any] | str) -> "Note":
        if isinstance(record, str):  # artifacts of wave 1 stored plain strings
            return cls(code="legacy", message=record)
        return cls(code=str(record["code"]), message=str(record["message"]), severity=str(record.get("severity", "warning")), details=dict(record.get("details") or {}))


def _plain(value: Any) -> Any:
    """JSON-native values (tuples and arrays as lists, numpy scalars as Python numbers), so a note
    equals itself after a round trip through JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    return value


def notes_to_dicts(notes: Iterable[Note]) -> list[dict[str, Any]]:
    return [note.to_dict() for note in notes]


def notes_from_dicts(records: Iterable[Mapping[str, Any] | str] | None) -> list[Note]:
    return [Note.from_dict(record) for record in records or ()]


def merge(*groups: Iterable[Note]) -> list[Note]:
    """Concatenate lists of notes, dropping exact repeats, keeping first-seen order."""
    seen, merged = set(), []
    for group in groups:
        for note in group:
            key = (note.code, note.message)
            if key not in seen:
                seen.add(key)
                merged.append(note)
    return merged


def listed(items: Iterable[str], most: int = 4) -> str:
    """The first `most` items comma-separated, then "and N more" for the rest (for note messages)."""
    items = list(items)
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")
