"""From a TAP query to SQL and its result columns: ADQL through the translator, PostgreSQL
checked to be one read-only SELECT; both only on the published schemas and TAP_SCHEMA.

The registry is the one source of table and column names (for the translator's checks) and of
the units, UCDs and descriptions the result headers carry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from functools import lru_cache

import psycopg
import sqlglot
from django.db import connections
from sqlglot import exp
from sqlglot.errors import ParseError

from archive.errors import QueryError
from archive.metadata.fields import VOField
from archive.metadata.published import registry
from archive.metadata.registry import Registry, RegistryError

from .adql import AdqlError, ColumnInfo, TableCatalog, TableInfo, translate


@dataclass(frozen=True)
class PreparedQuery:
    sql: str
    fields: list[VOField] | None  # None: the writers derive them from the result's types


@lru_cache(maxsize=4)
def _catalog(reg: Registry) -> TableCatalog:
    return TableCatalog(
        tuple(
            TableInfo(
                f"{schema.name}.{table.name}",
                {c.name: ColumnInfo(c.name, c.datatype, c.unit) for c in table.columns},
            )
            for schema, table in reg.tables()
        )
    )


def catalog(extra: tuple[TableInfo, ...] = ()) -> TableCatalog:
    """The tables a query may read: the registry's, plus a request's uploads."""
    base = _catalog(registry())
    return base.with_tables(extra) if extra else base


def _source_field(reg: Registry, source: str) -> VOField | None:
    table, _, column = source.rpartition(".")
    try:
        return reg.table(table).column(column).field
    except RegistryError:
        return None


def prepare_adql(query: str, extra: tuple[TableInfo, ...] = ()) -> PreparedQuery:
    """Translate ADQL; columns taken as they are from a table keep its metadata."""
    try:
        translation = translate(query, catalog(extra))
    except AdqlError as exc:
        raise QueryError(str(exc)) from exc
    reg = registry()
    fields: list[VOField] = []
    for out in translation.columns:
        known = _source_field(reg, out.source) if out.source else None
        if known is None:
            return PreparedQuery(translation.sql, None)  # types from PostgreSQL
        fields.append(replace(known, name=out.name))
    return PreparedQuery(translation.sql, fields)


#: PostgreSQL functions a user's SQL may not call, though the reader may (Django needs
#: set_config); the database refuses the rest by its grants (scripts/sql/database.sql).
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
    if len(statements) != 1:
        raise QueryError(f"one statement per query, found {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise QueryError(f"only SELECT queries run here, not {tree.key.upper()}")
    if tree.find(exp.Into, exp.Lock):
        raise QueryError("SELECT ... INTO and FOR UPDATE/SHARE are not allowed")
    for func in tree.find_all(exp.Anonymous, exp.Func):
        name = (func.name if isinstance(func, exp.Anonymous) else func.sql_name()).lower()
        if name in REFUSED_FUNCTIONS:
            raise QueryError(f"the function {name} is not allowed")
    return PreparedQuery(query.strip().rstrip(";"), None)


def prepare(lang: str, query: str, extra: tuple[TableInfo, ...] = ()) -> PreparedQuery:
    if lang == "ADQL":
        return prepare_adql(query, extra)
    return prepare_postgresql(query)


_local = threading.local()
_opened: set[psycopg.Connection] = set()
_opened_lock = threading.Lock()


def reader_connection(timeout_s: int) -> psycopg.Connection:
    """This thread's connection of the read-only role, in autocommit, with the statement
    timeout of the query's queue (sync or async).

    Its own connection, not Django's ``reader`` alias: a result streams after the view has
    returned, in a transaction of its own, which Django's transaction handling must not wrap.
    """
    conn = getattr(_local, "connection", None)
    if conn is None or conn.closed or conn.broken:
        s = connections["reader"].settings_dict
        conn = psycopg.connect(
            host=s["HOST"],
            port=s["PORT"],
            user=s["USER"],
            password=s["PASSWORD"],
            dbname=s["NAME"],
            autocommit=True,
            application_name="rvscnn-tap",
        )
        _local.connection = conn
        with _opened_lock:
            _opened.add(conn)
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()  # a stream its client dropped
    with conn.cursor() as cur:
        cur.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout_s}s"])
    return conn


def close_reader_connections() -> None:
    """Close every thread's reader connection (at shutdown, and before a test database goes)."""
    with _opened_lock:
        for conn in _opened:
            conn.close()
        _opened.clear()
