"""Personal tables end to end: saved through /tap/user_tables with an API token, queried and
joined with pyvo (sync and async), shared, deleted; and what must fail, failing cleanly."""

import numpy as np
import psycopg
import pytest
import pyvo
import requests
from astropy.table import Table
from django.conf import settings
from django.contrib.auth.models import User
from psycopg import sql

from archive.accounts.models import ApiToken
from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion
from archive.ops.publishing import publish
from archive.tap.models import PersonalTable, TableQuota
from tests.conftest import db_params

S = settings.PUBLISHED_SCHEMA
pytestmark = pytest.mark.django_db(transaction=True)
IDS = list(range(301, 311))
LABELS = ("teff", "logg", "m_h", "alpha_m", "fe_h")


@pytest.fixture
def catalogue(worker_settings):
    version = ModelVersion.objects.create(name="personal", status="ready")
    for sid in IDS:
        GaiaSource.objects.create(source_id=sid, ra=50.0 + sid / 100, dec=20.0)
        CnnLabel.objects.create(
            model_version=version,
            source_id=sid,
            teff=5000.0 + sid,
            logg=2.0,
            m_h=0.0,
            alpha_m=0.0,
            fe_h=0.0,
            **{f"{p}_{k}": 0.1 for p in ("e", "sigma") for k in LABELS},
            flag_boundary="00000000",
        )
    publish(version)
    yield version
    with psycopg.connect(**db_params(), autocommit=True) as conn:
        names = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'user\\_%'"
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class Client:
    """One user as a script sees the service: requests and pyvo with the user's token."""

    def __init__(self, base: str, username: str) -> None:
        self.user = User.objects.create_user(username, password="not-used-here-42")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {ApiToken.issue(self.user)}"
        self.base = f"{base}/tap"
        self.tap = pyvo.dal.TAPService(self.base, session=self.session)

    def save(self, name: str, data: bytes, filename: str = "t.csv", **form) -> requests.Response:
        return self.session.post(
            f"{self.base}/user_tables",
            data={"name": name, **form},
            files={"table": (filename, data)} if data else None,
        )


def _csv(ids=IDS[:4]) -> bytes:
    rows = "".join(f"{sid},{50.0 + sid / 100},20.0,tag{sid}\n" for sid in ids)
    return ("source_id,ra,dec,tag\n" + rows).encode()


@pytest.fixture
def alice(web_service, catalogue):
    return Client(web_service, "alice")


@pytest.fixture
def bob(web_service, catalogue):
    return Client(web_service, "bob")


def _bytes(table: Table, fmt: str, path) -> bytes:
    table.write(path, format=fmt)
    return path.read_bytes()


def test_save_join_share_and_delete_with_pyvo(alice, bob, web_service):
    made = alice.save("mine", _csv())
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "user_alice.mine" and made.json()["rows"] == 4
    join = (
        "SELECT m.tag, c.teff FROM user_alice.mine AS m JOIN "
        f"{S}.rvs_cnn AS c ON c.source_id = m.source_id ORDER BY m.tag"
    )
    assert list(alice.tap.run_sync(join)["teff"]) == [5000.0 + s for s in IDS[:4]]
    assert list(alice.tap.run_async(join)["tag"]) == [f"tag{s}" for s in IDS[:4]]
    xmatch = alice.tap.run_sync(
        f"SELECT m.source_id FROM user_alice.mine AS m JOIN {S}.rvs_cnn AS c ON "
        "1 = CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', m.ra, m.dec, 0.0001))"
    )
    assert sorted(xmatch["source_id"]) == IDS[:4]
    assert "user_alice.mine" in alice.session.get(f"{alice.base}/tables").text
    assert "user_alice" not in bob.session.get(f"{bob.base}/tables").text
    assert "user_alice" not in requests.get(f"{web_service}/tap/tables").text
    with pytest.raises(pyvo.dal.DALQueryError, match="mine"):
        bob.tap.run_sync("SELECT * FROM user_alice.mine")
    assert _tap_schema(alice) == (["user_alice.mine"], ["dec", "ra", "source_id", "tag"])
    assert _tap_schema(bob) == ([], [])
    shared = alice.session.post(f"{alice.base}/user_tables/mine/share", data={"users": "bob"})
    assert shared.json()["shared_with"] == ["bob"]
    assert len(bob.tap.run_sync("SELECT * FROM user_alice.mine")) == 4
    assert "user_alice.mine" in bob.session.get(f"{bob.base}/tables").text
    assert _tap_schema(bob)[0] == ["user_alice.mine"]
    # read-only for bob: he cannot delete it
    assert bob.session.delete(f"{bob.base}/user_tables/mine").status_code == 404
    assert alice.session.delete(f"{alice.base}/user_tables/mine").status_code == 204
    with pytest.raises(pyvo.dal.DALQueryError):
        bob.tap.run_sync("SELECT * FROM user_alice.mine")
    assert not PersonalTable.objects.exists()


def _tap_schema(client: Client) -> tuple[list[str], list[str]]:
    """The personal tables and their columns that TAP_SCHEMA shows this user."""
    tables = client.tap.run_sync(
        "SELECT s.schema_name, t.table_name FROM TAP_SCHEMA.schemas AS s "
        "JOIN TAP_SCHEMA.tables AS t ON t.schema_name = s.schema_name "
        "WHERE s.schema_name LIKE 'user%'"
    )
    columns = client.tap.run_sync(
        "SELECT column_name FROM TAP_SCHEMA.columns WHERE table_name LIKE 'user%'"
    )
    return sorted(tables["table_name"]), sorted(columns["column_name"])


def test_a_finished_jobs_result_becomes_a_table(alice):
    job = alice.tap.submit_job(f"SELECT source_id, ra, dec FROM {S}.rvs_cnn WHERE teff > 5305")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"], timeout=60)
    made = alice.save("hot", b"", job=job.job_id)
    assert made.status_code == 201, made.text
    result = alice.tap.run_sync("SELECT source_id FROM user_alice.hot ORDER BY source_id")
    assert list(result["source_id"]) == IDS[-5:]


@pytest.mark.parametrize("fmt,suffix", [("votable", "xml"), ("ascii.ecsv", "ecsv"),
                                        ("fits", "fits"), ("parquet", "parquet")])  # fmt: skip
def test_each_format_keeps_types_and_units(alice, fmt, suffix, tmp_path):
    table = Table({"source_id": np.array(IDS[:3], dtype=np.int64), "ra": [50.0, 51.0, 52.0]})
    table["ra"].unit = "deg"
    made = alice.save("f", _bytes(table, fmt, tmp_path / f"t.{suffix}"), f"t.{suffix}")
    assert made.status_code == 201, made.text
    result = alice.tap.run_sync("SELECT source_id, ra FROM user_alice.f").to_table()
    assert result["source_id"].dtype == np.int64 and result["ra"].unit == "deg"


def _leftovers(schema: str = "user_alice") -> list:
    with psycopg.connect(**db_params()) as conn:
        return conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]
        ).fetchall()


LIE = b"""<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE><TABLE><FIELD name="source_id" datatype="long"/><DATA><TABLEDATA>
<TR><TD>12</TD></TR><TR><TD>abc</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"""


def test_bad_uploads_names_and_quota_fail_whole(alice):
    lie = alice.save("lie", LIE, "t.xml")
    assert lie.status_code == 400 and "abc" in lie.json()["error"]
    for name in ('x"; DROP TABLE gaia_source; --', "1abc", "a b", "x" * 64):
        assert alice.save(name, _csv()).status_code == 400
    TableQuota.objects.create(user=alice.user, bytes=1000)
    over = alice.save("big", _csv())
    assert over.status_code == 413 and "quota" in over.json()["error"]
    assert not PersonalTable.objects.exists() and _leftovers() == []
    TableQuota.objects.filter(user=alice.user).update(bytes=2**30)
    assert alice.save("dup", _csv()).status_code == 201
    again = alice.save("DUP", _csv())
    assert again.status_code == 409 and "already" in again.json()["error"]
    assert alice.session.get(f"{alice.base}/user_tables").json()["used_bytes"] > 0


@pytest.mark.parametrize(
    "query",
    [
        'SELECT * FROM "user_alice"."secret"',
        "SELECT * FROM user_alice.secret",
        f"SELECT source_id FROM {S}.rvs_cnn WHERE 1=0 "
        "UNION SELECT source_id FROM user_alice.secret",
        f"SELECT c.source_id FROM {S}.rvs_cnn AS c WHERE c.source_id IN "
        "(SELECT source_id FROM user_alice.secret)",
        f"SELECT c.source_id FROM {S}.rvs_cnn AS c JOIN user_alice.secret AS s USING (source_id)",
    ],
)
def test_someone_elses_table_is_unknown_to_the_translator(alice, bob, query):
    assert alice.save("secret", _csv()).status_code == 201
    assert len(alice.tap.run_sync(query)) == 4  # the owner's query runs
    with pytest.raises(pyvo.dal.DALQueryError, match="secret"):
        bob.tap.run_sync(query)
    with pytest.raises(pyvo.dal.DALQueryError, match="PostgreSQL"):
        bob.tap.run_sync("SELECT * FROM user_alice.secret", language="PostgreSQL")


def test_the_database_shows_rows_only_to_readers(alice, bob):
    """Past the translator: the reader role's own query, as bob and then as alice; TAP_SCHEMA
    likewise, also after a rebuild of TAP_SCHEMA, which drops and refills it."""
    from django.core.management import call_command

    assert alice.save("secret", _csv()).status_code == 201
    for rebuilt in (False, True):
        if rebuilt:
            call_command("metadata", "rebuild")
        with psycopg.connect(**db_params("reader"), autocommit=True) as conn:
            for caller, rows in (("bob", 0), ("", 0), ("alice", 4)):
                conn.execute(sql.SQL("SET rvs.caller = {}").format(sql.Literal(caller)))
                assert len(conn.execute("SELECT * FROM user_alice.secret").fetchall()) == rows
                described = conn.execute(
                    "SELECT count(*) FROM tap_schema.columns WHERE table_name = %s",
                    ["user_alice.secret"],
                ).fetchone()[0]
                assert described == rows  # four columns, four rows: alice alone sees either


def test_a_drop_waits_for_a_sharees_query_then_his_next_query_is_told(alice, bob, monkeypatch):
    from archive.errors import Conflict
    from archive.tap import personal

    assert alice.save("shared", _csv()).status_code == 201
    alice.session.post(f"{alice.base}/user_tables/shared/share", data={"users": "bob"})
    monkeypatch.setattr(personal, "DROP_LOCK_TIMEOUT", "200ms")
    with psycopg.connect(**db_params("reader")) as reading:  # bob's query, mid-transaction
        reading.execute("SET rvs.caller = 'bob'")
        assert len(reading.execute("SELECT * FROM user_alice.shared").fetchall()) == 4
        with pytest.raises(Conflict, match="being read"):
            personal.drop(alice.user, "shared")
        assert PersonalTable.objects.filter(name="shared").exists()
        assert _leftovers() == [("shared",)]
    assert alice.session.delete(f"{alice.base}/user_tables/shared").status_code == 204
    job = bob.tap.submit_job("SELECT * FROM user_alice.shared")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"], timeout=60)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="shared"):
        job.raise_if_error()


def test_the_query_pages_panel_saves_shares_and_deletes(client, catalogue):
    from django.core.files.uploadedfile import SimpleUploadedFile

    carol = User.objects.create_user("carol", password="not-used-here-42")
    User.objects.create_user("dave", password="not-used-here-42")
    assert "Log in</a> to keep tables" in client.get("/query/").content.decode()
    client.force_login(carol)
    upload = SimpleUploadedFile("stars.csv", _csv())
    saved = client.post("/query/tables/", {"name": "stars", "table": upload}, follow=True)
    page = saved.content.decode()
    assert "Saved user_carol.stars (4 rows)" in page
    assert 'data-personal-table="user_carol.stars"' in page  # the panel
    assert '<details data-table="user_carol.stars">' in page  # the schema browser
    client.post("/query/tables/stars/share", {"users": "dave"})
    assert list(PersonalTable.objects.get().shared_with.values_list("username", flat=True)) == [
        "dave"
    ]
    bad = client.post("/query/tables/", {"name": "x y", "table": upload}, follow=True)
    assert "table name &#x27;x y&#x27;" in bad.content.decode()
    gone = client.post("/query/tables/stars/delete", follow=True).content.decode()
    assert "Deleted stars" in gone and "No tables yet." in gone
    assert not PersonalTable.objects.exists() and _leftovers("user_carol") == []
    client.post("/query/tables/", {"name": "kept", "table": SimpleUploadedFile("k.csv", _csv())})
    assert _leftovers("user_carol") == [("kept",)]
    carol.delete()  # a deleted user's tables go with them
    assert _leftovers("user_carol") == [] and not PersonalTable.objects.exists()
