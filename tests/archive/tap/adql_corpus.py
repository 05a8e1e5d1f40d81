"""The ADQL 2.1 feature corpus: one query per feature with the rows it must return.

Pure data over a catalogue of eight stars (``STARS``), shared by the tests
(test_adql_corpus.py, on the published views) and bench/adql.py (which measures
queryparser-python3 and archive.tap.adql on it). Expected rows follow from ``STARS``.
"""

import math

#: source_id -> (ra, dec, teff, flag_boundary); 1-3 near (10, 20), 5 at the Galactic centre,
#: 6 and 7 on either side of ra = 0
STARS = {
    1: (10.0, 20.0, 4000.0, "00000000"),
    2: (10.5, 20.0, 4500.0, "00000001"),
    3: (10.0, 21.5, 5000.0, "00000000"),
    4: (200.0, -30.0, 5500.0, "00000010"),
    5: (266.40499, -28.93617, 6000.0, "00000000"),
    6: (0.2, 0.0, 4200.0, "00000001"),
    7: (359.9, 0.0, 4800.0, "00000000"),
    8: (45.0, 60.0, 5200.0, "00000000"),
}
VERSION = "adql-test"


S = "gaiadr3_rvs_cnn"
R = f"{S}.rvs_cnn"
G = f"{S}.gaia_source"
V = f"{S}.rvs_cnn_versions"
BY_TEFF = sorted(STARS, key=lambda s: STARS[s][2])
FLAGS = {}
for _sid, (*_, _flag) in STARS.items():
    FLAGS[_flag] = FLAGS.get(_flag, 0) + 1


def cap_area(r_deg: float) -> float:
    return 2 * math.pi * (1 - math.cos(math.radians(r_deg))) * (180 / math.pi) ** 2


#: (feature, ADQL, expected rows; a set when the order is not defined)
CORPUS = [
    ("TOP", f"SELECT TOP 3 source_id FROM {R} ORDER BY teff DESC", [(5,), (4,), (8,)]),
    ("OFFSET", f"SELECT source_id FROM {R} ORDER BY teff OFFSET 6", [(s,) for s in BY_TEFF[6:]]),
    (
        "TOP OFFSET",
        f"SELECT TOP 2 source_id FROM {R} ORDER BY teff OFFSET 1",
        [(s,) for s in BY_TEFF[1:3]],
    ),
    ("DISTINCT", f"SELECT DISTINCT flag_boundary FROM {R}", {(f,) for f in FLAGS}),
    (
        "GROUP BY HAVING",
        f"SELECT flag_boundary, COUNT(*) AS n FROM {R} GROUP BY flag_boundary HAVING COUNT(*) > 1",
        {(f, n) for f, n in FLAGS.items() if n > 1},
    ),
    (
        "aggregates",
        f"SELECT MIN(teff), MAX(teff), AVG(teff), SUM(source_id) FROM {R}",
        [(4000.0, 6000.0, sum(v[2] for v in STARS.values()) / 8, sum(STARS))],
    ),
    ("BETWEEN", f"SELECT source_id FROM {R} WHERE teff BETWEEN 4400 AND 4900", {(2,), (7,)}),
    ("IN list", f"SELECT source_id FROM {R} WHERE source_id IN (1, 3, 99)", {(1,), (3,)}),
    ("LIKE", f"SELECT COUNT(*) FROM {R} WHERE flag_boundary LIKE '%1'", [(2,)]),
    (
        "ILIKE",
        f"SELECT DISTINCT model_version FROM {V} WHERE model_version ILIKE 'ADQL-%'",
        [(VERSION,)],
    ),
    (
        "UPPER LOWER",
        f"SELECT DISTINCT UPPER(model_version), LOWER('AbC') FROM {V}",
        [(VERSION.upper(), "abc")],
    ),
    (
        "concatenation",
        f"SELECT 'v:' || model_version FROM {V} WHERE source_id = 1",
        [("v:" + VERSION,)],
    ),
    (
        "INNER JOIN ON",
        f"SELECT r.source_id, g.parallax FROM {R} AS r JOIN {G} AS g ON r.source_id = g.source_id "
        "WHERE r.source_id = 4",
        [(4, 0.4)],
    ),
    (
        "JOIN USING",
        f"SELECT source_id, g.parallax FROM {R} AS r JOIN {G} AS g USING (source_id) "
        "WHERE source_id = 2",
        [(2, 0.2)],
    ),
    ("NATURAL JOIN", f"SELECT COUNT(*) FROM {R} NATURAL JOIN {G}", [(8,)]),
    (
        "LEFT OUTER JOIN",
        f"SELECT g.source_id, r.teff FROM {G} AS g LEFT OUTER JOIN {R} AS r "
        "ON r.source_id = g.source_id AND r.teff > 5900",
        {(s, 6000.0 if s == 5 else None) for s in STARS},
    ),
    (
        "RIGHT OUTER JOIN",
        f"SELECT COUNT(*) FROM (SELECT source_id FROM {R} WHERE source_id < 4) AS a RIGHT OUTER "
        f"JOIN (SELECT source_id FROM {G} WHERE source_id > 2) AS b ON a.source_id = b.source_id",
        [(6,)],
    ),
    (
        "FULL OUTER JOIN",
        f"SELECT COUNT(*) FROM (SELECT source_id FROM {R} WHERE source_id < 4) AS a FULL OUTER "
        f"JOIN (SELECT source_id FROM {G} WHERE source_id > 2) AS b ON a.source_id = b.source_id",
        [(8,)],
    ),
    ("CROSS JOIN", f"SELECT COUNT(*) FROM {R} AS a CROSS JOIN {G} AS b", [(64,)]),
    (
        "IN subquery",
        f"SELECT source_id FROM {R} WHERE source_id IN (SELECT source_id FROM {G} WHERE dec > 50)",
        [(8,)],
    ),
    (
        "EXISTS",
        f"SELECT a.source_id FROM {R} AS a WHERE EXISTS "
        f"(SELECT 1 FROM {G} AS b WHERE b.source_id = a.source_id + 1 AND b.dec < -25)",
        {(3,), (4,)},
    ),
    (
        "subquery in FROM",
        f"SELECT t.s FROM (SELECT source_id AS s, teff FROM {R}) AS t WHERE t.teff = 5000",
        [(3,)],
    ),
    (
        "UNION",
        f"SELECT source_id FROM {R} WHERE source_id < 3 UNION "
        f"SELECT source_id FROM {G} WHERE source_id = 8",
        {(1,), (2,), (8,)},
    ),
    (
        "UNION ALL",
        f"SELECT COUNT(*) FROM (SELECT source_id FROM {R} WHERE source_id < 3 UNION ALL "
        f"SELECT source_id FROM {G} WHERE source_id < 3) AS u",
        [(4,)],
    ),
    (
        "EXCEPT",
        f"SELECT source_id FROM {R} EXCEPT SELECT source_id FROM {G} WHERE source_id > 2",
        {(1,), (2,)},
    ),
    (
        "INTERSECT",
        f"SELECT source_id FROM {R} WHERE teff > 5000 INTERSECT "
        f"SELECT source_id FROM {G} WHERE dec < 0",
        {(4,), (5,)},
    ),
    (
        "WITH",
        f"WITH hot AS (SELECT source_id, teff FROM {R} WHERE teff > 5100) SELECT COUNT(*) FROM hot",
        [(3,)],
    ),
    (
        "CAST",
        f"SELECT CAST(teff AS INTEGER), CAST(source_id AS DOUBLE PRECISION), "
        f"CAST(source_id AS CHAR(3)) FROM {R} WHERE source_id = 1",
        [(4000, 1.0, "1  ")],
    ),
    ("COALESCE", f"SELECT COALESCE(parallax_error, -1) FROM {G} WHERE source_id = 1", [(-1.0,)]),
    (
        "IS NULL",
        f"SELECT COUNT(*) FROM {G} WHERE parallax_error IS NULL",
        [(8,)],
    ),
    (
        "bitwise",
        f"SELECT source_id & 6, source_id | 8, source_id ^ 3, ~source_id FROM {R} "
        "WHERE source_id = 5",
        [(4, 13, 6, -6)],
    ),
    (
        "numeric literals",
        f"SELECT 1e4, 2.5E-1, .5 FROM {R} WHERE source_id = 1",
        [(1e4, 0.25, 0.5)],
    ),
    (
        "math",
        "SELECT ABS(-2.5), CEILING(1.2), FLOOR(1.8), ROUND(DEGREES(PI()), 6), "
        "ROUND(EXP(1), 6), ROUND(LOG(EXP(2.0)), 6), LOG10(1000.0), MOD(7, 3), MOD(7.5, 2), "
        "POWER(2, 10), ROUND(RADIANS(180), 6), SQRT(16.0) "
        f"FROM {R} WHERE source_id = 1",
        [(2.5, 2, 1, 180.0, round(math.e, 6), 2.0, 3.0, 1, 1.5, 1024, round(math.pi, 6), 4.0)],
    ),
    (
        "ROUND TRUNCATE of a real column",
        f"SELECT ROUND(teff / 3, 2), TRUNCATE(teff / 3, 2), ROUND(teff / 3), TRUNCATE(-2.7) "
        f"FROM {R} WHERE source_id = 1",
        [(1333.33, 1333.33, 1333.0, -2.0)],
    ),
    (
        "trig",
        "SELECT ROUND(SIN(PI()/2), 6), ROUND(COS(0), 6), ROUND(TAN(PI()/4), 6), "
        "ROUND(ASIN(1), 6), ROUND(ACOS(1), 6), ROUND(ATAN(1), 6), ROUND(ATAN2(1, 1), 6), "
        f"ROUND(COT(PI()/4), 6) FROM {R} WHERE source_id = 1",
        [
            (
                1.0,
                1.0,
                1.0,
                round(math.pi / 2, 6),
                0.0,
                round(math.pi / 4, 6),
                round(math.pi / 4, 6),
                1.0,
            )
        ],
    ),
    ("RAND", f"SELECT COUNT(*) FROM {R} WHERE RAND() >= 0 AND RAND() < 1", [(8,)]),
    (
        "IN_UNIT",
        f"SELECT IN_UNIT(teff, 'kK'), IN_UNIT(ra, 'arcmin') FROM {R} WHERE source_id = 4",
        [(5.5, 12000.0)],
    ),
    # geometry
    (
        "CONTAINS CIRCLE",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 10, 20, 1)) = 1",
        {(1,), (2,)},
    ),
    (
        "1 = CONTAINS, CIRCLE(POINT, r)",
        f"SELECT source_id FROM {R} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(POINT(10, 20), 2))",
        {(1,), (2,), (3,)},
    ),
    (
        "CONTAINS = 0",
        f"SELECT COUNT(*) FROM {R} WHERE CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 0",
        [(6,)],
    ),
    (
        "cone across ra = 0",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), CIRCLE(0, 0, 0.5)) = 1",
        {(6,), (7,)},
    ),
    (
        "GALACTIC circle",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), "
        "CIRCLE('GALACTIC', 0, 0, 0.1)) = 1",
        [(5,)],
    ),
    (
        "BOX",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), BOX(10.25, 20, 1, 1)) = 1",
        {(1,), (2,)},
    ),
    (
        "BOX across ra = 0",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), BOX(0, 0, 1, 1)) = 1",
        {(6,), (7,)},
    ),
    (
        "POLYGON across ra = 0",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), "
        "POLYGON(359.5, -1, 0.5, -1, 0.5, 1, 359.5, 1)) = 1",
        {(6,), (7,)},
    ),
    (
        "POLYGON of numbers",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), "
        "POLYGON(9, 19, 11, 19, 11, 22, 9, 22)) = 1",
        {(1,), (2,), (3,)},
    ),
    (
        "POLYGON of POINTs",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), "
        "POLYGON(POINT(9.8, 19.8), POINT(10.2, 19.8), POINT(10, 21.4))) = 1",
        {(1,)},
    ),
    (
        "POLYGON with column vertices",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(10.1, 20.1),"
        " POLYGON(POINT(ra - 0.5, dec - 0.5), POINT(ra + 0.5, dec - 0.5), POINT(ra, dec + 1))) = 1",
        {(1,)},
    ),
    (
        "CIRCLE with column centre",
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(10.2, 20), CIRCLE(ra, dec, 0.3)) = 1",
        {(1,), (2,)},
    ),
    (
        "DISTANCE < r",
        f"SELECT source_id FROM {R} WHERE DISTANCE(POINT(ra, dec), POINT(10, 20)) < 0.6",
        {(1,), (2,)},
    ),
    (
        "DISTANCE of four numbers",
        f"SELECT source_id FROM {R} WHERE 0.6 > DISTANCE(ra, dec, 10, 20)",
        {(1,), (2,)},
    ),
    (
        "DISTANCE value",
        f"SELECT ROUND(DISTANCE(POINT(ra, dec), POINT(10, 20)), 6) FROM {R} WHERE source_id = 3",
        [(1.5,)],
    ),
    (
        "crossmatch join",
        f"SELECT a.source_id, b.source_id FROM {R} AS a JOIN {G} AS b ON "
        "CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.6)) = 1 "
        "WHERE a.source_id <> b.source_id",
        {(1, 2), (2, 1), (6, 7), (7, 6)},
    ),
    (
        "DISTANCE crossmatch",
        f"SELECT a.source_id, b.source_id FROM {R} AS a, {G} AS b WHERE "
        "DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < 0.6 AND a.source_id < b.source_id",
        {(1, 2), (6, 7)},
    ),
    (
        "INTERSECTS",
        f"SELECT source_id FROM {R} WHERE "
        "INTERSECTS(CIRCLE(ra, dec, 0.1), CIRCLE(10, 20, 0.5)) = 1",
        {(1,), (2,)},
    ),
    (
        "INTERSECTS with a POINT",
        f"SELECT source_id FROM {R} WHERE INTERSECTS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 1",
        {(1,), (2,)},
    ),
    (
        "AREA",
        "SELECT ROUND(AREA(CIRCLE(0, 0, 1)), 6), ROUND(AREA(POINT(1, 2)), 6) "
        f"FROM {R} WHERE source_id = 1",
        [(round(cap_area(1), 6), 0.0)],
    ),
    (
        "AREA of a POLYGON",
        # an octant: an eighth of the sphere's 129600/pi square degrees
        f"SELECT ROUND(AREA(POLYGON(0, 0, 90, 0, 0, 90)), 6) FROM {R} WHERE source_id = 1",
        [(round(129600 / math.pi / 8, 6),)],
    ),
    (
        "CENTROID of a POLYGON",
        "SELECT ROUND(COORD1(CENTROID(POLYGON(9, -1, 11, -1, 11, 1, 9, 1))), 9), "
        "ROUND(COORD2(CENTROID(POLYGON(9, -1, 11, -1, 11, 1, 9, 1))), 9) "
        f"FROM {R} WHERE source_id = 1",
        [(10.0, 0.0)],
    ),
    (
        "CONTAINS CIRCLE in CIRCLE",
        f"SELECT source_id FROM {R} WHERE CONTAINS(CIRCLE(ra, dec, 0.1), CIRCLE(10, 20, 1)) = 1",
        {(1,), (2,)},
    ),
    (
        "INTERSECTS two POLYGONs",
        f"SELECT source_id FROM {R} WHERE INTERSECTS(BOX(ra, dec, 0.2, 0.2), "
        "POLYGON(10.3, 19.5, 10.7, 19.5, 10.7, 20.5)) = 1",
        [(2,)],
    ),
    (
        "COORD1 COORD2 COORDSYS",
        f"SELECT COORD1(POINT(ra, dec)), COORD2(POINT(ra, dec)), "
        f"COORDSYS(POINT(ra, dec)) FROM {R} WHERE source_id = 8",
        [(45.0, 60.0, "ICRS")],
    ),
    (
        "CENTROID",
        f"SELECT CENTROID(CIRCLE(10, 20, 1)) FROM {R} WHERE source_id = 1",
        [([10.0, 20.0],)],
    ),
    (
        "geometry values",
        f"SELECT POINT(ra, dec), CIRCLE(ra, dec, 1) FROM {R} WHERE source_id = 2",
        [([10.5, 20.0], [10.5, 20.0, 1.0])],
    ),
    (
        "CAST to geometries",
        f"SELECT CAST('12.5 -45.25' AS POINT), CAST('1 2 0.5' AS CIRCLE), source_id FROM {R} "
        "WHERE CONTAINS(POINT(ra, dec), CAST('10 20 1' AS CIRCLE)) = 1 AND CONTAINS(POINT(ra, "
        "dec), CAST('9 19 11 19 11 21 9 21' AS POLYGON)) = 1 ORDER BY source_id",
        [([12.5, -45.25], [1.0, 2.0, 0.5], 1), ([12.5, -45.25], [1.0, 2.0, 0.5], 2)],
    ),
    (
        "CONTAINS as a value",
        f"SELECT source_id, CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1)) "
        f"FROM {R} WHERE source_id IN (1, 4)",
        {(1, 1), (4, 0)},
    ),
]


def rows(conn, sql: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return [
            tuple(float(v) if type(v).__name__ == "Decimal" else v for v in r)
            for r in cur.fetchall()
        ]


def approx(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(approx(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def same(got: list, expected) -> bool:
    if isinstance(expected, set):
        got = sorted(got, key=repr)
        expected = sorted(expected, key=repr)
    return len(got) == len(expected) and all(
        len(g) == len(e) and all(approx(x, y) for x, y in zip(g, e, strict=True))
        for g, e in zip(got, expected, strict=True)
    )
