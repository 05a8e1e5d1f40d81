"""Generated garbage and near-ADQL never make translate() raise anything but an AdqlError."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.tap.adql import AdqlError, translate

from .adql_corpus import CORPUS

CATALOG = {
    "gaiadr3_rvs_cnn.rvs_cnn": {
        "source_id": "long", "ra": {"unit": "deg"}, "dec": {"unit": "deg"},
        "teff": {"datatype": "float", "unit": "K"}, "flag_boundary": "char",
    },
    "gaiadr3_rvs_cnn.gaia_source": {
        "source_id": "long", "ra": {"unit": "deg"}, "dec": {"unit": "deg"}, "parallax": "double",
    },
    "gaiadr3_rvs_cnn.rvs_cnn_versions": {"model_version": "char", "source_id": "long"},
}  # fmt: skip

WORDS = (
    "SELECT TOP DISTINCT FROM WHERE AND OR NOT IN EXISTS JOIN LEFT OUTER NATURAL USING ON AS "
    "GROUP BY HAVING ORDER ASC DESC OFFSET UNION EXCEPT INTERSECT ALL WITH CASE WHEN THEN ELSE "
    "END CAST INTEGER BIGINT DOUBLE PRECISION CHAR IS NULL LIKE ILIKE BETWEEN COUNT AVG MIN MAX "
    "POINT CIRCLE BOX POLYGON CONTAINS INTERSECTS DISTANCE AREA COORD1 COORD2 COORDSYS CENTROID "
    "IN_UNIT ABS CEILING LOG LOG10 MOD POWER ROUND TRUNCATE RAND SQRT UPPER LOWER COALESCE "
    "ra dec teff source_id flag_boundary parallax gaiadr3_rvs_cnn.rvs_cnn "
    "gaiadr3_rvs_cnn.gaia_source r g r.ra g.dec pg_sleep DROP INSERT ; "
).split() + [
    "(", ")", ",", "*", "+", "-", "/", "=", "<", ">", "<=", ">=", "<>", "!=", "||", "&", "|",
    "^", "~", "::", ".", "'ICRS'", "'GALACTIC'", "'FK5'", "'x", '"', '"ra"', "1", "0", "1e4",
    "0xFF", "2.5", "-1", "''", "$$", "--", "/*", "\n", "[", "]", "{", "}", "?", "%s", "\\",
]  # fmt: skip


def translates_or_refuses(adql: str) -> None:
    try:
        translate(adql, CATALOG)
    except AdqlError as exc:
        assert str(exc)


FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=200))
def test_any_text(text):
    translates_or_refuses(text)


@FAST
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_token_soup(words):
    translates_or_refuses(" ".join(words))


@FAST
@given(
    st.sampled_from([c[1] for c in CORPUS]),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 6), st.sampled_from(WORDS))),
)
def test_mutated_corpus(adql, edits):
    """Valid queries with spans cut out and words put in: near-ADQL."""
    for pos, cut, word in edits:
        pos %= len(adql) + 1
        adql = adql[:pos] + " " + word + " " + adql[pos + cut :]
    translates_or_refuses(adql)
