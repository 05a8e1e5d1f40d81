"""What a links document does for a client that cannot pair the standard one with its rows.

pyVO 1.x (1.10 checked, and its main branch) pairs a batched ``iter_datalinks()`` with the
result rows by the raw value of the column the service descriptor refers to: an ``int64`` for
source_id. It looks up the ID that the links document echoes, which DataLink 1.1 declares
``char``, and ``"5853…" == int64(5853…)`` is never true. So no row gets its links (the
``original_row`` of every batch is None), yields come in ID text order, and after the first
response pyVO stops with a TypeError (``_iter_datalinks_from_dlblock`` in pyvo/dal/adhoc.py).

For pyVO 1.x, when every ID sent is a plain integer, the ID column is declared ``long``, so
the echoed IDs compare equal to the rows' values. Every other client (TOPCAT, STILTS
datalinklint, a browser) gets the standard ``char`` column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.http import HttpRequest

from .ids import ParsedId

_PYVO_1 = re.compile(r"(?:^|\s)pyVO/1\.")


def echoes_integer_ids(request: HttpRequest, parsed: Sequence[ParsedId]) -> bool:
    """True when the links document should declare its ID column ``long`` (see above)."""
    if not _PYVO_1.search(request.headers.get("User-Agent", "")):
        return False
    return all(p.source_id is not None and p.text.strip().isdigit() for p in parsed)
