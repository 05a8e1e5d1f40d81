"""Every ADQL feature and function that /tap/capabilities declares, run as a sync query against
the live service (gunicorn), each result checked against the stars' definition or an
independent computation (cdshealpix and mocpy for HEALPix and MOCs, astropy for epoch
propagation, numpy for histograms, Python for words), so the declaration cannot drift from what
works. Geometry outputs: their DALI xtype, arraysize and values through astropy."""

import io
import math
import re
import urllib.parse
import urllib.request
from xml.etree import ElementTree as ET

import astropy.units as u
import numpy as np
import pytest
import pyvo
from astropy.io.votable import parse_single_table
from astropy.table import Table

from .adql_corpus import STARS, G, R, cap_area

pytestmark = pytest.mark.django_db
TR = "{http://www.ivoa.net/xml/TAPRegExt/v1.0}"
ONE = f"FROM {R} WHERE source_id = 1"
TEFF = {sid: star[2] for sid, star in STARS.items()}


@pytest.fixture(scope="module")
def tap(web_service, published) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{web_service}/tap")


def rows(tap: pyvo.dal.TAPService, query: str) -> list[tuple]:
    table = tap.run_sync(query).to_table()
    return [tuple(_plain(row[c]) for c in table.colnames) for row in table]


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def near(got, expected, tol=1e-9) -> bool:
    return np.allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), atol=tol)


#: (feature type suffix, form) -> (query, check of its rows); one per form the service declares
QUERIES = {
    ("adqlgeo", "POINT"): (f"SELECT POINT(ra, dec) {ONE}", lambda r: near(r[0][0], [10, 20])),
    ("adqlgeo", "CIRCLE"): (
        f"SELECT CIRCLE(ra, dec, 1) {ONE}",
        lambda r: near(r[0][0], [10, 20, 1]),
    ),
    ("adqlgeo", "BOX"): (
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), BOX(10.25, 20, 1, 1)) = 1",
        lambda r: {x for (x,) in r} == {1, 2},
    ),
    ("adqlgeo", "POLYGON"): (
        f"SELECT source_id FROM {R} "
        "WHERE CONTAINS(POINT(ra, dec), POLYGON(9, 19, 11, 19, 11, 21, 9, 21)) = 1",
        lambda r: {x for (x,) in r} == {1, 2},
    ),
    ("adqlgeo", "CONTAINS"): (
        f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 1",
        lambda r: {x for (x,) in r} == {1, 2},
    ),
    ("adqlgeo", "INTERSECTS"): (
        f"SELECT source_id FROM {R} "
        "WHERE INTERSECTS(CIRCLE(ra, dec, 0.1), CIRCLE(10, 20, 0.5)) = 1",
        lambda r: {x for (x,) in r} == {1, 2},
    ),
    ("adqlgeo", "DISTANCE"): (
        f"SELECT DISTANCE(POINT(ra, dec), POINT(10, 21)) {ONE}",
        lambda r: near(r[0][0], 1.0),
    ),
    ("adqlgeo", "AREA"): (
        f"SELECT AREA(CIRCLE(10, 20, 1)) {ONE}",
        lambda r: near(r[0][0], cap_area(1)),
    ),
    ("adqlgeo", "COORD1"): (f"SELECT COORD1(POINT(ra, dec)) {ONE}", lambda r: r == [(10.0,)]),
    ("adqlgeo", "COORD2"): (f"SELECT COORD2(POINT(ra, dec)) {ONE}", lambda r: r == [(20.0,)]),
    ("adqlgeo", "COORDSYS"): (f"SELECT COORDSYS(POINT(ra, dec)) {ONE}", lambda r: r == [("ICRS",)]),
    ("adqlgeo", "CENTROID"): (
        f"SELECT CENTROID(CIRCLE(ra, dec, 1)) {ONE}",
        lambda r: near(r[0][0], [10, 20]),
    ),
    ("adql-string", "LOWER"): (f"SELECT LOWER('AbC') {ONE}", lambda r: r == [("abc",)]),
    ("adql-string", "UPPER"): (f"SELECT UPPER('AbC') {ONE}", lambda r: r == [("ABC",)]),
    ("adql-string", "ILIKE"): (
        f"SELECT COUNT(*) FROM {R} WHERE model_version ILIKE 'ADQL-%'",
        lambda r: r == [(len(STARS),)],
    ),
    ("adql-sets", "UNION"): (
        f"SELECT source_id FROM {R} WHERE source_id < 3 UNION SELECT source_id {ONE}",
        lambda r: {x for (x,) in r} == {1, 2},
    ),
    ("adql-sets", "EXCEPT"): (
        f"SELECT source_id FROM {R} WHERE source_id < 3 EXCEPT SELECT source_id {ONE}",
        lambda r: r == [(2,)],
    ),
    ("adql-sets", "INTERSECT"): (
        f"SELECT source_id FROM {R} WHERE source_id < 3 INTERSECT SELECT source_id {ONE}",
        lambda r: r == [(1,)],
    ),
    ("adql-type", "CAST"): (
        f"SELECT CAST(teff AS INTEGER), CAST('12.5 -45.25' AS POINT) {ONE}",
        lambda r: r[0][0] == 4000 and near(r[0][1], [12.5, -45.25]),
    ),
    ("adql-conditional", "COALESCE"): (
        f"SELECT COALESCE(parallax_error, -1) FROM {G} WHERE source_id = 1",
        lambda r: r == [(-1.0,)],
    ),
    ("adql-offset", "OFFSET"): (
        f"SELECT source_id FROM {R} ORDER BY source_id OFFSET 6",
        lambda r: r == [(7,), (8,)],
    ),
    ("adql-common-table", "WITH"): (
        f"WITH hot AS (SELECT source_id FROM {R} WHERE teff > 5000) SELECT COUNT(*) FROM hot",
        lambda r: r == [(sum(t > 5000 for t in TEFF.values()),)],
    ),
    ("adql-unit", "IN_UNIT"): (f"SELECT IN_UNIT(ra, 'arcmin') {ONE}", lambda r: near(r[0][0], 600)),
    ("adql-bitwise", "BIT_AND"): (
        f"SELECT source_id & 6 FROM {R} WHERE source_id = 5",
        lambda r: r == [(4,)],
    ),
    ("adql-bitwise", "BIT_OR"): (
        f"SELECT source_id | 8 FROM {R} WHERE source_id = 5",
        lambda r: r == [(13,)],
    ),
    ("adql-bitwise", "BIT_XOR"): (
        f"SELECT source_id ^ 3 FROM {R} WHERE source_id = 5",
        lambda r: r == [(6,)],
    ),
    ("adql-bitwise", "BIT_NOT"): (
        f"SELECT ~source_id FROM {R} WHERE source_id = 5",
        lambda r: r == [(-6,)],
    ),
}


def declared_features(tap: pyvo.dal.TAPService) -> list[tuple[str, str]]:
    """(feature type suffix, form) of every ADQL language feature the live service declares;
    a UDF's form is its name."""
    with urllib.request.urlopen(f"{tap.baseurl}/capabilities", timeout=30) as response:
        root = ET.fromstring(response.read())
    out = []
    for language in root.iter("language"):
        if language.findtext("name") != "ADQL":
            continue
        for block in language.iter("languageFeatures"):
            kind = block.get("type").split("#features-")[1]
            for feature in block.iter("feature"):
                form = feature.findtext("form")
                out.append((kind, form.split("(")[0].lower() if kind == "udf" else form))
    return out


def test_every_declared_feature_runs_on_the_live_service(tap):
    declared = declared_features(tap)
    assert ("adql-conditional", "COALESCE") in declared and ("adql-bitwise", "BIT_XOR") in declared
    missing = [f for f in declared if f[0] != "udf" and f not in QUERIES]
    assert not missing, f"declared without a query that tests it: {missing}"
    for feature in declared:
        if feature[0] == "udf":
            assert feature[1] in UDF_TESTS, f"declared without a test: {feature[1]}"
            continue
        query, check = QUERIES[feature]
        got = rows(tap, query)
        assert check(got), f"{feature}: {query} -> {got}"


def test_healpix_index_and_center_agree_with_cdshealpix(tap):
    from cdshealpix.nested import healpix_to_lonlat, lonlat_to_healpix

    got = rows(
        tap,
        "SELECT source_id, ra, dec, ivo_healpix_index(8, ra, dec), "
        "ivo_healpix_index(8, POINT(ra, dec)), "
        f"ivo_healpix_center(8, ivo_healpix_index(8, ra, dec)) FROM {R} ORDER BY source_id",
    )
    ra, dec = (np.array([r[i] for r in got]) for i in (1, 2))
    expected = lonlat_to_healpix(ra * u.deg, dec * u.deg, 8)
    assert [r[3] for r in got] == [r[4] for r in got] == expected.tolist()
    lon, lat = healpix_to_lonlat(expected, 8)
    centres = np.array([r[5] for r in got])
    assert near(centres[:, 0], lon.to_value(u.deg), 1e-9)
    assert near(centres[:, 1], lat.to_value(u.deg), 1e-9)
    # the centre is a POINT for the geometry functions too: every star lies within its cell
    inside = rows(
        tap,
        f"SELECT COUNT(*) FROM {R} WHERE "
        "DISTANCE(ivo_healpix_center(8, ivo_healpix_index(8, ra, dec)), POINT(ra, dec)) < 0.2",
    )
    assert inside == [(len(STARS),)]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", (text or "").lower()))


def test_text_functions_agree_with_python(tap):
    columns = f"FROM TAP_SCHEMA.columns WHERE table_name = '{R}'"
    described = dict(rows(tap, f"SELECT column_name, description {columns}"))
    for needle in ("error", "Standard ERROR", "right ascension", "nothingsuch"):
        got = rows(
            tap, f"SELECT column_name {columns} AND ivo_hasword(description, '{needle}') = 1"
        )
        expected = {c for c, d in described.items() if _words(needle) <= _words(d)}
        assert {c for (c,) in got} == expected, needle
        values = dict(
            rows(tap, f"SELECT column_name, ivo_hasword(description, '{needle}') {columns}")
        )
        assert {c for c, v in values.items() if v == 1} == expected
    got = rows(tap, f"SELECT column_name {columns} AND ivo_nocasematch(column_name, 'E\\_%') = 1")
    assert {c for (c,) in got} == {c for c in described if c.lower().startswith("e_")}
    joined = rows(tap, f"SELECT ivo_string_agg(column_name, '|') {columns}")
    assert sorted(joined[0][0].split("|")) == sorted(described)


UDF_TESTS = {
    "ivo_healpix_index": test_healpix_index_and_center_agree_with_cdshealpix,
    "ivo_healpix_center": test_healpix_index_and_center_agree_with_cdshealpix,
    "ivo_hasword": test_text_functions_agree_with_python,
    "ivo_nocasematch": test_text_functions_agree_with_python,
    "ivo_string_agg": test_text_functions_agree_with_python,
}


def test_histogram_agrees_with_numpy(tap):
    low, high, nbins = 4000, 6000, 4
    got = rows(tap, f"SELECT gavo_histogram(teff, {low}, {high}, {nbins}) FROM {R}")
    teff = np.array(list(TEFF.values()))
    inner, _ = np.histogram(teff[(teff >= low) & (teff < high)], bins=nbins, range=(low, high))
    expected = [int((teff < low).sum()), *inner.tolist(), int((teff >= high).sum())]
    assert got == [(expected,)]
    assert sum(expected) == len(STARS) and expected[-1] == 1  # 6000 K is the overflow


UDF_TESTS["gavo_histogram"] = test_histogram_agrees_with_numpy


def test_epoch_propagation_agrees_with_astropy(tap):
    from astropy.coordinates import Distance, SkyCoord
    from astropy.time import Time

    # gaia_source has no proper motions: constants, and nearby stars (100-800 mas) so the
    # space velocities stay physical (ERFA caps them at c/2)
    pm = (1000.0, -2000.0, 30.0)  # mas/yr, mas/yr, km/s
    args = f"ra, dec, parallax * 1000, {pm[0]}, {pm[1]}, {pm[2]}, 2016, 1916"
    got = rows(
        tap,
        f"SELECT ra, dec, parallax * 1000, ivo_epoch_prop({args}), ivo_epoch_prop_pos({args}) "
        f"FROM {G} ORDER BY source_id",
    )
    ra, dec, plx = (np.array([r[i] for r in got]) for i in range(3))
    star = SkyCoord(
        ra=ra * u.deg,
        dec=dec * u.deg,
        distance=Distance(parallax=plx * u.mas),
        pm_ra_cosdec=np.full(len(ra), pm[0]) * u.mas / u.yr,
        pm_dec=np.full(len(ra), pm[1]) * u.mas / u.yr,
        radial_velocity=np.full(len(ra), pm[2]) * u.km / u.s,
        obstime=Time(2016.0, format="jyear", scale="tdb"),
    )
    then = star.apply_space_motion(new_obstime=Time(1916.0, format="jyear", scale="tdb"))
    prop, pos = np.array([r[3] for r in got]), np.array([r[4] for r in got])
    mas = 1 / 3.6e6
    assert near(pos[:, 0], then.ra.deg, mas) and near(pos[:, 1], then.dec.deg, mas)
    assert near(prop[:, :2], pos, 1e-12)
    assert near(prop[:, 2], then.distance.parallax.to_value(u.mas), 1e-6)
    assert near(prop[:, 3], then.pm_ra_cosdec.to_value(u.mas / u.yr), 1e-3)
    assert near(prop[:, 4], then.pm_dec.to_value(u.mas / u.yr), 1e-3)
    assert near(prop[:, 5], then.radial_velocity.to_value(u.km / u.s), 1e-3)


UDF_TESTS["ivo_epoch_prop"] = UDF_TESTS["ivo_epoch_prop_pos"] = (
    test_epoch_propagation_agrees_with_astropy
)


def test_moc_functions_agree_with_mocpy(tap):
    from mocpy import MOC

    cone = MOC.from_cone(lon=10 * u.deg, lat=20 * u.deg, radius=2 * u.deg, max_depth=7)
    ascii_moc = cone.to_string(format="ascii").replace("\n", " ")
    ra, dec = (np.array([s[i] for s in STARS.values()]) for i in (0, 1))
    inside = cone.contains_lonlat(ra * u.deg, dec * u.deg)
    got = rows(
        tap, f"SELECT source_id FROM {R} WHERE CONTAINS(POINT(ra, dec), MOC('{ascii_moc}')) = 1"
    )
    assert {x for (x,) in got} == {sid for sid, yes in zip(STARS, inside, strict=True) if yes}
    assert {x for (x,) in got} == {1, 2, 3}
    # MOC(order, CIRCLE): every point of the circle is in it, and it is not much larger
    ((moc_text, area, moc_area, same),) = rows(
        tap,
        "SELECT MOC(8, CIRCLE(10, 20, 1)), AREA(CIRCLE(10, 20, 1)), "
        "AREA(MOC(8, CIRCLE(10, 20, 1))), "
        f"CONTAINS(MOC(8, CIRCLE(10, 20, 1)), MOC('{ascii_moc}')) {ONE}",
    )
    ours = MOC.from_str(moc_text)
    angle = np.linspace(0, 2 * np.pi, 360)
    edge_ra = 10 + 0.999 * np.sin(angle) / math.cos(math.radians(20))
    edge_dec = 20 + 0.999 * np.cos(angle)
    assert ours.contains_lonlat(edge_ra * u.deg, edge_dec * u.deg).all()
    assert near(moc_area, ours.sky_fraction * 4 * math.pi * (180 / math.pi) ** 2, 1e-6)
    assert area < moc_area < 1.6 * area
    assert same == 1  # the 1-degree MOC lies inside the 2-degree cone's MOC
    overlap = rows(tap, f"SELECT INTERSECTS(MOC('{ascii_moc}'), MOC(3, POINT(200, -30))) {ONE}")
    assert overlap == [(0,)]


UDF_TESTS["moc"] = test_moc_functions_agree_with_mocpy


def _fetch(tap: pyvo.dal.TAPService, query: str, fmt: str) -> bytes:
    data = urllib.parse.urlencode(
        {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": fmt}
    ).encode()
    with urllib.request.urlopen(f"{tap.baseurl}/sync", data, timeout=60) as response:
        return response.read()


@pytest.mark.parametrize("fmt", ["votable", "votable/td", "ecsv"])
def test_geometry_outputs_carry_their_dali_xtype(tap, fmt):
    query = (
        "SELECT POINT(ra, dec) AS p, CIRCLE(ra, dec, 0.5) AS c, "
        f"POLYGON(ra, dec, ra + 1, dec, ra, dec + 1) AS poly, MOC(3, POINT(ra, dec)) AS m {ONE}"
    )
    body = _fetch(tap, query, fmt)
    expected = {"p": [10, 20], "c": [10, 20, 0.5], "poly": [10, 20, 11, 20, 10, 21]}
    if fmt == "ecsv":
        table = Table.read(io.BytesIO(body), format="ascii.ecsv")
        assert {c: table[c].meta.get("xtype") for c in table.colnames} == {
            "p": "point", "c": "circle", "poly": "polygon", "m": "moc",
        }  # fmt: skip
        for name, values in expected.items():
            assert near(table[name][0], values)
        return
    votable = parse_single_table(io.BytesIO(body))
    fields = {f.name: (f.datatype, f.arraysize, f.xtype, f.unit) for f in votable.fields}
    assert fields["p"][:3] == ("double", "2", "point") and str(fields["p"][3]) == "deg"
    assert fields["c"][:3] == ("double", "3", "circle")
    assert fields["poly"][:3] == ("double", "*", "polygon")
    assert fields["m"][2] == "moc"
    row = votable.array[0]
    for name, values in expected.items():
        assert near(row[name], values)
    assert str(row["m"]).startswith("3/")
