"""VOTable 1.4 documents: the header with FIELDs, BINARY2 and TABLEDATA bodies built from whole
batches, the DALI status INFOs (OK, OVERFLOW after the table, ERROR when a query fails after the
first byte) and the DALI error document.

References: VOTable 1.4 (BINARY2 Sect. 5.5, TABLEDATA 5.3), DALI 1.1 Sect. 4.4 and 4.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from archive.metadata.fields import VOField
from archive.results.columns import NUMERIC, FieldText, fixed_length, is_text
from archive.results.encode import Base64Lines, fixed_width, scatter, scatter_var, utf16
from archive.results.fetch import Chunk, ColumnChunk
from archive.results.query import Result, archive_error

NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"  # VOTable 1.4 keeps the 1.3 namespace
_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<VOTABLE version="1.4" xmlns="{NAMESPACE}" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{NAMESPACE} http://www.ivoa.net/xml/VOTable/v1.3">\n'
)
# characters XML 1.0 does not allow, even escaped
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    return escape(_XML_INVALID.sub("\ufffd", text))


def _info(name: str, value: str, text: str = "") -> str:
    body = xml_text(text)
    return f"<INFO name={quoteattr(name)} value={quoteattr(value)}>{body}</INFO>\n"


def field_element(field: VOField) -> str:
    attrs = [("name", field.name), ("datatype", field.datatype)]
    arraysize = field.arraysize or ("*" if is_text(field) else None)
    for key, value in (
        ("arraysize", arraysize),
        ("xtype", field.xtype),
        ("unit", field.unit),
        ("ucd", field.ucd),
        ("utype", field.utype),
    ):
        if value:
            attrs.append((key, value))
    head = " ".join(f"{k}={quoteattr(xml_text(v))}" for k, v in attrs)
    if field.description:
        return (
            f"<FIELD {head}>\n<DESCRIPTION>{xml_text(field.description)}</DESCRIPTION>\n</FIELD>\n"
        )
    return f"<FIELD {head}/>\n"


def header(
    fields: Sequence[VOField],
    serialization: str,
    infos: Sequence[tuple[str, str]] = (),
    table_name: str = "result",
) -> bytes:
    """Everything up to the first row; ``serialization`` is "BINARY2" or "TABLEDATA"."""
    parts = [_OPEN, '<RESOURCE type="results">\n', _info("QUERY_STATUS", "OK")]
    parts += [_info(name, value) for name, value in infos]
    parts.append(f"<TABLE name={quoteattr(table_name)}>\n")
    parts += [field_element(f) for f in fields]
    parts.append("<DATA>\n")
    if serialization == "BINARY2":
        parts.append('<BINARY2>\n<STREAM encoding="base64">\n')
    else:
        parts.append("<TABLEDATA>\n")
    return "".join(parts).encode()


def footer(serialization: str, status: str = "OK", message: str = "") -> bytes:
    """Close the table; an OVERFLOW or ERROR status INFO follows it (DALI 4.4.1, 4.5)."""
    close = "</STREAM>\n</BINARY2>\n" if serialization == "BINARY2" else "</TABLEDATA>\n"
    parts = [close, "</DATA>\n</TABLE>\n"]
    if status != "OK":
        parts.append(_info("QUERY_STATUS", status, message))
    parts.append("</RESOURCE>\n</VOTABLE>\n")
    return "".join(parts).encode()


def error_document(message: str, status: str = "ERROR") -> bytes:
    """A DALI error document: a results RESOURCE holding only the QUERY_STATUS INFO."""
    return (
        _OPEN
        + '<RESOURCE type="results">\n'
        + _info("QUERY_STATUS", status, message)
        + "</RESOURCE>\n</VOTABLE>\n"
    ).encode()


# --- BINARY2 ---------------------------------------------------------------------------


def _binary2_piece(
    field: VOField, col: ColumnChunk
) -> tuple[np.ndarray | None, ColumnChunk | None]:
    """A fixed (rows, w) uint8 block, or a variable column to write as count + bytes."""
    rows = len(col.mask)
    if field.datatype == "boolean":
        block = np.where(col.mask, ord("?"), np.where(col.values, ord("T"), ord("F")))
        return block.astype(np.uint8).reshape(rows, 1), None
    if is_text(field):
        text = utf16(col) if field.datatype == "unicodeChar" else col
        width = fixed_length(field)
        if width is not None:
            unit = 2 if field.datatype == "unicodeChar" else 1
            return fixed_width(text, width * unit), None
        return None, text
    element = np.dtype(NUMERIC[field.datatype][1])
    if field.datatype == "unsignedByte":
        element = np.dtype("u1")
    if field.is_array:
        width = fixed_length(field)
        values = col.values.astype(element)
        if width is not None:
            counts = col.lengths()
            if (counts[~col.mask] != width).any():
                raise ValueError(f"{field.name}: an array is not {width} long")
            block = np.zeros((rows, width), dtype=element)
            block[~col.mask] = values.reshape(-1, width)
            return block.view(np.uint8).reshape(rows, -1), None
        raw = values.view(np.uint8)
        return None, ColumnChunk(raw, col.mask, col.offsets * element.itemsize)
    values = col.values.astype(element)
    if field.datatype in ("float", "double") and col.mask.any():
        values[col.mask] = np.nan
    return values.view(np.uint8).reshape(rows, element.itemsize), None


def binary2(chunk: Chunk, fields: Sequence[VOField]) -> bytes:
    """BINARY2 rows of a chunk: each row a NULL bitmap, then its fields (VOTable 1.4 5.5)."""
    rows = chunk.rows
    nulls = np.packbits(np.stack([c.mask for c in chunk.columns], axis=1), axis=1)
    pieces: list[tuple[np.ndarray | None, ColumnChunk | None, VOField]] = []
    sizes = np.full(rows, nulls.shape[1], dtype=np.int64)
    for field, col in zip(fields, chunk.columns, strict=True):
        block, var = _binary2_piece(field, col)
        if block is not None:
            sizes += block.shape[1]
        else:
            sizes += 4 + var.lengths()
        pieces.append((block, var, field))
    ends = np.cumsum(sizes)
    out = np.empty(int(ends[-1]) if rows else 0, dtype=np.uint8)
    cursor = ends - sizes
    scatter(out, cursor, nulls)
    cursor = cursor + nulls.shape[1]
    pending: list[np.ndarray] = []  # consecutive fixed blocks, written in one scatter

    def flush() -> None:
        nonlocal cursor
        if pending:
            block = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
            scatter(out, cursor, block)
            cursor = cursor + block.shape[1]
            pending.clear()

    for block, var, field in pieces:
        if block is not None:
            pending.append(block)
            continue
        flush()
        lengths = var.lengths()
        count = lengths // (2 if field.datatype == "unicodeChar" else 1)
        if field.is_array:
            count = lengths // np.dtype(NUMERIC[field.datatype][1]).itemsize
            if field.datatype == "unsignedByte":
                count = lengths
        scatter(out, cursor, count.astype(">i4").view(np.uint8).reshape(rows, 4))
        scatter_var(out, cursor + 4, var.values, lengths)
        cursor = cursor + 4 + lengths
    flush()
    return out.tobytes()


# --- TABLEDATA -------------------------------------------------------------------------

_UNESCAPE = {
    b"\\": b"\\",
    b"t": b"\t",
    b"n": b"&#10;",
    b"r": b"&#13;",
    b"b": "\ufffd".encode(),
    b"f": "\ufffd".encode(),
    b"v": "\ufffd".encode(),
}
_ESCAPED = re.compile(rb"\\(.)")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def tabledata(batch: Sequence[bytes]) -> bytes:
    """TABLEDATA rows from PostgreSQL text COPY rows (tab between fields, NULL as '')."""
    data = b"".join(batch)
    data = data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
    data = data[:-1].replace(b"\t", b"</TD><TD>").replace(b"\n", b"</TD></TR>\n<TR><TD>")
    if b"\\" in data:  # COPY's escapes, now inside cells
        data = _ESCAPED.sub(lambda m: _UNESCAPE.get(m[1], m[1]), data)
    if _CONTROL.search(data):
        data = _CONTROL.sub("\ufffd".encode(), data)
    return b"<TR><TD>" + data + b"</TD></TR>\n"


# --- writers ---------------------------------------------------------------------------

_TABLEDATA = FieldText(bool_words=("true", "false"), votable_floats=True)


def _status(result: Result) -> str:
    return "OVERFLOW" if result.overflow else "OK"


def write_binary2(result: Result) -> Iterator[bytes]:
    """VOTable BINARY2. A failure after the first byte closes the document with
    QUERY_STATUS=ERROR after the rows already sent (DALI 4.5)."""
    chunks = result.chunks()
    first = next(chunks, None)  # the query has started (or failed) before the first byte
    b64 = Base64Lines()
    yield header(result.fields, "BINARY2") + (
        b64.feed(binary2(first, result.fields)) if first else b""
    )
    try:
        for chunk in chunks:
            yield b64.feed(binary2(chunk, result.fields))
    except Exception as exc:
        yield b64.close() + footer("BINARY2", "ERROR", archive_error(exc).message)
        return
    yield b64.close() + footer("BINARY2", _status(result))


def write_tabledata(result: Result) -> Iterator[bytes]:
    """VOTable TABLEDATA from PostgreSQL's text COPY; failures as in :func:`write_binary2`."""
    batches = result.text_rows(_TABLEDATA, "FORMAT text, NULL ''")
    first = next(batches, [])
    yield header(result.fields, "TABLEDATA") + (tabledata(first) if first else b"")
    try:
        for batch in batches:
            yield tabledata(batch)
    except Exception as exc:
        yield footer("TABLEDATA", "ERROR", archive_error(exc).message)
        return
    yield footer("TABLEDATA", _status(result))
