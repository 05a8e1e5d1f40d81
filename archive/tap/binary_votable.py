"""Uploaded VOTables in BINARY2 or BINARY serialization, decoded by numpy.

astropy's VOTable parser decodes binary streams one row at a time in Python (about 0.1 ms a row:
ten seconds for a 100 000-row cross-match list), so a table whose fields all have a fixed size
is decoded here instead: astropy parses the document with its stream cut out (the FIELDs, with
their metadata), base64 is decoded in C, and numpy reads the rows as one structured array. A
table with a variable-size field (``arraysize="*"``), an array of flags or a stream by reference
is left to astropy (:func:`decode` returns None). VOTable 1.4, Sect. 5.4 (BINARY) and 5.5
(BINARY2); the tests check every decoded value against astropy's own parser.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from astropy.io.votable import parse_single_table
from astropy.io.votable.tree import TableElement

_STREAM = re.compile(rb"<(?:\w+:)?(BINARY2?)\b[^>]*>\s*<(?:\w+:)?STREAM\b([^>]*)>", re.S)
_STREAM_END = re.compile(rb"</(?:\w+:)?STREAM\s*>")
#: VOTable datatype -> numpy type of one big-endian element
_ELEMENT = {
    "boolean": "S1",
    "unsignedByte": "u1",
    "short": ">i2",
    "int": ">i4",
    "long": ">i8",
    "float": ">f4",
    "double": ">f8",
    "char": "S1",
    "unicodeChar": ">u2",
    "bit": "u1",  # one bit in a byte of its own (VOTable 1.4, Sect. 5.4)
}


def _shape(arraysize: str | None) -> tuple[int, ...] | None:
    """The element count of a fixed arraysize ("3", "2x4"; VOTable lists the fastest first),
    () for a scalar, None for a variable one."""
    if arraysize in (None, "", "1"):
        return ()
    if "*" in arraysize:
        return None
    return tuple(int(n) for n in reversed(arraysize.split("x")))


def _field_dtype(field) -> np.dtype | None:
    shape = _shape(field.arraysize)
    if shape is None or field.datatype not in _ELEMENT:
        return None
    if field.datatype == "char":
        return np.dtype(f"S{int(np.prod(shape)) or 1}")
    if field.datatype in ("boolean", "bit") and shape:
        return None  # arrays of flags: rare, left to astropy
    element = np.dtype(_ELEMENT[field.datatype])
    return np.dtype((element, shape)) if shape else element


def _column(field, raw: np.ndarray, null: np.ndarray) -> np.ma.MaskedArray:
    if field.datatype == "char":
        values = np.char.rstrip(raw, b"\x00").astype(str)  # NUL-padded, as astropy reads it
        return np.ma.MaskedArray(values, mask=null)
    if field.datatype == "unicodeChar":
        chars = raw.astype("<u2").reshape(len(raw), -1)
        text = chars.astype(np.uint32).view(f"<U{chars.shape[1]}").ravel()
        return np.ma.MaskedArray(np.char.rstrip(text, "\x00"), mask=null)
    if field.datatype == "bit":
        # the standard packs it as the byte's first bit (0x80), astropy writes 0x08: the other
        # bits of a lone bit's byte are zero either way
        return np.ma.MaskedArray(raw != 0, mask=null)
    if field.datatype == "boolean":
        values = np.isin(raw, (b"T", b"t", b"1"))
        return np.ma.MaskedArray(
            values, mask=null | ~np.isin(raw, (b"T", b"t", b"1", b"F", b"f", b"0"))
        )
    values = raw.astype(raw.dtype.newbyteorder("="))
    if values.ndim > 1:
        null = np.broadcast_to(null.reshape((-1,) + (1,) * (values.ndim - 1)), values.shape)
    elif values.dtype.kind == "f":
        null = null | np.isnan(values)  # NaN is a float's NULL (as astropy reads it)
    elif field.values is not None and field.values.null is not None:
        null = null | (values == field.values.null)  # BINARY's only way to say NULL for integers
    return np.ma.MaskedArray(values, mask=null)


def decode(data: bytes) -> tuple[TableElement, dict[str, np.ma.MaskedArray]] | None:
    """(the table's metadata, its columns by field ID as astropy keys them) of the first table
    of ``data``; None when astropy must read it (not a base64 stream of fixed-size fields)."""
    found = _STREAM.search(data)
    if found is None or b"href" in found.group(2):
        return None
    end = _STREAM_END.search(data, found.end())
    if end is None:
        return None
    head = parse_single_table(io.BytesIO(data[: found.end()] + data[end.start() :]), verify="warn")
    fields = list(head.fields)
    dtypes = [_field_dtype(f) for f in fields]
    if not fields or any(d is None for d in dtypes):
        return None
    binary2 = found.group(1) == b"BINARY2"
    flag_bytes = (len(fields) + 7) // 8 if binary2 else 0
    layout = [("_nulls", "u1", (flag_bytes,))] if binary2 else []
    layout += [(f"f{i}", d) for i, d in enumerate(dtypes)]
    row = np.dtype(layout)
    raw = base64.b64decode(data[found.end() : end.start()])
    if len(raw) % row.itemsize:
        raise ValueError(
            f"the binary stream has {len(raw)} bytes, not a whole number of "
            f"{row.itemsize}-byte rows of these FIELDs"
        )
    rows = np.frombuffer(raw, dtype=row)
    if binary2:
        nulls = np.unpackbits(rows["_nulls"], axis=1)[:, : len(fields)].astype(bool)
    else:
        nulls = np.zeros((len(rows), len(fields)), dtype=bool)
    columns = {f.ID: _column(f, rows[f"f{i}"], nulls[:, i]) for i, f in enumerate(fields)}
    return head, columns
