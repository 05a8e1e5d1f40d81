"""ADQL 2.1 -> PostgreSQL + pg_sphere + q3c, on sqlglot.

One pass: tokenize (positions of bad tokens), parse with the ADQL dialect, refuse all but one
SELECT and every node outside ADQL, resolve tables against the catalogue and columns with
sqlglot's qualifier (which also expands ``*``), record where each output column comes from,
translate functions and geometry, and write PostgreSQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from . import geometry as geo
from . import strict, udf
from .catalog import SQL_TYPES, ColumnInfo, TableCatalog, TableInfo, as_catalog
from .dialect import ADQL, PgSphere
from .errors import (
    AdqlError,
    AdqlSyntaxError,
    UnknownColumnError,
    UnknownTableError,
    UnsupportedError,
)
from .functions import ADQL_NAMES, ALLOWED, CAST_TYPES, double, is_integer, numeric

_DIALECT = ADQL()
_SET_OPS = (exp.Union, exp.Except, exp.Intersect)
MAX_LENGTH = 100_000  # characters; a TAP query is text a person wrote


@dataclass(frozen=True)
class OutputColumn:
    """A result column: its name, ``schema.table.column`` when it is a table's column as is,
    and the DALI xtype when it is a geometry (a double array)."""

    name: str
    source: str | None = None
    xtype: str | None = None


@dataclass(frozen=True)
class Translation:
    adql: str
    sql: str
    columns: tuple[OutputColumn, ...]
    tables: tuple[str, ...]  # catalogue tables the query reads (ADQL names)


def translate(adql: str, tables: TableCatalog | Mapping[str, Mapping[str, Any]]) -> Translation:
    """Translate one ADQL query on ``tables``; raises :class:`AdqlError` on any mistake."""
    catalog = as_catalog(tables)
    if not isinstance(adql, str):
        raise AdqlSyntaxError("the query must be text")
    if len(adql) > MAX_LENGTH:
        raise UnsupportedError(f"the query is longer than {MAX_LENGTH} characters")
    try:
        return _translate(adql, catalog)
    except RecursionError:
        raise UnsupportedError("the query is nested too deeply") from None


def _translate(adql: str, catalog: TableCatalog) -> Translation:
    tokens = _tokenize(adql)
    strict.check_tokens(adql, tokens)
    tree = _parse(adql, tokens)
    _geometry_casts(tree, adql)
    _check_nodes(tree, adql, tokens)
    refused = strict.check_tree(tree)
    if refused is not None:
        message, node, word = refused
        raise UnsupportedError(message, **_locate(adql, node, word))
    used = _resolve_tables(tree, catalog, adql)
    _name_expressions(tree)
    xtypes = _geometry_outputs(tree)
    for node in tree.find_all(exp.Coalesce):
        node.meta["adql_written"] = True
    tree = _qualify(tree, used, adql)
    _merge_join_columns(tree)
    root = build_scope(tree)
    columns = _output_columns(root, used, xtypes)
    _rename(tree, root, used)
    try:
        tree = _rewrite(tree)
    except AdqlError as exc:
        raise _placed(exc, adql) from None
    # comments stay out: nothing of the user's text reaches PostgreSQL but parsed nodes
    sql = tree.sql(dialect=PgSphere, copy=False, comments=False)
    names = tuple(sorted({t.name for t in used.values()}))
    return Translation(adql=adql, sql=sql, columns=columns, tables=names)


# -- text -> tree --------------------------------------------------------------------------------


def _where(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _tokenize(adql: str) -> list:
    tokenizer = _DIALECT.tokenizer_class(dialect=_DIALECT)
    try:
        return tokenizer.tokenize(adql)
    except TokenError as exc:
        cause = str(exc.__cause__ or "")
        # "Missing ' from 1:15": the offset where the unfinished token starts
        m = re.search(r"^Missing .* from \d+:(\d+)$", cause)
        comment = adql.rfind("/*")
        if m:
            start, message = int(m.group(1)), cause.split(" from ")[0]
        elif comment >= 0 and "*/" not in adql[comment + 2 :]:
            start, message = comment, "unterminated comment"  # sqlglot fails with IndexError
        else:
            start, message = getattr(tokenizer, "_start", 0), "cannot read this token"
        start = min(start, max(len(adql) - 1, 0))
        line, col = _where(adql, start)
        raise AdqlSyntaxError(
            message, line=line, column=col, token=adql[start : start + 20]
        ) from None
    except RecursionError:
        raise UnsupportedError("the query is nested too deeply") from None


def _parse(adql: str, tokens: list) -> exp.Expression:
    if not tokens:
        raise AdqlSyntaxError("the query is empty")
    first = next((t for t in tokens if t.text != "("), tokens[0])
    if first.text.upper() not in ("SELECT", "WITH"):
        line, col = _where(adql, first.start)
        where = {"line": line, "column": col, "token": first.text}
        if first.token_type.name in ("VAR", "IDENTIFIER", "STRING", "NUMBER"):
            raise AdqlSyntaxError("a query starts with SELECT or WITH", **where)
        raise UnsupportedError("only a SELECT query is allowed", **where)
    parser = _DIALECT.parser()
    try:
        statements = parser.parse(tokens, adql)
    except ParseError as exc:
        raise _syntax_error(exc, adql, tokens) from None
    except RecursionError:
        raise UnsupportedError("the query is nested too deeply") from None
    except SqlglotError as exc:
        raise AdqlSyntaxError(str(exc).splitlines()[0]) from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        where = [t for t in tokens if t.token_type.name == "SEMICOLON"]
        if where:
            line, col = _where(adql, where[0].start)
            raise UnsupportedError("one SELECT statement only", line=line, column=col, token=";")
        raise AdqlSyntaxError("the query is empty")
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not tree.alias and not tree.args.get("limit"):
        tree = tree.this  # (SELECT ...): the parentheses mean nothing at the top
    if not isinstance(tree, exp.Select | exp.Union | exp.Except | exp.Intersect):
        first = tokens[0]
        line, col = _where(adql, first.start)
        raise UnsupportedError(
            "only a SELECT query is allowed", line=line, column=col, token=first.text
        )
    return tree


def _syntax_error(exc: ParseError, adql: str, tokens: list) -> AdqlSyntaxError:
    err = exc.errors[0] if exc.errors else {}
    line, col, token = err.get("line"), err.get("col"), err.get("highlight")
    description = err.get("description") or str(exc).splitlines()[0]
    if line is not None and col is not None:
        # sqlglot reports the column of the token's last character; find the token itself
        for t in tokens:
            if t.line == line and t.col == col:
                line, col = _where(adql, t.start)
                token = adql[t.start : t.end + 1]
                break
    if line is None:
        line, col, token = *_where(adql, len(adql)), "end of query"
    # sqlglot names its own node classes ("Required keyword: 'this' missing for <class ...>");
    # the user needs the token and, where sqlglot knows it, what was expected
    if not description.startswith("Expecting"):
        description = "unexpected token or missing expression"
    return AdqlSyntaxError(f"syntax error: {description}", line=line, column=col, token=token)


def _placed(exc: AdqlError, adql: str) -> AdqlError:
    """The error with the position of its token in the query, when it named one."""
    if exc.line is None and exc.token:
        i = adql.upper().find(exc.token.upper())
        if i >= 0:
            exc.line, exc.column = _where(adql, i)
            exc.token = adql[i : i + len(exc.token)]
    return exc


def _locate(adql: str, node: exp.Expression, word: str | None = None) -> dict:
    """line/column/token for an error about ``node``: ``word`` if given and found, else its
    first identifier, else the first word of its text that the query contains."""
    words = [word] if word else []
    for ident in node.find_all(exp.Identifier):
        if "start" in ident.meta and not words:
            line, col = _where(adql, ident.meta["start"])
            return {"line": line, "column": col, "token": ident.name}
    if isinstance(node, exp.Anonymous):
        words.append(str(node.this))
    text = node.sql(dialect=_DIALECT)
    words += [node.key, *re.findall(r"\w+", text)[:1]]
    for w in words:
        m = re.search(r"\b" + re.escape(w) + r"\b", adql, re.IGNORECASE)
        if m:
            line, col = _where(adql, m.start())
            return {"line": line, "column": col, "token": m.group(0)}
    if text:  # punctuation only, e.g. a '?' placeholder
        m = re.search(re.escape(text), adql)
        if m:
            line, col = _where(adql, m.start())
            return {"line": line, "column": col, "token": m.group(0)}
    return {}


def _check_nodes(tree: exp.Expression, adql: str, tokens: list) -> None:
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            if str(node.this).upper() not in ADQL_NAMES | udf.NAMES:
                raise UnsupportedError(
                    f"{node.this} is not an ADQL function", **_locate(adql, node)
                )
        elif not isinstance(node, ALLOWED):
            text = node.sql(dialect=_DIALECT)[:60]
            raise UnsupportedError(f"not ADQL: {text}", **_locate(adql, node))
        elif isinstance(node, exp.DataType) and node.this not in CAST_TYPES:
            raise UnsupportedError(
                f"CAST to {node.sql()} is not allowed (ADQL allows SMALLINT, INTEGER, BIGINT, "
                "REAL, DOUBLE PRECISION, CHAR, VARCHAR, TIMESTAMP)",
                **_locate(adql, node, node.sql().split("(")[0]),
            )
        elif isinstance(node, exp.Limit | exp.Offset) and not _count(node.expression):
            what = "TOP" if isinstance(node, exp.Limit) else "OFFSET"
            word = "OFFSET" if what == "OFFSET" else ("TOP" if "TOP" in adql.upper() else "LIMIT")
            raise UnsupportedError(
                f"{what} takes a non-negative integer", **_locate(adql, node, word)
            )
        elif isinstance(node, exp.If) and not isinstance(node.parent, exp.Case):
            raise UnsupportedError("IF is not an ADQL function", **_locate(adql, node))
        elif isinstance(node, exp.Rand) and node.this is not None:
            raise UnsupportedError("RAND with a seed is not supported", **_locate(adql, node))
        elif isinstance(node, exp.Select) and not node.expressions:
            token = next((t for t in tokens if t.text.upper() == "FROM"), tokens[-1])
            line, col = _where(adql, token.start)
            raise AdqlSyntaxError(
                "SELECT needs at least one column", line=line, column=col, token=token.text
            )
        elif isinstance(node, exp.Select) and node.args.get("into"):
            raise UnsupportedError("SELECT INTO is not allowed", **_locate(adql, node))


#: CAST targets that make a geometry from its DALI text, and how many numbers each takes
_GEOMETRY_CASTS = {"POINT": (2,), "CIRCLE": (3,), "POLYGON": None}


def _geometry_casts(tree: exp.Expression, adql: str) -> None:
    """``CAST('12.3 45.6' AS POINT)`` (ADQL 2.1 Sect. 4.6: CAST from DALI's serialisation to
    POINT, CIRCLE or POLYGON) as the constructor call it denotes, for the geometry code."""
    for cast in list(tree.find_all(exp.Cast)):
        to = cast.to
        name = to.this.name if to.this is exp.DataType.Type.POINT else None
        if to.this is exp.DataType.Type.USERDEFINED:
            name = str(to.args.get("kind") or "").upper()
        if name not in _GEOMETRY_CASTS:
            continue
        value = cast.this
        where = _locate(adql, cast, "CAST")
        if not (isinstance(value, exp.Literal) and value.is_string):
            raise UnsupportedError(f"CAST to {name} takes a string literal (DALI)", **where)
        try:
            numbers = [float(x) for x in value.this.split()]
        except ValueError:
            numbers = []
        sizes = _GEOMETRY_CASTS[name]
        fits = len(numbers) in sizes if sizes else len(numbers) >= 6 and len(numbers) % 2 == 0
        if not fits or not all(map(math.isfinite, numbers)):
            raise UnsupportedError(
                f"CAST to {name}: {value.this!r} is not a DALI {name.lower()}", **where
            )
        cast.replace(exp.Anonymous(this=name, expressions=[geo.number(x) for x in numbers]))


def _count(e: exp.Expression | None) -> bool:
    return isinstance(e, exp.Literal) and not e.is_string and e.this.isdigit()


# -- names ---------------------------------------------------------------------------------------


def _resolve_tables(tree: exp.Expression, catalog: TableCatalog, adql: str) -> dict:
    """Point every table reference at its catalogue table; {(schema, table) lower: TableInfo}."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    used: dict[tuple[str, str], TableInfo] = {}
    for table in list(tree.find_all(exp.Table)):
        if table.args.get("catalog"):
            raise UnknownTableError(f"unknown table {table.sql()}", **_locate(adql, table))
        db = table.args.get("db")
        if db is None and table.name.lower() in ctes:
            continue
        ident = table.this
        if not isinstance(ident, exp.Identifier):
            raise UnsupportedError(f"not a table: {table.sql()}", **_locate(adql, table))
        found = catalog.find(
            db.name if db else None,
            ident.name,
            schema_quoted=bool(db and db.quoted),
            table_quoted=ident.quoted,
        )
        if len(found) != 1:
            what = "ambiguous table (qualify it with its schema)" if found else "unknown table"
            raise UnknownTableError(f"{what} {table.sql(dialect=_DIALECT)}", **_locate(adql, table))
        info = found[0]
        key = (info.schema.lower(), info.table.lower())
        used[key] = info
        table.set("db", exp.to_identifier(key[0]))
        table.set("this", exp.to_identifier(key[1]))
        if not table.alias:
            # the name the query uses for its columns (t.col) stays valid once renamed
            table.set("alias", exp.TableAlias(this=exp.to_identifier(ident.name.lower())))
    return used


def _name_expressions(tree: exp.Expression) -> None:
    """Give unnamed computed output columns a name after their function ('count', 'distance')."""
    for select in tree.find_all(exp.Select):
        taken = {
            e.alias_or_name.lower()
            for e in select.expressions
            if isinstance(e, exp.Alias | exp.Column)
        }
        for i, e in enumerate(select.expressions):
            if isinstance(e, exp.Alias | exp.Column | exp.Star):
                continue
            base = str(e.this) if isinstance(e, exp.Anonymous) else e.key
            base = re.sub(r"\W", "_", base.lower()) or "expr"
            if not isinstance(e, exp.Func | exp.Mod):
                base = "expr"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            select.expressions[i] = exp.alias_(e, name)
            select.expressions[i].parent = select


def _outer_select(tree: exp.Expression) -> exp.Select:
    while isinstance(tree, _SET_OPS):
        tree = tree.this
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return tree


def _geometry_outputs(tree: exp.Expression) -> dict[str, str]:
    xtypes = {}
    for e in _outer_select(tree).expressions:
        inner = e.this if isinstance(e, exp.Alias) else e
        if geo.is_shape_call(inner):
            xtypes[e.alias_or_name.lower()] = geo.XTYPES[str(inner.this).upper()]
    return xtypes


def _qualify(tree: exp.Expression, used: dict, adql: str) -> exp.Expression:
    schema: dict = {}
    for (s, t), info in used.items():
        schema.setdefault(s, {})[t] = {
            c.name.lower(): SQL_TYPES.get(c.datatype, "TEXT") for c in info.columns.values()
        }
    try:
        return qualify(
            tree,
            schema=schema,
            dialect=_DIALECT,
            validate_qualify_columns=True,
            quote_identifiers=False,
            identify=False,
            expand_alias_refs=False,
        )
    except OptimizeError as exc:
        msg = str(exc)
        m = re.search(r"Line: (\d+), Col: (\d+)", msg)
        text = msg.split(". Line:")[0]
        text = text.replace("could not be resolved", "is unknown or ambiguous")
        name = re.search(r"Column '([^']*)'", msg)
        kw = {}
        if m:
            # sqlglot gives the column of the name's last character
            token = name.group(1) if name else None
            col = int(m.group(2)) - (len(token) - 1 if token else 0)
            kw = {"line": int(m.group(1)), "column": col, "token": token}
        raise UnknownColumnError(text, **kw) from None
    except SqlglotError as exc:
        raise UnsupportedError(str(exc).splitlines()[0]) from None


def _merge_join_columns(tree: exp.Expression) -> None:
    """A USING/NATURAL join column as PostgreSQL merges it, not the qualifier's COALESCE.

    The qualifier writes the merged column as COALESCE(left, right), which hides it from the
    indexes (``WHERE source_id = 5`` after ``USING (source_id)``); in an inner or left join it
    is the left column, in a right join the right one; only a full join needs the COALESCE.
    """
    for select in list(tree.find_all(exp.Select)):
        sides = {(j.side or "").upper() for j in select.args.get("joins") or []}
        if "FULL" in sides or ("RIGHT" in sides and len(sides) > 1):
            continue
        pick = -1 if "RIGHT" in sides else 0
        for node in list(select.find_all(exp.Coalesce)):
            if node.meta.get("adql_written") or node.find_ancestor(exp.Select) is not select:
                continue
            args = [node.this, *node.expressions]
            if all(isinstance(a, exp.Column) for a in args):
                node.replace(args[pick])


def _select_scope(scope: Scope) -> Scope:
    while scope.set_operation_scopes:
        scope = scope.set_operation_scopes[0]
    return scope


def _source(scope: Scope, column: exp.Column, used: dict, depth: int = 0) -> str | None:
    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        info = used.get((source.db.lower(), source.name.lower()))
        col = info.column(column.name) if info else None
        return f"{info.name}.{col.name}" if col else None
    if isinstance(source, Scope) and depth < 50:
        inner = _select_scope(source)
        for e in inner.expression.expressions:
            if e.alias_or_name == column.name:
                target = _column_of(e.this if isinstance(e, exp.Alias) else e)
                return None if target is None else _source(inner, target, used, depth + 1)
    return None


def _column_of(e: exp.Expression) -> exp.Column | None:
    """The table column an output expression is: itself, or the first of a USING/NATURAL
    join's COALESCE (both sides are equal where the join matched)."""
    if isinstance(e, exp.Column):
        return e
    merged = isinstance(e, exp.Coalesce) and not e.meta.get("adql_written")
    if merged and all(isinstance(x, exp.Column) for x in (e.this, *e.expressions)):
        return e.this
    return None


def _output_columns(root: Scope, used: dict, xtypes: dict) -> tuple:
    """Name, source and xtype of each output column; a repeated name (``SELECT *`` over a
    join) gets ``_2``, ``_3`` in the SQL too, as the result writers need unique names."""
    scope = _select_scope(root)
    out, seen = [], set()
    for e in scope.expression.expressions:
        name = e.alias_or_name
        xtype = xtypes.get(name.lower())
        base, n = name, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        if name != base:
            e.set("alias", exp.to_identifier(name))
        target = _column_of(e.this if isinstance(e, exp.Alias) else e)
        source = _source(scope, target, used) if target is not None else None
        out.append(OutputColumn(name=name, source=source, xtype=xtype))
    return tuple(out)


def _rename(tree: exp.Expression, root: Scope, used: dict) -> None:
    """Catalogue tables to their SQL names; columns to their real spelling, with their info."""
    for scope in root.traverse():
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                info = used.get((source.db.lower(), source.name.lower()))
                col = info.column(column.name) if info else None
                if col is not None:
                    column.set("this", _ident(col.name))
                    column.meta["adql_column"] = col
                    column.meta["adql_sky_index"] = col.name in (info.sky_index or ())
    for table in tree.find_all(exp.Table):
        info = used.get(((table.db or "").lower(), table.name.lower()))
        if info is not None and table.args.get("db") is not None:
            schema, name = info.sql_name.split(".", 1)
            table.set("db", _ident(schema))
            table.set("this", _ident(name))


def _ident(name: str) -> exp.Identifier:
    plain = re.fullmatch(r"[a-z_][a-z0-9_]*", name) is not None
    return exp.to_identifier(name, quoted=not plain)


# -- functions and geometry ----------------------------------------------------------------------

_PREDICATES = {"CONTAINS": geo.contains, "INTERSECTS": geo.intersects}


def _name(node: exp.Expression) -> str | None:
    return str(node.this).upper() if isinstance(node, exp.Anonymous) else None


def _rewrite(tree: exp.Expression) -> exp.Expression:
    return tree.transform(_rewrite_node, copy=False)


def _value(node: exp.Expression) -> exp.Expression:
    return node.transform(_rewrite_node, copy=False)


def _shape(node: exp.Expression) -> geo.Shape:
    return geo.build(node, _value)


def _point(node: exp.Expression, name: str) -> geo.Point:
    shape = _shape(node)
    if not isinstance(shape, geo.Point):
        raise UnsupportedError(f"{name} needs POINTs, got {node.sql()}")
    return shape


def _points(name: str, args: list) -> tuple[geo.Point, geo.Point]:
    if len(args) == 2:
        return _point(args[0], name), _point(args[1], name)
    if len(args) == 4:
        vals = [_value(a) for a in args]
        return geo.Point(vals[0], vals[1]), geo.Point(vals[2], vals[3])
    raise UnsupportedError(f"{name} takes two POINTs or four numbers, got {len(args)} arguments")


def _predicate(node: exp.Expression) -> exp.Expression:
    name = _name(node)
    if name in udf.PREDICATES:
        return udf.predicate(name, node, _value)
    args = node.expressions
    if len(args) != 2:
        raise UnsupportedError(f"{name} takes two geometries, got {len(args)} arguments")
    return _PREDICATES[name](_shape(args[0]), _shape(args[1]))


def _flag(node: exp.Expression) -> int | None:
    v = geo.constant(node)
    return int(v) if v in (0.0, 1.0) else None


def _rewrite_node(node: exp.Expression) -> exp.Expression:
    # CONTAINS(...) = 1 and friends: a boolean the planner can hand to an index
    if isinstance(node, exp.EQ | exp.NEQ):
        for call, other in ((node.this, node.expression), (node.expression, node.this)):
            if _name(call) in _PREDICATES.keys() | udf.PREDICATES and _flag(other) is not None:
                pred = _predicate(call)
                positive = (_flag(other) == 1) == isinstance(node, exp.EQ)
                return pred if positive else exp.Not(this=exp.Paren(this=pred))
    # DISTANCE(...) < r (or r > DISTANCE(...)): a q3c cone
    if isinstance(node, exp.LT | exp.LTE | exp.GT | exp.GTE):
        left, right = node.this, node.expression
        if _name(left) == "DISTANCE" and isinstance(node, exp.LT | exp.LTE):
            p, q = _points("DISTANCE", left.expressions)
            return geo.within(p, q, _value(right), strict=isinstance(node, exp.LT))
        if _name(right) == "DISTANCE" and isinstance(node, exp.GT | exp.GTE):
            p, q = _points("DISTANCE", right.expressions)
            return geo.within(p, q, _value(left), strict=isinstance(node, exp.GT))
    name = _name(node)
    if name is not None:
        return _function(name, node)
    if isinstance(node, exp.HexString):
        return exp.Literal.number(int(node.this, 16))
    if isinstance(node, exp.Log):  # LOG10(x); LOG(x) parsed as Ln
        return geo.fn("log", _value(node.expression))
    if isinstance(node, exp.Round | exp.Trunc) and node.args.get("decimals") is not None:
        pg = "round" if isinstance(node, exp.Round) else "trunc"
        digits = _value(node.args["decimals"])
        return double(geo.fn(pg, numeric(_value(node.this)), digits))
    if isinstance(node, exp.Mod):
        a, b = _value(node.this), _value(node.expression)
        if is_integer(a) and is_integer(b):
            return exp.Mod(this=a, expression=b)
        return double(geo.fn("mod", numeric(a), numeric(b)))
    return node


def _function(name: str, node: exp.Anonymous) -> exp.Expression:
    args = node.expressions
    if name in _PREDICATES:
        return exp.Cast(this=exp.Paren(this=_predicate(node)), to=exp.DataType.build("INT"))
    if name == "DISTANCE":
        return geo.distance(*_points(name, args))
    if geo.is_shape_call(node):
        return geo.dali_value(_shape(node))
    if name in ("COORD1", "COORD2", "AREA", "COORDSYS"):
        if len(args) != 1:
            raise UnsupportedError(f"{name} takes one geometry, got {len(args)} arguments")
        if name == "AREA":
            return geo.area(_shape(args[0]))
        point = _point(args[0], name)
        if name == "COORDSYS":
            return exp.Literal.string("ICRS")
        return point.ra if name == "COORD1" else point.dec
    if name == "IN_UNIT":
        return _in_unit(node)
    return udf.function(name, node, _value, _shape)


def _in_unit(node: exp.Anonymous) -> exp.Expression:
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        raise UnsupportedError("IN_UNIT takes a column and a unit string")
    value = _value(args[0])
    info: ColumnInfo | None = (
        value.meta.get("adql_column") if isinstance(value, exp.Column) else None
    )
    if info is None or not info.unit:
        raise UnsupportedError(f"IN_UNIT needs a column with a unit, got {args[0].sql()}")
    from astropy import units as u

    try:
        factor = u.Unit(info.unit, format="vounit").to(u.Unit(args[1].this, format="vounit"))
    except (ValueError, u.UnitsError) as exc:
        raise UnsupportedError(
            f"IN_UNIT: cannot convert {info.name} from {info.unit!r} to {args[1].this!r} ({exc})"
        ) from None
    return exp.Paren(this=exp.Mul(this=value, expression=geo.number(factor)))


__all__ = ["AdqlError", "OutputColumn", "Translation", "translate"]
