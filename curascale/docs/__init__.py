"""The user documentation that ships inside the package: `laws.md`, the reference for every
scaling law (form, source, published constants, what is curascale's own), read with
importlib.resources so an installed curascale has it. The project's docs/laws.md is the same file.
"""

from __future__ import annotations

import re
from importlib import resources

from curascale.errors import CurascaleError

_SECTION = re.compile(r"^## §(\d+) ", re.MULTILINE)
_CITATION = re.compile(r"docs/laws\.md §(\d+)")


def laws_text() -> str:
    """The whole of laws.md (Markdown)."""
    return resources.files(__name__).joinpath("laws.md").read_text(encoding="utf-8")


def law_sections() -> dict[int, str]:
    """laws.md cut at its `## §N` headings: {N: the section's text, heading included}."""
    text = laws_text()
    starts = list(_SECTION.finditer(text))
    return {int(m.group(1)): text[m.start(): starts[i + 1].start() if i + 1 < len(starts) else len(text)].rstrip() for i, m in enumerate(starts)}


def section_for(citation: str) -> str:
    """The text of the section a law cites (e.g. "docs/laws.md §5 (our form)" -> §5's text)."""
    match = _CITATION.search(citation)
    sections = law_sections()
    if match is None or int(match.group(1)) not in sections:
        raise CurascaleError(f"no section of docs/laws.md matches the citation {citation!r}")
    return sections[int(match.group(1))]
