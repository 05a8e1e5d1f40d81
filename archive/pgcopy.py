"""Bulk loading with PostgreSQL's binary COPY, built from numpy columns.

Rows whose values are all present (no NULL) and of fixed size are packed into the COPY binary
format by numpy in one go — no Python per row; this is what makes XP coefficients (4 x 55
float8 per star) load at speed. Rows with a NULL, and text columns, go through psycopg's
``write_row``, which is C-accelerated and fast enough for scalar tables.

Binary format: PostgreSQL documentation, "COPY — Binary Format".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_FLOAT8_OID = 701
_SCALAR = {
    "int8": ">i8",
    "int4": ">i4",
    "int2": ">i2",
    "float8": ">f8",
    "float4": ">f4",
    "bool": "?",
}


@dataclass(frozen=True)
class Column:
    """One column to load: its name, PostgreSQL type and values (first axis = rows).

    ``values`` may be a 1-D array, a 2-D float array for ``float8[]``, or an object array for
    ``text``; ``null`` marks rows whose value is NULL (NaN floats are NULL by default).
    """

    name: str
    pgtype: str
    values: np.ndarray
    null: np.ndarray | None = None

    def null_mask(self) -> np.ndarray:
        if self.null is not None:
            return np.asarray(self.null, dtype=bool)
        v = self.values
        if v.dtype.kind == "f":
            return np.isnan(v) if v.ndim == 1 else np.isnan(v).all(axis=1)
        return np.zeros(len(v), dtype=bool)


def _fixed_dtype(columns: Sequence[Column]) -> np.dtype:
    fields: list[tuple[str, object]] = [("nfields", ">i2")]
    for i, col in enumerate(columns):
        if col.pgtype == "float8[]":
            k = col.values.shape[1]
            fields += [
                (f"len{i}", ">i4"),
                (f"hdr{i}", ">i4", (5,)),
                (f"val{i}", [("len", ">i4"), ("v", ">f8")], (k,)),
            ]
        else:
            fields += [(f"len{i}", ">i4"), (f"val{i}", _SCALAR[col.pgtype])]
    return np.dtype(fields)


def out_of_range(pgtype: str, values: np.ndarray) -> np.ndarray:
    """(rows,) bool: the values a PostgreSQL integer column (int2, int4, int8) cannot hold;
    all False for other types."""
    values = np.asarray(values)
    if pgtype not in ("int2", "int4", "int8") or values.dtype.kind not in "iu":
        return np.zeros(len(values), dtype=bool)
    info = np.iinfo(np.dtype(_SCALAR[pgtype]))
    return (values < info.min) | (values > info.max)


def pack_binary(columns: Sequence[Column], rows: np.ndarray) -> bytes:
    """COPY BINARY tuples (without header) of the selected rows; every value must be present."""
    dtype = _fixed_dtype(columns)
    out = np.zeros(len(rows), dtype=dtype)
    out["nfields"] = len(columns)
    for i, col in enumerate(columns):
        values = col.values[rows]
        if col.pgtype == "float8[]":
            k = values.shape[1]
            out[f"len{i}"] = 20 + 12 * k
            out[f"hdr{i}"] = (1, 0, _FLOAT8_OID, k, 1)  # ndim, has-null, element type, dim, lb
            out[f"val{i}"]["len"] = 8
            out[f"val{i}"]["v"] = values
        else:
            wrong = out_of_range(col.pgtype, values)
            if wrong.any():  # numpy would store it wrapped
                j = int(np.flatnonzero(wrong)[0])
                raise ValueError(
                    f"column {col.name}: {values[j]} (row {int(rows[j])}) does not fit {col.pgtype}"
                )
            out[f"len{i}"] = np.dtype(_SCALAR[col.pgtype]).itemsize
            out[f"val{i}"] = values
    return out.tobytes()


def _python_values(col: Column, rows: np.ndarray) -> list:
    values = col.values[rows]
    null = col.null_mask()[rows]
    if col.pgtype == "float8[]":
        items = [None if n else v for v, n in zip(values.tolist(), null.tolist(), strict=True)]
        return items
    items = values.tolist()
    if null.any():
        for j in np.flatnonzero(null).tolist():
            items[j] = None
    return items


def copy_columns(cursor, table: str, columns: Sequence[Column]) -> int:
    """COPY the columns into ``table``; return the number of rows written."""
    n = len(columns[0].values) if columns else 0
    if n == 0:
        return 0
    names = ", ".join(c.name for c in columns)
    sql = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    fixed = all(c.pgtype in _SCALAR or c.pgtype == "float8[]" for c in columns)
    any_null = np.zeros(n, dtype=bool)
    for c in columns:
        any_null |= c.null_mask()
    fast = np.flatnonzero(~any_null) if fixed else np.empty(0, dtype=np.int64)
    slow = np.flatnonzero(any_null) if fixed else np.arange(n)
    if fast.size:
        packed = pack_binary(columns, fast)  # before COPY starts: a refusal aborts nothing
        with cursor.copy(sql) as cp:
            cp.write(_HEADER + packed + _TRAILER)
    if slow.size:
        with cursor.copy(sql) as cp:
            cp.set_types([c.pgtype for c in columns])
            for row in zip(*(_python_values(c, slow) for c in columns), strict=True):
                cp.write_row(row)
    return n


def iter_copy_out(
    cursor, query: str, columns: Sequence[tuple[str, str, int]], batch_rows: int = 65536
):
    """Stream ``query`` out with COPY BINARY, parsed by numpy; yields dicts of column arrays.

    ``columns``: (name, pgtype, length) in the query's order; length is the array size for
    ``float8[]`` (1 for scalars). Every value must be non-NULL (coalesce floats to 'NaN' in the
    query), so each tuple has a fixed size and a batch is one ``np.frombuffer``.
    """
    probe = [
        Column(name, pgtype, np.zeros((1, k) if pgtype == "float8[]" else 1))
        for name, pgtype, k in columns
    ]
    dtype = _fixed_dtype(probe)
    size = dtype.itemsize
    buf = bytearray()
    header_left, done = len(_HEADER), 0
    with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as cp:
        for data in cp:
            buf += data
            if header_left:
                if len(buf) < header_left:
                    continue
                del buf[:header_left]
                header_left = 0
            n = len(buf) // size
            if n >= batch_rows:
                yield _unpack(buf[: n * size], dtype, probe, done)
                done += n
                del buf[: n * size]
    n = len(buf) // size
    if n:
        yield _unpack(buf[: n * size], dtype, probe, done)
    if bytes(buf[n * size :]) != _TRAILER:
        raise ValueError("COPY output ended unexpectedly (a NULL value or a variable-size row?)")


def _unpack(
    data: bytes | bytearray, dtype: np.dtype, columns: Sequence[Column], first_row: int
) -> dict:
    rows = np.frombuffer(bytes(data), dtype=dtype)
    # a NULL or an array of another length shifts every later row: refuse at the first one
    sizes = [
        20 + 12 * c.values.shape[1]
        if c.pgtype == "float8[]"
        else np.dtype(_SCALAR[c.pgtype]).itemsize
        for c in columns
    ]
    off = [rows[f"len{i}"] != size for i, size in enumerate(sizes)]
    wrong = (rows["nfields"] != len(columns)) | np.logical_or.reduce(off)
    if wrong.any():
        j = int(np.flatnonzero(wrong)[0])
        where = next((c.name for c, o in zip(columns, off, strict=True) if o[j]), "the row")
        raise ValueError(
            f"COPY output row {first_row + j}: {where} is not the size expected "
            "(a NULL value, or an array of another length?)"
        )
    out = {}
    for i, col in enumerate(columns):
        values = rows[f"val{i}"]["v"] if col.pgtype == "float8[]" else rows[f"val{i}"]
        out[col.name] = values.astype(values.dtype.newbyteorder("="))
    return out
