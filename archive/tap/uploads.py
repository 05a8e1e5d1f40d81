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

from .adql import ColumnInfo, TableInfo
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
    rows: list[tuple]

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


def _pg_type(field: VOField) -> str:
    base = _PG_TYPES.get(field.datatype)
    if base is None:
        raise UsageError(f"upload column {field.name}: datatype {field.datatype} is not supported")
    return f"{base}[]" if field.is_array else base


def _python(value, field: VOField):
    if value is np.ma.masked or value is None:
        return None
    if isinstance(value, np.ma.MaskedArray):
        return [
            None if m else v for v, m in zip(value.data.tolist(), value.mask.tolist(), strict=True)
        ]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value) and field.datatype in ("float", "double"):
        return None
    return value


def read_votable(name: str, data: bytes, limits: Limits) -> UploadTable:
    """One uploaded VOTable as fields and rows; errors name the table and what is wrong."""
    if len(data) > limits.upload_bytes:
        raise LimitExceeded(
            f"upload {name}: {len(data)} bytes, more than the {limits.upload_bytes} allowed"
        )
    try:
        table = parse_single_table(io.BytesIO(data), verify="warn")
    except Exception as exc:  # astropy raises many kinds for a broken document
        raise UsageError(f"upload {name} is not a readable VOTable: {exc}") from None
    if table.nrows > limits.upload_rows:
        raise LimitExceeded(
            f"upload {name}: {table.nrows} rows, more than the {limits.upload_rows} allowed"
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
    array = table.array
    rows = (
        [tuple(_python(array[f.name][i], f) for f in fields) for i in range(len(array))]
        if fields
        else []
    )
    return UploadTable(name, fields, rows)


def _local_result(url: str, host: str, result_file) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BadParameter("UPLOAD", url, "param:part or an http(s) URL")
    if host and parts.netloc != host:
        raise UsageError(
            f"upload from {parts.netloc}: this service reaches no other host; upload the "
            "table inline (param:) or give the URL of a result of this service"
        )
    match = re.fullmatch(r"/tap/async/(\d+)/results/([A-Za-z0-9_.-]+)", parts.path)
    if match is None:
        raise UsageError(f"upload {url}: only results of this service's async jobs")
    return result_file(int(match.group(1)), match.group(2))


def read_uploads(
    spec: str,
    parts: Mapping[str, bytes],
    limits: Limits,
    host: str = "",
    result_file=None,
) -> list[UploadTable]:
    """Every table ``spec`` names, read from ``parts`` (multipart parts by name) or from this
    service's own results (``result_file(job_id, result_id) -> bytes``)."""
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


def load(connection, tables: list[UploadTable]) -> None:
    """Create and fill the session's temporary tables (one read-write transaction: the role's
    transactions are read-only by default, and temporary tables are all it may write)."""
    if not tables:
        return
    with connection.transaction(), connection.cursor() as cur:
        cur.execute("SET TRANSACTION READ WRITE")
        for t in tables:
            columns = ", ".join(f'"{f.name}" {_pg_type(f)}' for f in t.fields)
            cur.execute(f"DROP TABLE IF EXISTS {t.sql_name}")
            cur.execute(f"CREATE TEMPORARY TABLE {t.sql_name[len('pg_temp.') :]} ({columns})")
            names = ", ".join(f'"{f.name}"' for f in t.fields)
            with cur.copy(f"COPY {t.sql_name} ({names}) FROM STDIN") as copy:
                for row in t.rows:
                    copy.write_row(row)


def result_file(job_id: int, result_id: str) -> bytes:
    """The bytes of a result of one of this service's async jobs (an upload by URL)."""
    from archive.jobs import lifecycle
    from archive.jobs.models import Job

    job = Job.objects.filter(pk=job_id, kind="tap_query").first()
    found = next((r for r in job.result_list if r.id == result_id), None) if job else None
    if found is None or not found.path:
        raise UsageError(f"upload: job {job_id} has no result {result_id}")
    return (lifecycle.job_dir(job) / found.path).read_bytes()
