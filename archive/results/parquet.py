"""Parquet with the IVOA VOTable-Parquet metadata: a row group per fetched batch, Arrow arrays
built on the fetched numpy buffers, the VOTable FIELDs (units, UCDs, descriptions) in the
file's key-value metadata as ``IVOA.VOTable-Parquet.content`` (astropy's ``parquet.votable``
format reads them back). The footer, written last, says whether MAXREC cut the result.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from archive.metadata.fields import VOField
from archive.results import votable
from archive.results.columns import NATIVE, is_text
from archive.results.fetch import Chunk, ColumnChunk
from archive.results.query import Result

COMPRESSION = "snappy"
_ARROW = {
    "boolean": pa.bool_(),
    "unsignedByte": pa.uint8(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
}


def arrow_type(field: VOField) -> pa.DataType:
    if is_text(field):
        return pa.string()
    if field.is_array:
        return pa.list_(_ARROW[field.datatype])
    return _ARROW[field.datatype]


def schema(fields: Sequence[VOField]) -> pa.Schema:
    return pa.schema([pa.field(f.name, arrow_type(f)) for f in fields])


def votable_metadata(
    fields: Sequence[VOField], overflow: bool = False, infos: Sequence = ()
) -> dict[bytes, bytes]:
    """The VOTable-Parquet key-value metadata: the VOTable with a PARQUET element for DATA."""
    infos = [("QUERY_STATUS", "OVERFLOW")] * overflow + list(infos)
    head = votable.header(fields, "TABLEDATA", infos=infos).decode()
    head = head[: head.index("<DATA>")]
    xml = head + '<PARQUET type="Parquet-local-XML"/>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n'
    return {b"IVOA.VOTable-Parquet.version": b"1.0", b"IVOA.VOTable-Parquet.content": xml.encode()}


def _validity(mask: np.ndarray) -> pa.Buffer | None:
    if not mask.any():
        return None
    return pa.py_buffer(np.packbits(~mask, bitorder="little"))


def _numbers(datatype: str, values: np.ndarray, validity: pa.Buffer | None) -> pa.Array:
    """An Arrow array on the numpy values' memory. Not ``pa.array()``: it imports pandas to
    check what it was given, ~40 MB more in every serving process that writes Parquet."""
    values = np.ascontiguousarray(values, dtype=NATIVE[datatype])
    if datatype == "boolean":  # Arrow's booleans are bits
        bits = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(values), [validity, bits])
    return pa.Array.from_buffers(_ARROW[datatype], len(values), [validity, pa.py_buffer(values)])


def arrow_array(field: VOField, col: ColumnChunk) -> pa.Array:
    rows = len(col.mask)
    if is_text(field):
        offsets = pa.py_buffer(col.offsets.astype(np.int32))
        data = pa.py_buffer(col.values)
        return pa.Array.from_buffers(pa.string(), rows, [_validity(col.mask), offsets, data])
    if field.is_array:
        values = _numbers(field.datatype, col.values, None)
        offsets = pa.py_buffer(col.offsets.astype(np.int32))
        return pa.Array.from_buffers(
            arrow_type(field), rows, [_validity(col.mask), offsets], children=[values]
        )
    return _numbers(field.datatype, col.values, _validity(col.mask))


def record_batch(
    chunk: Chunk, fields: Sequence[VOField], arrow_schema: pa.Schema
) -> pa.RecordBatch:
    arrays = [arrow_array(f, c) for f, c in zip(fields, chunk.columns, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


class _Sink:
    """A write-only file for pyarrow that hands on what was written since the last take()."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data) -> int:
        data = bytes(data)
        self.parts.append(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _bounded(fields: Sequence[VOField], longest: dict[int, int]) -> list[VOField]:
    """Variable text fields with the bound the data showed ("12*"): astropy builds the table
    from the FIELDs, and a "*" char column would be objects that do not stack with strings."""
    out = list(fields)
    for i, n in longest.items():
        if out[i].arraysize in (None, "*"):
            out[i] = replace(out[i], arraysize=f"{max(n, 1)}*")
    return out


def write_parquet(result: Result) -> Iterator[bytes]:
    """Row groups as batches arrive; the VOTable metadata goes in the footer, written last,
    with the overflow status and the longest text of each variable text column."""
    arrow_schema = schema(result.fields)
    text_columns = [i for i, f in enumerate(result.fields) if is_text(f)]
    longest = dict.fromkeys(text_columns, 0)
    chunks = result.chunks()
    first = next(chunks, None)  # the query has started (or failed) before the first byte
    sink = _Sink()
    # dictionaries for text only: on measured floats they never pay and cost a hash per value
    dictionary = [f.name for f in result.fields if is_text(f)]
    writer = pq.ParquetWriter(
        sink, arrow_schema, compression=COMPRESSION, use_dictionary=dictionary
    )
    try:
        for chunk in itertools.chain([first] if first is not None else [], chunks):
            for i in text_columns:
                if chunk.rows:
                    longest[i] = max(longest[i], int(chunk.columns[i].lengths().max()))
            writer.write_batch(record_batch(chunk, result.fields, arrow_schema))
            yield sink.take()
    except BaseException:
        sink.parts.clear()  # no footer: a Parquet file without one is unreadable, not short
        raise
    fields = _bounded(result.fields, longest)
    metadata = votable_metadata(fields, overflow=result.overflow, infos=result.infos)
    # astropy sizes its string columns from table::len::<name> in the Arrow schema (it fails
    # on a NULL string without it); the schema is stored in the footer too, so it is final here
    lengths = {
        f"table::len::{result.fields[i].name}".encode(): str(max(n, 1)).encode()
        for i, n in longest.items()
    }
    final = arrow_schema.with_metadata({**metadata, **lengths})
    metadata[b"ARROW:schema"] = base64.b64encode(final.serialize().to_pybytes())
    writer.add_key_value_metadata(metadata)
    writer.close()
    yield sink.take()
