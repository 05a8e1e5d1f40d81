"""Every format read back by astropy (the reference reader) gives the database's values, types,
NULLs, units and UCDs; Parquet also by pyarrow, whose reader keeps NULLs astropy's does not."""

import io
import math
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits as pyfits
from astropy.io import votable
from astropy.table import Table

from archive.results.stream import stream_result

from .conftest import SAMPLE_FIELDS

pytestmark = pytest.mark.django_db

NAMES = [f.name for f in SAMPLE_FIELDS]
EXACT = {  # the numpy type each typed format must give back
    "source_id": "i8",
    "n_members": "i2",
    "n_obs": "i4",
    "teff": "f8",
    "mag": "f4",
    "ok": "b1",
    "score": "f8",
}


def produce(reader_conn, fmt, sql, fields=SAMPLE_FIELDS, maxrec=None) -> bytes:
    return b"".join(stream_result(reader_conn, sql, fields, fmt, maxrec))


@pytest.fixture
def expected(sample_table, reader_conn):
    """The sample as the database sees it, with the text each format carries for the
    timestamps, spoints and numerics."""
    sql = f"""SELECT source_id, n_members, n_obs, teff, mag, ok, score::float8, flag, label, tag,
                     coeffs, replace(seen::text, ' ', 'T'), pos::text
              FROM ({sample_table}) AS q"""
    with reader_conn.cursor() as cur:
        cur.execute("SET DateStyle = 'ISO, YMD'")
        rows = cur.execute(sql).fetchall()
    return {name: [row[i] for row in rows] for i, name in enumerate(NAMES)}


def same(got, want, name, masked=False) -> bool:
    """One value against the database's; NULL must come back masked (or, where the format
    has no NULL for it, as empty text or an empty array)."""
    if want is None:
        return masked or got is np.ma.masked or (hasattr(got, "__len__") and len(got) == 0)
    if masked:
        # FITS, CSV and ECSV have one empty value for '' and NULL; FITS for [] and NULL
        return want == "" or want == []
    if name == "coeffs":  # FITS pads to the longest array with NaN
        got = np.ma.filled(np.ma.asarray(got, dtype=float), np.nan)
        pad = got[len(want) :]
        return np.array_equal(got[: len(want)], want) and bool(np.isnan(pad).all())
    if name == "mag":  # a float: compare as float32
        return np.float32(got) == np.float32(want)
    if name == "flag":
        want = want.rstrip()
    if isinstance(want, float) and math.isnan(want):
        return got is np.ma.masked or math.isnan(got)
    if isinstance(got, bytes):
        got = got.decode()
    return got == want


def check_values(table: Table, expected, names=NAMES) -> None:
    for name in names:
        column = table[name]
        mask = (
            np.ma.getmaskarray(column) if hasattr(column, "mask") else np.zeros(len(column), bool)
        )
        for i, want in enumerate(expected[name]):
            if isinstance(want, float) and math.isnan(want) and mask[i]:
                continue  # NaN read back as NULL: formats whose readers mask NaN
            null = bool(np.all(mask[i]))  # a FITS array row is NULL when all of it is
            assert same(column[i], want, name, null), (name, i, column[i], want)


def check_metadata(table: Table) -> None:
    for field in SAMPLE_FIELDS:
        if field.unit:
            assert str(table[field.name].unit) == field.unit
        if field.ucd:
            assert table[field.name].meta.get("ucd") == field.ucd, field.name


def check_types(table: Table) -> None:
    for name, kind in EXACT.items():
        assert table[name].dtype.newbyteorder("=") == np.dtype(kind), name


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_votable(reader_conn, sample_table, expected, fmt):
    data = produce(reader_conn, fmt, sample_table)
    document = votable.parse(io.BytesIO(data))
    resource = document.resources[0]
    assert resource.type == "results"
    assert [(i.name, i.value) for i in resource.infos] == [("QUERY_STATUS", "OK")]
    table = resource.tables[0]
    assert [f.name for f in table.fields] == NAMES
    for got, want in zip(table.fields, SAMPLE_FIELDS, strict=True):
        assert (got.datatype, got.ucd, got.description) == (
            want.datatype,
            want.ucd or None,
            want.description,
        )
        assert str(got.arraysize or "") == (want.arraysize or "")
    result = table.to_table()
    check_types(result)
    check_values(result, expected)
    check_metadata(result)
    assert str(table.fields[7].arraysize) == "8"  # char(8) -> char arraysize 8


def test_binary2_marks_nulls_in_its_bitmap(reader_conn, sample_table):
    """The all-NULL row is masked in every column astropy masks from the bitmap."""
    data = produce(reader_conn, "votable", sample_table)
    result = votable.parse(io.BytesIO(data)).get_first_table().to_table()
    for name in ("source_id", "n_members", "n_obs", "teff", "mag", "ok", "score", "coeffs"):
        assert result[name].mask[-1], name
    assert not result["n_members"].mask[:-1].any()


def test_fits(reader_conn, sample_table, expected):
    data = produce(reader_conn, "fits", sample_table)
    assert len(data) % 2880 == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy: NULL logicals become False; 'dex' not FITS
        result = Table.read(io.BytesIO(data), format="fits")
    check_types(result)
    # a NULL logical is byte 0 (FITS 7.3.3.1); astropy reads it as False, so skip 'ok's NULL
    check_values(result, {**expected, "ok": expected["ok"][:-1]})
    header = pyfits.open(io.BytesIO(data))[1].header
    assert header["NAXIS2"] == 5
    assert header["TFORM8"] == "8A"
    for i, field in enumerate(SAMPLE_FIELDS, start=1):
        assert header.get(f"TUNIT{i}", "") == field.unit
        assert header.get(f"TUCD{i}", "") == field.ucd
        assert header[f"TCOMM{i}"] == field.description
    # the smallest int2 is data here, so its NULL is marked by another value
    assert header["TNULL2"] == 32767 and result["n_members"][3] == -32768
    ok = pyfits.open(io.BytesIO(data), logical_as_bytes=True)[1].data["ok"]
    assert list(ok) == [b"T", b"F", b"T", b"F", b""]


def test_parquet(reader_conn, sample_table, expected, tmp_path):
    path = tmp_path / "result.parquet"
    path.write_bytes(produce(reader_conn, "parquet", sample_table))
    arrow = pq.read_table(path)
    types = [str(t) for t in arrow.schema.types]
    assert types[:10] + types[11:] == [
        "int64", "int16", "int32", "double", "float", "bool", "double", "string", "string",
        "string", "string", "string",
    ]  # fmt: skip
    assert arrow.schema.field("coeffs").type.value_type == pa.float64()
    assert all(arrow.column(n)[4].as_py() is None for n in NAMES)  # NULLs are Parquet nulls
    for name in NAMES:
        got = arrow.column(name).to_pylist()[:4]
        for g, w in zip(got, expected[name][:4], strict=True):
            assert same(g, w, name), (name, g, w)
    # astropy's parquet.votable reader (it has no masks: NULL ints become NaN, a NULL bool an
    # object) on the rows without NULLs, for values, types, units and UCDs
    no_nulls = tmp_path / "no_nulls.parquet"
    sql = f"SELECT * FROM ({sample_table}) AS q WHERE source_id IS NOT NULL"
    no_nulls.write_bytes(produce(reader_conn, "parquet", sql))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'dex' is not a FITS unit
        result = Table.read(no_nulls, format="parquet.votable")
    check_types(result)
    check_values(result, {k: v[:4] for k, v in expected.items()})
    check_metadata(result)


def test_ecsv(reader_conn, sample_table, expected):
    data = produce(reader_conn, "ecsv", sample_table)
    result = Table.read(data.decode(), format="ascii.ecsv")
    check_types(result)
    check_values(result, expected)
    check_metadata(result)
    assert result["teff"].description == "Teff"


def test_csv(reader_conn, sample_table, expected):
    data = produce(reader_conn, "csv", sample_table)
    assert data.startswith(b"source_id,n_members,n_obs,teff,")
    result = Table.read(data.decode(), format="ascii.csv")
    # CSV carries no types: numbers come back as numbers, the rest as text
    names = [n for n in NAMES if n not in ("ok", "flag", "coeffs")]
    check_values(result, expected, names)
    assert list(result["ok"][:4]) == ["True", "False", "True", "False"]
    assert list(result["coeffs"][:3]) == ["0.5", "Infinity -Infinity 1", "1.5 -2.25 3e-300"]
    assert result["ok"].mask[4] and result["coeffs"].mask[4]
    # RFC 4180: quotes doubled, a newline inside a quoted value
    assert b'"Sun-like, ""G2V"""' in data and b'"line 1\nline 2' in data


def test_tsv(reader_conn, sample_table, expected):
    data = produce(reader_conn, "tsv", sample_table)
    lines = data.split(b"\n")
    assert lines[0].split(b"\t") == [n.encode() for n in NAMES]
    assert lines[5] == b"\t" * (len(NAMES) - 1)  # the all-NULL row: every field empty
    # a tab, newline or backslash inside a value is escaped as PostgreSQL's text format does
    assert b"line 1\\nline 2 <&> tab\\tend \\\\ back" in data
    result = Table.read(data.decode(), format="ascii.tab")  # astropy skips the empty row
    names = [n for n in NAMES if n not in ("ok", "flag", "coeffs", "label")]
    check_values(result, {k: v[:4] for k, v in expected.items()}, names)


def test_tabledata_spells_infinities_as_votable_does(reader_conn, sample_table):
    data = produce(reader_conn, "votable/td", sample_table)
    row = next(r for r in data.split(b"<TR>") if b"00000001" in r)
    assert b"<TD>+Inf</TD><TD>-Inf</TD>" in row  # teff, mag
    assert b"<TD>Infinity</TD><TD>-Infinity</TD>" in row  # the same words as text stay
    assert b"<TD>+Inf -Inf 1</TD>" in row
