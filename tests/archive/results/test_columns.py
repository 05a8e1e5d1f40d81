"""VOFields of an arbitrary query, from its column types."""

import io

import pytest
from astropy.io import votable

from archive.metadata.fields import VOField
from archive.results.columns import describe
from archive.results.stream import stream_result

pytestmark = pytest.mark.django_db

QUERY = """SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.5::float8 AS e,
    true AS f, 'x'::text AS g, 'y'::varchar(5) AS h, 'z'::char(8) AS i, 1.25::numeric AS j,
    ARRAY[1.0, 2.0]::float8[] AS k, '2024-01-02 03:04:05'::timestamp AS l,
    spoint(0.5, 0.25) AS m, scircle(spoint(0, 0), 0.1) AS n, ARRAY[1, 2]::int4[] AS o"""


def test_types_map_to_votable(reader_conn):
    with reader_conn.cursor() as cur:
        fields = describe(cur, QUERY)
    reader_conn.rollback()
    assert fields == [
        VOField("a", "short"),
        VOField("b", "int"),
        VOField("c", "long"),
        VOField("d", "float"),
        VOField("e", "double"),
        VOField("f", "boolean"),
        VOField("g", "unicodeChar", arraysize="*"),
        VOField("h", "unicodeChar", arraysize="5*"),
        VOField("i", "char", arraysize="8"),
        VOField("j", "double"),
        VOField("k", "double", arraysize="*"),
        VOField("l", "char", arraysize="*", xtype="timestamp"),
        VOField("m", "unicodeChar", arraysize="*"),  # pg_sphere: its text form
        VOField("n", "unicodeChar", arraysize="*"),
        VOField("o", "int", arraysize="*"),
    ]


def test_a_query_without_fields_is_written_with_its_own_types(reader_conn):
    data = b"".join(stream_result(reader_conn, QUERY, None, "votable"))
    table = votable.parse(io.BytesIO(data)).get_first_table()
    row = table.array[0]
    assert [f.datatype for f in table.fields][:6] == [
        "short",
        "int",
        "long",
        "float",
        "double",
        "boolean",
    ]
    assert (row["i"], row["j"], row["l"]) == ("z", 1.25, "2024-01-02T03:04:05")
    assert list(row["k"]) == [1.0, 2.0] and list(row["o"]) == [1, 2]
    assert row["m"].startswith("(0.5") and row["n"].startswith("<(")


def test_description_alone_knows_the_built_in_types(reader_conn):
    from archive.results.columns import fields_from_description

    with reader_conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({QUERY}) AS q LIMIT 0")
        fields = fields_from_description(cur.description)
        with_names = describe(cur, QUERY)
    # the same without the pg_type lookup: pg_sphere types go out as text either way
    assert fields == with_names
