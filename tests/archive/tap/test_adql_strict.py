"""Strictness: what sqlglot's PostgreSQL grammar reads but ADQL 2.1's does not is refused, with
the token and what to write instead; ADQL (and the declared optional features) still passes."""

import pytest

from archive.tap.adql import AdqlError, translate

R = "gaiadr3_rvs_cnn.rvs_cnn"
CATALOG = {
    R: {
        "source_id": "long",
        "ra": {"unit": "deg"},
        "dec": {"unit": "deg"},
        "teff": "float",
        "model_version": "char",
    }
}


@pytest.mark.parametrize(
    ("adql", "token", "advice"),
    [
        (f"SELECT teff::int FROM {R}", "::", "CAST(x AS type)"),
        (f"SELECT ra FROM {R} LIMIT 3", "LIMIT", "TOP n"),
        (f"SELECT source_id % 2 FROM {R}", "%", "MOD(a, b)"),
        (f"SELECT ra, FROM {R}", ",", "comma before FROM"),
        (f"SELECT ra FROM {R} WHERE ra > $1", "$", "write the value"),
        (f"SELECT ra FROM {R} WHERE ra > ?", "?", "write the value"),
        (f"SELECT ra FROM {R} WHERE ra > :low", ":", "write the value"),
        (f"SELECT ra /* note */ FROM {R}", "/*", "--"),
        (f"SELECT ra FROM {R} ORDER BY ra NULLS LAST", "NULLS", "ASC or DESC"),
        (f"SELECT ra FROM {R} WHERE ra BETWEEN SYMMETRIC 1 AND 2", "SYMMETRIC", "not ADQL"),
        (f"SELECT ra FROM {R} WHERE ra ISNULL", "ISNULL", "IS NULL"),
        (f"SELECT ra FROM {R} WHERE model_version LIKE 'a!%' ESCAPE '!'", "ESCAPE", "not ADQL"),
        (f"SELECT ra FROM ONLY {R}", "ONLY", "not ADQL"),
        (f"SELECT ra FROM {R} FETCH FIRST 3 ROWS ONLY", "FETCH", "TOP n"),
        (f"SELECT ra FROM {R} UNION DISTINCT SELECT dec FROM {R}", "DISTINCT", "UNION"),
        (f"SELECT TRUE FROM {R}", "TRUE", "compare values"),
        (f"SELECT ra FROM {R} WHERE ra IS FALSE", "FALSE", "compare values"),
        (f"SELECT CASE WHEN teff > 5000 THEN 1 END FROM {R}", "CASE", "LANG=PostgreSQL"),
        (f"SELECT 0xFF FROM {R}", "0xFF", "write 255"),
        (f"SELECT DISTINCT ON (ra) ra FROM {R}", "DISTINCT", "DISTINCT ON"),
        ("SELECT 1", "SELECT", "FROM clause"),
        (f"SELECT ra FROM {R} WHERE (ra + 1) IS NULL", "IS", "after a column"),
        (f"SELECT b FROM {R} AS t(b)", "t", "table alias"),
    ],
)
def test_postgresql_only_syntax_is_refused_with_advice(adql, token, advice):
    with pytest.raises(AdqlError) as info:
        translate(adql, CATALOG)
    e = info.value
    assert e.token == token and e.line == 1 and e.column >= 1, str(e)
    assert advice in e.message, str(e)
    assert adql[e.column - 1 :].startswith(token), str(e)  # the position is the token's


@pytest.mark.parametrize(
    "adql",
    [
        f"SELECT TOP 3 ra FROM {R} WHERE model_version ILIKE 'v%' ORDER BY ra DESC",
        f"SELECT source_id & 6, source_id | 8, source_id ^ 3, ~source_id FROM {R}",
        f"SELECT ra FROM {R} -- a comment /* that is not a block */\nWHERE ra != 1",
        f"SELECT ra FROM {R} WHERE ra IS NOT NULL AND MOD(source_id, 2) = 0",
        f"SELECT COUNT(DISTINCT source_id) FROM {R} OFFSET 0",
        f"SELECT CAST(teff AS INTEGER), COALESCE(teff, 0) FROM {R}",
        f"WITH c AS (SELECT ra FROM {R}) SELECT ra FROM c UNION ALL SELECT dec FROM {R}",
        f"SELECT ivo_healpix_index(5, ra, dec), gavo_histogram(teff, 3000, 7000, 8) FROM {R} "
        "GROUP BY ra, dec",
    ],
)
def test_adql_and_the_declared_features_pass(adql):
    assert translate(adql, CATALOG).sql


@pytest.mark.parametrize(
    ("adql", "message"),
    [
        (f"SELECT ivo_healpix_index(5, ra) FROM {R}", "POINT"),
        (f"SELECT ivo_hasword(model_version) FROM {R}", "takes 2 arguments"),
        (f"SELECT gavo_histogram(teff, 1, 2) FROM {R}", "takes 4 arguments"),
        (f"SELECT ivo_epoch_prop_pos(ra, dec) FROM {R}", "takes ra, dec, parallax"),
        (f"SELECT MOC(5) FROM {R}", "takes an order and a geometry"),
        (
            f"SELECT ra FROM {R} WHERE CONTAINS(CIRCLE(ra, dec, 1), MOC(5, POINT(1, 2))) = 1",
            "make both MOCs",
        ),
        (f"SELECT ivo_nothing(ra) FROM {R}", "not an ADQL function"),
        (f"SELECT CAST(model_version AS POINT) FROM {R}", "takes a string literal"),
        (f"SELECT CAST('1 2 3' AS POINT) FROM {R}", "not a DALI point"),
        (f"SELECT CAST('1 2 3 4' AS POLYGON) FROM {R}", "not a DALI polygon"),
    ],
)
def test_udf_misuse_is_refused(adql, message):
    with pytest.raises(AdqlError, match=message):
        translate(adql, CATALOG)
