"""The registry's vocabulary: schemas, tables, columns and foreign keys as frozen dataclasses.

A published table is a view: a SELECT of column expressions over a FROM clause of the
catalogue's tables. Columns that show a model field take their VOTable type, unit, UCD and
description from that field (``column_from_field``), so the metadata is written once, on the
model; the registry says which of them are published, where from, and under which name.

The registry serialises to plain data (``to_dict``) — what a migration snapshots and what
``TAP_SCHEMA`` and the VOSI tableset are built from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

from django.contrib.postgres.fields import ArrayField
from django.db import models

from archive.catalogue.label_fields import RealField
from archive.catalogue.vo import VOColumn

from .fields import VOField


class RegistryError(LookupError):
    """A table or column the registry does not declare."""


@dataclass(frozen=True)
class Column:
    """A published column: where its value comes from and how every format describes it."""

    name: str
    expr: str  # SQL over the table's FROM clause
    datatype: str  # VOTable datatype
    description: str
    unit: str = ""
    ucd: str = ""
    utype: str = ""
    arraysize: str | None = None
    xtype: str | None = None
    principal: bool = False
    indexed: bool = False
    std: bool = False
    sqltype: str | None = None  # a cast the view applies, e.g. char(8)

    @property
    def field(self) -> VOField:
        return VOField(
            name=self.name,
            datatype=self.datatype,
            arraysize=self.arraysize,
            xtype=self.xtype,
            unit=self.unit,
            ucd=self.ucd,
            utype=self.utype,
            description=self.description,
        )

    @property
    def select_sql(self) -> str:
        expr = f"({self.expr})::{self.sqltype}" if self.sqltype else self.expr
        return expr if expr.split(".")[-1] == self.name else f"{expr} AS {self.name}"


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` of this table point at ``target``'s: (from column, target column) pairs."""

    target: str  # schema.table
    columns: tuple[tuple[str, str], ...]
    description: str = ""
    utype: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    from_sql: str | None = None  # None: a real table (TAP_SCHEMA's own), not a view
    foreign_keys: tuple[ForeignKey, ...] = ()
    utype: str = ""

    @property
    def table_type(self) -> str:
        return "table" if self.from_sql is None else "view"

    def column(self, name: str) -> Column:
        """A column by its name; case and ADQL delimiters ("size") aside when not exact."""
        for c in self.columns:
            if c.name == name:
                return c
        for c in self.columns:
            if c.name.strip('"').lower() == name.strip('"').lower():
                return c
        raise RegistryError(f"table {self.name} has no column {name}")

    def view_sql(self, schema: str) -> str:
        select = ",\n  ".join(c.select_sql for c in self.columns)
        return f"CREATE VIEW {schema}.{self.name} AS SELECT\n  {select}\n{self.from_sql}"


@dataclass(frozen=True)
class Schema:
    name: str
    description: str
    tables: tuple[Table, ...]
    utype: str = ""


@dataclass(frozen=True)
class Registry:
    schemas: tuple[Schema, ...] = field(default_factory=tuple)

    def table(self, qualified: str) -> Table:
        """A table by ``schema.table`` (case-insensitive, as ADQL's regular identifiers)."""
        schema, _, name = qualified.lower().rpartition(".")
        for s, t in self.tables():
            if s.name.lower() == schema and t.name.lower() == name:
                return t
        raise RegistryError(f"no published table {qualified}")

    def tables(self) -> Iterator[tuple[Schema, Table]]:
        for s in self.schemas:
            for t in s.tables:
                yield s, t

    def fields(self, qualified: str) -> list[VOField]:
        """The VOFields of a table's columns, in order: the header of a ``SELECT *``."""
        return [c.field for c in self.table(qualified).columns]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Registry:
        def columns(items):
            return tuple(Column(**c) for c in items)

        def keys(items):
            return tuple(
                ForeignKey(**{**k, "columns": tuple(tuple(p) for p in k["columns"])}) for k in items
            )

        return cls(
            schemas=tuple(
                Schema(
                    **{
                        **s,
                        "tables": tuple(
                            Table(
                                **{
                                    **t,
                                    "columns": columns(t["columns"]),
                                    "foreign_keys": keys(t["foreign_keys"]),
                                }
                            )
                            for t in s["tables"]
                        ),
                    }
                )
                for s in data["schemas"]
            )
        )


_SCALARS: dict[type[models.Field], str] = {
    models.BigIntegerField: "long",
    models.BigAutoField: "long",
    models.IntegerField: "int",
    models.PositiveIntegerField: "int",
    models.SmallIntegerField: "short",
    models.PositiveSmallIntegerField: "short",
    RealField: "float",
    models.FloatField: "double",
    models.BooleanField: "boolean",
}


def votable_type(f: models.Field) -> tuple[str, str | None, str | None]:
    """(datatype, arraysize, xtype) of a model field's column."""
    if isinstance(f, models.ForeignKey):
        return votable_type(f.target_field)
    if isinstance(f, ArrayField):
        datatype, _, _ = votable_type(f.base_field)
        return datatype, str(f.size) if f.size else "*", None
    if isinstance(f, models.DateTimeField):
        return "char", "*", "timestamp"
    if isinstance(f, models.CharField | models.TextField):
        return "char", f"{f.max_length}*" if f.max_length else "*", None
    for kind in type(f).__mro__:
        if kind in _SCALARS:
            return _SCALARS[kind], None, None
    raise TypeError(f"{f.model.__name__}.{f.name}: no VOTable type for {type(f).__name__}")


def column_from_field(model: type[models.Model], name: str, alias: str, **overrides) -> Column:
    """A published column showing ``alias.<field's column>`` with the field's metadata.

    ``overrides`` replace any attribute (e.g. ``name`` for a published name, ``sqltype`` and
    ``arraysize`` for a fixed-length char column, ``principal``).
    """
    f = model._meta.get_field(name)
    meta: VOColumn | None = getattr(f, "vo", None)
    if meta is None:
        raise TypeError(f"{model.__name__}.{name} has no VO metadata (archive.catalogue.vo.vo)")
    datatype, arraysize, xtype = votable_type(f)
    values = dict(
        name=f.column,
        expr=f"{alias}.{f.column}",
        datatype=datatype,
        arraysize=arraysize,
        xtype=xtype,
        unit=meta.unit,
        ucd=meta.ucd,
        description=meta.description,
    )
    unknown = set(overrides) - {f.name for f in fields(Column)}
    if unknown:
        raise TypeError(f"unknown column attributes {sorted(unknown)}")
    return Column(**{**values, **overrides})
