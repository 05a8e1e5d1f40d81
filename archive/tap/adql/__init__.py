"""ADQL 2.1 translated to PostgreSQL + pg_sphere + q3c (sqlglot with an ADQL dialect).

``translate(adql, catalog)`` returns the SQL and the output columns (name, source column,
xtype); every mistake raises an :class:`AdqlError` subclass with the offending token's position.
docs/adql.md lists what is supported and how geometry reaches the indexes.
"""

from .catalog import ColumnInfo, TableCatalog, TableInfo
from .errors import (
    AdqlError,
    AdqlSyntaxError,
    FrameError,
    UnknownColumnError,
    UnknownTableError,
    UnsupportedError,
)
from .translate import OutputColumn, Translation, translate

__all__ = [
    "AdqlError",
    "AdqlSyntaxError",
    "ColumnInfo",
    "FrameError",
    "OutputColumn",
    "TableCatalog",
    "TableInfo",
    "Translation",
    "UnknownColumnError",
    "UnknownTableError",
    "UnsupportedError",
    "translate",
]
