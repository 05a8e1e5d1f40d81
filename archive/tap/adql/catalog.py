"""The tables a query may name, and their columns: what the translator checks names against.

The metadata registry builds one for the published schemas and TAP_SCHEMA; TAP uploads add
theirs per query with :meth:`TableCatalog.with_tables`. ADQL names are case-insensitive unless
delimited ("quoted"), so lookups fold case except for quoted parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: VOTable datatype -> the SQL type name the column resolver is told (only integer-ness matters).
SQL_TYPES = {
    "boolean": "BOOLEAN",
    "unsignedByte": "SMALLINT",
    "short": "SMALLINT",
    "int": "INT",
    "long": "BIGINT",
    "float": "REAL",
    "double": "DOUBLE",
    "char": "TEXT",
    "unicodeChar": "TEXT",
}
INTEGER_DATATYPES = frozenset({"unsignedByte", "short", "int", "long"})


@dataclass(frozen=True)
class ColumnInfo:
    """A column: its name, VOTable datatype and VOUnit ('' when dimensionless or unknown)."""

    name: str
    datatype: str = "double"
    unit: str = ""


@dataclass(frozen=True)
class TableInfo:
    """A table as ADQL names it (``schema.table``) and as PostgreSQL does (``sql_name``)."""

    name: str
    columns: Mapping[str, ColumnInfo]
    sql_name: str = ""
    #: the (ra, dec) columns under q3c and spoint indexes: a crossmatch puts these on the
    #: index side of q3c_join
    sky_index: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.name.count(".") != 1:
            raise ValueError(f"table {self.name!r}: give it as schema.table")
        if not self.sql_name:
            # unquoted SQL folds to lower case, so that is what an unqualified DDL created
            object.__setattr__(self, "sql_name", self.name.lower())

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def table(self) -> str:
        return self.name.split(".")[1]

    def column(self, name: str) -> ColumnInfo | None:
        return self.columns.get(name) or next(
            (c for c in self.columns.values() if c.name.lower() == name.lower()), None
        )


@dataclass(frozen=True)
class TableCatalog:
    """The tables a query may read."""

    tables: tuple[TableInfo, ...] = field(default_factory=tuple)

    @classmethod
    def from_mapping(cls, tables: Mapping[str, Mapping[str, Any]]) -> TableCatalog:
        """``{"schema.table": {"column": {"datatype": ..., "unit": ...} | "datatype" | None}}``."""
        out = []
        for name, columns in tables.items():
            cols = {}
            for cname, spec in columns.items():
                if isinstance(spec, ColumnInfo):
                    cols[cname] = spec
                elif isinstance(spec, Mapping):
                    cols[cname] = ColumnInfo(
                        cname, spec.get("datatype", "double"), spec.get("unit", "") or ""
                    )
                else:
                    cols[cname] = ColumnInfo(cname, spec or "double")
            out.append(TableInfo(name, cols))
        return cls(tuple(out))

    def with_tables(self, extra: Iterable[TableInfo]) -> TableCatalog:
        """This catalogue plus ``extra`` (TAP_UPLOAD tables of one query)."""
        return TableCatalog(self.tables + tuple(extra))

    def find(
        self, schema: str | None, table: str, *, schema_quoted=False, table_quoted=False
    ) -> list[TableInfo]:
        """Tables matching a (possibly unqualified) ADQL name; several when ambiguous."""

        def same(a: str, b: str, quoted: bool) -> bool:
            return a == b if quoted else a.lower() == b.lower()

        return [
            t
            for t in self.tables
            if same(t.table, table, table_quoted)
            and (schema is None or same(t.schema, schema, schema_quoted))
        ]


def as_catalog(tables: TableCatalog | Mapping[str, Mapping[str, Any]]) -> TableCatalog:
    return tables if isinstance(tables, TableCatalog) else TableCatalog.from_mapping(tables)
