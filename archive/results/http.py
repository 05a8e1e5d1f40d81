"""Results as Django responses: a streamed download, or a DALI error document."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from django.http import HttpResponse, StreamingHttpResponse

from archive.errors import ArchiveError
from archive.metadata.fields import VOField
from archive.results.formats import Format, resolve
from archive.results.stream import stream_result
from archive.results.votable import error_document

ERROR_CONTENT_TYPE = "application/x-votable+xml"
RETRY_AFTER_S = 60


def error_response(error: ArchiveError) -> HttpResponse:
    """A DALI error document with the error's HTTP status and kind; a client told to come
    back later (too many jobs, the service busy) gets a Retry-After too."""
    response = HttpResponse(
        error_document(error.message, kind=error.kind),
        status=error.status,
        content_type=ERROR_CONTENT_TYPE,
    )
    if error.status in (429, 503):
        response["Retry-After"] = str(RETRY_AFTER_S)
    return response


def result_response(
    connection,
    sql: str,
    fields: Sequence[VOField] | None,
    fmt: Format | str | None = None,
    maxrec: int | None = None,
    filename: str = "result",
    service_descriptors: Sequence = (),
    infos: Sequence = (),
) -> HttpResponse:
    """A StreamingHttpResponse of the result; an ArchiveError before the first byte (unknown
    format, a query the database refuses) becomes a DALI error document with its status.

    ``connection`` is a psycopg connection of the read-only role, e.g.
    ``connections["reader"].connection`` after ``ensure_connection()``.
    """
    try:
        fmt = fmt if isinstance(fmt, Format) else resolve(fmt)
        stream = stream_result(connection, sql, fields, fmt, maxrec, service_descriptors, infos)
        first = next(stream, b"")  # runs the query up to its first rows
    except ArchiveError as exc:
        return error_response(exc)
    response = StreamingHttpResponse(
        itertools.chain([first], stream), content_type=fmt.content_type
    )
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "result"
    response["Content-Disposition"] = f'attachment; filename="{safe}{fmt.suffix}"'
    return response
