"""TAP uploads: a user's own table as TAP_UPLOAD.name, every VOTable datatype kept."""

import io

import numpy as np
import pytest
from astropy import units as u
from astropy.io.votable import from_table, parse_single_table, writeto
from astropy.table import Table
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

S = settings.PUBLISHED_SCHEMA
pytestmark = pytest.mark.django_db


def votable_bytes(table: Table) -> bytes:
    out = io.BytesIO()
    writeto(from_table(table), out)
    return out.getvalue()


def my_stars() -> Table:
    t = Table()
    t["source_id"] = np.array([1, 3, 99], dtype=np.int64)
    t["label"] = ["first", "thïrd", "absent"]
    t["ra"] = np.array([10.0, 10.0, 0.0]) * u.deg
    t["dec"] = np.array([20.0, 21.5, -89.0]) * u.deg
    t["ra"].meta = {}
    t["flag"] = np.array([True, False, True])
    t["mag"] = np.array([12.5, 13.0, 14.0], dtype=np.float32) * u.mag
    t["n"] = np.array([1, 2, 3], dtype=np.int16)
    t["k"] = np.array([10, 20, 30], dtype=np.int32)
    t["vec"] = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    return t


def post(client, query, files, **params):
    data = {"LANG": "ADQL", "QUERY": query, **params}
    for name, content in files.items():
        data[name] = SimpleUploadedFile(f"{name}.vot", content, "application/x-votable+xml")
    return client.post("/tap/sync", data)


def result(response) -> Table:
    assert response.status_code == 200, response.content[:3000]
    body = b"".join(response.streaming_content)
    return parse_single_table(io.BytesIO(body)).to_table()


def test_crossmatch_by_source_id(client, published):
    query = (
        "SELECT u.source_id, u.label, u.mag, c.teff FROM TAP_UPLOAD.mine AS u "
        f"JOIN {S}.rvs_cnn AS c ON c.source_id = u.source_id ORDER BY u.source_id"
    )
    table = result(
        post(client, query, {"part": votable_bytes(my_stars())}, UPLOAD="mine,param:part")
    )
    assert table["source_id"].tolist() == [1, 3]
    assert table["label"].tolist() == ["first", "thïrd"]
    assert table["mag"].unit == u.mag and table["teff"].unit == u.K


def test_crossmatch_by_position(client, published):
    query = (
        "SELECT u.label, c.source_id FROM TAP_UPLOAD.pos AS u "
        f"JOIN {S}.rvs_cnn AS c ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), "
        "CIRCLE('ICRS', u.ra, u.dec, 0.01)) ORDER BY c.source_id"
    )
    table = result(post(client, query, {"p": votable_bytes(my_stars())}, UPLOAD="pos,param:p"))
    assert table["source_id"].tolist() == [1, 3]


def test_every_datatype_comes_back_as_sent(client, published):
    sent = my_stars()
    table = result(
        post(client, "SELECT * FROM TAP_UPLOAD.t", {"x": votable_bytes(sent)}, UPLOAD="t,param:x")
    )
    for name in ("source_id", "label", "flag", "mag", "n", "k"):
        assert table[name].tolist() == sent[name].tolist(), name
        assert table[name].dtype.kind == sent[name].dtype.kind, name
    assert table["mag"].dtype == np.float32 and table["n"].dtype == np.int16
    assert np.array_equal(np.asarray(table["vec"].tolist()), sent["vec"])


@pytest.mark.parametrize(
    "upload,files,status,message",
    [
        ("t,param:x", {"x": b"<VOTABLE>broken"}, 400, "not a readable VOTable"),
        ("t,param:y", {"x": b""}, 400, "no part named"),
        ("t,http://elsewhere.example/x.vot", {}, 400, "no other host"),
        ("1t,param:x", {"x": b""}, 400, "UPLOAD"),
        ("t", {}, 400, "UPLOAD"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(client, published, upload, files, status, message):
    response = post(client, "SELECT * FROM TAP_UPLOAD.t", files, UPLOAD=upload)
    assert response.status_code == status
    assert message in response.content.decode()


def test_an_upload_over_the_limit_is_refused(client, published, settings):
    settings.TAP_LIMITS = {"anonymous": {"upload_rows": 2}}
    response = post(
        client, "SELECT * FROM TAP_UPLOAD.t", {"x": votable_bytes(my_stars())}, UPLOAD="t,param:x"
    )
    assert response.status_code == 413 and b"3 rows" in response.content


def test_a_binary2_upload_without_nrows_and_its_nulls(client, published):
    """BINARY2 VOTables (astropy's and TOPCAT's) carry no nrows: once a 500 here."""
    t = my_stars()
    t["mag"] = np.ma.masked_array(t["mag"], mask=[False, True, False])
    t["k"] = np.ma.masked_array(t["k"], mask=[True, False, False])
    t["ra"][2] = np.nan
    out = io.BytesIO()
    t.write(out, format="votable", tabledata_format="binary2")
    assert b"nrows" not in out.getvalue()
    table = result(
        post(
            client,
            "SELECT * FROM TAP_UPLOAD.t ORDER BY source_id",
            {"x": out.getvalue()},
            UPLOAD="t,param:x",
        )
    )
    assert table["source_id"].tolist() == [1, 3, 99]
    assert np.ma.getmaskarray(table["mag"]).tolist() == [False, True, False]
    assert np.ma.getmaskarray(table["k"]).tolist() == [True, False, False]
    assert table["k"][1:].tolist() == [20, 30]
    assert table["label"].tolist() == ["first", "thïrd", "absent"]
    assert np.isnan(np.ma.filled(table["ra"], np.nan)[2])


def test_a_large_upload_is_loaded_whole_and_joined(client, published):
    n = 50_000
    t = Table({"id": np.arange(n, dtype=np.int64), "ra": np.full(n, 10.0), "dec": np.full(n, 20.0)})
    t["ra"][1::2] = 200.0  # half of them on a catalogue star, half far from any
    out = io.BytesIO()
    t.write(out, format="votable", tabledata_format="binary2")
    query = (
        "SELECT COUNT(*) AS n FROM TAP_UPLOAD.big AS u "
        f"JOIN {S}.rvs_cnn AS c ON 1 = CONTAINS(POINT('ICRS', c.ra, c.dec), "
        "CIRCLE('ICRS', u.ra, u.dec, 0.0001))"
    )
    table = result(post(client, query, {"b": out.getvalue()}, UPLOAD="big,param:b"))
    assert table["n"][0] == n // 2


def test_an_upload_with_positions_is_loaded_in_q3c_order(published, reader_conn):
    from archive.tap.limits import ANONYMOUS
    from archive.tap.uploads import load, position_columns, read_votable

    rng = np.random.default_rng(5)
    t = Table(
        {"id": np.arange(500), "RA": rng.uniform(0, 360, 500), "Dec": rng.uniform(-90, 90, 500)}
    )
    t["RA"][7] = np.nan  # a row without a position stays, at the end
    out = io.BytesIO()
    t.write(out, format="votable", tabledata_format="binary2")
    upload = read_votable("pos", out.getvalue(), ANONYMOUS)
    assert position_columns(upload.fields) == ("ra", "dec")
    load(reader_conn, [upload])
    rows = reader_conn.execute(
        "SELECT id, q3c_ang2ipix(ra, dec) FROM pg_temp.tap_upload_pos"
    ).fetchall()
    assert len(rows) == 500 and rows[-1][0] == 7
    ipix = [p for _, p in rows[:-1]]
    assert ipix == sorted(ipix)


def test_position_columns_by_ucd_first():
    from archive.metadata.fields import VOField
    from archive.tap.uploads import position_columns

    fields = [
        VOField(name="ra", datatype="double"),
        VOField(name="dec", datatype="double"),
        VOField(name="alpha", datatype="double", ucd="pos.eq.ra;meta.main"),
        VOField(name="delta", datatype="double", ucd="pos.eq.dec;meta.main"),
    ]
    assert position_columns(fields) == ("alpha", "delta")
    assert position_columns(fields[:2]) == ("ra", "dec")
    assert position_columns([VOField(name="ra", datatype="char")]) is None
