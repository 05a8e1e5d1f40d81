"""The private PostgreSQL (pg_sphere, q3c) and Redis really run and behave."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import services  # noqa: E402

pytestmark = pytest.mark.django_db


def test_pg_sphere_answers_a_containment_query():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT spoint(radians(10.0), radians(20.0)) "
            "@ scircle(spoint(radians(10.01), radians(20.0)), radians(0.1)), "
            "spoint(radians(10.0), radians(20.0)) "
            "@ scircle(spoint(radians(50.0), radians(20.0)), radians(0.1))"
        )
        assert cur.fetchone() == (True, False)


def test_q3c_answers_a_cone_query():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT q3c_radial_query(10.0, 20.0, 10.05, 20.0, 0.1), "
            "q3c_radial_query(10.0, 20.0, 11.0, 20.0, 0.1), "
            "round(q3c_dist(0, 0, 1, 0)::numeric, 6)"
        )
        assert cur.fetchone() == (True, False, 1)


def test_sky_indexes_serve_q3c_and_pg_sphere_queries():
    """The expression indexes match the SQL that cone search and the ADQL translator emit."""
    with connection.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        cur.execute(
            "EXPLAIN SELECT source_id FROM gaia_source "
            "WHERE q3c_radial_query(ra, dec, 10.0, 20.0, 0.1)"
        )
        assert "gaia_source_q3c" in "\n".join(r[0] for r in cur.fetchall())
        cur.execute(
            "EXPLAIN SELECT source_id FROM gaia_source WHERE spoint(RADIANS(ra), "
            "RADIANS(dec)) @ scircle(spoint(RADIANS(10.0), RADIANS(20.0)), 0.001)"
        )
        assert "gaia_source_spoint" in "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan")


def test_pgsphere_fix_removes_only_the_conflicting_hints():
    block = """CREATE OPERATOR @ (
   LEFTARG    = spoint,
   RIGHTARG   = smoc,
   PROCEDURE  = spoint_subset_smoc,
   COMMUTATOR = '@>',
   NEGATOR    = '!<@',
   RESTRICT   = contsel,
   JOIN       = contjoinsel
);
CREATE OPERATOR @ (
   LEFTARG    = spoint,
   RIGHTARG   = scircle,
   PROCEDURE  = spoint_contained_by_circle,
   COMMUTATOR = '~',
   NEGATOR    = '!@',
   RESTRICT   = contsel,
   JOIN       = contjoinsel
);
"""
    fixed, n = services.patch_pgsphere_sql(block)
    assert n == 1
    assert "'@>'" not in fixed and "'!<@'" not in fixed
    assert "PROCEDURE  = spoint_subset_smoc," in fixed and "RESTRICT" in fixed
    assert "COMMUTATOR = '~'" in fixed  # the non-deprecated operator keeps its hints
    assert services.patch_pgsphere_sql(fixed) == (fixed, 0)  # idempotent


def test_installed_pgsphere_script_is_fixed():
    script = services.PG_EXTENSION_DIR / "pg_sphere--1.2.0.sql"
    assert services.patch_pgsphere_sql(script.read_text())[1] == 0


def test_starting_running_services_again_is_harmless():
    with connection.cursor() as cur:
        cur.execute("SELECT pg_postmaster_start_time()")
        started = cur.fetchone()[0]
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "services.py"), "start", "test"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "PostgreSQL already running" in out.stdout
        assert "Redis already running" in out.stdout
    with connection.cursor() as cur:
        cur.execute("SELECT pg_postmaster_start_time()")
        assert cur.fetchone()[0] == started  # not restarted


def test_services_listen_on_loopback_only():
    with connection.cursor() as cur:
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"
        cur.execute("SELECT host(inet_server_addr()), inet_server_port()")
        host, port = cur.fetchone()
    assert host == "127.0.0.1" and port not in (5432, 6379)
    conf = services.instances()["test"].pg_data / "rvscnn.conf"
    assert "unix_socket_directories = ''" in conf.read_text()  # never meets a system cluster


def test_redis_broker_answers():
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert client.ping()
    assert client.connection_pool.connection_kwargs["host"] == "127.0.0.1"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=client.connection_pool.connection_kwargs["port"]).ping()


@pytest.mark.parametrize("pidfile", services.WORKER_PIDFILES)
@pytest.mark.parametrize("ignores_term", [False, True])
def test_stop_takes_the_worker_down_before_its_broker(tmp_path, monkeypatch, ignores_term, pidfile):
    monkeypatch.setenv("RVS_VAR_DIR", str(tmp_path))
    inst = services.Instance("w", 1, 2, durable=False)
    inst.var.mkdir(parents=True)
    handler = "signal.SIG_IGN" if ignores_term else "signal.SIG_DFL"
    code = f"import signal, time; signal.signal(signal.SIGTERM, {handler}); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.3)  # the handler is in place
        (inst.var / pidfile).write_text(f"{proc.pid}\n")
        t0 = time.monotonic()
        services.stop_worker(inst, grace_s=0.5)
        assert proc.poll() is not None and not services.process_alive(proc.pid)
        assert not (inst.var / pidfile).exists()
        # a worker that honours SIGTERM is gone at once; one that does not, after the grace
        assert (time.monotonic() - t0 >= 0.5) == ignores_term
        services.stop_worker(inst)  # nothing to stop: a no-op
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("service", ["PostgreSQL", "Redis"])
def test_a_port_held_by_another_process_is_named(tmp_path, monkeypatch, service):
    """Two checkouts share the instances' ports: the second start says so, not a server log."""
    monkeypatch.setenv("RVS_VAR_DIR", str(tmp_path))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        inst = services.Instance("other", port, port, durable=False)
        start = services.start_pg if service == "PostgreSQL" else services.start_redis
        taken = f"{service} cannot start, 127.0.0.1:{port} is taken"
        with pytest.raises(services.ServiceError, match=taken):
            start(inst, {"redis": "x"})
        assert not (tmp_path / "other").exists()  # nothing was created for it
    services.ensure_port_free(inst, service, port)  # free again once the holder has gone
