"""DataLink IDs: a Gaia DR3 source_id as the rows' source_id column gives it
("4268620287278693120") or as Gaia's own DataLink names it ("Gaia DR3 4268620287278693120")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(r"^\s*(?:gaia\s*dr3\s+)?(\d{1,19})\s*$", re.IGNORECASE)
MAX_SOURCE_ID = 2**63 - 1


@dataclass(frozen=True)
class ParsedId:
    """One ID as sent; ``source_id`` None when it is malformed (``problem`` says why)."""

    text: str
    source_id: int | None
    problem: str = ""


def parse_id(text: str) -> ParsedId:
    match = _ID.match(text)
    if match is None:
        return ParsedId(text, None, "not a Gaia DR3 source_id (digits, or 'Gaia DR3 <digits>')")
    value = int(match[1])
    if value > MAX_SOURCE_ID:
        return ParsedId(text, None, "larger than any Gaia DR3 source_id")
    return ParsedId(text, value)
