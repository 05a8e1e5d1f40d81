"""MAXREC and overflow, failures before and after the first byte, the DALI documents; STILTS
votlint finds no error in any VOTable the writers produce."""

import io

import pyarrow.parquet as pq
import pytest
from astropy.io import fits as pyfits
from astropy.io import votable
from astropy.table import Table

from archive.errors import BadParameter, QueryError, ServiceError, UnknownFormat
from archive.metadata.fields import VOField
from archive.results.stream import parse_maxrec, stream_result
from archive.results.text import OVERFLOW_LINE
from archive.results.votable import error_document

from .conftest import SAMPLE_FIELDS

pytestmark = pytest.mark.django_db

SERIES = "SELECT i AS n, i * 0.5 AS half FROM generate_series(1, {rows}) AS i"
# fails at row 150 000, long after the first bytes left (the first batch is 1 024 rows)
FAILS_LATE = "SELECT i AS n, 1.0 / (i - 150000) AS inverse FROM generate_series(1, 200000) AS i"


def infos(data: bytes) -> list[tuple[str, str]]:
    resource = votable.parse(io.BytesIO(data)).resources[0]
    return [(i.name, i.value) for i in resource.infos]


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_votlint_finds_no_error(reader_conn, sample_table, votlint, fmt):
    data = b"".join(stream_result(reader_conn, sample_table, SAMPLE_FIELDS, fmt))
    assert votlint(data) == ""


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_maxrec_overflow_is_reported_after_the_table(reader_conn, votlint, fmt):
    data = b"".join(stream_result(reader_conn, SERIES.format(rows=100), None, fmt, maxrec=10))
    table = votable.parse(io.BytesIO(data)).get_first_table().to_table()
    assert list(table["n"]) == list(range(1, 11))
    assert infos(data) == [("QUERY_STATUS", "OK"), ("QUERY_STATUS", "OVERFLOW")]
    assert data.index(b'value="OVERFLOW"') > data.index(b"</TABLE>")
    assert votlint(data) == ""


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_exactly_maxrec_rows_is_no_overflow(reader_conn, fmt):
    data = b"".join(stream_result(reader_conn, SERIES.format(rows=10), None, fmt, maxrec=10))
    assert len(votable.parse(io.BytesIO(data)).get_first_table().array) == 10
    assert infos(data) == [("QUERY_STATUS", "OK")]


def test_maxrec_zero_gives_the_columns_and_the_overflow(reader_conn):
    data = b"".join(stream_result(reader_conn, SERIES.format(rows=5), None, "votable", maxrec=0))
    table = votable.parse(io.BytesIO(data)).get_first_table()
    assert [f.name for f in table.fields] == ["n", "half"] and len(table.array) == 0
    assert ("QUERY_STATUS", "OVERFLOW") in infos(data)


def test_maxrec_cuts_every_format(reader_conn, tmp_path):
    sql = SERIES.format(rows=5000)
    for fmt, read in [
        ("csv", lambda d: Table.read(d.decode(), format="ascii.csv", comment="#")),
        ("tsv", lambda d: Table.read(d.decode(), format="ascii.tab")),
        ("ecsv", lambda d: Table.read(d.decode(), format="ascii.ecsv")),
        ("fits", lambda d: Table.read(io.BytesIO(d), format="fits")),
        ("parquet", lambda d: pq.read_table(io.BytesIO(d))),
    ]:
        data = b"".join(stream_result(reader_conn, sql, None, fmt, maxrec=1500))
        assert len(read(data)) == 1500, fmt
        assert not reader_conn.closed  # the COPY cut at MAXREC left the connection usable
    for fmt in ("csv", "tsv", "ecsv"):  # the rows, then the overflow as a trailing comment
        cut = b"".join(stream_result(reader_conn, sql, None, fmt, maxrec=1500))
        assert cut.endswith(OVERFLOW_LINE), fmt
        whole = b"".join(stream_result(reader_conn, sql, None, fmt, maxrec=5000))
        assert b"OVERFLOW" not in whole, fmt
    fits = b"".join(stream_result(reader_conn, sql, None, "fits", maxrec=1500))
    assert pyfits.open(io.BytesIO(fits))[1].header["QUERYSTA"] == "OVERFLOW"
    parquet = b"".join(stream_result(reader_conn, sql, None, "parquet", maxrec=1500))
    content = pq.ParquetFile(io.BytesIO(parquet)).metadata.metadata[b"IVOA.VOTable-Parquet.content"]
    assert b'name="QUERY_STATUS" value="OVERFLOW"' in content


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_failure_after_the_first_byte_ends_the_votable_with_an_error(reader_conn, votlint, fmt):
    pieces = stream_result(reader_conn, FAILS_LATE, None, fmt)
    first = next(pieces)  # the first bytes are out: the status can no longer change
    data = first + b"".join(pieces)
    assert infos(data) == [("QUERY_STATUS", "OK"), ("QUERY_STATUS", "ERROR")]
    resource = votable.parse(io.BytesIO(data)).resources[0]
    assert "division by zero" in resource.infos[1].content
    rows = len(resource.tables[0].array)
    assert 1024 <= rows < 150000  # every row sent is whole
    assert votlint(data) == ""
    # the connection is usable afterwards: the failed transaction was rolled back
    assert reader_conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "ecsv", "fits", "parquet"])
def test_failure_after_the_first_byte_aborts_other_formats(reader_conn, fmt):
    pieces = stream_result(reader_conn, FAILS_LATE, None, fmt)
    with pytest.raises(QueryError, match="division by zero"):
        for _ in pieces:
            pass
    assert reader_conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("fmt", ["votable", "csv", "parquet"])
def test_failure_before_the_first_byte_raises(reader_conn, fmt):
    with pytest.raises(QueryError, match="no_such_column"):
        next(
            stream_result(
                reader_conn, "SELECT no_such_column FROM generate_series(1, 3)", None, fmt
            )
        )
    assert reader_conn.execute("SELECT 1").fetchone() == (1,)


def test_unknown_format_is_a_usage_error(reader_conn):
    with pytest.raises(UnknownFormat) as caught:
        next(stream_result(reader_conn, SERIES.format(rows=1), None, "xlsx"))
    assert caught.value.status == 400 and "votable" in caught.value.message


def test_error_document_is_valid_dali(votlint):
    data = error_document("MAXREC='ten' is not allowed: a <number>")
    resource = votable.parse(io.BytesIO(data)).resources[0]
    assert resource.type == "results"
    assert [(i.name, i.value, i.content) for i in resource.infos] == [
        ("QUERY_STATUS", "ERROR", "MAXREC='ten' is not allowed: a <number>")
    ]
    assert votlint(data) == ""


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 2000), ("", 2000), ("10", 10), (" 0 ", 0), ("999999999", 5000)]
)
def test_maxrec_parsing(value, expected):
    assert parse_maxrec(value, default=2000, limit=5000) == expected


@pytest.mark.parametrize("value", ["ten", "1.5", "-1", "1e3"])
def test_maxrec_not_a_count_is_refused(value):
    with pytest.raises(BadParameter) as caught:
        parse_maxrec(value, default=2000, limit=5000)
    assert caught.value.status == 400 and "MAXREC" in caught.value.message


@pytest.mark.parametrize("fmt", ["votable", "csv", "parquet"])
def test_a_client_that_goes_away_stops_the_query(reader_conn, fmt):
    pieces = stream_result(reader_conn, SERIES.format(rows=2_000_000), None, fmt)
    next(pieces)
    pieces.close()  # what the WSGI server does when the client disconnects
    assert reader_conn.execute("SELECT 1").fetchone() == (1,)


def test_a_result_that_does_not_fit_its_fields_fails_cleanly(reader_conn):
    # arrays of 3 declared as arraysize 2: the encoder refuses the first chunk while the COPY
    # still streams; the error is the archive's, and the connection does not hang
    sql = "SELECT ARRAY[1.0, 2.0, 3.0]::float8[] AS k FROM generate_series(1, 2000000)"
    fields = [VOField("k", "double", arraysize="2")]
    with pytest.raises(ServiceError, match="not 2 long"):
        next(stream_result(reader_conn, sql, fields, "votable"))
    assert reader_conn.closed or reader_conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_service_descriptors_follow_the_results(reader_conn, votlint, fmt):
    from archive.results.votable import ServiceDescriptor

    descriptor = ServiceDescriptor(
        id="links",
        access_url="https://example.org/datalink/links",
        standard_id="ivo://ivoa.net/std/DataLink#links-1.1",
        inputs=(("ID", "n"),),
        description="Links of each row",
    )
    pieces = stream_result(
        reader_conn, SERIES.format(rows=10), None, fmt, service_descriptors=[descriptor]
    )
    data = b"".join(pieces)
    document = votable.parse(io.BytesIO(data))
    results, meta = document.resources
    assert (results.type, meta.type, meta.utype) == ("results", "meta", "adhoc:service")
    field = results.tables[0].fields[0]
    assert field.ID and meta.groups[0].entries[0].ref == field.ID
    assert votlint(data) == ""
