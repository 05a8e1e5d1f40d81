"""Request bodies sent with ``Transfer-Encoding: chunked`` (STILTS, TOPCAT and other Java TAP
clients upload that way), which Django reads as empty: it needs a Content-Length.

A WSGI wrapper spools such a body (de-chunked by the server, as gunicorn does, or here when the
server passes the chunks through) and sets CONTENT_LENGTH, up to ``limit`` bytes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

SPOOL_BYTES = 8 * 2**20


class BodyTooLarge(ValueError):
    pass


def _copy(read: Callable[[int], bytes], out, limit: int, size: int | None = None) -> int:
    total = 0
    while size is None or total < size:
        block = read(65536 if size is None else min(65536, size - total))
        if not block:
            break
        total += len(block)
        if total > limit:
            raise BodyTooLarge(f"request body over {limit} bytes")
        out.write(block)
    return total


def dechunk(stream, out, limit: int) -> int:
    """Decode HTTP/1.1 chunked framing from ``stream`` into ``out``; returns the body's size."""
    total = 0
    while True:
        line = stream.readline(1024).strip()
        size = int(line.split(b";")[0], 16) if line else 0
        if size == 0:
            while stream.readline(1024).strip():  # trailers, up to the empty line
                pass
            return total
        total += _copy(stream.read, out, limit - total, size)
        stream.readline(8)  # the CRLF after the chunk


def with_chunked_bodies(app, limit: int):
    def wrapped(environ, start_response):
        chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
        if chunked and not environ.get("CONTENT_LENGTH"):
            # Django reads it after this returns; it goes with the request
            body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
            stream = environ["wsgi.input"]
            try:
                if environ.get("wsgi.input_terminated"):  # the server de-chunked it
                    size = _copy(stream.read, body, limit)
                else:
                    size = dechunk(stream, body, limit)
            except BodyTooLarge as exc:
                start_response("413 Content Too Large", [("Content-Type", "text/plain")])
                return [str(exc).encode()]
            body.seek(0)
            environ["wsgi.input"] = body
            environ["CONTENT_LENGTH"] = str(size)
        return app(environ, start_response)

    return wrapped
