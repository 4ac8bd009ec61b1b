"""User values quoted inside messages: the ONE place that bounds how much of a file a message echoes."""

from __future__ import annotations

from typing import Any

QUOTE_LIMIT = 60  # characters of a value's repr shown in a message


def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """`repr(value)` (control characters escaped), cut to `limit` characters with an ellipsis
    and the full length, so a 5000-character cell never floods an error line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(str(value))} characters)"
