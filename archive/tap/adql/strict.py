"""What sqlglot reads as PostgreSQL but the ADQL 2.1 grammar (REC-ADQL-2.1, Appendix A) does not
have: refused with what to write instead, so a query that runs here runs on other ADQL services.

The parser is PostgreSQL's with ADQL's tokens on top, so it takes more than ADQL. This module
checks the tokens (``::``, ``LIMIT``, ``%``, ``/* */`` comments, a trailing comma, ``NULLS
FIRST``, ...) and the parsed tree (TRUE/FALSE, CASE, hexadecimal literals, DISTINCT ON, SELECT
without FROM, IS NULL of an expression, query parameters). What the capabilities declare beyond
the grammar (the optional features, the bitwise operators, the UDFs) is not refused here.
"""

from __future__ import annotations

import re

from sqlglot import exp

from .errors import AdqlSyntaxError, UnsupportedError

#: token type -> what to write instead
_TOKENS = {
    "DCOLON": "x::type is PostgreSQL's cast; ADQL writes CAST(x AS type)",
    "LIMIT": "LIMIT is not ADQL; write SELECT TOP n",
    "MOD": "% is not ADQL; write MOD(a, b)",
    "ISNULL": "ISNULL is not ADQL; write column IS NULL",
    "NOTNULL": "NOTNULL is not ADQL; write column IS NOT NULL",
    "ONLY": "FROM ONLY is not ADQL",
    "ESCAPE": "LIKE ... ESCAPE is not ADQL",
    "PARAMETER": "query parameters ($1) are not ADQL; write the value",
    "PLACEHOLDER": "query parameters (?) are not ADQL; write the value",
    "COLON": "query parameters (:name) are not ADQL; write the value",
    "FETCH": "FETCH FIRST is not ADQL; write SELECT TOP n",
}
#: a word that is an ordinary name alone but PostgreSQL syntax after the token before it
_AFTER = {
    ("ORDER_BY", "NULLS"): "NULLS FIRST/LAST is not ADQL (ORDER BY takes ASC or DESC)",
    ("BETWEEN", "SYMMETRIC"): "BETWEEN SYMMETRIC is not ADQL",
    ("UNION", "DISTINCT"): "UNION DISTINCT is not ADQL; write UNION (or UNION ALL)",
}


_LINE_COMMENT = re.compile(r"--[^\n]*")


def _where(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return {"line": line, "column": column}


def check_tokens(adql: str, tokens: list) -> None:
    """Refuse PostgreSQL-only tokens and comments, with the position of each."""
    previous_end, clause = -1, None
    for i, t in enumerate(tokens):
        gap = _LINE_COMMENT.sub(lambda m: " " * len(m.group(0)), adql[previous_end + 1 : t.start])
        if "/*" in gap:
            at = previous_end + 1 + gap.index("/*")
            raise AdqlSyntaxError(
                "/* */ comments are not ADQL; comment with -- to the end of the line",
                **_where(adql, at),
                token="/*",
            )
        previous_end = t.end
        kind, word = t.token_type.name, t.text.upper()
        message = _TOKENS.get(kind)
        if t.token_type.name in ("ORDER_BY", "BETWEEN", "UNION"):
            clause = kind
        elif kind == "VAR" and (clause, word) in _AFTER:
            message = _AFTER[(clause, word)]
        elif kind == "DISTINCT" and clause == "UNION" and tokens[i - 1].token_type.name == "UNION":
            message = _AFTER[("UNION", "DISTINCT")]
        if kind == "COMMA" and i + 1 < len(tokens) and tokens[i + 1].token_type.name == "FROM":
            message = "a comma before FROM: the select list ends with a column, not a comma"
        if message:
            raise UnsupportedError(message, **_where(adql, t.start), token=t.text)
    tail = _LINE_COMMENT.sub(lambda m: " " * len(m.group(0)), adql[previous_end + 1 :])
    if "/*" in tail:
        raise AdqlSyntaxError(
            "/* */ comments are not ADQL; comment with -- to the end of the line",
            **_where(adql, previous_end + 1 + tail.index("/*")),
            token="/*",
        )


def check_tree(tree: exp.Expression) -> tuple[str, exp.Expression, str] | None:
    """The first construct of ``tree`` ADQL 2.1 does not have: (message, node, word to point
    at)."""
    for node in tree.walk():
        found = _refusal(node)
        if found is not None:
            return found[0], node, found[1]
    return None


def _refusal(node: exp.Expression) -> tuple[str, str] | None:
    """What is not ADQL about this node alone: (message, word), or None."""
    if isinstance(node, exp.Boolean):
        return "TRUE and FALSE are not ADQL; compare values (e.g. 1 = 1)", (
            "TRUE" if node.this else "FALSE"
        )
    if isinstance(node, exp.Case):
        return (
            "CASE is not part of ADQL 2.1 (COALESCE is); LANG=PostgreSQL runs PostgreSQL's SQL",
            "CASE",
        )
    if isinstance(node, exp.HexString):
        return (
            f"hexadecimal literals are not ADQL 2.1; write {int(node.this, 16)}",
            "0x" + node.this,
        )
    if isinstance(node, exp.Distinct) and node.args.get("on") is not None:
        return "DISTINCT ON is PostgreSQL's, not ADQL", "DISTINCT"
    if isinstance(node, exp.Select) and node.args.get("from_") is None:
        return "an ADQL SELECT needs a FROM clause", "SELECT"
    if isinstance(node, exp.Is) and not isinstance(node.this, exp.Column):
        return "ADQL takes IS [NOT] NULL after a column only", "IS"
    if isinstance(node, exp.TableAlias) and node.columns:
        return "column names in a table alias (AS t(a, b)) are not ADQL", node.name
    if isinstance(node, exp.Parameter | exp.Placeholder):
        return "query parameters are not ADQL; write the value", node.sql()
    return None
