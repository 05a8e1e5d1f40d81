"""The ADQL corpus (adql_corpus.py) run as the read-only role on the published views.

Expected rows come from the fixture's definition (adql_corpus.STARS), not from running the
translator; each query exercises one ADQL 2.1 feature.
"""

import pytest

from archive.tap.adql import translate

from .adql_corpus import CORPUS, G, R, S, rows, same

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("feature", "adql", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(published, catalog, reader_conn, feature, adql, expected):
    sql = translate(adql, catalog).sql
    got = rows(reader_conn, sql)
    assert same(got, expected), f"{feature}: {adql}\n-> {sql}\ngot {got}"


def test_output_columns_name_their_sources(catalog):
    t = translate(
        f"SELECT r.source_id, g.parallax AS plx, teff * 2, POINT(r.ra, r.dec) AS pos "
        f"FROM {R} AS r JOIN {G} AS g USING (source_id)",
        catalog,
    )
    cols = [(c.name, c.source, c.xtype) for c in t.columns]
    assert cols == [
        ("source_id", f"{R}.source_id", None),
        ("plx", f"{G}.parallax", None),
        ("expr", None, None),
        ("pos", None, "point"),
    ]
    star = translate(f"WITH c AS (SELECT teff AS t FROM {R}) SELECT * FROM c", catalog)
    assert [(c.name, c.source) for c in star.columns] == [("t", f"{R}.teff")]
    assert [c.name for c in translate(f"SELECT * FROM {R}", catalog).columns] == list(
        catalog.find(S, "rvs_cnn")[0].columns
    )
