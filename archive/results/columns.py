"""Result columns between PostgreSQL and VOTable: types of a query's columns as VOFields, and
how each VOField is fetched (the SQL cast, and the binary element a COPY row carries).

A query's columns are cast in SQL to the VOField's type before they leave the server, so a
numeric becomes a double, a pg_sphere point becomes text (pg_sphere has no binary output) and a
timestamp becomes ISO 8601 text; the binary parser then only meets the few types below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
import psycopg.postgres

from archive.metadata.fields import VOField

#: VOTable numeric datatype -> (PostgreSQL type it is fetched as, big-endian numpy element).
NUMERIC = {
    "boolean": ("bool", np.dtype("u1")),
    "unsignedByte": ("int2", np.dtype(">i2")),
    "short": ("int2", np.dtype(">i2")),
    "int": ("int4", np.dtype(">i4")),
    "long": ("int8", np.dtype(">i8")),
    "float": ("float4", np.dtype(">f4")),
    "double": ("float8", np.dtype(">f8")),
}
#: numpy dtype a VOTable datatype is held in once fetched (native order).
NATIVE = {
    "boolean": np.dtype("bool"),
    "unsignedByte": np.dtype("u1"),
    "short": np.dtype("i2"),
    "int": np.dtype("i4"),
    "long": np.dtype("i8"),
    "float": np.dtype("f4"),
    "double": np.dtype("f8"),
}
TEXT = ("char", "unicodeChar")

# PostgreSQL type name (pg_type.typname) -> VOTable datatype, for scalars.
_SCALARS = {
    "bool": "boolean",
    "int2": "short",
    "int4": "int",
    "int8": "long",
    "oid": "long",
    "float4": "float",
    "float8": "double",
    "numeric": "double",
}
_TIMES = {"timestamp": "timestamp", "timestamptz": "timestamp", "date": "timestamp"}


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def fixed_length(field: VOField) -> int | None:
    """The fixed length of a char or array field ("8" -> 8); None when variable or scalar."""
    size = field.arraysize
    if size is None or size.endswith("*") or "x" in size:
        return None
    return int(size)


def is_text(field: VOField) -> bool:
    return field.datatype in TEXT


def binary_cast(field: VOField, column: str) -> str:
    """SQL expression that turns ``column`` into the type the binary parser reads for ``field``."""
    if is_text(field):
        if field.xtype == "timestamp":  # ISO 8601 as DALI asks: T between date and time
            return f"replace(({column})::text, ' ', 'T')"
        return f"({column})::text"
    pgtype = NUMERIC[field.datatype][0]
    if field.is_array:
        return f"({column})::{pgtype}[]"
    return f"({column})::{pgtype}"


def fields_from_description(
    description: Sequence, type_names: dict[int, str] | None = None
) -> list[VOField]:
    """VOFields of an arbitrary query from its cursor description.

    ``type_names`` maps type OIDs to pg_type.typname (see :func:`type_names`); without it,
    PostgreSQL's built-in types are known and any other (pg_sphere's) goes out as text. Text becomes
    ``unicodeChar`` (VOTable 1.4 ``char`` is ASCII, and readers refuse other bytes in it);
    ``char(n)`` stays ``char`` of arraysize n; types with no VOTable counterpart (pg_sphere
    geometries, intervals, JSON...) go out as their text form.
    """
    if type_names is None:
        type_names = {c.type_code: _builtin_name(c.type_code) for c in description}
    fields = []
    for col in description:
        name = type_names.get(col.type_code, "")
        size = col.display_size
        if name.startswith("_") and name[1:] in _SCALARS:  # an array, e.g. _float8
            fields.append(VOField(col.name, _SCALARS[name[1:]], arraysize="*"))
        elif name in _SCALARS:
            fields.append(VOField(col.name, _SCALARS[name]))
        elif name == "bpchar" and size:
            fields.append(VOField(col.name, "char", arraysize=str(size)))
        elif name == "varchar" and size:
            fields.append(VOField(col.name, "unicodeChar", arraysize=f"{size}*"))
        elif name in _TIMES:
            fields.append(VOField(col.name, "char", arraysize="*", xtype=_TIMES[name]))
        else:  # text, name, pg_sphere, json, uuid...: their text output
            fields.append(VOField(col.name, "unicodeChar", arraysize="*"))
    return fields


def _builtin_name(oid: int) -> str:
    info = psycopg.postgres.types.get(oid)
    if info is None:
        return ""
    return "_" + info.name if oid == info.array_oid else info.name


def type_names(cursor, oids: Sequence[int]) -> dict[int, str]:
    """pg_type.typname of each OID (one query)."""
    cursor.execute(
        "SELECT oid::int8, typname FROM pg_catalog.pg_type WHERE oid = ANY(%s)",
        [list({int(o) for o in oids})],
    )
    return {int(oid): name for oid, name in cursor.fetchall()}


def describe(cursor, sql: str) -> list[VOField]:
    """VOFields of ``sql``'s columns (plans the query without running it)."""
    cursor.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
    description = cursor.description
    return fields_from_description(
        description, type_names(cursor, [c.type_code for c in description])
    )


@dataclass(frozen=True)
class FieldText:
    """How a field is rendered as text by PostgreSQL for the text formats."""

    array_style: str = "space"  # "space" (VOTable, CSV, TSV: "1 2 3") or "json" (ECSV)
    bool_words: tuple[str, str] = ("True", "False")


def text_cast(field: VOField, column: str, style: FieldText) -> str:
    """SQL expression rendering ``column`` as the text a text format carries (NULL stays NULL)."""
    if is_text(field):
        return binary_cast(field, column)
    if field.is_array:
        cast = f"({column})::{NUMERIC[field.datatype][0]}[]"
        if style.array_style == "json":
            return f"array_to_json({cast})::text"
        return f"array_to_string({cast}, ' ', 'NaN')"
    if field.datatype == "boolean":
        yes, no = style.bool_words
        return f"CASE WHEN ({column})::bool THEN '{yes}' WHEN NOT ({column})::bool THEN '{no}' END"
    return f"({column})::{NUMERIC[field.datatype][0]}"
