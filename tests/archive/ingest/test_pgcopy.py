"""Binary COPY in and out, built from and parsed into numpy columns."""

import numpy as np
import pytest
from django.db import connection

from archive.pgcopy import Column, copy_columns, iter_copy_out

pytestmark = pytest.mark.django_db


@pytest.fixture
def cur():
    with connection.cursor() as c:
        c.execute("CREATE TEMP TABLE t (id bigint, a float8[], x float8, n int2, ok bool, s text)")
        yield c


def test_copy_in_mixes_fast_and_null_rows(cur):
    rng = np.random.default_rng(0)
    a = rng.random((5, 55))
    a[1] = np.nan  # the whole array missing -> NULL
    x = np.array([1.5, np.nan, 3.0, -0.0, 1e300])
    copy_columns(
        cur,
        "t",
        [
            Column("id", "int8", np.arange(5) + 2**62),
            Column("a", "float8[]", a),
            Column("x", "float8", x),
            Column(
                "n",
                "int2",
                np.array([1, 2, 3, 4, 5], np.int16),
                null=np.array([0, 0, 1, 0, 0], bool),
            ),
            Column("ok", "bool", np.array([True, False, True, True, False])),
        ],
    )
    cur.execute("SELECT id, a, x, n, ok FROM t ORDER BY id")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == list(np.arange(5) + 2**62)
    assert rows[0][1] == a[0].tolist() and rows[1][1] is None
    assert [r[2] for r in rows] == [1.5, None, 3.0, -0.0, 1e300]
    assert [r[3] for r in rows] == [1, 2, None, 4, 5]
    assert [r[4] for r in rows] == [True, False, True, True, False]


def test_copy_in_refuses_an_integer_its_column_cannot_hold(cur):
    """numpy would pack 40000 into int2 as -25536 without a word."""
    columns = [Column("id", "int8", np.array([1, 2])), Column("n", "int2", np.array([7, 40000]))]
    with pytest.raises(ValueError, match=r"column n: 40000 \(row 1\) does not fit int2"):
        copy_columns(cur, "t", columns)
    cur.execute("SELECT count(*) FROM t")
    assert cur.fetchone() == (0,)


def test_copy_in_text_column(cur):
    copy_columns(
        cur,
        "t",
        [
            Column("id", "int8", np.array([1, 2])),
            Column("s", "text", np.array(["VARIABLE", "é"], dtype=object)),
        ],
    )
    cur.execute("SELECT s FROM t ORDER BY id")
    assert cur.fetchall() == [("VARIABLE",), ("é",)]


def test_copy_out_round_trip_in_batches(cur):
    rng = np.random.default_rng(1)
    n = 1000
    a, x = rng.random((n, 55)), rng.standard_normal(n)
    copy_columns(
        cur,
        "t",
        [
            Column("id", "int8", np.arange(n)),
            Column("a", "float8[]", a),
            Column("x", "float8", x),
            Column("n", "int2", np.full(n, 3, np.int16)),
        ],
    )
    parts = list(
        iter_copy_out(
            cur,
            "SELECT id, a, x, n FROM t ORDER BY id",
            [("id", "int8", 1), ("a", "float8[]", 55), ("x", "float8", 1), ("n", "int2", 1)],
            batch_rows=300,
        )
    )
    assert len(parts) >= 3  # streamed, not one block
    got = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    np.testing.assert_array_equal(got["id"], np.arange(n))
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["x"], x)
    assert got["n"].dtype.byteorder in "=|" and set(got["n"]) == {3}


def test_copy_out_refuses_a_null(cur):
    cur.execute("INSERT INTO t (id, x) VALUES (1, NULL)")
    with pytest.raises(ValueError, match="NULL"):
        list(iter_copy_out(cur, "SELECT id, x FROM t", [("id", "int8", 1), ("x", "float8", 1)]))


def test_copy_out_refuses_arrays_of_another_length_even_when_the_bytes_add_up(cur):
    """56 + 54 values take the bytes of 55 + 55: without the check they parse as two rows."""
    cur.execute("INSERT INTO t (id, a) VALUES (1, %s), (2, %s)", [[1.0] * 56, [2.0] * 54])
    spec = [("id", "int8", 1), ("a", "float8[]", 55)]
    with pytest.raises(ValueError, match="row 0: a is not the size expected"):
        list(iter_copy_out(cur, "SELECT id, a FROM t ORDER BY id", spec))
