"""Refusals: each says which token is wrong (line, column, text) and is an AdqlError subclass."""

import pytest

from archive.tap.adql import (
    AdqlSyntaxError,
    FrameError,
    UnknownColumnError,
    UnknownTableError,
    UnsupportedError,
    translate,
)

R = "gaiadr3_rvs_cnn.rvs_cnn"
G = "gaiadr3_rvs_cnn.gaia_source"
CATALOG = {
    R: {"source_id": "long", "ra": {"unit": "deg"}, "dec": {"unit": "deg"}, "teff": "float"},
    G: {"source_id": "long", "ra": {"unit": "deg"}, "dec": {"unit": "deg"}, "parallax": "double"},
}


def error(adql: str, kind: type):
    with pytest.raises(kind) as info:
        translate(adql, CATALOG)
    return info.value


def position(adql: str, token: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of ``token``."""
    i = -1
    for _ in range(nth):
        i = adql.index(token, i + len(token) if i >= 0 else 0)
    line = adql.count("\n", 0, i) + 1
    return line, i - (adql.rfind("\n", 0, i) + 1) + 1


@pytest.mark.parametrize(
    ("adql", "token", "nth"),
    [
        (f"SELECT ra\nFROM {R}\nWHERE ra >", ">", 1),
        (f"SELECT ra FROM {R} WHERE ra ==== 3", "==", 2),
        (f"SELECT ra FROM {R} WHERE dec = 'abc", "'abc", 1),
        (f"SELECT TOP FROM {R}", "FROM", 1),
        (f"SELECT ra FROM {R}\n  WHERE ra > 1 AND AND dec < 2", "AND", 2),
        (f"SELECT ra FROM {R} WHERE (ra > 1", None, 1),
        (f'SELECT ra FROM {R} WHERE "ra > 1', '"ra > 1', 1),
        (f"SELEC ra FROM {R}", "SELEC", 1),
        (f"SELECT ra FROM {R} /* open", "/* open", 1),
        (f"SELECT FROM {R}", "FROM", 1),
        (f"SELECT TOP ra ra FROM {R}", "ra", 1),
    ],
)
def test_syntax_errors_name_the_token(adql, token, nth):
    e = error(adql, AdqlSyntaxError)
    assert e.line is not None and e.column is not None and e.token
    if token is not None:
        assert (e.line, e.column, e.token) == (*position(adql, token, nth), token), str(e)
    assert f"line {e.line}, column {e.column}" in str(e)


def test_unknown_table_and_column_are_named_with_their_position():
    e = error("SELECT ra FROM gaiadr3_rvs_cnn.nope", UnknownTableError)
    assert "nope" in str(e) and (e.line, e.column, e.token) == (1, 32, "nope")
    e = error(f"SELECT ra,\n  nope FROM {R}", UnknownColumnError)
    assert "nope" in str(e) and (e.line, e.column, e.token) == (2, 3, "nope")
    e = error(f"SELECT x.ra FROM {R} AS r", UnknownColumnError)
    assert "'ra'" in str(e)
    # in two tables: ambiguous
    assert "ambiguous" in str(error(f"SELECT ra FROM {R}, {G}", UnknownColumnError))
    error("SELECT * FROM pg_catalog.pg_authid", UnknownTableError)
    error("SELECT * FROM public.gaia_source", UnknownTableError)
    error('SELECT "RA" FROM ' + R, UnknownColumnError)  # delimited: case-sensitive


@pytest.mark.parametrize(
    ("adql", "token"),
    [
        ("DROP TABLE gaiadr3_rvs_cnn.rvs_cnn", "DROP"),
        (f"DELETE FROM {R}", "DELETE"),
        (f"UPDATE {R} SET teff = 1", "UPDATE"),
        (f"INSERT INTO {R} (source_id) VALUES (1)", "INSERT"),
        ("CREATE TABLE x (a int)", "CREATE"),
        ("SET statement_timeout = 0", "SET"),
        (f"SELECT 1 FROM {R}; DROP TABLE {R}", ";"),
        (f"SELECT 1 FROM {R}; SELECT 2 FROM {R}", ";"),
        (f"SELECT pg_sleep(10) FROM {R}", "pg_sleep"),
        ("SELECT current_setting('data_directory')", "current_setting"),
        (f"SELECT lo_import('/etc/passwd') FROM {R}", "lo_import"),
        (f"SELECT * INTO evil FROM {R}", None),
        (f"SELECT CAST(ra AS regclass) FROM {R}", None),
        (f"SELECT ra::text FROM {R}", None),
        (f"SELECT row_number() OVER () FROM {R}", None),
        (f"SELECT RAND(42) FROM {R}", None),
        (f"SELECT TOP 1.5 ra FROM {R}", None),
        (f"SELECT ra FROM {R} OFFSET (SELECT 1)", None),
        (f"EXPLAIN SELECT ra FROM {R}", "EXPLAIN"),
        (f"COPY {R} TO STDOUT", "COPY"),
        (f"SELECT ra FROM {R} WHERE ra > ?", "?"),
        (f"SELECT ra FROM {R} FOR UPDATE", None),
    ],
)
def test_only_one_adql_select(adql, token):
    e = error(adql, UnsupportedError)
    assert e.line == 1 and e.column >= 1 and e.token, str(e)  # every refusal says where
    if token is not None:
        assert e.token == token and e.line == 1, str(e)


@pytest.mark.parametrize(
    ("adql", "token"),
    [
        (f"SELECT POINT('FK5', ra, dec) FROM {R}", "'FK5'"),
        (
            f"SELECT ra FROM {R} WHERE CONTAINS(POINT('GALACTIC', ra, dec), CIRCLE(0, 0, 1)) = 1",
            "'GALACTIC'",
        ),
        (
            f"SELECT ra FROM {R} WHERE CONTAINS(POINT(ra, dec), CIRCLE('ECLIPTIC', 10, 0, 1)) = 1",
            "'ECLIPTIC'",
        ),
        (
            f"SELECT ra FROM {R} WHERE CONTAINS(POINT(ra, dec), BOX('FK4', 10, 0, 1, 1)) = 1",
            "'FK4'",
        ),
    ],
)
def test_other_frames_are_refused_where_they_cannot_be_converted(adql, token):
    e = error(adql, FrameError)
    assert e.token == token and e.line == 1


def test_geometry_misuse():
    error(f"SELECT ra FROM {R} WHERE CONTAINS(ra, CIRCLE(0, 0, 1)) = 1", UnsupportedError)
    error(f"SELECT CIRCLE(1, 2) FROM {R}", UnsupportedError)
    error(f"SELECT POLYGON(1, 2, 3, 4) FROM {R}", UnsupportedError)
    error(f"SELECT DISTANCE(POINT(1, 2)) FROM {R}", UnsupportedError)
    error(f"SELECT IN_UNIT(source_id, 'm') FROM {R}", UnsupportedError)  # no unit
    error(f"SELECT IN_UNIT(ra, 'kg') FROM {R}", UnsupportedError)  # not convertible
    error(f"SELECT CENTROID(POLYGON(POINT(ra, dec), POINT(1, 2), POINT(2, 2))) FROM {R}",
          UnsupportedError)  # fmt: skip


def test_parentheses_around_the_query_are_fine():
    assert translate(f"((SELECT ra FROM {R}))", CATALOG).sql.startswith("SELECT")


def test_empty_and_huge_queries():
    error("", AdqlSyntaxError)
    error("   ", AdqlSyntaxError)
    error(";", UnsupportedError)
    error("SELECT " + " + ".join(["1"] * 60_000) + f" FROM {R}", UnsupportedError)


def test_user_text_reaches_sql_only_as_parsed_nodes():
    # a comment that closes itself early must not smuggle a statement through
    sql = translate(f"SELECT ra FROM {R} -- */ ; DROP TABLE x; /*\n", CATALOG).sql
    assert "DROP" not in sql and "/*" not in sql and "--" not in sql
    with pytest.raises(AdqlSyntaxError, match="-- to the end of the line"):
        translate(f"SELECT ra /* hi */ FROM {R}", CATALOG)  # ADQL has -- comments only
    sql = translate(f"SELECT 'it''s; \\' AS \"a\"\"b\" FROM {R}", CATALOG).sql
    assert "'it''s; \\'" in sql and '"a""b"' in sql


def test_deep_nesting_is_refused_not_a_crash():
    deep = "(" * 3000 + "1 = 1" + ")" * 3000
    error(f"SELECT ra FROM {R} WHERE {deep}", UnsupportedError)
