"""FITS binary table (FITS 4.0 Sect. 7.3): an empty primary HDU, then a BINTABLE of the rows.

NAXIS2 and the width of every text and variable-array column stand in the header before the
data, so the writer asks PostgreSQL for them — one aggregate over the same query in the same
REPEATABLE READ snapshot (``Result.sizes``), while the primary HDU is already on its way — and
then streams the rows; nothing is spooled (spooling would hold the first byte until the whole
result was on disk; see docs/benchmarks.md). Variable arrays are padded to the longest (NaN, or
TNULL for integers). NULLs: TNULLn for integers (a value the column does not hold, found by the
same aggregate), NaN for floats, an empty string for text, 0 (neither T nor F) for booleans.
Units go in TUNITn, UCDs in TUCDn and descriptions in TCOMMn (the conventions TOPCAT and STILTS
read).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Slot:
    """One column of a FITS row: TFORM, big-endian numpy element, repeat count, TNULL."""

    form: str
    element: str
    repeat: int
    tnull: int | None = None


def tnulls(fields: Sequence[VOField], ranges: dict[int, tuple]) -> dict[int, int]:
    """TNULL of each integer column that holds a NULL: a value the column does not use (the
    type's minimum, else its maximum), so no real value reads back as NULL. Only a column that
    uses both extremes gets the minimum anyway."""
    out = {}
    for i, (low, high, nulls) in ranges.items():
        if not nulls:
            continue
        info = np.iinfo(np.dtype(_FORMS[fields[i].datatype][1]))
        if low is None or low > info.min:
            out[i] = int(info.min)
        elif high < info.max:
            out[i] = int(info.max)
        else:
            out[i] = int(info.min)
    return out


def row_layout(
    fields: Sequence[VOField], widths: dict[int, int], nulls: dict[int, int]
) -> list[Slot]:
    """The row's columns; ``widths`` and ``nulls`` as :meth:`Result.sizes` and :func:`tnulls`
    give them (integer arrays pad and mark NULL with the type's TNULL)."""
    layout = []
    for i, field in enumerate(fields):
        if is_text(field):
            n = max(widths.get(i, 0), fixed_length(field) or 0, 1)
            layout.append(Slot(f"{n}A", "u1", n))
            continue
        letter, element, tnull = _FORMS[field.datatype]
        if field.is_array:
            n = fixed_length(field) or max(widths.get(i, 0), 1)
            layout.append(Slot(f"{n}{letter}", element, n, tnull))
        else:
            layout.append(Slot(letter, element, 1, nulls.get(i)))
    return layout


def table_header(
    fields: Sequence[VOField], layout: Sequence[Slot], rows: int, overflow: bool
) -> bytes:
    lines = (
        cards("XTENSION", "BINTABLE", "binary table extension")
        + cards("BITPIX", 8)
        + cards("NAXIS", 2)
        + cards("NAXIS1", _dtype(layout).itemsize, "bytes per row")
        + cards("NAXIS2", rows, "rows")
        + cards("PCOUNT", 0)
        + cards("GCOUNT", 1)
        + cards("TFIELDS", len(fields))
    )
    for i, (field, slot) in enumerate(zip(fields, layout, strict=True), start=1):
        lines += cards(f"TTYPE{i}", field.name)
        lines += cards(f"TFORM{i}", slot.form)
        if field.unit:
            lines += cards(f"TUNIT{i}", field.unit)
        if slot.tnull is not None:
            lines += cards(f"TNULL{i}", slot.tnull)
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


def _dtype(layout: Sequence[Slot]) -> np.dtype:
    return np.dtype(
        [
            (f"f{i}", s.element, (s.repeat,))
            if s.repeat > 1 or s.form.endswith("A")
            else (f"f{i}", s.element)
            for i, s in enumerate(layout)
        ]
    )


def rows_bytes(chunk: Chunk, fields: Sequence[VOField], layout: Sequence[Slot]) -> bytes:
    out = np.zeros(chunk.rows, dtype=_dtype(layout))
    for i, (field, col, slot) in enumerate(zip(fields, chunk.columns, layout, strict=True)):
        key = f"f{i}"
        blank = np.nan if slot.tnull is None else slot.tnull
        if is_text(field):
            out[key] = fixed_width(col, slot.repeat)
        elif field.datatype == "boolean":
            out[key] = np.where(col.mask, 0, np.where(col.values, ord("T"), ord("F")))
        elif field.is_array:
            block = np.full((chunk.rows, slot.repeat), blank, dtype=slot.element)
            counts = np.minimum(col.lengths(), slot.repeat)
            row = np.repeat(np.arange(chunk.rows), counts)
            k = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
            block[row, k] = col.values[col.offsets[:-1][row] + k]
            out[key] = block
        elif col.mask.any():
            out[key] = np.where(col.mask, blank, col.values)
        else:
            out[key] = col.values
    return out.tobytes()


def write_fits(result: Result) -> Iterator[bytes]:
    """The primary HDU leaves as soon as the query is planned (a query PostgreSQL refuses
    still fails before the first byte); the table header follows the count."""
    result.plan()
    yield primary_header()
    sizes = result.sizes()
    overflow = result.maxrec is not None and sizes.rows > result.maxrec
    rows = min(sizes.rows, result.maxrec) if result.maxrec is not None else sizes.rows
    layout = row_layout(result.fields, sizes.widths, tnulls(result.fields, sizes.ranges))
    yield table_header(result.fields, layout, rows, overflow)
    size = 0
    for chunk in result.chunks():
        data = rows_bytes(chunk, result.fields, layout)
        size += len(data)
        yield data
    if result.rows != rows:  # not in one snapshot? never send a file that looks complete
        raise ServiceError(f"FITS header promised {rows} rows, the query gave {result.rows}")
    yield bytes(-size % BLOCK)
