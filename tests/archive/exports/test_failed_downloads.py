"""A streamed download that fails midway is never taken for a whole file: through gunicorn, a
VOTable ends with QUERY_STATUS=ERROR after the rows sent, and the other formats end the chunked
transfer without its last chunk, which every HTTP/1.1 client reports as an incomplete read."""

import http.client
import urllib.parse

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# fails at row 60 000 (MAXREC is 100 000 by default), long after the first rows have left (the
# first batch is small)
FAILING = "SELECT x, 1 / (x - 60000) AS boom FROM generate_series(1, 90000) AS x"


def download(base: str, fmt: str) -> tuple[int, bytes, bool]:
    """(status, body read, whether the transfer ended properly)."""
    host, port = urllib.parse.urlsplit(base).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    query = urllib.parse.urlencode(
        {"REQUEST": "doQuery", "LANG": "PostgreSQL", "QUERY": FAILING, "RESPONSEFORMAT": fmt}
    )
    conn.request("GET", f"/tap/sync?{query}")
    response = conn.getresponse()
    try:
        return response.status, response.read(), True
    except http.client.IncompleteRead as exc:
        return response.status, exc.partial, False


@pytest.mark.parametrize("fmt", ["csv", "tsv", "fits", "parquet", "ecsv"])
def test_a_failed_stream_is_an_incomplete_transfer(web_service, reader_connections_closed, fmt):
    status, body, complete = download(web_service, fmt)
    assert status == 200 and len(body) > 0  # rows had been sent when the query failed
    assert not complete


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_a_failed_votable_ends_with_an_error_status(web_service, reader_connections_closed, fmt):
    status, body, complete = download(web_service, fmt)
    assert status == 200 and complete
    tail = body[-600:]
    assert b'name="QUERY_STATUS" value="ERROR"' in tail and b"division by zero" in tail
