"""CSV, TSV and ECSV: PostgreSQL writes the values (its csv or text COPY, in
C), these writers add the header and pass the rows on batch by batch.

CSV is RFC 4180 quoting with a header line and LF line ends (as PostgreSQL writes them; a CRLF
rewrite would change newlines inside quoted values); NULL is an empty field, an empty string is
``""``. TSV is PostgreSQL's text format: a tab, newline or backslash inside a value is written
``\\t``, ``\\n``, ``\\\\``; NULL is an empty field. Arrays are space-separated numbers, except in
ECSV (JSON arrays, as ECSV specifies).

A result that MAXREC cut short ends with one comment line, ``# QUERY_STATUS=OVERFLOW ...``
(DALI's OVERFLOW; the rows are all written before it is known): ECSV and astropy's TSV reader
skip it, CSV readers when told to (``comment="#"`` in astropy and pandas).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from archive.metadata.fields import VOField
from archive.results.columns import FieldText, fixed_length, is_text
from archive.results.query import Result

_CSV = FieldText()
_ECSV = FieldText(array_style="json")


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _rows(result: Result, style: FieldText, options: str, head: bytes) -> Iterator[bytes]:
    batches = result.text_rows(style, options)
    first = next(batches, [])  # the query has started (or failed) before the first byte
    yield head + b"".join(first)
    for batch in batches:
        yield b"".join(batch)
    if result.overflow:
        yield OVERFLOW_LINE


OVERFLOW_LINE = b"# QUERY_STATUS=OVERFLOW: more rows match than MAXREC\n"


def write_csv(result: Result) -> Iterator[bytes]:
    head = ",".join(_csv_cell(f.name) for f in result.fields) + "\n"
    return _rows(result, _CSV, "FORMAT csv", head.encode())


def write_tsv(result: Result) -> Iterator[bytes]:
    head = "\t".join(f.name for f in result.fields) + "\n"
    return _rows(result, _CSV, "FORMAT text, NULL ''", head.encode())


_ECSV_TYPES = {
    "boolean": "bool",
    "unsignedByte": "uint8",
    "short": "int16",
    "int": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
}


def _ecsv_column(field: VOField) -> str:
    entry: dict[str, object] = {"name": field.name}
    if field.unit:
        entry["unit"] = field.unit
    if is_text(field):
        entry["datatype"] = "string"
    elif field.is_array:
        size = fixed_length(field)
        entry["datatype"] = "string"
        entry["subtype"] = f"{_ECSV_TYPES[field.datatype]}[{size if size else 'null'}]"
    else:
        entry["datatype"] = _ECSV_TYPES[field.datatype]
    if field.description:
        entry["description"] = field.description
    meta = {k: v for k, v in (("ucd", field.ucd), ("utype", field.utype)) if v}
    if field.xtype:
        meta["xtype"] = field.xtype
    if meta:
        entry["meta"] = meta
    # JSON is YAML's flow style: one line per column, every string safely quoted
    return "# - " + json.dumps(entry, ensure_ascii=False) + "\n"


def ecsv_header(fields: Sequence[VOField]) -> str:
    lines = ["# %ECSV 1.0\n", "# ---\n", "# delimiter: ','\n", "# datatype:\n"]
    lines += [_ecsv_column(f) for f in fields]
    lines.append("# schema: astropy-2.0\n")
    lines.append(",".join(_csv_cell(f.name) for f in fields) + "\n")
    return "".join(lines)


def write_ecsv(result: Result) -> Iterator[bytes]:
    return _rows(result, _ECSV, "FORMAT csv", ecsv_header(result.fields).encode())
