"""Static files with HTTP range requests (RFC 9110 Sect. 14) and ETags, which Django's
FileResponse (5.2) does not do: ``Range: bytes=a-b`` (one range) answers 206 with
Content-Range, an unsatisfiable range 416, If-Range and If-None-Match are honoured, and every
answer has a Content-Length, so a download cut short is never taken for the whole file."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date

BLOCK = 1 << 20
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

CONTENT_TYPES = {
    ".gz": "application/gzip",
    ".fits": "application/fits",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def etag(path: Path) -> str:
    st = path.stat()
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def _content_type(path: Path) -> str:
    if path.name == "MD5SUM":
        return "text/plain; charset=utf-8"
    return (
        CONTENT_TYPES.get(path.suffix)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def _byte_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(first, last) of a single range; None to ignore the header (serve it all); "416" when
    it cannot be satisfied."""
    match = _RANGE.match(header.replace(" ", ""))
    if match is None:  # several ranges or another unit: allowed to ignore (RFC 9110 14.2)
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return "416"
        return max(size - n, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "416"
    return start, end


def _read(path: Path, first: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(first)
        while length > 0:
            block = f.read(min(BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block


def file_response(request: HttpRequest, path: Path) -> HttpResponse:
    """``path`` for GET or HEAD, whole or the range asked for."""
    size = path.stat().st_size
    tag = etag(path)
    headers = {
        "ETag": tag,
        "Last-Modified": http_date(path.stat().st_mtime),
        "Accept-Ranges": "bytes",
        "Content-Type": _content_type(path),
    }
    if tag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return HttpResponse(status=304, headers={k: headers[k] for k in ("ETag", "Last-Modified")})
    wanted = request.headers.get("Range")
    if wanted and request.headers.get("If-Range", tag) != tag:
        wanted = None  # the file changed since the client's copy: send it whole
    span = _byte_range(wanted, size) if wanted else None
    if span == "416":
        return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status, first, last = 200, 0, size - 1
    if span is not None:
        status, (first, last) = 206, span
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    length = last - first + 1 if size else 0
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return HttpResponse(status=status, headers=headers)
    response = StreamingHttpResponse(_read(path, first, length), status=status, headers=headers)
    response["Content-Length"] = str(length)
    return response
