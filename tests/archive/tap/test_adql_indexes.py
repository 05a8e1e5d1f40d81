"""Geometry reaches the positional indexes: EXPLAIN of the translated SQL, as the reader runs it.

The module adds 20 000 labelled stars to the published fixture, so the planner has a reason to
prefer an index; sequential scans and nested loops are also switched off, so a predicate no
index serves would show a (penalised) sequential scan rather than a lucky plan.
"""

import pytest

from archive.tap.adql import translate

pytestmark = pytest.mark.django_db

R = "gaiadr3_rvs_cnn.rvs_cnn"
G = "gaiadr3_rvs_cnn.gaia_source"


N_SKY = 20_000


@pytest.fixture(scope="module")
def sky(published, django_db_blocker):
    """N_SKY more stars of the published version spread over the sky, with statistics."""
    import numpy as np
    from django.db import connection

    from archive.catalogue.models import CnnLabel, GaiaSource

    rng = np.random.default_rng(7)
    ids = range(10_000, 10_000 + N_SKY)
    ra, dec = rng.uniform(0, 360, N_SKY), np.degrees(np.arcsin(rng.uniform(-1, 1, N_SKY)))
    label = {f: 1.0 for f in "teff logg m_h alpha_m fe_h".split()}
    label |= {f"{p}_{k}": 1.0 for p in ("e", "sigma") for k in label}
    with django_db_blocker.unblock():
        GaiaSource.objects.bulk_create(
            GaiaSource(source_id=i, ra=a, dec=d) for i, a, d in zip(ids, ra, dec, strict=True)
        )
        CnnLabel.objects.bulk_create(
            CnnLabel(model_version=published, source_id=i, flag_boundary="00000000", **label)
            for i in ids
        )
        with connection.cursor() as cur:
            cur.execute("ANALYZE gaia_source; ANALYZE cnn_label")
        yield
        CnnLabel.objects.filter(source_id__in=ids).delete()
        GaiaSource.objects.filter(source_id__in=ids).delete()


def plan(conn, sql: str) -> str:
    with conn.cursor() as cur:
        # tiny tables: without these the planner walks the label join and the primary key
        cur.execute("SET enable_seqscan = off; SET enable_nestloop = off")
        cur.execute("EXPLAIN " + sql)
        text = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("RESET enable_seqscan; RESET enable_nestloop")
    return text


@pytest.mark.parametrize(
    "adql",
    [
        f"SELECT * FROM {R} WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10, 20, 1)) = 1",
        f"SELECT * FROM {G} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(POINT(10, 20), 0.5))",
        f"SELECT * FROM {R} WHERE CONTAINS(POINT(ra, dec), CIRCLE('GALACTIC', 0, 0, 1)) = 1",
        f"SELECT * FROM {R} WHERE CONTAINS(POINT(ra, dec), BOX(10, 20, 2, 1)) = 1",
        f"SELECT * FROM {R} WHERE CONTAINS(POINT(ra, dec), POLYGON(9, 19, 11, 19, 10, 22)) = 1",
        f"SELECT * FROM {R} WHERE CONTAINS(POINT(ra, dec), "
        "POLYGON(POINT(9, 19), POINT(11, 19), POINT(10, 22))) = 1",
        f"SELECT * FROM {R} WHERE DISTANCE(POINT(ra, dec), POINT(10, 20)) < 0.5",
        f"SELECT * FROM {R} WHERE DISTANCE(ra, dec, 10, 20) <= 0.5",
        f"SELECT * FROM {R} WHERE INTERSECTS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 1",
        # crossmatch: the inner side is found through its q3c index
        f"SELECT a.source_id, b.source_id FROM {R} AS a JOIN {G} AS b "
        "ON CONTAINS(POINT(b.ra, b.dec), CIRCLE(a.ra, a.dec, 0.001)) = 1",
        f"SELECT a.source_id FROM {R} AS a, {G} AS b "
        "WHERE DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < 0.001",
    ],
)
def test_positional_predicates_use_the_q3c_index(sky, reader_conn, adql):
    text = plan(reader_conn, translate(adql, catalogue()).sql)
    assert "gaia_source_q3c" in text, text[:3000]


def test_a_point_of_expressions_uses_the_gist_index(sky, reader_conn):
    # a polygon with column vertices has no q3c form: spoint @ spoly on the GiST expression
    adql = (
        f"SELECT a.source_id FROM {R} AS a JOIN {G} AS b ON CONTAINS(POINT(b.ra, b.dec), "
        "POLYGON(POINT(a.ra, a.dec), POINT(a.ra + 1, a.dec), POINT(a.ra, a.dec + 1))) = 1"
    )
    sql = translate(adql, catalogue()).sql
    assert "spoint(RADIANS(b.ra), RADIANS(b.dec))".lower() in sql.lower()
    assert "gaia_source_spoint" in plan(reader_conn, sql)


def catalogue() -> dict:
    pos = {"source_id": "long", "ra": {"unit": "deg"}, "dec": {"unit": "deg"}}
    return {R: pos, G: pos}
