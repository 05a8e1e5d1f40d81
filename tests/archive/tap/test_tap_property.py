"""Generated ADQL thrown at the sync service: whatever it is, the answer is a result or a DALI
error document with a 4xx status, never a 500."""

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

S = settings.PUBLISHED_SCHEMA
pytestmark = pytest.mark.django_db

WORDS = [
    "SELECT",
    "TOP",
    "5",
    "*",
    "FROM",
    f"{S}.rvs_cnn",
    f"{S}.gaia_source",
    "TAP_SCHEMA.tables",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "source_id",
    "ra",
    "dec",
    "teff",
    "m_h",
    "flag_boundary",
    "=",
    "<",
    ">",
    "<=",
    "(",
    ")",
    ",",
    "'00000000'",
    "1",
    "-1.5",
    "1e4",
    "NULL",
    "IS",
    "IN",
    "ORDER",
    "BY",
    "GROUP",
    "HAVING",
    "COUNT(*)",
    "AS",
    "x",
    "JOIN",
    "ON",
    "USING",
    "UNION",
    "CONTAINS",
    "POINT",
    "CIRCLE",
    "'ICRS'",
    "'GALACTIC'",
    "DISTANCE",
    "BOX",
    "POLYGON",
    "OFFSET",
    "LIKE",
    "ILIKE",
    "CAST",
    "INTEGER",
    ";",
    "DROP",
    "TABLE",
    "pg_sleep(1)",
    "--",
    "/*",
    "*/",
    '"',
    "||",
    "/",
    "0",
    "ABS",
    "SQRT",
    "LOG10",
    "ROUND",
    "ALL",
    "DISTINCT",
]
queries = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=25).map(" ".join),
    st.text(max_size=200),
    st.builds(
        lambda cols, cond: f"SELECT {cols} FROM {S}.rvs_cnn WHERE {cond}",
        st.lists(
            st.sampled_from(["source_id", "teff", "ra", "*", "1/0", "x"]), min_size=1, max_size=3
        ).map(", ".join),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join),
    ),
)


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries, lang=st.sampled_from(["ADQL", "PostgreSQL"]))
def test_generated_queries_never_get_a_500(client, published, query, lang):
    response = client.post("/tap/sync", {"LANG": lang, "QUERY": query, "MAXREC": "10"})
    assert response.status_code < 500, (query, response.content[:500])
    if response.status_code == 200 and response.streaming:
        body = b"".join(response.streaming_content)
        assert body.rstrip().endswith(b"</VOTABLE>")
    else:
        assert b'name="QUERY_STATUS" value="ERROR"' in response.content
