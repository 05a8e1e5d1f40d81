"""Results as Django responses: streamed with the format's Content-Type and a file name; an
error before the first byte as a DALI error document with the error's status."""

import io

import pytest
from astropy.io import votable
from django.http import StreamingHttpResponse

from archive.errors import BadParameter, QueryError
from archive.results.http import error_response, result_response

from .conftest import SAMPLE_FIELDS

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def status_info(data: bytes) -> tuple[str, str]:
    info = votable.parse(io.BytesIO(data)).resources[0].infos[0]
    return info.value, info.content


@pytest.mark.parametrize(
    ("fmt", "content_type", "filename"),
    [
        (None, "application/x-votable+xml", "sample.vot"),
        ("votable/td", "application/x-votable+xml;serialization=TABLEDATA", "sample.vot"),
        ("text/csv", "text/csv;header=present", "sample.csv"),
        ("tsv", "text/tab-separated-values", "sample.tsv"),
        ("application/fits", "application/fits", "sample.fits"),
        ("parquet", "application/vnd.apache.parquet", "sample.parquet"),
        ("ecsv", "text/x-ecsv", "sample.ecsv"),
    ],
)
def test_streams_with_content_type_and_file_name(
    reader_conn, sample_table, fmt, content_type, filename
):
    response = result_response(reader_conn, sample_table, SAMPLE_FIELDS, fmt, filename="sample")
    assert isinstance(response, StreamingHttpResponse)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert len(body(response)) > 100


def test_file_name_is_made_safe(reader_conn, sample_table):
    response = result_response(reader_conn, sample_table, SAMPLE_FIELDS, "csv", filename='a"b/c')
    assert response["Content-Disposition"] == 'attachment; filename="a_b_c.csv"'
    body(response)


def test_unknown_format_is_a_400_error_document(reader_conn, sample_table):
    response = result_response(reader_conn, sample_table, SAMPLE_FIELDS, "xlsx")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/x-votable+xml"
    value, message = status_info(response.content)
    assert value == "ERROR" and "unknown format 'xlsx'" in message


def test_a_query_the_database_refuses_is_a_400_error_document(reader_conn):
    response = result_response(reader_conn, "SELECT 1/0", None, "csv")
    assert response.status_code == 400
    assert status_info(response.content) == ("ERROR", "division by zero")
    assert reader_conn.execute("SELECT 1").fetchone() == (1,)


def test_a_table_the_reader_may_not_read_is_a_400_error_document(reader_conn):
    response = result_response(reader_conn, "SELECT * FROM public.auth_user", None, "votable")
    assert response.status_code == 400
    assert "permission denied" in status_info(response.content)[1]


def test_failure_after_the_first_byte_aborts_a_csv_stream(reader_conn):
    sql = "SELECT i, 1.0 / (i - 150000) FROM generate_series(1, 200000) AS i"
    response = result_response(reader_conn, sql, None, "csv")
    assert response.status_code == 200  # sent before the failure
    with pytest.raises(QueryError):
        body(response)


def test_error_response_uses_the_error_status():
    response = error_response(BadParameter("MAXREC", "ten", "a whole number of rows"))
    assert response.status_code == 400
    assert status_info(response.content) == (
        "ERROR",
        "MAXREC='ten' is not allowed: a whole number of rows",
    )
