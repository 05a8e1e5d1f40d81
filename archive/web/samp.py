"""What the SAMP buttons send: a URL from which TOPCAT or Aladin fetch a result as VOTable.

The URL is the TAP service's sync endpoint with the result's query, so the client on the
user's machine needs no session cookie (which it does not have) to fetch it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

#: beyond this a URL is refused by common servers and clients (a long pasted ID list)
MAX_URL = 8000


def table_url(
    request: HttpRequest, query: str, lang: str = "ADQL", maxrec: int | None = None
) -> str | None:
    """The absolute TAP sync URL of ``query``'s result as VOTable; None when too long."""
    params = {"REQUEST": "doQuery", "LANG": lang, "FORMAT": "votable", "QUERY": query}
    if maxrec is not None:
        params["MAXREC"] = str(maxrec)
    url = request.build_absolute_uri(reverse("tap:sync")) + "?" + urlencode(params)
    return url if len(url) <= MAX_URL else None
