"""The read-only role that serves user queries: reads the published schema, nothing else."""

import psycopg
import pytest
from django.conf import settings

from archive.catalogue.models import GaiaSource

pytestmark = pytest.mark.django_db(transaction=True)
SCHEMA = settings.PUBLISHED_SCHEMA


def test_reader_reads_the_published_schema(reader_conn):
    GaiaSource.objects.create(source_id=42, ra=10.0, dec=-5.0)
    rows = reader_conn.execute(f"SELECT source_id, ra, dec FROM {SCHEMA}.gaia_source").fetchall()
    assert rows == [(42, 10.0, -5.0)]


def test_reader_uses_pg_sphere_and_q3c_on_published_rows(reader_conn):
    GaiaSource.objects.create(source_id=7, ra=150.0, dec=2.0)
    sql = (
        f"SELECT source_id FROM {SCHEMA}.gaia_source WHERE "
        "q3c_radial_query(ra, dec, 150.0, 2.0, 0.01) AND "
        "spoint(radians(ra), radians(dec)) @ scircle(spoint(radians(150), radians(2)), 0.001)"
    )
    assert reader_conn.execute(sql).fetchall() == [(7,)]


def test_reader_cannot_insert(reader_conn):
    # two locks: every transaction of the role is read-only, and it holds no write privilege
    assert reader_conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader_conn.execute("CREATE TEMP TABLE scratch (x int)")
    reader_conn.execute("SET default_transaction_read_only = off")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute(
            f"INSERT INTO {SCHEMA}.gaia_source (source_id, ra, dec) VALUES (1, 0, 0)"
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute("CREATE TABLE public.sneaky (x int)")
    assert not GaiaSource.objects.filter(source_id=1).exists()


@pytest.mark.parametrize(
    "table", ["auth_user", "django_session", "gaia_source", "cnn_label", "model_version"]
)
def test_reader_cannot_read_internal_tables(reader_conn, table):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute(f"SELECT * FROM public.{table} LIMIT 1")


def test_reader_has_a_statement_timeout(reader_conn):
    timeout = reader_conn.execute("SHOW statement_timeout").fetchone()[0]
    assert timeout not in ("0", "")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT pg_advisory_lock(1)",  # the spectrum store's writers hold advisory locks
        "SELECT pg_try_advisory_xact_lock(1)",
        "SELECT pg_cancel_backend(pg_backend_pid())",  # every TAP user shares the role
        "SELECT pg_terminate_backend(1)",
        "SELECT pg_notify('x', 'y')",
        "SELECT count(*) FROM pg_stat_activity",  # other users' query texts
    ],
)
def test_reader_cannot_reach_other_sessions(reader_conn, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        reader_conn.execute(sql)


def test_the_owner_can_lock_and_cancel_the_readers_queries(reader_conn):
    from django.db import connection

    pid = reader_conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(12345), pg_advisory_unlock(12345)")
        assert cur.fetchone() == (True, True)
        cur.execute("SELECT pg_cancel_backend(%s)", [pid])  # pg_signal_backend
        assert cur.fetchone() == (True,)


def test_reader_runs_without_jit(reader_conn):
    """JIT compilation costs TAP's short queries more than it saves (docs/benchmarks.md)."""
    assert reader_conn.execute("SHOW jit").fetchone()[0] == "off"
