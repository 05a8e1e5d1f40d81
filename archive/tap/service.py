"""From a TAP query to SQL and its result columns: ADQL through the translator, PostgreSQL
checked to be one read-only SELECT; both only on the published schemas and TAP_SCHEMA.

The registry is the one source of table and column names (for the translator's checks) and of
the units, UCDs and descriptions the result headers carry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import psycopg
import sqlglot
from django.conf import settings
from django.db import connections
from psycopg import sql as pgsql
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from archive import replicas
from archive.errors import QueryError
from archive.metadata.fields import VOField
from archive.metadata.published import registry
from archive.metadata.registry import Registry, RegistryError
from archive.results.columns import describe
from archive.results.query import archive_error

from . import personal
from .adql import AdqlError, ColumnInfo, TableCatalog, TableInfo, translate
from .uploads import UploadTable
from .uploads import load as load_uploads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedQuery:
    sql: str
    #: per output column its registry field, or None where the result's type decides
    fields: list[VOField | None] | None


@lru_cache(maxsize=4)
def _catalog(reg: Registry) -> TableCatalog:
    return TableCatalog(
        tuple(
            TableInfo(
                f"{schema.name}.{table.name}",
                {c.name: ColumnInfo(c.name, c.datatype, c.unit) for c in table.columns},
                sky_index=_sky_index(table),
            )
            for schema, table in reg.tables()
        )
    )


def _sky_index(table) -> tuple[str, str] | None:
    """(ra, dec) where both are indexed (q3c and spoint): a crossmatch puts them on the
    index side."""
    indexed = {c.name for c in table.columns if c.indexed}
    return ("ra", "dec") if {"ra", "dec"} <= indexed else None


def catalog(extra: tuple[TableInfo, ...] | list[TableInfo] = ()) -> TableCatalog:
    """The tables a query may read: the registry's, plus a request's uploads."""
    base = _catalog(registry())
    return base.with_tables(extra) if extra else base


def _source_field(reg: Registry, source: str) -> VOField | None:
    table, _, column = source.rpartition(".")
    try:
        return reg.table(table).column(column).field
    except RegistryError:
        return None


def prepare_adql(query: str, uploads: Sequence[UploadTable] = (), user=None) -> PreparedQuery:
    """Translate ADQL; columns taken as they are from a table keep its metadata. The caller's
    personal tables (own and shared) are known to it, no one else's."""
    mine = personal.readable(user)
    extra = [u.table_info() for u in uploads] + [personal.table_info(t) for t in mine]
    try:
        translation = translate(query, catalog(extra))
    except AdqlError as exc:
        raise QueryError(str(exc)) from exc
    except (SqlglotError, IndexError, RecursionError) as exc:
        # the parser's own slip on malformed text (sqlglot raises IndexError on an unclosed
        # comment): still the query's fault, and the user hears so, not a 500
        log.warning("ADQL translation failed outside AdqlError: %r on %r", exc, query[:200])
        raise QueryError(f"the query could not be read: {exc}") from exc
    reg = registry()
    uploaded = {f"tap_upload.{u.name.lower()}": u.fields for u in uploads}
    uploaded |= {t.qualified: personal.fields_of(t) for t in mine}

    def known_field(source: str) -> VOField | None:
        table, _, column = source.rpartition(".")
        if table.lower() in uploaded:
            return next((f for f in uploaded[table.lower()] if f.name == column.lower()), None)
        return _source_field(reg, source)

    fields: list[VOField | None] = []
    for out in translation.columns:
        if out.xtype:
            fields.append(geometry_field(out.name, out.xtype))
            continue
        known = known_field(out.source) if out.source else None
        fields.append(None if known is None else replace(known, name=out.name))
    return PreparedQuery(translation.sql, fields)


#: DALI 1.1 shapes: double arrays in degrees, of fixed length for a point and a circle
_SHAPE_SIZES = {"point": "2", "circle": "3", "polygon": "*"}


def geometry_field(name: str, xtype: str) -> VOField:
    """The field of a geometry in a SELECT list: DALI's double array with its xtype, or a MOC
    as DALI 1.2's ASCII serialisation (char, xtype moc)."""
    if xtype == "moc":
        return VOField(name, "char", arraysize="*", xtype="moc")
    return VOField(name, "double", arraysize=_SHAPE_SIZES[xtype], xtype=xtype, unit="deg")


def result_fields(connection: psycopg.Connection, prepared: PreparedQuery) -> list[VOField]:
    """Every output column's field: the registry's where known, else from the result's types
    (planned, not run)."""
    if prepared.fields is not None and None not in prepared.fields:
        return list(prepared.fields)
    try:
        with connection.cursor() as cur:
            described = describe(cur, prepared.sql)
    except psycopg.Error as exc:
        raise archive_error(exc) from exc
    if prepared.fields is None:
        return described
    return [d if f is None else f for f, d in zip(prepared.fields, described, strict=True)]


#: PostgreSQL functions refused by name, for a friendly message only: the database refuses
#: them and the rest by its grants, however they are spelled (scripts/sql/database.sql).
REFUSED_FUNCTIONS = frozenset({"set_config", "pg_sleep_until", "dblink", "query_to_xml"})


def prepare_postgresql(query: str) -> PreparedQuery:
    """Check a LANG=PostgreSQL query: one SELECT (or set operation), nothing that writes, locks
    or sets; which tables it may read is the read-only role's grants' business."""
    try:
        statements = [s for s in sqlglot.parse(query, read="postgres") if s is not None]
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        where = f" at line {error.get('line')}, column {error.get('col')}" if error else ""
        raise QueryError(
            f"the query does not parse as PostgreSQL{where}: {error.get('description', exc)}"
        ) from exc
    except (SqlglotError, IndexError, RecursionError) as exc:  # unclosed quotes, comments
        raise QueryError(f"the query does not parse as PostgreSQL: {exc}") from exc
    if len(statements) != 1:
        raise QueryError(f"one statement per query, found {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise QueryError(f"only SELECT queries run here, not {tree.key.upper()}")
    if tree.find(exp.Into, exp.Lock):
        raise QueryError("SELECT ... INTO and FOR UPDATE/SHARE are not allowed")
    for table in tree.find_all(exp.Table):
        # personal tables through ADQL only; pg_stats would show their commonest values
        if table.db.lower().startswith("user_") or table.name.lower().startswith("pg_stat"):
            raise QueryError(f"{table.sql()} is not readable with LANG=PostgreSQL")
    for func in tree.find_all(exp.Anonymous, exp.Func):
        name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
        if name in REFUSED_FUNCTIONS:
            raise QueryError(f"the function {name} is not allowed")
    return PreparedQuery(query.strip().rstrip(";"), None)


def prepare(lang: str, query: str, uploads: Sequence[UploadTable] = (), user=None) -> PreparedQuery:
    if lang == "ADQL":
        return prepare_adql(query, uploads, user)
    if uploads:
        raise QueryError("uploads go with LANG=ADQL (as TAP_UPLOAD.name)")
    return prepare_postgresql(query)


def open_reader(server: replicas.Server | None = None) -> psycopg.Connection:
    """A new autocommit connection of the read-only role, on the primary unless ``server``
    names a replica (one with uploads stays on the primary: a standby has no temporary
    tables, and they go when it is closed)."""
    s = connections["reader"].settings_dict
    extra = {}
    if server is not None and not server.is_primary:
        # a stopped replica must cost a request little before it is skipped
        extra = {
            "host": server.host,
            "port": server.port,
            "connect_timeout": settings.RVS_REPLICA_CONNECT_TIMEOUT_S,
        }
    return psycopg.connect(
        **{
            "host": s["HOST"],
            "port": s["PORT"],
            "user": s["USER"],
            "password": s["PASSWORD"],
            # the primary's name: under pytest the reader mirrors the test database
            "dbname": connections["default"].settings_dict["NAME"],
            "autocommit": True,
            "application_name": "rvscnn-tap",
            **extra,
        }
    )


def set_timeout(conn: psycopg.Connection, timeout_s: int, caller: str = "") -> None:
    """The query's statement timeout, and its caller, whose personal tables the database's
    policies then show (every query sets it: a thread's connection serves many callers)."""
    # SET, a command: the reader may not execute set_config (scripts/sql/database.sql)
    with conn.cursor() as cur:
        cur.execute(
            pgsql.SQL("SET statement_timeout = {}; SET rvs.caller = {}").format(
                pgsql.Literal(f"{int(timeout_s)}s"), pgsql.Literal(caller)
            )
        )


_local = threading.local()
_opened: set[psycopg.Connection] = set()
_opened_lock = threading.Lock()


def reader_connection(timeout_s: int, caller: str = "") -> psycopg.Connection:
    """This thread's connection of the read-only role to the server the read goes to (a
    replica that has replayed the publication fence, else the primary: archive/replicas.py),
    in autocommit, with the statement timeout of the query's queue (sync or async) and the
    caller whose personal tables it may read.

    Its own connection, not Django's ``reader`` alias: a result streams after the view has
    returned, in a transaction of its own, which Django's transaction handling must not wrap.
    """
    conns: dict[str, psycopg.Connection] = _local.__dict__.setdefault("connections", {})

    def probe(server: replicas.Server) -> str | None:
        conn = conns.get(server.alias)
        if conn is None or conn.closed or conn.broken:
            conn = conns[server.alias] = open_reader(server)
            with _opened_lock:
                _opened.add(conn)
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.rollback()  # a stream its client dropped
            set_timeout(conn, timeout_s, caller)
            with conn.cursor() as cur:
                cur.execute("SELECT pg_last_wal_replay_lsn()::text")  # how far it has replayed
                return cur.fetchone()[0]
        except psycopg.OperationalError:
            conn.close()
            raise

    return conns[replicas.choose(probe).alias]


def close_reader_connections() -> None:
    """Close every thread's reader connection (at shutdown, and before a test database goes)."""
    with _opened_lock:
        for conn in _opened:
            conn.close()
        _opened.clear()


def caller_of(user) -> str:
    return user.username if user is not None and user.is_authenticated else ""


def query_connection(
    uploads: Sequence[UploadTable], timeout_s: int, user=None
) -> tuple[psycopg.Connection, bool]:
    """The connection a query runs on, and whether it is its own: with uploads a new one
    holding their temporary tables (the caller closes it after the result), else the thread's."""
    if not uploads:
        return reader_connection(timeout_s, caller_of(user)), False
    conn = open_reader()
    try:
        set_timeout(conn, timeout_s, caller_of(user))
        load_uploads(conn, uploads)
    except BaseException:
        conn.close()
        raise
    return conn, True
