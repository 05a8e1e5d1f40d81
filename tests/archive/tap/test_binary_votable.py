"""The numpy decoder of BINARY/BINARY2 uploads against astropy's own parser, value by value."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io.votable import from_table, parse_single_table, writeto
from astropy.table import Table

from archive.tap.binary_votable import decode


def every_fixed_type(n: int = 7) -> Table:
    rng = np.random.default_rng(2)
    t = Table()
    t["id"] = np.arange(n, dtype=np.int64) * 10**15
    t["i16"] = np.ma.masked_array(
        rng.integers(-300, 300, n).astype(np.int16), mask=n // 2 * [0, 1] + [0] * (n % 2)
    )
    t["i32"] = rng.integers(-(2**31), 2**31 - 1, n).astype(np.int32)
    t["u8"] = rng.integers(0, 255, n).astype(np.uint8)
    t["f32"] = np.ma.masked_array(rng.normal(size=n).astype(np.float32), mask=[1] + [0] * (n - 1))
    t["f64"] = rng.normal(size=n)
    t["f64"][2] = np.nan
    t["flag"] = rng.random(n) < 0.5
    t["code"] = np.array([f"c{i}"[: 1 + i % 3] for i in range(n)], dtype="S3")
    t["vec"] = rng.normal(size=(n, 3))
    t["mat"] = rng.integers(0, 9, size=(n, 2, 2)).astype(np.int32)
    return t


@pytest.mark.parametrize("serialization", ["binary2", "binary"])
def test_decoded_columns_equal_astropys(serialization):
    sent = every_fixed_type()
    votable = from_table(sent)
    if serialization == "binary":  # BINARY says NULL for an integer by its null value only
        votable.get_first_table().get_field_by_id("i16").values.null = -32768
    out = io.BytesIO()
    writeto(votable, out, tabledata_format=serialization)
    data = out.getvalue()
    decoded = decode(data)
    assert decoded is not None
    head, columns = decoded
    reference = parse_single_table(io.BytesIO(data)).array
    assert [f.ID for f in head.fields] == list(reference.dtype.names)
    for name in reference.dtype.names:
        got, want = columns[name], reference[name]
        assert got.shape == want.shape, name
        mask = np.ma.getmaskarray(want)
        assert np.array_equal(np.ma.getmaskarray(got), mask), name
        g, w = np.ma.getdata(got)[~mask], np.ma.getdata(want)[~mask]
        if w.dtype.kind == "f":
            assert np.array_equal(g, w, equal_nan=True), name
        else:
            assert g.tolist() == w.tolist(), name


def test_variable_fields_and_tabledata_are_left_to_astropy():
    t = Table({"name": ["a", "bbbb"], "x": [1.0, 2.0]})
    for fmt in ("tabledata", "binary2"):
        votable = from_table(t)
        votable.get_first_table().fields[0].arraysize = "*"
        out = io.BytesIO()
        writeto(votable, out, tabledata_format=fmt)
        assert decode(out.getvalue()) is None  # char arraysize="*" / no binary stream


def test_a_stream_cut_short_is_an_error():
    out = io.BytesIO()
    writeto(from_table(every_fixed_type()), out, tabledata_format="binary2")
    data = out.getvalue()
    start = data.index(b">", data.index(b"<STREAM")) + 1
    stream = data[start : data.index(b"</STREAM>")].split()
    cut = b"".join(stream)[:16]  # 12 bytes: less than one row
    with pytest.raises(ValueError, match="not a whole number"):
        decode(data[:start] + cut + data[data.index(b"</STREAM>") :])
