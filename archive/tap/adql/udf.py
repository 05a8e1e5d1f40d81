"""The functions this service offers beyond ADQL 2.1 (user-defined functions, TAPRegExt
``features-udf``): their signatures and descriptions, declared once for the capabilities
document, and how each is written for PostgreSQL.

The names and meanings follow the IVOA's Catalogue of ADQL User Defined Functions (``ivo_``)
and GAVO DaCHS (``gavo_histogram``). Each becomes pg_sphere or PostgreSQL built-ins where they
suffice, so predicates keep their indexes, or a function of the ``adql_udf`` schema that
``migrations/tap`` creates (owner-defined, IMMUTABLE and PARALLEL SAFE where true). The
geometry-valued ones (``MOC``, ``ivo_healpix_center``, ``ivo_epoch_prop_pos``) are shapes in
``geometry.py``, so CONTAINS, DISTANCE and the SELECT list take them like POINT and CIRCLE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .dialect import sphere_op
from .errors import UnsupportedError
from .geometry import UDF_SCHEMA, Point, Shape, fn


@dataclass(frozen=True)
class Udf:
    """A function as TAPRegExt declares it: ``form`` is its signature (ADQL 2.1 Sect. 4.2)."""

    name: str
    form: str
    description: str


UDFS: tuple[Udf, ...] = (
    Udf(
        "IVO_HEALPIX_INDEX",
        "ivo_healpix_index(hpxOrder INTEGER, ra DOUBLE PRECISION, dec DOUBLE PRECISION) -> BIGINT",
        "The index of the HEALPix cell (NESTED scheme) of order hpxOrder that holds the "
        "position ra, dec (ICRS, degrees); ivo_healpix_index(hpxOrder, POINT(ra, dec)) too.",
    ),
    Udf(
        "IVO_HEALPIX_CENTER",
        "ivo_healpix_center(hpxOrder INTEGER, hpxIndex BIGINT) -> POINT",
        "The centre of the HEALPix cell hpxIndex (NESTED scheme) of order hpxOrder.",
    ),
    Udf(
        "IVO_HASWORD",
        "ivo_hasword(haystack TEXT, needle TEXT) -> INTEGER",
        "1 if every word of needle is a word of haystack, compared case-insensitively and "
        "without stemming (PostgreSQL's 'simple' text search), else 0.",
    ),
    Udf(
        "IVO_NOCASEMATCH",
        "ivo_nocasematch(value TEXT, pattern TEXT) -> INTEGER",
        "1 if value matches the LIKE pattern case-insensitively (as value ILIKE pattern), else 0.",
    ),
    Udf(
        "IVO_STRING_AGG",
        "ivo_string_agg(expr TEXT, delim TEXT) -> TEXT",
        "Aggregate: the non-NULL values of expr in a group, joined by delim.",
    ),
    Udf(
        "GAVO_HISTOGRAM",
        "gavo_histogram(val DOUBLE PRECISION, lower DOUBLE PRECISION, upper DOUBLE PRECISION, "
        "nbins INTEGER) -> INTEGER[]",
        "Aggregate: a histogram of val with nbins+2 counts: the first counts val < lower, "
        "the last val >= upper, those between the nbins equal bins from lower to upper "
        "(as DaCHS's gavo_histogram). NULL values are not counted.",
    ),
    Udf(
        "IVO_EPOCH_PROP",
        "ivo_epoch_prop(ra DOUBLE PRECISION, dec DOUBLE PRECISION, parallax DOUBLE PRECISION, "
        "pmra DOUBLE PRECISION, pmdec DOUBLE PRECISION, radial_velocity DOUBLE PRECISION, "
        "ref_epoch DOUBLE PRECISION, out_epoch DOUBLE PRECISION) -> DOUBLE PRECISION[6]",
        "The astrometry of a star propagated rigorously from ref_epoch to out_epoch (Julian "
        "years), as [ra, dec, parallax, pmra, pmdec, radial_velocity] in the units given: "
        "degrees, mas, mas/yr (pmra with cos dec), km/s. A NULL parallax or radial velocity "
        "counts as 0 (then the radial velocity out is NULL).",
    ),
    Udf(
        "IVO_EPOCH_PROP_POS",
        "ivo_epoch_prop_pos(ra DOUBLE PRECISION, dec DOUBLE PRECISION, "
        "parallax DOUBLE PRECISION, pmra DOUBLE PRECISION, pmdec DOUBLE PRECISION, "
        "radial_velocity DOUBLE PRECISION, ref_epoch DOUBLE PRECISION, "
        "out_epoch DOUBLE PRECISION) -> POINT",
        "The position of ivo_epoch_prop at out_epoch, as a POINT.",
    ),
    Udf(
        "MOC",
        "MOC(order INTEGER, geom GEOMETRY) -> MOC",
        "The multi-order coverage map (HEALPix cells up to order) of a POINT, CIRCLE, "
        "POLYGON or MOC; MOC('ascii moc') reads a MOC in the ASCII serialisation (e.g. "
        "'3/1-3 5/10'). CONTAINS(POINT, MOC), CONTAINS(MOC, MOC), INTERSECTS(MOC, MOC) and "
        "AREA(MOC) take it; in a SELECT list it is an ASCII MOC (DALI xtype moc).",
    ),
)

#: UDFs whose value is 0 or 1: ``f(...) = 1`` becomes the boolean itself (indexes apply)
PREDICATES = frozenset({"IVO_HASWORD", "IVO_NOCASEMATCH"})
NAMES = frozenset(u.name for u in UDFS)
Rewrite = Callable[[exp.Expression], exp.Expression]
ShapeOf = Callable[[exp.Expression], Shape]


def _form(name: str) -> str:
    return next(u.form for u in UDFS if u.name == name)


def _args(name: str, node: exp.Anonymous, *counts: int) -> list[exp.Expression]:
    args = list(node.expressions)
    if len(args) not in counts:
        raise UnsupportedError(
            f"{name.lower()} takes {' or '.join(map(str, counts))} arguments, got {len(args)}: "
            f"{_form(name)}",
            token=str(node.this),
        )
    return args


def _cast(e: exp.Expression, kind: str) -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build(kind))


def predicate(name: str, node: exp.Anonymous, value: Rewrite) -> exp.Expression:
    """The boolean a 0/1 UDF stands for."""
    a, b = (value(x) for x in _args(name, node, 2))
    if name == "IVO_NOCASEMATCH":
        return exp.ILike(this=_cast(a, "TEXT"), expression=_cast(b, "TEXT"))
    config = exp.Literal.string("simple")
    return sphere_op(
        fn("to_tsvector", config, _cast(a, "TEXT")),
        "@@",
        fn("plainto_tsquery", config.copy(), _cast(b, "TEXT")),
    )


def function(name: str, node: exp.Anonymous, value: Rewrite, shape: ShapeOf) -> exp.Expression:
    """A (non-geometry) UDF call as PostgreSQL."""
    if name in PREDICATES:
        return _cast(exp.Paren(this=predicate(name, node, value)), "INT")
    if name == "IVO_HEALPIX_INDEX":
        args = _args(name, node, 2, 3)
        order = _cast(value(args[0]), "INT")
        point = shape(args[1]) if len(args) == 2 else Point(value(args[1]), value(args[2]))
        if not isinstance(point, Point):
            raise UnsupportedError(f"ivo_healpix_index needs a POINT: {_form(name)}")
        return fn("healpix_nest", order, point.sphere())
    if name == "IVO_STRING_AGG":
        expr, delim = (value(a) for a in _args(name, node, 2))
        return fn("string_agg", _cast(expr, "TEXT"), _cast(delim, "TEXT"))
    if name == "GAVO_HISTOGRAM":
        v, low, high, nbins = (value(a) for a in _args(name, node, 4))
        doubles = (_cast(x, "DOUBLE PRECISION") for x in (v, low, high))
        return fn(f"{UDF_SCHEMA}.gavo_histogram", *doubles, _cast(nbins, "INT"))
    if name == "IVO_EPOCH_PROP":
        values = [_cast(value(a), "DOUBLE PRECISION") for a in _args(name, node, 8)]
        return fn(f"{UDF_SCHEMA}.ivo_epoch_prop", *values)
    raise AssertionError(name)
