"""TAP uploads (TAP 1.1 Sect. 2.5.4, DALI 1.1 Sect. 3.4.5): VOTables a query reads as
``TAP_UPLOAD.name``, e.g. a user's own list of source_ids or positions to crossmatch.

``UPLOAD=name,param:part`` takes the request's multipart part ``part``; ``name,URL`` takes a
result of this service's own async jobs (the service reaches no other host). Each table is read
with astropy, checked against the user's limits, and loaded into a temporary table of the query's
session, with every VOTable datatype (arrays and unicodeChar included); its units, UCDs and
descriptions go with its columns into the result.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
from astropy.io.votable import parse_single_table

from archive.errors import BadParameter, LimitExceeded, UsageError
from archive.metadata.fields import VOField
from archive.pgcopy import Column, copy_columns

from .adql import ColumnInfo, TableInfo
from .binary_votable import decode as decode_binary
from .limits import Limits

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PG_TYPES = {
    "boolean": "boolean",
    "bit": "boolean",
    "unsignedByte": "smallint",
    "short": "smallint",
    "int": "integer",
    "long": "bigint",
    "float": "real",
    "double": "double precision",
    "char": "text",
    "unicodeChar": "text",
}


@dataclass(frozen=True)
class UploadSource:
    name: str  # the table's name in TAP_UPLOAD
    source: str  # "param:part" or a URL


@dataclass
class UploadTable:
    name: str
    fields: list[VOField]
    columns: list[Column]  # the values, as COPY loads them

    @property
    def n_rows(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    @property
    def sql_name(self) -> str:
        return f"pg_temp.tap_upload_{self.name.lower()}"

    def table_info(self) -> TableInfo:
        return TableInfo(
            f"TAP_UPLOAD.{self.name}",
            {f.name: ColumnInfo(f.name, f.datatype, f.unit) for f in self.fields},
            sql_name=self.sql_name,
        )

    def field_of(self, column: str) -> VOField | None:
        return next((f for f in self.fields if f.name.lower() == column.lower()), None)


def parse_spec(value: str) -> list[UploadSource]:
    """``a,param:x;b,https://...`` → the uploads it names."""
    out: list[UploadSource] = []
    for item in filter(None, (part.strip() for part in value.split(";"))):
        name, sep, source = item.partition(",")
        name, source = name.strip(), source.strip()
        if not sep or not source:
            raise BadParameter("UPLOAD", value, "name,param:part or name,URL pairs, ';' between")
        if not IDENTIFIER.match(name):
            raise BadParameter("UPLOAD", name, "a table name of letters, digits and _")
        if any(u.name.lower() == name.lower() for u in out):
            raise BadParameter("UPLOAD", name, "each table named once")
        out.append(UploadSource(name, source))
    return out


def pg_type(field: VOField) -> str:
    base = _PG_TYPES.get(field.datatype)
    if base is None:
        raise UsageError(f"upload column {field.name}: datatype {field.datatype} is not supported")
    return f"{base}[]" if field.is_array else base


#: VOTable datatype -> the archive.pgcopy type its values COPY as (binary, built by numpy)
_COPY_TYPES = {
    "boolean": "bool",
    "bit": "bool",
    "unsignedByte": "int2",
    "short": "int2",
    "int": "int4",
    "long": "int8",
    "float": "float4",
    "double": "float8",
    "char": "text",
    "unicodeChar": "text",
}


def _item(value, null: bool):
    """One variable-size value as psycopg adapts it (lists, not numpy arrays)."""
    if null:
        return None
    if isinstance(value, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(value).tolist()
        return [None if m else v for v, m in zip(value.data.tolist(), mask, strict=True)]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _copy_column(field: VOField, col: np.ma.MaskedArray | np.ndarray) -> Column:
    """One uploaded column as a COPY column: numbers stay numpy arrays (masked or NaN: NULL),
    text and arrays other than double become Python values, one a row."""
    name = f'"{field.name}"'
    data = np.ma.getdata(col)
    mask = np.ma.getmaskarray(col)
    null = mask.all(axis=tuple(range(1, mask.ndim))) if mask.ndim > 1 else mask
    kind = _COPY_TYPES[field.datatype]
    if field.is_array:
        if kind == "float8" and data.ndim == 2:
            return Column(name, "float8[]", np.where(mask, np.nan, data), null)
        kind += "[]"
    elif kind != "text":
        return Column(name, kind, data, null | np.isnan(data) if data.dtype.kind == "f" else null)
    rows = list(col) if data.ndim > 1 else data.tolist()  # a fixed array's rows keep their masks
    items = np.empty(len(data), dtype=object)
    for i, (v, n) in enumerate(zip(rows, null.tolist(), strict=True)):
        items[i] = _item(v, n)  # one by one: numpy would make lists of lists a 2-D array
    return Column(name, kind, items, null)


def read_votable(name: str, data: bytes, limits: Limits, strict: bool = False) -> UploadTable:
    """One uploaded VOTable as fields and rows; errors name the table and what is wrong.
    ``strict``: a value that is not of its column's type is an error, not a NULL."""
    if len(data) > limits.upload_bytes:
        raise LimitExceeded(
            f"upload {name}: {len(data)} bytes, more than the {limits.upload_bytes} allowed"
        )
    try:
        decoded = decode_binary(data)
        if decoded is None:
            table = parse_single_table(io.BytesIO(data), verify="exception" if strict else "warn")
            values = table.array
        else:
            table, values = decoded
    except Exception as exc:  # astropy raises many kinds for a broken document
        raise UsageError(f"upload {name} is not a readable VOTable: {exc}") from None
    rows = len(values[table.fields[0].ID]) if table.fields else 0
    if rows > limits.upload_rows:
        raise LimitExceeded(
            f"upload {name}: {rows} rows, more than the {limits.upload_rows} allowed"
        )
    fields = []
    for f in table.fields:
        column = f.name or f.ID
        if not column or not IDENTIFIER.match(column):
            raise UsageError(
                f"upload {name}: column {column!r} is not a name ADQL can use "
                "(letters, digits and _, starting with a letter)"
            )
        arraysize = None if f.arraysize in (None, "1") else str(f.arraysize)
        fields.append(
            VOField(
                name=column.lower(),  # ADQL names are case-blind; PostgreSQL folds to lower
                datatype="boolean" if f.datatype == "bit" else f.datatype,
                arraysize=arraysize,
                xtype=f.xtype,
                unit=str(f.unit) if f.unit is not None else "",
                ucd=f.ucd or "",
                utype=f.utype or "",
                description=str(f.description or ""),
            )
        )
    columns = [_copy_column(f, values[v.ID]) for f, v in zip(fields, table.fields, strict=True)]
    return UploadTable(name, fields, columns)


def _local_result(url: str, host: str, result_file) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BadParameter("UPLOAD", url, "param:part or an http(s) URL")
    if host and parts.netloc != host:
        raise UsageError(
            f"upload from {parts.netloc}: this service reaches no other host; upload the "
            "table inline (param:) or give the URL of a result of this service"
        )
    match = re.fullmatch(r"/tap/async/([A-Za-z0-9]+)/results/([A-Za-z0-9_.-]+)", parts.path)
    if match is None:
        raise UsageError(f"upload {url}: only results of this service's async jobs")
    return result_file(match.group(1), match.group(2))


def read_uploads(
    spec: str,
    parts: Mapping[str, bytes],
    limits: Limits,
    host: str = "",
    result_file=None,
) -> list[UploadTable]:
    """Every table ``spec`` names, read from ``parts`` (multipart parts by name) or from this
    service's own results (``result_file(public job id, result_id) -> bytes``, which sees
    only the jobs the caller may see: ``archive.tap.submit.result_bytes``)."""
    tables, total = [], 0
    for upload in parse_spec(spec):
        if upload.source.startswith("param:"):
            part = upload.source[len("param:") :]
            if part not in parts:
                raise UsageError(f"upload {upload.name}: the request has no part named {part!r}")
            data = parts[part]
        elif result_file is not None:
            data = _local_result(upload.source, host, result_file)
        else:
            raise UsageError(f"upload {upload.name}: only param: uploads here")
        total += len(data)
        if total > limits.upload_bytes:
            raise LimitExceeded(f"uploads of more than {limits.upload_bytes} bytes in all")
        tables.append(read_votable(upload.name, data, limits))
    return tables


_NUMERIC = {"short", "int", "long", "float", "double"}


def position_columns(fields: list[VOField]) -> tuple[str, str] | None:
    """The (ra, dec) columns of an upload: by UCD (``pos.eq.ra``/``pos.eq.dec``, the main ones
    first), else by name; None when it has none."""
    scalars = [f for f in fields if f.datatype in _NUMERIC and not f.is_array]
    for ra_ucd, dec_ucd in (("pos.eq.ra;meta.main", "pos.eq.dec;meta.main"),
                            ("pos.eq.ra", "pos.eq.dec")):  # fmt: skip
        ra = next((f for f in scalars if f.ucd.lower() == ra_ucd), None)
        dec = next((f for f in scalars if f.ucd.lower() == dec_ucd), None)
        if ra and dec:
            return ra.name, dec.name
    names = {f.name.lower(): f.name for f in scalars}
    if "ra" in names and "dec" in names:
        return names["ra"], names["dec"]
    return None


def load(connection, tables: list[UploadTable]) -> None:
    """Create and fill the session's temporary tables (one read-write transaction: the role's
    transactions are read-only by default, and temporary tables are all it may write)."""
    if not tables:
        return
    with connection.transaction(), connection.cursor() as cur:
        cur.execute("SET TRANSACTION READ WRITE")
        for t in tables:
            columns = ", ".join(f'"{f.name}" {pg_type(f)}' for f in t.fields)
            name = t.sql_name[len("pg_temp.") :]
            cur.execute(f"DROP TABLE IF EXISTS {t.sql_name}")
            position = position_columns(t.fields)
            if position is None:
                cur.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
                copy_columns(cur, t.sql_name, t.columns)
            else:
                # rows in the order of q3c's curve: a cross-match probes the catalogue's index
                # once per row, and neighbouring probes then read neighbouring index pages
                # (1.4x faster for 100 000 rows, bench/xmatch.py)
                cur.execute(f"CREATE TEMPORARY TABLE {name}_in ({columns})")
                copy_columns(cur, f"pg_temp.{name}_in", t.columns)
                ra, dec = position
                cur.execute(
                    f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM pg_temp.{name}_in "
                    f'ORDER BY q3c_ang2ipix("{ra}", "{dec}")'
                )
                cur.execute(f"DROP TABLE pg_temp.{name}_in")
            # the planner knows nothing of a temporary table until it is analysed: a large
            # upload joined as if it had a few rows gets the wrong join order
            cur.execute(f"ANALYZE {t.sql_name}")
