"""sqlglot dialects: ADQL 2.1 to read (on top of PostgreSQL's), PostgreSQL + pg_sphere to write.

ADQL differs from PostgreSQL's grammar in a few tokens only: ``TOP n``, ``^`` is bitwise XOR
(PostgreSQL's power), ``LOG`` is the natural logarithm. The geometry functions parse as ordinary
function calls and are translated in ``geometry.py``; pg_sphere's operators (``@``, ``&&``,
``<->``) have no sqlglot node, so :class:`SphereOp` carries them to the writer.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.tokens import TokenType

from .functions import ADQL_NAMES


class ADQL(Postgres):
    class Tokenizer(Postgres.Tokenizer):
        KEYWORDS = {**Postgres.Tokenizer.KEYWORDS, "TOP": TokenType.TOP}

    class Parser(Postgres.Parser):
        EXPONENT = {}  # '^' falls through to BITWISE: XOR
        LOG_DEFAULTS_TO_LN = True
        # ADQL's own functions must stay calls for geometry.py (sqlglot knows e.g. CONTAINS
        # as string containment)
        FUNCTIONS = {k: v for k, v in Postgres.Parser.FUNCTIONS.items() if k not in ADQL_NAMES}


class SphereOp(exp.Expression):
    """``this <op> expression`` with a pg_sphere operator, always parenthesised."""

    arg_types = {"this": True, "expression": True, "op": True}


def _sphere_op(gen: PostgresGenerator, e: SphereOp) -> str:
    return f"({gen.sql(e, 'this')} {e.args['op']} {gen.sql(e, 'expression')})"


class PgSphere(Postgres):
    class Generator(PostgresGenerator):
        TRANSFORMS = {**PostgresGenerator.TRANSFORMS, SphereOp: _sphere_op}


def sphere_op(left: exp.Expression, op: str, right: exp.Expression) -> SphereOp:
    return SphereOp(this=left, expression=right, op=op)
