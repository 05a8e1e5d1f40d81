"""Reads on PostgreSQL hot standbys: which server a read goes to, and the publication fence.

User reads (TAP sync and async, cone search, DataLink, the web searches) go to a healthy
replica, round robin; everything else, and every write, to the primary ("default"). A replica
that does not answer is marked down for ``RVS_REPLICA_RETRY_S`` and skipped; the primary is
always the last resort. A publication records the primary's WAL position after it commits
(the fence, in Redis, shared by every process); a replica is read only once it has replayed
that far, so nobody sees the old catalogue after the new one has been shown.

Within a request (``ReplicaReadsMiddleware``) the first read picks the server and the rest of
the request keeps it, so one page or result never mixes servers.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, connections, transaction

log = logging.getLogger(__name__)

PRIMARY = "default"
FENCE_KEY = "rvscnn:replicas:fence_lsn"
#: apps whose models hold the published catalogue: read on a replica inside a request scope
CATALOGUE_APPS = frozenset({"catalogue", "metadata"})
#: URL namespaces whose requests read from replicas (their writes still go to the primary)
READ_NAMESPACES = frozenset({"web", "datalink", "tap"})


class Health(enum.Enum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Server:
    alias: str
    host: str
    port: int

    @property
    def is_primary(self) -> bool:
        return self.alias == PRIMARY


def primary() -> Server:
    s = settings.DATABASES[PRIMARY]
    return Server(PRIMARY, s["HOST"], int(s["PORT"]))


def replicas() -> list[Server]:
    """The configured replicas (``RVS_DB_REPLICAS``), or none when replica reads are off."""
    if not settings.RVS_REPLICA_READS:
        return []
    out = []
    for i, address in enumerate(settings.RVS_DB_REPLICAS):
        host, _, port = address.rpartition(":")
        out.append(Server(f"replica_{i}", host, int(port)))
    return out


class Pool:
    """Round robin over the replicas and their health, per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._down_until: dict[str, float] = {}

    def health(self, server: Server) -> Health:
        with self._lock:
            return (
                Health.DOWN
                if self._down_until.get(server.alias, 0) > time.monotonic()
                else (Health.UP)
            )

    def mark_down(self, server: Server) -> None:
        log.warning(
            "replica %s (%s:%s) does not answer; skipped", server.alias, server.host, server.port
        )
        with self._lock:
            self._down_until[server.alias] = time.monotonic() + settings.RVS_REPLICA_RETRY_S
        _drop_orm_connection(server.alias)

    def order(self) -> list[Server]:
        """The healthy replicas, the next one in turn first, then the primary."""
        reps = [r for r in replicas() if self.health(r) is Health.UP]
        if reps:
            start = next(self._turn) % len(reps)
            reps = reps[start:] + reps[:start]
        return [*reps, primary()]

    def reset(self) -> None:
        with self._lock:
            self._down_until.clear()


pool = Pool()


# --- the publication fence -----------------------------------------------------------------


def lsn_int(lsn: str) -> int:
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=0.5, socket_connect_timeout=0.5
    )


#: keeps the larger fence: two publications' callbacks may arrive in either order
_RAISE = (
    "local o = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if tonumber(ARGV[1]) > o then redis.call('SET', KEYS[1], ARGV[1]) end return 1"
)


def _primary_insert_lsn() -> int:
    # the insert position, not the flushed one: with synchronous_commit off the commit record
    # may not be flushed yet, and it is what a replica must have replayed
    with connections[PRIMARY].cursor() as cur:
        cur.execute("SELECT pg_current_wal_insert_lsn()::text")
        return lsn_int(cur.fetchone()[0])


def record_fence() -> None:
    """Raise the fence to the primary's WAL position now (after a publication commits)."""
    lsn = _primary_insert_lsn()
    try:
        _redis().eval(_RAISE, 1, FENCE_KEY, lsn)
    except redis.RedisError:
        log.exception("publication fence not recorded; deleting it sends reads to the primary")
        with contextlib.suppress(redis.RedisError):
            _redis().delete(FENCE_KEY)


def fence_on_commit(using: str = PRIMARY) -> None:
    """Record the fence once the current transaction (a publication) has committed."""
    if replicas_configured():
        transaction.on_commit(record_fence, using=using)


def replicas_configured() -> bool:
    return bool(settings.RVS_DB_REPLICAS)


def current_fence() -> int | None:
    """The fence, or None when unknown (Redis unreachable): then only the primary is read."""
    try:
        value = _redis().get(FENCE_KEY)
        if value is None:
            # lost (Redis restarted): the primary's position now is safe, if strict
            _redis().set(FENCE_KEY, _primary_insert_lsn(), nx=True)
            value = _redis().get(FENCE_KEY)
        return int(value)
    except (redis.RedisError, psycopg.Error, ValueError):  # unknown: no replica is trusted
        log.warning("publication fence unreadable; reading from the primary", exc_info=True)
        return None


# --- choosing a server ---------------------------------------------------------------------

#: probe(server) -> the server's replayed WAL position (None on the primary); raises
#: psycopg.OperationalError when the server does not answer
Probe = Callable[[Server], "str | None"]


@dataclass
class _Pin:
    server: Server | None = None


_pin: ContextVar[_Pin | None] = ContextVar("rvscnn_replica_pin", default=None)


@contextmanager
def replica_reads() -> Iterator[None]:
    """A scope (a request) whose reads all go to the one server its first read picks."""
    token = _pin.set(_Pin())
    try:
        yield
    finally:
        _pin.reset(token)


def choose(probe: Probe) -> Server:
    """The server this read uses: the scope's, or the next healthy replica that has replayed
    the fence, else the primary. The primary's own failure propagates."""
    pin = _pin.get()
    order = pool.order()
    if pin is not None and pin.server is not None:
        order = [pin.server, *(s for s in order if s != pin.server)]
    fence: int | None = -1
    for server in order:
        if server.is_primary:
            probe(server)
            break
        try:
            replayed = probe(server)
        except psycopg.OperationalError:
            pool.mark_down(server)
            continue
        if fence == -1:
            fence = current_fence()
        if replayed is not None and fence is not None and lsn_int(replayed) >= fence:
            break
    if pin is not None:
        pin.server = server
    return server


def read_alias() -> str:
    """The Django alias of the scope's server (outside a scope: the primary)."""
    pin = _pin.get()
    if pin is None or not replicas():
        return PRIMARY
    if pin.server is None:
        from archive.tap.service import reader_connection

        reader_connection(settings.RVS_REPLICA_CONNECT_TIMEOUT_S)  # picks and pins
    server = pin.server or primary()
    if not server.is_primary:
        register_alias(server)
    return server.alias


def _drop_orm_connection(alias: str) -> None:
    """Close this thread's Django connection to a replica found down: it would outlive the
    standby's restart (between requests, CONN_HEALTH_CHECKS catches one that died unseen)."""
    if alias not in connections.settings:
        return
    conn = connections[alias]
    if conn.connection is None:
        return
    with contextlib.suppress(DatabaseError):
        conn.close()


def register_alias(server: Server) -> None:
    """A Django alias for a replica: the primary's settings (its test database name under
    pytest) at the replica's address; a mirror, so tests never create or flush it."""
    if server.alias not in connections.settings:
        connections.settings[server.alias] = {
            **connections[PRIMARY].settings_dict,
            "HOST": server.host,
            "PORT": str(server.port),
            "TEST": {"MIRROR": PRIMARY},
        }


class ReplicaRouter:
    """Catalogue reads inside a replica scope go to its server; all else to the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in CATALOGUE_APPS:
            return read_alias()
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the primary's rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


class ReplicaReadsMiddleware:
    """Reads of the TAP, DataLink and web pages go to replicas, one server per request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request._replica_scope = None
        try:
            return self.get_response(request)
        finally:
            if request._replica_scope is not None:
                request._replica_scope.__exit__(None, None, None)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        namespace = match.namespace if match else ""
        reads = request.method in ("GET", "HEAD") or namespace == "tap"
        if namespace in READ_NAMESPACES and reads and replicas():
            request._replica_scope = replica_reads()
            request._replica_scope.__enter__()
        return None
