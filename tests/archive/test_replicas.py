"""Reads on the test instance's real hot standby: routing, fall-back, the publication fence."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from archive import replicas
from archive.tap.service import close_reader_connections, reader_connection

REPO = Path(__file__).resolve().parents[2]
# replica_0 is allowed in these tests; a mirror, so it is never flushed
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "reader", "replica_0"])


@pytest.fixture(scope="module", autouse=True)
def replica_aliases(django_db_setup, settings_module=None):
    from django.conf import settings

    for i, address in enumerate(settings.RVS_DB_REPLICAS):
        host, _, port = address.rpartition(":")
        replicas.register_alias(replicas.Server(f"replica_{i}", host, int(port)))


def services(*args: str) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "services.py"), *args],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=300,
    )
    assert out.returncode == 0, f"services.py {' '.join(args)} failed:\n{out.stdout}{out.stderr}"


def in_recovery(conn: psycopg.Connection) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        return cur.fetchone()[0]


def read_server() -> str:
    return "replica" if in_recovery(reader_connection(5)) else "primary"


def until_caught_up(standby: psycopg.Connection, timeout_s: float = 30.0) -> None:
    """Wait until the standby has replayed all the primary has written so far: pausing replay
    in the middle of a transaction that holds a table lock (a partition created, a flush)
    would leave that lock held on the standby, and a read of the table waiting for ever."""
    with connections["default"].cursor() as cur:
        cur.execute("SELECT pg_current_wal_insert_lsn()")
        target = cur.fetchone()[0]
    deadline = time.monotonic() + timeout_s
    replayed = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
    while not standby.execute(replayed, [target]).fetchone()[0]:
        assert time.monotonic() < deadline, "the replica did not catch up with the primary"
        time.sleep(0.1)


def until_replica(timeout_s: float = 20.0) -> None:
    """Wait until reads go to the replica again (it has replayed the fence)."""
    deadline = time.monotonic() + timeout_s
    while read_server() != "replica":
        assert time.monotonic() < deadline, "the replica never caught up with the fence"
        time.sleep(0.1)


@pytest.fixture
def replica_reads(settings):
    assert settings.RVS_DB_REPLICAS, "the test instance runs no replica: services.py start test"
    settings.RVS_REPLICA_READS = True
    settings.RVS_EXPORT_ON_PUBLISH = False
    replicas.pool.reset()
    yield settings
    close_reader_connections()
    replicas.pool.reset()


def test_user_reads_go_to_the_replica_and_the_rest_to_the_primary(replica_reads):
    from archive.catalogue.models import ModelVersion
    from archive.jobs.models import Job

    until_replica()
    with replicas.replica_reads():
        alias = ModelVersion.objects.all().db
        assert alias == "replica_0"
        assert Job.objects.all().db == "default"  # bookkeeping: the primary
        ModelVersion.objects.count()  # the ORM reads on the standby
        assert in_recovery(connections[alias])
        assert read_server() == "replica"  # the raw reads of the request keep the same server
    assert ModelVersion.objects.all().db == "default"  # outside a request scope: the primary
    assert ModelVersion.objects.db_manager().db == "default"


def test_replica_reads_off_read_the_primary(replica_reads):
    replica_reads.RVS_REPLICA_READS = False
    assert read_server() == "primary"


def test_round_robin_turns_over_the_healthy_replicas(replica_reads):
    replica_reads.RVS_DB_REPLICAS = [*replica_reads.RVS_DB_REPLICAS, "127.0.0.1:9"]
    firsts = {replicas.pool.order()[0].alias for _ in range(4)}
    assert firsts == {"replica_0", "replica_1"}
    assert replicas.pool.order()[-1].is_primary
    # port 9 answers nothing: skipped, marked down, and out of the turn
    for _ in range(4):
        assert read_server() in {"replica", "primary"}
    assert replicas.pool.health(replicas.replicas()[1]) is replicas.Health.DOWN
    assert {replicas.pool.order()[0].alias for _ in range(4)} == {"replica_0"}


def test_a_stopped_replica_is_skipped_and_the_primary_answers(replica_reads):
    until_replica()
    conn = reader_connection(5)  # this thread's replica connection, dead once it stops
    services("stop", "test", "--replica", "0")
    try:
        started = time.monotonic()
        assert read_server() == "primary"
        assert read_server() == "primary"
        assert time.monotonic() - started < 3
        assert conn.closed
        assert replicas.pool.health(replicas.replicas()[0]) is replicas.Health.DOWN
    finally:
        services("start", "test", "--replica", "0")
    replicas.pool.reset()  # else it waits out RVS_REPLICA_RETRY_S
    until_replica()


def test_a_replica_behind_a_publication_is_not_read_for_it(replica_reads):
    from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion
    from archive.ops.publishing import publish

    version = ModelVersion.objects.create(name="fenced", status="ready")
    GaiaSource.objects.create(source_id=42, ra=1.0, dec=2.0, parallax=1.0)
    errors = {
        f"{p}_{k}": 1.0 for p in ("e", "sigma") for k in ("teff", "logg", "m_h", "alpha_m", "fe_h")
    }
    CnnLabel.objects.create(
        model_version=version,
        source_id=42,
        teff=5000,
        logg=4,
        m_h=0,
        alpha_m=0,
        fe_h=0,
        flag_boundary="00000000",
        **errors,
    )
    until_replica()
    replica = replicas.replicas()[0]
    params = {**connections["default"].settings_dict}
    owner = psycopg.connect(
        host=replica.host,
        port=replica.port,
        user=params["USER"],
        password=params["PASSWORD"],
        dbname=params["NAME"],
        autocommit=True,
        connect_timeout=5,
        options="-c lock_timeout=20s",  # a lock replay left held fails the test, not the suite
    )
    published_sql = "SELECT name FROM model_version WHERE is_published"
    try:
        until_caught_up(owner)
        owner.execute("SELECT pg_wal_replay_pause()")
        publish(version)  # commits: the fence moves past what the replica has replayed
        with replicas.replica_reads():
            conn = reader_connection(5)
            assert not in_recovery(conn)  # the primary, which has the new version
            assert ModelVersion.objects.all().db == "default"
            assert ModelVersion.objects.get(is_published=True).name == "fenced"
        # the standby itself still shows the old catalogue: it must not have been read
        assert owner.execute(published_sql).fetchall() == []
    finally:
        owner.execute("SELECT pg_wal_replay_resume()")
    until_replica()
    with replicas.replica_reads():
        assert ModelVersion.objects.all().db == "replica_0"
        assert ModelVersion.objects.get(is_published=True).name == "fenced"
    owner.close()


def tap_server(client) -> str:
    """Which server a TAP sync query over HTTP ran on."""
    response = client.get(
        "/tap/sync",
        {
            "REQUEST": "doQuery",
            "LANG": "PostgreSQL",
            "FORMAT": "csv",
            "QUERY": "SELECT pg_is_in_recovery() AS standby",
        },
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode().split()
    assert body[0] == "standby"
    return {"True": "replica", "False": "primary", "t": "replica", "f": "primary"}[body[1]]


def test_a_tap_request_is_served_by_the_replica_then_the_primary_when_it_stops(
    replica_reads, client
):
    until_replica()
    assert tap_server(client) == "replica"
    services("stop", "test", "--replica", "0")
    try:
        assert tap_server(client) == "primary"
    finally:
        services("start", "test", "--replica", "0")
    replicas.pool.reset()
    until_replica()
    assert tap_server(client) == "replica"
