"""VOTable 1.4 documents: the header with FIELDs, BINARY2 and TABLEDATA bodies built from whole
batches, the DALI status INFOs (OK, OVERFLOW after the table, ERROR when a query fails after the
first byte) and the DALI error document.

References: VOTable 1.4 (BINARY2 Sect. 5.5, TABLEDATA 5.3), DALI 1.1 Sect. 4.4 and 4.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from archive.metadata.fields import VOField
from archive.results.columns import NUMERIC, FieldText, fixed_length, is_text
from archive.results.encode import Base64Lines, fixed_width, utf16
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


_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ServiceDescriptor:
    """A DataLink service descriptor (DataLink 1.1 Sect. 4): a ``<RESOURCE type="meta"
    utype="adhoc:service">`` beside the results, whose input parameters take their values from
    the rows' columns (``inputs``: (parameter name, field name)), so that clients such as
    TOPCAT and pyvo's ``iter_datalinks()`` call the service for any row."""

    id: str
    access_url: str
    standard_id: str
    inputs: tuple[tuple[str, str], ...]
    description: str = ""

    def element(self, field_ids: dict[str, str]) -> str:
        params = "".join(
            f'<PARAM name={quoteattr(name)} datatype="char" arraysize="*" value="" '
            f"ref={quoteattr(field_ids[field])}/>\n"
            for name, field in self.inputs
            if field in field_ids
        )
        desc = self.description and f"<DESCRIPTION>{xml_text(self.description)}</DESCRIPTION>\n"
        return (
            f'<RESOURCE type="meta" utype="adhoc:service" ID={quoteattr(self.id)}>\n{desc}'
            f'<PARAM name="standardID" datatype="char" arraysize="*" '
            f"value={quoteattr(self.standard_id)}/>\n"
            f'<PARAM name="accessURL" datatype="char" arraysize="*" '
            f"value={quoteattr(self.access_url)}/>\n"
            f'<GROUP name="inputParams">\n{params}</GROUP>\n</RESOURCE>\n'
        )


def field_ids(fields: Sequence[VOField], descriptors: Sequence[ServiceDescriptor]) -> dict:
    """field name -> XML ID of the fields the descriptors' parameters refer to."""
    wanted = {field for d in descriptors for _, field in d.inputs}
    # the name itself where it can be an ID: readers that key columns by ID (astropy by
    # default, so astroquery) then still see source_id, not col_0
    taken = {d.id for d in descriptors}
    ids = {}
    for i, f in enumerate(fields):
        if f.name in wanted:
            ids[f.name] = f.name if _NCNAME.match(f.name) and f.name not in taken else f"col_{i}"
    return ids


def field_element(field: VOField, field_id: str | None = None) -> str:
    attrs = [("name", field.name), ("datatype", field.datatype)]
    if field_id:
        attrs.insert(0, ("ID", field_id))
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
    infos: Sequence[tuple[str, ...]] = (),
    table_name: str = "result",
    service_descriptors: Sequence[ServiceDescriptor] = (),
) -> bytes:
    """Everything up to the first row; ``serialization`` is "BINARY2" or "TABLEDATA". ``infos``:
    (name, value) or (name, value, text) of INFOs before the table (provenance, citation).
    Fields that ``service_descriptors`` refer to get an XML ID (the descriptors go in the
    footer)."""
    ids = field_ids(fields, service_descriptors)
    parts = [_OPEN, '<RESOURCE type="results">\n', _info("QUERY_STATUS", "OK")]
    parts += [_info(*info) for info in infos]
    parts.append(f"<TABLE name={quoteattr(table_name)}>\n")
    parts += [field_element(f, ids.get(f.name)) for f in fields]
    parts.append("<DATA>\n")
    if serialization == "BINARY2":
        parts.append('<BINARY2>\n<STREAM encoding="base64">\n')
    else:
        parts.append("<TABLEDATA>\n")
    return "".join(parts).encode()


def footer(
    serialization: str,
    status: str = "OK",
    message: str = "",
    fields: Sequence[VOField] = (),
    service_descriptors: Sequence[ServiceDescriptor] = (),
) -> bytes:
    """Close the table; an OVERFLOW or ERROR status INFO follows it (DALI 4.4.1, 4.5); the
    service descriptors (DataLink 1.1 Sect. 4) follow the results RESOURCE."""
    close = "</STREAM>\n</BINARY2>\n" if serialization == "BINARY2" else "</TABLEDATA>\n"
    parts = [close, "</DATA>\n</TABLE>\n"]
    if status != "OK":
        parts.append(_info("QUERY_STATUS", status, message))
    parts.append("</RESOURCE>\n")
    ids = field_ids(fields, service_descriptors)
    parts += [d.element(ids) for d in service_descriptors]
    parts.append("</VOTABLE>\n")
    return "".join(parts).encode()


def error_document(message: str, status: str = "ERROR", kind: str = "") -> bytes:
    """A DALI error document: a results RESOURCE holding the QUERY_STATUS INFO and, when
    known, an ``ERROR_KIND`` INFO (``archive.errors``: timeout, limit, query, usage...) that
    a program can branch on without parsing the message."""
    kind_info = _info("ERROR_KIND", kind) if kind else ""
    return (
        _OPEN
        + '<RESOURCE type="results">\n'
        + _info("QUERY_STATUS", status, message)
        + kind_info
        + "</RESOURCE>\n</VOTABLE>\n"
    ).encode()


# --- BINARY2 ---------------------------------------------------------------------------


def _fixed_slot(field: VOField, col: ColumnChunk) -> tuple[np.dtype, np.ndarray] | None:
    """(slot type, values) of a field of constant size in BINARY2; None for a variable one."""
    rows = len(col.mask)
    if field.datatype == "boolean":
        flags = np.where(col.mask, ord("?"), np.where(col.values, ord("T"), ord("F")))
        return np.dtype("u1"), flags.astype(np.uint8)
    if is_text(field):
        width = fixed_length(field)
        if width is None:
            return None
        text = utf16(col) if field.datatype == "unicodeChar" else col
        width *= 2 if field.datatype == "unicodeChar" else 1
        return np.dtype(("u1", (width,))), fixed_width(text, width)
    element = np.dtype("u1") if field.datatype == "unsignedByte" else NUMERIC[field.datatype][1]
    if field.is_array:
        width = fixed_length(field)
        if width is None:
            return None
        if (col.lengths()[~col.mask] != width).any():
            raise ValueError(f"{field.name}: an array is not {width} long")
        block = np.zeros((rows, width), dtype=element)
        block[~col.mask] = col.values.reshape(-1, width)
        return np.dtype((element, (width,))), block
    values = col.values
    if field.datatype in ("float", "double") and col.mask.any():
        values = np.where(col.mask, np.nan, values)
    return element, values


def _variable(field: VOField, col: ColumnChunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(counts, byte lengths, bytes end to end) of a variable field."""
    if is_text(field):
        text = utf16(col) if field.datatype == "unicodeChar" else col
        lengths = text.lengths()
        return lengths // (2 if field.datatype == "unicodeChar" else 1), lengths, text.values
    element = np.dtype("u1") if field.datatype == "unsignedByte" else NUMERIC[field.datatype][1]
    counts = col.lengths()
    return counts, counts * element.itemsize, col.values.astype(element).view(np.uint8)


def binary2(chunk: Chunk, fields: Sequence[VOField]) -> bytes:
    """BINARY2 rows of a chunk: each row a NULL bitmap, then its fields (VOTable 1.4 5.5).

    The rows are a structured array, each variable field a slot as wide as its longest value
    in the chunk; where a value is shorter, one boolean selection drops the slack and leaves the
    rows end to end — no per-row work, no scatter.
    """
    rows = chunk.rows
    nulls = np.packbits(np.stack([c.mask for c in chunk.columns], axis=1), axis=1)
    slots: list[tuple] = [("nulls", "u1", (nulls.shape[1],))]
    fill: list[tuple[str, object]] = [("nulls", nulls)]
    variable = []
    for i, (field, col) in enumerate(zip(fields, chunk.columns, strict=True)):
        fixed = _fixed_slot(field, col)
        if fixed is not None:
            slots.append((f"f{i}", fixed[0]))
            fill.append((f"f{i}", fixed[1]))
            continue
        counts, lengths, data = _variable(field, col)
        longest = int(lengths.max()) if rows else 0
        slots += [(f"n{i}", ">i4"), (f"v{i}", "u1", (longest,))]
        fill.append((f"n{i}", counts))
        variable.append((f"v{i}", lengths, data, longest))
    record = np.empty(rows, dtype=slots)
    for name, values in fill:
        record[name] = values
    if not variable:
        return record.tobytes()
    flat = record.view(np.uint8).reshape(rows, record.dtype.itemsize)
    keep = None
    for name, lengths, data, longest in variable:
        at = record.dtype.fields[name][1]
        inside = np.arange(longest)[None, :] < lengths[:, None]
        flat[:, at : at + longest][inside] = data
        if not inside.all():
            if keep is None:
                keep = np.ones(flat.shape, dtype=bool)
            keep[:, at : at + longest] = inside
    return flat.tobytes() if keep is None else flat[keep].tobytes()


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
_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _infinities(row: bytes, floats: Sequence[int]) -> bytes:
    """PostgreSQL's Infinity / -Infinity as VOTable's +Inf / -Inf, in float cells only."""
    cells = row[:-1].split(b"\t")
    for i in floats:
        words = [_INF.get(w, w) for w in cells[i].split(b" ")]
        cells[i] = b" ".join(words)
    return b"\t".join(cells) + b"\n"


_INF = {b"Infinity": b"+Inf", b"-Infinity": b"-Inf"}


def tabledata(batch: Sequence[bytes], floats: Sequence[int] = ()) -> bytes:
    """TABLEDATA rows from PostgreSQL text COPY rows (tab between fields, NULL as '');
    ``floats``: the columns of float type, whose infinities VOTable spells its own way.

    Whole-batch byte replacements (C loops); each escape pass runs only when its byte occurs.
    """
    data = b"".join(batch)[:-1]
    if floats and b"Infinity" in data:  # rare: fix those rows cell by cell
        data = b"".join([_infinities(r, floats) if b"Infinity" in r else r for r in batch])[:-1]
    if len(data.translate(None, _CONTROLS)) != len(data):  # not allowed in XML 1.0
        data = _CONTROL.sub("\ufffd".encode(), data)
    if b"&" in data:
        data = data.replace(b"&", b"&amp;")
    if b"<" in data:
        data = data.replace(b"<", b"&lt;")
    if b">" in data:
        data = data.replace(b">", b"&gt;")
    data = data.replace(b"\t", b"</TD><TD>").replace(b"\n", b"</TD></TR>\n<TR><TD>")
    if b"\\" in data:  # COPY's escapes, now inside cells
        data = _ESCAPED.sub(lambda m: _UNESCAPE.get(m[1], m[1]), data)
    return b"<TR><TD>" + data + b"</TD></TR>\n"


# --- writers ---------------------------------------------------------------------------

_TABLEDATA = FieldText(bool_words=("true", "false"))


def _status(result: Result) -> str:
    return "OVERFLOW" if result.overflow else "OK"


def write_binary2(result: Result) -> Iterator[bytes]:
    """VOTable BINARY2. A failure after the first byte closes the document with
    QUERY_STATUS=ERROR after the rows already sent (DALI 4.5)."""
    chunks = result.chunks()
    first = next(chunks, None)  # the query has started (or failed) before the first byte
    b64 = Base64Lines()
    descriptors = result.service_descriptors
    infos = result.infos
    yield header(result.fields, "BINARY2", infos, service_descriptors=descriptors) + (
        b64.feed(binary2(first, result.fields)) if first else b""
    )
    try:
        for chunk in chunks:
            yield b64.feed(binary2(chunk, result.fields))
    except Exception as exc:
        yield b64.close() + footer(
            "BINARY2", "ERROR", archive_error(exc).message, result.fields, descriptors
        )
        return
    yield b64.close() + footer("BINARY2", _status(result), "", result.fields, descriptors)


def write_tabledata(result: Result) -> Iterator[bytes]:
    """VOTable TABLEDATA from PostgreSQL's text COPY; failures as in :func:`write_binary2`."""
    batches = result.text_rows(_TABLEDATA, "FORMAT text, NULL ''")
    floats = [i for i, f in enumerate(result.fields) if f.datatype in ("float", "double")]
    first = next(batches, [])
    descriptors = result.service_descriptors
    infos = result.infos
    yield header(result.fields, "TABLEDATA", infos, service_descriptors=descriptors) + (
        tabledata(first, floats) if first else b""
    )
    try:
        for batch in batches:
            yield tabledata(batch, floats)
    except Exception as exc:
        yield footer("TABLEDATA", "ERROR", archive_error(exc).message, result.fields, descriptors)
        return
    yield footer("TABLEDATA", _status(result), "", result.fields, descriptors)
