"""A result streams in bounded memory: five times the rows, about the same peak allocation."""

import tracemalloc

import pytest

from archive.metadata.fields import VOField
from archive.results.stream import stream_result

pytestmark = pytest.mark.django_db

# a catalogue-like row: an id, doubles (one NULL in 20), a real, a char(8) code, a text
SQL = """SELECT i::int8 AS source_id, random() AS ra, random() AS dec,
    CASE WHEN i % 20 = 0 THEN NULL ELSE random() END AS teff, random()::float4 AS mag,
    lpad((i % 256)::text, 8, '0')::char(8) AS flag, 'v' || (i % 7)::text AS version
    FROM generate_series(1, {rows}) AS i"""
FIELDS = [
    VOField("source_id", "long"),
    VOField("ra", "double"),
    VOField("dec", "double"),
    VOField("teff", "double"),
    VOField("mag", "float"),
    VOField("flag", "char", arraysize="8"),
    VOField("version", "char", arraysize="*"),
]


def peak_bytes(reader_conn, fmt: str, rows: int) -> tuple[int, int]:
    """(peak Python + numpy allocation while streaming, bytes streamed)."""
    tracemalloc.start()
    try:
        size = sum(len(p) for p in stream_result(reader_conn, SQL.format(rows=rows), FIELDS, fmt))
        return tracemalloc.get_traced_memory()[1], size
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["votable", "votable/td", "csv", "fits", "parquet"])
def test_peak_memory_does_not_grow_with_the_rows(reader_conn, fmt):
    small, small_size = peak_bytes(reader_conn, fmt, 100_000)
    big, big_size = peak_bytes(reader_conn, fmt, 500_000)
    assert big_size > 4.5 * small_size
    assert big < 1.25 * small + (2 << 20), (small, big)
    assert big < 64 << 20  # a few batches of 4 MB, never the result
