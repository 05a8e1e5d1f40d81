"""ADQL geometry as pg_sphere values and q3c predicates that reach the positional indexes.

The catalogue tables index positions twice (archive.catalogue.models.sky_indexes): q3c on
``q3c_ang2ipix(ra, dec)`` and GiST on ``spoint(radians(ra), radians(dec))``. A predicate whose
point is two bare columns becomes a q3c call (``q3c_radial_query`` for a fixed circle,
``q3c_join`` for a crossmatch, ``q3c_poly_query`` for a fixed polygon or box); every other
point is written ``spoint(radians(ra), radians(dec))`` so the GiST index can still match.

Shapes are kept as small records of SQL expressions in degrees (ICRS) until the context asks for
a predicate, a pg_sphere value or a DALI value (a double array: point ``[ra, dec]``, circle
``[ra, dec, radius]``, polygon ``[ra1, dec1, ...]``), so each is written the way its use needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlglot import exp

from .dialect import sphere_op
from .errors import FrameError, UnsupportedError

#: ICRS -> Galactic rotation as astropy defines it (Galactic from FK5 J2000, with the FK5-ICRS
#: frame bias: ~20 mas from the Hipparcos matrix); tests compare with astropy
ICRS_TO_GALACTIC = np.array(
    [
        [-0.0548756577125916, -0.8734370519556159, -0.4838350736167155],
        [+0.4941094371927268, -0.4448297212232952, +0.7469821839866676],
        [-0.8676661375596576, -0.1980763372730006, +0.4559838136873016],
    ]
)
ICRS_FRAMES = {"", "ICRS", "ICRS GEOCENTER", "ICRS BARYCENTER", "ICRS TOPOCENTER"}
GALACTIC_FRAMES = {"GALACTIC", "GALACTIC_II", "GALACTIC GEOCENTER", "GALACTIC BARYCENTER"}
SHAPES = frozenset({"POINT", "CIRCLE", "BOX", "POLYGON", "CENTROID"})
#: functions beyond ADQL's that make a geometry (udf.py declares them): points and MOCs
UDF_SHAPES = frozenset({"MOC", "IVO_HEALPIX_CENTER", "IVO_EPOCH_PROP_POS"})
#: the DALI xtype of each constructor's value in a SELECT list
XTYPES = {
    "POINT": "point", "CENTROID": "point", "IVO_HEALPIX_CENTER": "point",
    "IVO_EPOCH_PROP_POS": "point", "CIRCLE": "circle", "BOX": "polygon", "POLYGON": "polygon",
    "MOC": "moc",
}  # fmt: skip
#: the schema of the SQL functions the translator calls (migrations/tap: owner-defined)
UDF_SCHEMA = "adql_udf"


def fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def number(value: float) -> exp.Expression:
    lit = exp.Literal.number(repr(abs(float(value))))
    return exp.Neg(this=lit) if value < 0 else lit


def constant(e: exp.Expression) -> float | None:
    """The value of a numeric constant expression (literals and arithmetic), else None."""
    if isinstance(e, exp.Literal) and not e.is_string:
        try:
            return float(e.this)
        except ValueError:
            return None
    if isinstance(e, exp.Paren):
        return constant(e.this)
    if isinstance(e, exp.Neg):
        v = constant(e.this)
        return None if v is None else -v
    ops = {exp.Add: float.__add__, exp.Sub: float.__sub__, exp.Mul: float.__mul__}
    if type(e) in ops or isinstance(e, exp.Div):
        a, b = constant(e.this), constant(e.expression)
        if a is None or b is None:
            return None
        if isinstance(e, exp.Div):
            return None if b == 0 else a / b
        return ops[type(e)](a, b)
    return None


def radians(e: exp.Expression) -> exp.Expression:
    v = constant(e)
    return number(math.radians(v)) if v is not None else fn("radians", e)


@dataclass
class Point:
    ra: exp.Expression
    dec: exp.Expression

    @property
    def is_constant(self) -> bool:
        return constant(self.ra) is not None and constant(self.dec) is not None

    @property
    def is_columns(self) -> bool:
        return isinstance(self.ra, exp.Column) and isinstance(self.dec, exp.Column)

    @property
    def is_indexed(self) -> bool:
        """Both columns are a table's indexed position (TableInfo.sky_index)."""
        return self.is_columns and all(c.meta.get("adql_sky_index") for c in (self.ra, self.dec))

    def values(self) -> tuple[float, float]:
        return constant(self.ra), constant(self.dec)

    def sphere(self) -> exp.Expression:
        # exactly the GiST index expression when ra and dec are columns
        return fn("spoint", radians(self.ra), radians(self.dec))

    def dali(self) -> list[exp.Expression]:
        return [self.ra, self.dec]


@dataclass
class Circle:
    center: Point
    radius: exp.Expression

    @property
    def is_constant(self) -> bool:
        return self.center.is_constant and constant(self.radius) is not None

    def sphere(self) -> exp.Expression:
        return fn("scircle", self.center.sphere(), radians(self.radius))

    def dali(self) -> list[exp.Expression]:
        return [self.center.ra, self.center.dec, self.radius]


@dataclass
class Polygon:
    vertices: list[Point]

    @property
    def is_constant(self) -> bool:
        return all(v.is_constant for v in self.vertices)

    def sphere(self) -> exp.Expression:
        if self.is_constant:
            text = ",".join(
                f"({math.radians(ra)!r},{math.radians(dec)!r})"
                for ra, dec in (v.values() for v in self.vertices)
            )
            return exp.Cast(
                this=exp.Literal.string("{" + text + "}"),
                to=exp.DataType.build("spoly", udt=True),
            )
        # pg_sphere 1.2 builds a polygon from points only through its spoly(spoint) aggregate
        rows = [
            exp.Tuple(expressions=[exp.Literal.number(i), v.sphere()])
            for i, v in enumerate(self.vertices)
        ]
        agg = exp.Anonymous(
            this="spoly",
            expressions=[
                exp.Order(
                    this=exp.column("p", "v"), expressions=[exp.Ordered(this=exp.column("i", "v"))]
                )
            ],
        )
        values = exp.Values(
            expressions=rows,
            alias=exp.TableAlias(
                this=exp.to_identifier("v"),
                columns=[exp.to_identifier("i"), exp.to_identifier("p")],
            ),
        )
        return exp.Subquery(this=exp.select(agg).from_(values))

    def q3c_array(self) -> exp.Expression:
        return float_array([c for v in self.vertices for c in v.dali()])

    def dali(self) -> list[exp.Expression]:
        return [c for v in self.vertices for c in v.dali()]


@dataclass
class Moc:
    """A pg_sphere ``smoc`` (HEALPix multi-order coverage), as an SQL expression."""

    expr: exp.Expression

    @property
    def is_constant(self) -> bool:
        return False

    def sphere(self) -> exp.Expression:
        return self.expr.copy()


Shape = Point | Circle | Polygon | Moc


def float_array(items: list[exp.Expression]) -> exp.Expression:
    return exp.Cast(this=exp.Array(expressions=items), to=exp.DataType.build("DOUBLE PRECISION[]"))


def dali_value(shape: Shape) -> exp.Expression:
    """A shape as a SELECT value: DALI's double array, or a MOC as pg_sphere writes it (ASCII
    MOC, DALI 1.2's serialisation for xtype moc)."""
    if isinstance(shape, Moc):
        return shape.sphere()
    return float_array(shape.dali())


# -- building shapes from ADQL calls ------------------------------------------------------------


def is_shape_call(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).upper() in SHAPES | UDF_SHAPES


def build(node: exp.Expression, rewrite) -> Shape:
    """The shape an ADQL geometry call describes; ``rewrite`` translates its plain arguments."""
    if not is_shape_call(node):
        raise UnsupportedError(
            f"expected a geometry (POINT, CIRCLE, BOX, POLYGON, CENTROID), got {node.sql()}",
            token=node.sql(),
        )
    name = str(node.this).upper()
    args = list(node.expressions)
    if name in UDF_SHAPES:
        try:
            return _build_udf(name, args, rewrite, node)
        except UnsupportedError as exc:
            exc.token = exc.token or name
            raise
    frame, literal = "", None
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        literal = args.pop(0)
        frame = literal.this.strip().upper()
    try:
        shape = _build(name, args, rewrite, node)
        return to_icrs(shape, frame, name)
    except FrameError as exc:
        exc.token = exc.token or (literal.sql() if literal is not None else name)
        raise
    except UnsupportedError as exc:
        exc.token = exc.token or name
        raise


def _arity(name: str, node: exp.Expression, n: int, wanted: str) -> None:
    raise UnsupportedError(
        f"{name} takes {wanted}, got {n} arguments: {node.sql()}", token=str(node.this)
    )


def _point(arg: exp.Expression, rewrite, name: str) -> Point:
    shape = build(arg, rewrite)
    if not isinstance(shape, Point):
        raise UnsupportedError(f"{name} needs a POINT here, got {arg.sql()}")
    return shape


def _build(name: str, args: list[exp.Expression], rewrite, node) -> Shape:
    n = len(args)
    if name == "POINT":
        if n != 2:
            _arity(name, node, n, "(coordsys,) ra, dec")
        return Point(rewrite(args[0]), rewrite(args[1]))
    if name == "CIRCLE":
        if n == 3:
            return Circle(Point(rewrite(args[0]), rewrite(args[1])), rewrite(args[2]))
        if n == 2:
            return Circle(_point(args[0], rewrite, name), rewrite(args[1]))
        _arity(name, node, n, "(coordsys,) ra, dec, radius or a POINT and a radius")
    if name == "BOX":
        if n == 4:
            center = Point(rewrite(args[0]), rewrite(args[1]))
            return box(center, rewrite(args[2]), rewrite(args[3]))
        if n == 3:
            return box(_point(args[0], rewrite, name), rewrite(args[1]), rewrite(args[2]))
        _arity(name, node, n, "(coordsys,) ra, dec, width, height")
    if name == "POLYGON":
        if n >= 3 and all(is_shape_call(a) for a in args):
            return Polygon([_point(a, rewrite, name) for a in args])
        if n >= 6 and n % 2 == 0 and not any(is_shape_call(a) for a in args):
            vals = [rewrite(a) for a in args]
            return Polygon([Point(vals[i], vals[i + 1]) for i in range(0, n, 2)])
        _arity(name, node, n, "at least three vertices, as POINTs or as ra, dec pairs")
    if name == "CENTROID":
        if n != 1:
            _arity(name, node, n, "one geometry")
        return centroid(build(args[0], rewrite))
    raise AssertionError(name)


def _int(e: exp.Expression, kind: str = "INT") -> exp.Expression:
    return exp.Cast(this=e, to=exp.DataType.build(kind))


def _spoint_point(sphere: exp.Expression) -> Point:
    """A Point whose coordinates (degrees) are those of a pg_sphere spoint expression."""
    return Point(fn("degrees", fn("long", sphere)), fn("degrees", fn("lat", sphere.copy())))


def _build_udf(name: str, args: list[exp.Expression], rewrite, node) -> Shape:
    n = len(args)
    if name == "MOC":
        if n == 1 and isinstance(args[0], exp.Literal) and args[0].is_string:
            return Moc(exp.Cast(this=args[0].copy(), to=exp.DataType.build("smoc", udt=True)))
        if n == 2:
            order, shape = _int(rewrite(args[0])), build(args[1], rewrite)
            if isinstance(shape, Moc):
                return Moc(fn("smoc_degrade", order, shape.sphere()))
            return Moc(fn("smoc", order, shape.sphere()))
        _arity(name, node, n, "an order and a geometry, or an ASCII MOC string")
    if name == "IVO_HEALPIX_CENTER":
        if n != 2:
            _arity(name, node, n, "an order and a HEALPix index")
        order, index = (rewrite(a) for a in args)
        return _spoint_point(
            fn(f"{UDF_SCHEMA}.ivo_healpix_center", _int(order), _int(index, "BIGINT"))
        )
    if name == "IVO_EPOCH_PROP_POS":
        if n != 8:
            _arity(
                name,
                node,
                n,
                "ra, dec, parallax, pmra, pmdec, radial_velocity, ref_epoch, out_epoch",
            )
        values = [_int(rewrite(a), "DOUBLE PRECISION") for a in args]
        return _spoint_point(fn(f"{UDF_SCHEMA}.ivo_epoch_prop_pos", *values))
    raise AssertionError(name)


def box(center: Point, width: exp.Expression, height: exp.Expression) -> Polygon:
    """The polygon through the four corners center ± (width/2, height/2), great-circle edges."""
    corners = ((-1, -1), (-1, 1), (1, 1), (1, -1))
    vals = [*center.values(), constant(width), constant(height)] if center.is_constant else None
    if vals is not None and None not in vals:
        ra, dec, w, h = vals
        return Polygon(
            [Point(number(ra + sx * w / 2), number(dec + sy * h / 2)) for sx, sy in corners]
        )

    def offset(c: exp.Expression, size: exp.Expression, sign: int) -> exp.Expression:
        half = exp.Div(this=exp.Paren(this=size.copy()), expression=exp.Literal.number(2))
        op = exp.Add if sign > 0 else exp.Sub
        return exp.Paren(this=op(this=c.copy(), expression=half))

    return Polygon(
        [Point(offset(center.ra, width, sx), offset(center.dec, height, sy)) for sx, sy in corners]
    )


def _unit(ra: float, dec: float) -> np.ndarray:
    a, d = math.radians(ra), math.radians(dec)
    return np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])


def _angles(v: np.ndarray) -> tuple[float, float]:
    v = v / np.linalg.norm(v)
    return math.degrees(math.atan2(v[1], v[0])) % 360.0, math.degrees(math.asin(v[2]))


def centroid(shape: Shape) -> Point:
    if isinstance(shape, Moc):
        raise UnsupportedError("CENTROID of a MOC is not supported")
    if isinstance(shape, Point):
        return shape
    if isinstance(shape, Circle):
        return shape.center
    if not shape.is_constant:
        raise UnsupportedError("CENTROID of a polygon needs constant vertices")
    # area-weighted centroid of the fan of spherical triangles from the first vertex
    vs = [_unit(*v.values()) for v in shape.vertices]
    total = np.zeros(3)
    for a, b in zip(vs[1:-1], vs[2:], strict=True):
        triple = float(np.dot(vs[0], np.cross(a, b)))
        area = 2 * math.atan2(triple, 1 + np.dot(vs[0], a) + np.dot(a, b) + np.dot(b, vs[0]))
        total += area * (vs[0] + a + b) / np.linalg.norm(vs[0] + a + b)
    ra, dec = _angles(total if np.linalg.norm(total) > 0 else sum(vs))
    return Point(number(ra), number(dec))


def galactic_to_icrs(lon: float, lat: float) -> tuple[float, float]:
    return _angles(ICRS_TO_GALACTIC.T @ _unit(lon, lat))


def to_icrs(shape: Shape, frame: str, name: str) -> Shape:
    """The shape in ICRS: unchanged for ICRS frames, rotated for constant Galactic ones."""
    if frame in ICRS_FRAMES:
        return shape
    if frame not in GALACTIC_FRAMES:
        raise FrameError(
            f"{name}: coordinate system {frame!r} is not supported "
            "(ICRS, or GALACTIC with constant coordinates)"
        )

    def rotate(p: Point) -> Point:
        if not p.is_constant:
            raise FrameError(
                f"{name}: GALACTIC positions are converted only when they are constants; "
                "the catalogue's positions are ICRS"
            )
        ra, dec = galactic_to_icrs(*p.values())
        return Point(number(ra), number(dec))

    if isinstance(shape, Point):
        return rotate(shape)
    if isinstance(shape, Moc):
        raise FrameError(f"{name}: a MOC is ICRS; its geometry cannot be converted")
    if isinstance(shape, Circle):
        return Circle(rotate(shape.center), shape.radius)
    return Polygon([rotate(v) for v in shape.vertices])


# -- predicates and functions -------------------------------------------------------------------


def _with_moc(a: Shape, b: Shape, what: str) -> exp.Expression:
    """CONTAINS/INTERSECTS where a MOC takes part: pg_sphere compares a MOC with a point or
    another MOC only."""
    if isinstance(a, Point | Moc) and isinstance(b, Moc):
        op = "&&" if what == "INTERSECTS" and isinstance(a, Moc) else "<@"
        return sphere_op(a.sphere(), op, b.sphere())
    if what == "INTERSECTS" and isinstance(a, Moc) and isinstance(b, Point):
        return sphere_op(b.sphere(), "<@", a.sphere())
    if isinstance(b, Point):
        return exp.false()  # a MOC's cells have an area: never inside a point
    raise UnsupportedError(
        f"{what} of a MOC and a CIRCLE or POLYGON: make both MOCs, e.g. MOC(10, CIRCLE(...))"
    )


def contains(a: Shape, b: Shape) -> exp.Expression:
    """ADQL CONTAINS(a, b) = 1 as a boolean that an index can serve."""
    if isinstance(a, Moc) or isinstance(b, Moc):
        return _with_moc(a, b, "CONTAINS")
    if isinstance(a, Point):
        if isinstance(b, Circle):
            # a point in a circle is a distance no larger than the radius, either way round
            return within(a, b.center, b.radius, strict=False)
        if isinstance(b, Polygon):
            if a.is_columns and b.is_constant:
                return fn("q3c_poly_query", a.ra, a.dec, b.q3c_array())
            return sphere_op(a.sphere(), "@", b.sphere())
        return sphere_op(a.sphere(), "=", b.sphere())
    if isinstance(b, Point):
        return exp.false()  # a circle or polygon of positive size is never inside a point
    return sphere_op(a.sphere(), "@", b.sphere())


def intersects(a: Shape, b: Shape) -> exp.Expression:
    """ADQL INTERSECTS: with a point it is CONTAINS (the standard says so), else pg_sphere &&."""
    if isinstance(a, Moc) or isinstance(b, Moc):
        return _with_moc(a, b, "INTERSECTS")
    if isinstance(a, Point):
        return contains(a, b)
    if isinstance(b, Point):
        return contains(b, a)
    return sphere_op(a.sphere(), "&&", b.sphere())


def distance(p: Point, q: Point) -> exp.Expression:
    # copies: within() writes the same positions into the index test as well
    return fn("q3c_dist", *(e.copy() for e in (p.ra, p.dec, q.ra, q.dec)))


def within(p: Point, q: Point, radius: exp.Expression, strict: bool) -> exp.Expression:
    """DISTANCE(p, q) < radius (or <=) with q3c's index where one point is bare columns.

    ``p`` goes on q3c's index side: the indexed position if one is, else bare columns.
    """
    if (q.is_indexed and not p.is_indexed) or (not p.is_columns and q.is_columns):
        p, q = q, p
    exact = (exp.LT if strict else exp.LTE)(this=distance(p, q), expression=radius)
    if not p.is_columns:
        return exact
    if q.is_constant and constant(radius) is not None:
        near = fn("q3c_radial_query", p.ra, p.dec, q.ra, q.dec, radius.copy())
    else:
        near = fn("q3c_join", q.ra, q.dec, p.ra, p.dec, radius.copy())
    # q3c's own tests are <=; the exact comparison keeps '<' exact at the boundary
    return exp.And(this=near, expression=exact) if strict else near


def area(shape: Shape) -> exp.Expression:
    """AREA in square degrees (pg_sphere gives steradians)."""
    if isinstance(shape, Point):
        return exp.Literal.number(0)
    return fn("degrees", fn("degrees", fn("area", shape.sphere())))
