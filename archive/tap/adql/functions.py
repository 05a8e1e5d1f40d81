"""Which parsed nodes are ADQL 2.1, and how its numeric functions are written for PostgreSQL.

sqlglot parses the standard functions into typed nodes (Abs, Ceil, Ln, ...); everything else
arrives as ``Anonymous`` and must be one of the ADQL names here. A node outside both lists is
refused, so no PostgreSQL function (pg_sleep, lo_import, ...) reaches the database through ADQL.
"""

from __future__ import annotations

from sqlglot import exp

#: grammar nodes (statements, clauses, operators, literals) an ADQL query may contain
GRAMMAR = (
    exp.Select, exp.Union, exp.Except, exp.Intersect, exp.With, exp.CTE, exp.Subquery,
    exp.From, exp.Join, exp.Table, exp.TableAlias, exp.Identifier, exp.Column, exp.Star,
    exp.Alias, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset,
    exp.Distinct, exp.Literal, exp.Null, exp.Boolean, exp.Paren, exp.Neg, exp.Not, exp.And,
    exp.Or, exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Is, exp.In, exp.Between,
    exp.Like, exp.ILike, exp.Exists, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.BitwiseAnd, exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot, exp.DPipe, exp.Case, exp.If,
    exp.Cast, exp.DataType, exp.DataTypeParam, exp.HexString, exp.Tuple,
)  # fmt: skip

#: SQL functions of ADQL 2.1 as sqlglot types them (aggregates, math, trig, strings, COALESCE)
FUNCTIONS = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Coalesce, exp.Upper, exp.Lower,
    exp.Abs, exp.Ceil, exp.Floor, exp.Exp, exp.Ln, exp.Log, exp.Pi, exp.Pow, exp.Sqrt,
    exp.Rand, exp.Round, exp.Trunc, exp.Degrees, exp.Radians, exp.Sin, exp.Cos, exp.Tan,
    exp.Cot, exp.Asin, exp.Acos, exp.Atan, exp.Atan2,
)  # fmt: skip

#: ADQL functions sqlglot does not know (geometry and units)
ADQL_NAMES = frozenset(
    {
        "POINT", "CIRCLE", "BOX", "POLYGON", "CENTROID", "CONTAINS", "INTERSECTS", "DISTANCE",
        "AREA", "COORD1", "COORD2", "COORDSYS", "IN_UNIT",
    }
)  # fmt: skip

#: CAST targets ADQL 2.1 lists (section 2.3.7)
CAST_TYPES = frozenset(
    {
        exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
        exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.CHAR,
        exp.DataType.Type.VARCHAR, exp.DataType.Type.TIMESTAMP,
    }
)  # fmt: skip

ALLOWED = GRAMMAR + FUNCTIONS


def numeric(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build("NUMERIC"))


def double(e: exp.Expression) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build("DOUBLE PRECISION"))


def is_integer(e: exp.Expression) -> bool:
    """Whether an operand is integer-typed: an integer literal or an integer catalogue column."""
    from .catalog import INTEGER_DATATYPES

    if isinstance(e, exp.Paren):
        return is_integer(e.this)
    if isinstance(e, exp.Neg):
        return is_integer(e.this)
    if isinstance(e, exp.Literal) and not e.is_string:
        return e.this.lstrip("-").isdigit()
    info = e.meta.get("adql_column") if isinstance(e, exp.Column) else None
    return info is not None and info.datatype in INTEGER_DATATYPES
