"""Personal tables (as ESA's TAP+ and CADC's youcat): a signed-in user's upload or job result
kept as ``user_<name>.<table>``, queried and joined in later ADQL, shared read-only by name.

Who may read one is decided twice: the translator knows only the caller's own and shared
tables (anyone else's is an unknown table), and the database's row-level policy on each table
returns rows only to the caller the service names in ``rvs.caller``
(``adql_udf.personal_may_read``, migrations/tap/0002). Each table is made in one transaction
with its registry row, so a failure (a bad value, the quota) leaves nothing behind.
"""

from __future__ import annotations

import io

import psycopg
from astropy.table import Table as AstropyTable
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, transaction

from archive.errors import Conflict, LimitExceeded, NotFound, UsageError
from archive.metadata.fields import VOField
from archive.metadata.registry import Column as RegistryColumn
from archive.metadata.registry import Schema, Table
from archive.pgcopy import copy_columns

from .adql import ColumnInfo, TableInfo
from .limits import Limits
from .models import PersonalTable, quota_of, schema_of
from .uploads import IDENTIFIER, UploadTable, position_columns, read_votable
from .uploads import pg_type as _pg_type

#: how long a drop waits for queries reading the table before it gives up
DROP_LOCK_TIMEOUT = "5s"
_FORMATS = {"csv": "ascii.csv", "ecsv": "ascii.ecsv", "fits": "fits", "parquet": "parquet"}


def sniff(data: bytes, filename: str = "") -> str:
    """The format of an uploaded file: by its first bytes, else by its name's suffix."""
    head = data[:512].lstrip()
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"# %ECSV"):
        return "ecsv"
    if head.startswith(b"<?xml") or head.startswith(b"<VOTABLE"):
        return "votable"
    suffix = filename.rpartition(".")[2].lower()
    return suffix if suffix in _FORMATS or suffix in ("vot", "xml") else "csv"


def read_table(name: str, data: bytes, limits: Limits, filename: str = "") -> UploadTable:
    """Any of VOTable, CSV, ECSV, FITS and Parquet as an upload table (the others through
    astropy into a VOTable, which carries their units and descriptions)."""
    fmt = sniff(data, filename)
    if fmt in ("votable", "vot", "xml"):
        return read_votable(name, data, limits, strict=True)
    try:
        table = AstropyTable.read(io.BytesIO(data), format=_FORMATS[fmt])
        out = io.BytesIO()
        table.write(out, format="votable", tabledata_format="binary2")
    except Exception as exc:  # each reader raises its own kinds for a broken file
        raise UsageError(f"table {name} is not readable as {fmt}: {exc}") from None
    return read_votable(name, out.getvalue(), limits, strict=True)


def check_name(name: str) -> str:
    if not IDENTIFIER.match(name) or len(name) > 63:
        raise UsageError(
            f"table name {name!r}: letters, digits and _, starting with a letter, at most 63"
        )
    return name.lower()


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def used_bytes(user) -> int:
    return sum(PersonalTable.objects.filter(owner=user).values_list("size_bytes", flat=True))


def create(owner, name: str, upload: UploadTable, description: str = "") -> PersonalTable:
    """``upload`` stored as the owner's table ``name``: its rows, a q3c index on its position
    when it has one, the policy that lets only its readers see rows; within the quota."""
    name = check_name(name)
    schema = schema_of(owner.username)
    if PersonalTable.objects.filter(schema=schema).exclude(owner=owner).exists():
        raise Conflict(f"the schema {schema} belongs to another user; ask the staff")
    if PersonalTable.objects.filter(schema=schema, name=name).exists():
        raise Conflict(f"you already have a table {schema}.{name}; delete it or pick a name")
    reader = settings.DATABASES["reader"]["USER"]
    qualified = f"{_q(schema)}.{_q(name)}"
    columns = ", ".join(f"{_q(f.name)} {_pg_type(f)}" for f in upload.fields)
    quota, used = quota_of(owner), used_bytes(owner)
    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor  # psycopg's own, for COPY
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_q(schema)}")
        cur.execute(f"REVOKE ALL ON SCHEMA {_q(schema)} FROM PUBLIC")
        cur.execute(f"GRANT USAGE ON SCHEMA {_q(schema)} TO {_q(reader)}")
        cur.execute(f"CREATE TABLE {qualified} ({columns})")
        copy_columns(cur, qualified, upload.columns)
        position = position_columns(upload.fields)
        if position is not None:
            ra, dec = (_q(c) for c in position)
            cur.execute(f"CREATE INDEX ON {qualified} (q3c_ang2ipix({ra}, {dec}))")
            cur.execute(f"CLUSTER {qualified} USING {_q(name + '_q3c_ang2ipix_idx')}")
        cur.execute(f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY")
        # a scalar subquery: the check runs once per query, not once per row
        cur.execute(
            f"CREATE POLICY readers ON {qualified} FOR SELECT TO {_q(reader)} "
            "USING ((SELECT adql_udf.personal_may_read(%s, %s)))",
            [schema, name],
        )
        cur.execute(f"GRANT SELECT ON {qualified} TO {_q(reader)}")
        cur.execute(f"ANALYZE {qualified}")
        cur.execute("SELECT pg_total_relation_size(%s::regclass)", [qualified])
        size = cur.fetchone()[0]
        if used + size > quota:
            raise LimitExceeded(
                f"table {name} takes {size} bytes; with your {used} bytes of tables that is "
                f"over your quota of {quota} bytes"
            )
        made = PersonalTable.objects.create(
            owner=owner,
            schema=schema,
            name=name,
            columns=[vars(f) for f in upload.fields],
            n_rows=upload.n_rows,
            size_bytes=size,
            description=description,
        )
        cur.execute("SELECT adql_udf.personal_tap_schema()")
        return made


def owned(owner, name: str) -> PersonalTable:
    found = PersonalTable.objects.filter(owner=owner, name=name.lower()).first()
    if found is None:
        raise NotFound(f"you have no table {name}")
    return found


def drop(owner, name: str) -> None:
    """Drop the owner's table; a query reading it now (the owner's or a sharee's) finishes
    first, and if it does not within DROP_LOCK_TIMEOUT the drop is refused, not queued."""
    table = owned(owner, name)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'")
            cur.execute(f"DROP TABLE {_q(table.schema)}.{_q(table.name)}")
            table.delete()
            cur.execute("SELECT adql_udf.personal_tap_schema()")
    except OperationalError as exc:
        if isinstance(exc.__cause__, psycopg.errors.LockNotAvailable):
            raise Conflict(f"table {name} is being read by a query; try again later") from None
        raise


def share(owner, name: str, usernames: list[str], *, revoke: bool = False) -> PersonalTable:
    table = owned(owner, name)
    users = list(get_user_model().objects.filter(username__in=usernames))
    unknown = set(usernames) - {u.username for u in users}
    if unknown:
        raise NotFound(f"no users named {', '.join(sorted(unknown))}")
    (table.shared_with.remove if revoke else table.shared_with.add)(*users)
    return table


def readable(user) -> list[PersonalTable]:
    """The caller's tables and those shared with them (none for the anonymous)."""
    if user is None or not user.is_authenticated:
        return []
    own = PersonalTable.objects.filter(owner=user)
    shared = PersonalTable.objects.filter(shared_with=user)
    return list((own | shared).distinct().select_related("owner").order_by("schema", "name"))


def fields_of(table: PersonalTable) -> list[VOField]:
    return [VOField(**c) for c in table.columns]


def table_info(table: PersonalTable) -> TableInfo:
    columns = {f.name: ColumnInfo(f.name, f.datatype, f.unit) for f in fields_of(table)}
    return TableInfo(table.qualified, columns)


def schemas(user) -> tuple[Schema, ...]:
    """The caller's personal tables as registry schemas, for VOSI tables."""
    by_schema: dict[str, list[Table]] = {}
    for t in readable(user):
        columns = tuple(
            RegistryColumn(
                name=f.name,
                expr=f.name,
                datatype=f.datatype,
                description=f.description,
                unit=f.unit,
                ucd=f.ucd,
                utype=f.utype,
                arraysize=f.arraysize,
                xtype=f.xtype,
            )
            for f in fields_of(t)
        )
        by_schema.setdefault(t.schema, []).append(Table(t.name, t.description, columns))
    return tuple(
        Schema(name, f"Personal tables of {name[len('user_') :]}", tuple(tables))
        for name, tables in by_schema.items()
    )


def drop_all(owner) -> None:
    """Every table of a user who is being deleted (their schema with them)."""
    tables = list(PersonalTable.objects.filter(owner=owner))
    if not tables:
        return
    with transaction.atomic(), connection.cursor() as cur:
        for schema in {t.schema for t in tables}:
            cur.execute(f"DROP SCHEMA IF EXISTS {_q(schema)} CASCADE")
        PersonalTable.objects.filter(owner=owner).delete()
        cur.execute("SELECT adql_udf.personal_tap_schema()")
