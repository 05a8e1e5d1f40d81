"""The TAP 1.1 service through HTTP: sync, VOSI, examples, errors as DALI documents."""

import io
from xml.etree import ElementTree as ET

import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table
from django.conf import settings

from archive.tap.examples import queries

from .conftest import STARS, VERSION

S = settings.PUBLISHED_SCHEMA
pytestmark = pytest.mark.django_db


def sync(client, query, **params):
    return client.post(
        "/tap/sync", {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, **params}
    )


def votable(response):
    assert response.status_code == 200, response.content[:2000]
    body = b"".join(response.streaming_content)
    return parse_single_table(io.BytesIO(body)).to_table(), body


def status_of(body: bytes) -> str:
    root = ET.fromstring(body)
    infos = [e for e in root.iter() if e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS"]
    return infos[-1].get("value")


def test_sync_cone_returns_the_stars_with_registry_metadata(client, published):
    q = (
        f"SELECT source_id, ra, teff, flag_boundary FROM {S}.rvs_cnn "
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1)) ORDER BY source_id"
    )
    table, body = votable(sync(client, q))
    assert table["source_id"].tolist() == [1, 2]
    assert str(table["ra"].unit) == "deg" and table["teff"].unit == "K"
    field = table["flag_boundary"]
    assert field.dtype.kind in "US" and field.tolist() == ["00000000", "00000001"]
    assert status_of(body) == "OK"


def test_parameter_names_are_case_insensitive_and_get_works(client, published):
    response = client.get(
        "/tap/sync",
        {"request": "doQuery", "lang": "adql", "query": f"SELECT TOP 3 source_id FROM {S}.rvs_cnn"},
    )
    table, _ = votable(response)
    assert len(table) == 3


@pytest.mark.parametrize(
    "fmt,reader",
    [("csv", "ascii.csv"), ("fits", "fits"), ("votable/td", "votable"), ("parquet", "parquet")],
)
def test_every_format(client, published, fmt, reader, tmp_path):
    q = f"SELECT source_id, teff FROM {S}.rvs_cnn ORDER BY source_id"
    response = sync(client, q, RESPONSEFORMAT=fmt)
    assert response.status_code == 200
    path = tmp_path / "result"
    path.write_bytes(b"".join(response.streaming_content))
    table = Table.read(path, format=reader)
    assert table["source_id"].tolist() == sorted(STARS)


def test_maxrec_overflow_is_flagged(client, published):
    table, body = votable(sync(client, f"SELECT source_id FROM {S}.rvs_cnn", MAXREC="2"))
    assert len(table) == 2 and status_of(body) == "OVERFLOW"


def test_postgresql_dialect_runs_one_select(client, published):
    response = sync(
        client,
        f"SELECT count(*) AS n FROM {S}.rvs_cnn WHERE model_version = '{VERSION}'",
        LANG="PostgreSQL",
    )
    table, _ = votable(response)
    assert table["n"][0] == len(STARS)


@pytest.mark.parametrize(
    "params,status,message",
    [
        ({"QUERY": "SELEC source_id FROM x"}, 400, "line 1, column 1: 'SELEC'"),
        ({"QUERY": f"SELECT nothing FROM {S}.rvs_cnn"}, 400, "nothing"),
        ({"QUERY": "SELECT * FROM public.cnn_label"}, 400, "cnn_label"),
        ({"QUERY": f"DELETE FROM {S}.rvs_cnn"}, 400, ""),
        ({"QUERY": f"SELECT 1 FROM {S}.rvs_cnn; SELECT 2 FROM {S}.rvs_cnn"}, 400, ""),
        ({"MAXREC": "many"}, 400, "MAXREC"),
        ({"RESPONSEFORMAT": "excel"}, 400, "excel"),
        ({"LANG": "SQL"}, 400, "LANG"),
        ({"REQUEST": "getCapabilities"}, 400, "REQUEST"),
        ({"LANG": ""}, 400, "LANG"),
        ({"LANG": "PostgreSQL", "QUERY": "SELECT * FROM public.cnn_label"}, 400, "permission"),
        ({"LANG": "PostgreSQL", "QUERY": f"DROP TABLE {S}.rvs_cnn"}, 400, "DROP"),
        (
            {"LANG": "PostgreSQL", "QUERY": "SELECT set_config('statement_timeout', '0', false)"},
            400,
            "set_config",
        ),
        ({"LANG": "PostgreSQL", "QUERY": "SELECT pg_terminate_backend(1)"}, 400, "permission"),
        ({"LANG": "PostgreSQL", "QUERY": "SELECT pg_advisory_lock(1)"}, 400, "permission"),
    ],
)
def test_bad_requests_get_a_dali_error_document(client, published, params, status, message):
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": f"SELECT 1 FROM {S}.rvs_cnn", **params}
    response = client.post("/tap/sync", data)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/x-votable+xml")
    body = response.content
    assert status_of(body) == "ERROR"
    assert message.lower() in body.decode().lower()


def test_the_sync_timeout_cancels_a_long_query(client, published, settings):
    settings.TAP_LIMITS = {"anonymous": {"sync_timeout_s": 1}}
    response = sync(client, "SELECT pg_sleep(5)", LANG="PostgreSQL")
    # a limit of time, told apart from a bad query (400) and a size limit (413)
    assert response.status_code == 504
    assert status_of(response.content) == "ERROR" and b"time" in response.content
    assert b'name="ERROR_KIND" value="timeout"' in response.content


def test_a_bad_query_says_so_in_its_kind(client, published):
    response = sync(client, f"SELECT nosuchcolumn FROM {S}.rvs_cnn")
    assert response.status_code == 400
    assert b'name="ERROR_KIND" value="query"' in response.content


def test_set_config_under_another_spelling_fails_at_the_database(client, published):
    query = """SELECT U&"set\\005fconfig"('statement_timeout', '0', false) AS t"""
    response = sync(client, query, LANG="PostgreSQL")
    assert response.status_code == 400
    assert "permission denied for function set_config" in response.content.decode()


@pytest.mark.parametrize(
    "call",
    [
        "set_config('statement_timeout', '0', false)",
        "nextval('job_id_seq')",
        "setval('job_id_seq', 1)",
        "currval('job_id_seq')",
        "lastval()",
        "txid_current()",
        "pg_current_xact_id()",
    ],
)
def test_the_reader_may_not_execute_what_changes_state(reader_conn, call):
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute(f"SELECT {call}")


@pytest.mark.parametrize("example", [e for e, _ in queries()], ids=lambda e: e.id)
def test_every_example_runs(client, published, example):
    query = dict((e.id, q) for e, q in queries())[example.id]
    table, body = votable(sync(client, query))
    assert status_of(body) == "OK"
    if example.id in ("cone", "recommended", "flag-statistics", "columns", "versions"):
        assert len(table) > 0


def test_vosi_documents(client, published):
    for path in ("/tap/capabilities", "/tap/availability", "/tap/tables", "/tap/examples"):
        response = client.get(path)
        assert response.status_code == 200, path
        ET.fromstring(response.content)
    caps = client.get("/tap/capabilities").content.decode()
    assert "ivo://ivoa.net/std/TAP" in caps and "ADQL" in caps and "<mime>application/fits" in caps
    assert b"<vosi:available>true" in client.get("/tap/availability").content
    one = client.get(f"/tap/tables/{S}.rvs_cnn")
    assert one.status_code == 200 and b"flag_boundary" in one.content
    assert client.get(f"/tap/tables/{S}.nothing").status_code == 404
    assert b"<column>" not in client.get("/tap/tables", {"detail": "min"}).content
