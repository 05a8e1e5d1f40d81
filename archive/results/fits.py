"""FITS binary table (FITS 4.0 Sect. 7.3): an empty primary HDU, then a BINTABLE of the rows.

NAXIS2 and the width of every text and variable-array column stand in the header before the
data, so the writer first asks PostgreSQL for them — one aggregate over the same query in the
same REPEATABLE READ snapshot (``Result.sizes``) — and then streams the rows; nothing is
spooled. Variable arrays are padded to the longest (NaN, or TNULL for integers). NULLs: TNULLn
for integers, NaN for floats, an empty string for text, 0 (neither T nor F) for booleans. Units
go in TUNITn, UCDs in TUCDn and descriptions in TCOMMn (the conventions TOPCAT and STILTS read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from archive.errors import ServiceError
from archive.metadata.fields import VOField
from archive.results.columns import fixed_length, is_text
from archive.results.encode import fixed_width
from archive.results.fetch import Chunk
from archive.results.query import Result

BLOCK = 2880
_FORMS = {  # VOTable datatype -> (TFORM letter, big-endian numpy type, TNULL)
    "boolean": ("L", "u1", None),
    "unsignedByte": ("B", "u1", 255),
    "short": ("I", ">i2", -(2**15)),
    "int": ("J", ">i4", -(2**31)),
    "long": ("K", ">i8", -(2**63)),
    "float": ("E", ">f4", None),
    "double": ("D", ">f8", None),
}


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode()


def _value(value: object) -> str:
    if isinstance(value, bool):
        return f"{'T' if value else 'F':>20}"
    if isinstance(value, int):
        return f"{value:>20}"
    text = "'" + _ascii(str(value)).replace("'", "''").ljust(8) + "'"
    return f"{text:<20}"


def cards(key: str, value: object, comment: str = "") -> list[str]:
    """80-character cards; a long string continues on CONTINUE cards (the long-string
    convention, FITS 4.0 Sect. 4.2.1.2)."""
    if isinstance(value, str) and len(value.replace("'", "''")) > 68:
        pieces, text = [], _ascii(value)
        while text:
            n = 67
            while len(text[:n].replace("'", "''")) > 67:
                n -= 1
            pieces.append(text[:n])
            text = text[n:]
        out = [f"{key:<8}= '{pieces[0].replace(chr(39), chr(39) * 2)}&'"]
        for piece in pieces[1:-1]:
            out.append(f"CONTINUE  '{piece.replace(chr(39), chr(39) * 2)}&'")
        out.append(f"CONTINUE  '{pieces[-1].replace(chr(39), chr(39) * 2)}'")
        return [c.ljust(80) for c in out]
    card = f"{key:<8}= {_value(value)}"
    if comment:
        card += " / " + _ascii(comment)
    return [card[:80].ljust(80)]


def _block(lines: list[str]) -> bytes:
    text = "".join(lines) + "END".ljust(80)
    return text.ljust(-(-len(text) // BLOCK) * BLOCK).encode("ascii")


def primary_header() -> bytes:
    return _block(
        cards("SIMPLE", True, "conforms to FITS")
        + cards("BITPIX", 8)
        + cards("NAXIS", 0)
        + cards("EXTEND", True, "the result is in the first extension")
    )


def row_layout(fields: Sequence[VOField], widths: dict[int, int]) -> list[tuple[str, str, int]]:
    """(TFORM, numpy field type, repeat) per column; ``widths`` as ``Result.sizes`` gives them."""
    layout = []
    for i, field in enumerate(fields):
        if is_text(field):
            fixed = fixed_length(field)
            n = max(widths.get(i, 0), fixed or 0, 1)
            layout.append((f"{n}A", "u1", n))
        else:
            letter, element, _ = _FORMS[field.datatype]
            n = (fixed_length(field) or max(widths.get(i, 0), 1)) if field.is_array else 1
            layout.append((f"{n}{letter}" if field.is_array else letter, element, n))
    return layout


def table_header(fields: Sequence[VOField], layout, rows: int, overflow: bool) -> bytes:
    dtype = _dtype(layout)
    lines = (
        cards("XTENSION", "BINTABLE", "binary table extension")
        + cards("BITPIX", 8)
        + cards("NAXIS", 2)
        + cards("NAXIS1", dtype.itemsize, "bytes per row")
        + cards("NAXIS2", rows, "rows")
        + cards("PCOUNT", 0)
        + cards("GCOUNT", 1)
        + cards("TFIELDS", len(fields))
    )
    for i, (field, (form, _, _)) in enumerate(zip(fields, layout, strict=True), start=1):
        lines += cards(f"TTYPE{i}", field.name)
        lines += cards(f"TFORM{i}", form)
        if field.unit:
            lines += cards(f"TUNIT{i}", field.unit)
        tnull = _FORMS.get(field.datatype, (None, None, None))[2]
        if tnull is not None and not is_text(field):
            lines += cards(f"TNULL{i}", tnull)
        if field.ucd:
            lines += cards(f"TUCD{i}", field.ucd)
        if field.utype:
            lines += cards(f"TUTYP{i}", field.utype)
        if field.description:
            lines += cards(f"TCOMM{i}", field.description)
    lines += cards("EXTNAME", "RESULT")
    if overflow:  # DALI's OVERFLOW, as a keyword: MAXREC cut the result
        lines += cards("QUERYSTA", "OVERFLOW", "more rows match than MAXREC")
    return _block(lines)


def _dtype(layout) -> np.dtype:
    return np.dtype(
        [
            (f"f{i}", element, (n,)) if n > 1 or form.endswith("A") else (f"f{i}", element)
            for i, (form, element, n) in enumerate(layout)
        ]
    )


def rows_bytes(chunk: Chunk, fields: Sequence[VOField], layout) -> bytes:
    dtype = _dtype(layout)
    out = np.zeros(chunk.rows, dtype=dtype)
    for i, (field, col, (_, element, n)) in enumerate(
        zip(fields, chunk.columns, layout, strict=True)
    ):
        key = f"f{i}"
        if is_text(field):
            out[key] = fixed_width(col, n)
        elif field.datatype == "boolean":
            out[key] = np.where(col.mask, 0, np.where(col.values, ord("T"), ord("F")))
        elif field.is_array:
            tnull = _FORMS[field.datatype][2]
            block = np.full((chunk.rows, n), np.nan if tnull is None else tnull, dtype=element)
            counts = np.minimum(col.lengths(), n)
            row = np.repeat(np.arange(chunk.rows), counts)
            k = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
            block[row, k] = col.values[col.offsets[:-1][row] + k]
            out[key] = block
        else:
            tnull = _FORMS[field.datatype][2]
            values = col.values.astype(element)
            if col.mask.any():
                values[col.mask] = np.nan if tnull is None else tnull
            out[key] = values
    return out.tobytes()


def write_fits(result: Result) -> Iterator[bytes]:
    counted, widths = result.sizes()
    overflow = result.maxrec is not None and counted > result.maxrec
    rows = min(counted, result.maxrec) if result.maxrec is not None else counted
    layout = row_layout(result.fields, widths)
    yield primary_header() + table_header(result.fields, layout, rows, overflow)
    size = 0
    for chunk in result.chunks():
        data = rows_bytes(chunk, result.fields, layout)
        size += len(data)
        yield data
    if result.rows != rows:  # not in one snapshot? never send a file that looks complete
        raise ServiceError(f"FITS header promised {rows} rows, the query gave {result.rows}")
    yield bytes(-size % BLOCK)
