"""Fetching a result in chunks with ``COPY (query) TO STDOUT``, parsed by numpy.

PostgreSQL sends one CopyData message per row, so a batch of messages gives each row's start for
free; the binary rows (variable in size: NULLs, text, arrays) are then parsed column by column
with vectorised gathers over the whole batch — no Python object per row or per value. Text
formats take PostgreSQL's own csv/text output, batch by batch, as bytes.

Binary format: PostgreSQL documentation, "COPY — Binary Format"; arrays: array_send().
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import pq
from psycopg.waiting import Wait

from archive.metadata.fields import VOField
from archive.pgcopy import _HEADER, _TRAILER
from archive.results.columns import NATIVE, NUMERIC, is_text

FIRST_BATCH = 1024  # small, so the first byte leaves early
BATCH = 65536
BATCH_BYTES = 4 << 20  # a batch's rows, joined: bounds a writer's memory (and fits in cache)
_PAD = 16  # zero bytes after each row: gathers of a NULL's absent value stay in bounds


class CopyFormatError(ValueError):
    """COPY output that is not what the parser expects (a server that batches rows, a bug)."""


@dataclass
class ColumnChunk:
    """One column of a batch of rows.

    ``values``: scalars, (rows,) in the native dtype; text, the UTF-8 bytes of every row end to
    end (uint8); arrays, every element end to end. ``offsets`` (rows + 1) delimits the rows of
    text and arrays. ``mask`` is True where the value is NULL.
    """

    values: np.ndarray
    mask: np.ndarray
    offsets: np.ndarray | None = None

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class Chunk:
    rows: int
    columns: list[ColumnChunk]


def copy_messages(cursor, copy_sql: str, limit: int | None = None) -> Iterator[list[bytes]]:
    """Batches of COPY OUT messages (one row each), at most ``limit`` rows in all.

    The first batch is small so a writer can send its first bytes early; later ones hold about
    BATCH_BYTES. Stopping early (a limit, or the consumer closing the generator) cancels the
    rest of the query (psycopg's Copy does it on exit).
    """
    connection = cursor.connection
    with contextlib.suppress(_Enough):
        yield from _copy_batches(cursor, connection, copy_sql, limit)


class _Enough(Exception):
    """Raised through psycopg's Copy block so that it cancels the rest of the COPY (a clean
    exit would leave the COPY running and the connection unusable)."""


def _copy_batches(cursor, connection, copy_sql: str, limit: int | None) -> Iterator[list[bytes]]:
    with cursor.copy(copy_sql) as cp:
        rows, size = 0, FIRST_BATCH
        while True:
            batch, done = connection.wait(
                _read_batch(connection.pgconn, size, BATCH_BYTES, connection.info.encoding)
            )
            if done is not None:
                cp._finished = True  # the COPY's final result is read: nothing left to cancel
                cursor._rowcount = done.command_tuples or -1
            if batch:
                yield batch
                rows += len(batch)
            if done is not None:
                return
            if limit is not None and rows >= limit:  # the rest is cancelled (cp's exit)
                raise _Enough
            size = BATCH


def _read_batch(pgconn, rows: int, size: int, encoding: str):
    """psycopg wait-generator: up to ``rows`` messages or ``size`` bytes from libpq's buffer,
    waiting on the socket only when it is empty; (messages, final result or None).

    One C call per row (psycopg's Copy.read runs a generator stack per row, which costs more
    than parsing the row).
    """
    out: list[bytes] = []
    append, get, total = out.append, pgconn.get_copy_data, 0
    while True:
        nbytes, data = get(1)
        if nbytes > 0:
            append(bytes(data))
            total += nbytes
            if len(out) >= rows or total >= size:
                return out, None
        elif nbytes == 0:  # nothing complete in the buffer: wait for the socket
            while not (yield Wait.R):
                pass
            pgconn.consume_input()
        else:  # the COPY ended: its result says whether it succeeded
            final = None
            while True:
                while pgconn.is_busy():
                    while not (yield Wait.R):
                        pass
                    pgconn.consume_input()
                result = pgconn.get_result()
                if result is None:
                    break
                final = result
            if final is None or final.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(final, encoding=encoding)
            return out, final


def binary_messages(messages: Iterator[list[bytes]]) -> Iterator[list[bytes]]:
    """Strip the binary COPY header (glued to the first row) and trailer (a message of its own)."""
    first = True
    for batch in messages:
        if first:
            if not batch[0].startswith(_HEADER):
                raise CopyFormatError("COPY BINARY output does not start with its signature")
            batch[0] = batch[0][len(_HEADER) :]
            if not batch[0]:
                batch.pop(0)
            first = False
        if batch and batch[-1] == _TRAILER:
            batch.pop()
        if batch:
            yield batch


def _be_int32(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    b = buf[pos[:, None] + np.arange(4)]
    return b.copy().view(">i4").ravel().astype(np.int64)


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Bytes buf[s:s+l] of every (s, l), end to end."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.uint8)
    out_starts = np.cumsum(lengths) - lengths
    index = np.arange(total, dtype=np.int64) + np.repeat(starts - out_starts, lengths)
    return buf[index]


def fixed_first(fields: Sequence[VOField]) -> list[int]:
    """Column order for the COPY: numeric scalars first, then text and arrays, so that rows
    without a NULL share one layout up to the first variable column."""
    fixed = [i for i, f in enumerate(fields) if not is_text(f) and not f.is_array]
    return fixed + [i for i in range(len(fields)) if i not in set(fixed)]


def parse_binary(batch: Sequence[bytes], fields: Sequence[VOField]) -> Iterator[Chunk]:
    """Parse a batch of binary COPY rows (one message each, columns in :func:`fixed_first`
    order) into column arrays; a batch of long rows comes out as several chunks."""
    n = len(batch)
    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=n)
    start = 0
    while start < n:  # rows padded to the longest: keep each piece under PIECE_BYTES
        stop = min(n, start + max(1, PIECE_BYTES // max(int(lengths[start]), 1)))
        while stop - start > 1 and int(lengths[start:stop].max()) * (stop - start) > PIECE_BYTES:
            stop = start + (stop - start) // 2
        yield _parse_piece(batch[start:stop], lengths[start:stop], fields)
        start = stop


PIECE_BYTES = 32 << 20


def _parse_piece(batch: Sequence[bytes], lengths: np.ndarray, fields: Sequence[VOField]) -> Chunk:
    n = len(batch)
    stride = int(lengths.max()) + _PAD
    # every row padded to one stride: the columns before the first variable one are a
    # structured view wherever the row has no NULL there (checked through the length words)
    joined = np.frombuffer(b"".join(batch), dtype=np.uint8)
    padded = np.zeros((n, stride), dtype=np.uint8)
    padded[np.arange(stride)[None, :] < lengths[:, None]] = joined
    flat = padded.reshape(-1)
    fixed = [f for f in fields if not is_text(f) and not f.is_array]
    names, formats, offsets = ["nfields"], [">i2"], [0]
    at = 2
    for i, f in enumerate(fixed):
        element = NUMERIC[f.datatype][1]
        names += [f"len{i}", f"val{i}"]
        formats += [">i4", element]
        offsets += [at, at + 4]
        at += 4 + element.itemsize
    prefix = at
    if prefix > stride:  # a row shorter than the fixed prefix holds a NULL: slow path only
        stride_view = None
    else:
        layout = np.dtype(
            {"names": names, "formats": formats, "offsets": offsets, "itemsize": stride}
        )
        stride_view = np.ndarray((n,), dtype=layout, buffer=flat)
    starts = np.arange(n, dtype=np.int64) * stride
    ends = starts + lengths
    if stride_view is not None:
        nfields = stride_view["nfields"]
        ok = nfields == len(fields)
        for i, f in enumerate(fixed):
            ok &= stride_view[f"len{i}"] == NUMERIC[f.datatype][1].itemsize
    else:
        nfields = flat[starts[:, None] + np.arange(2)].copy().view(">i2").ravel()
        ok = np.zeros(n, dtype=bool)
    if (nfields != len(fields)).any():
        raise CopyFormatError(f"COPY rows do not have {len(fields)} fields")
    slow = np.flatnonzero(~ok)
    pos = starts + prefix
    slow_pos = starts[slow] + 2
    columns = []
    for i, field in enumerate(fixed):
        native = NATIVE[field.datatype]
        if stride_view is not None:
            values = stride_view[f"val{i}"].astype(native)
        else:
            values = np.zeros(n, dtype=native)
        null = np.zeros(n, dtype=bool)
        if len(slow):
            s_values, s_null, slow_pos = _walk_fixed(flat, slow_pos, field)
            values[slow], null[slow] = s_values, s_null
        columns.append(ColumnChunk(values, null))
    pos[slow] = slow_pos
    for field in fields[len(fixed) :]:
        size = _be_int32(flat, pos)
        null = size < 0
        size = np.maximum(size, 0)
        data = pos + 4
        if is_text(field):
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(size, out=offsets[1:])
            columns.append(ColumnChunk(_gather(flat, data, size), null, offsets))
        else:
            columns.append(_parse_arrays(flat, data, size, null, field))
        pos = data + size
    if (pos != ends).any():
        raise CopyFormatError("COPY rows are longer than their fields (one message per row?)")
    return Chunk(n, columns)


def _walk_fixed(flat: np.ndarray, pos: np.ndarray, field: VOField):
    """One fixed-size column of the rows at ``pos``, read length word by length word."""
    element = NUMERIC[field.datatype][1]
    w = element.itemsize
    size = _be_int32(flat, pos)
    null = size < 0
    if ((size != w) & ~null).any():
        raise CopyFormatError(f"{field.name}: a value is not {w} bytes")
    raw = flat[(pos + 4)[:, None] + np.arange(w)].copy().view(element).ravel()
    values = raw.astype(NATIVE[field.datatype])
    values[null] = 0
    return values, null, pos + 4 + np.maximum(size, 0)


def _parse_arrays(
    buf: np.ndarray, data: np.ndarray, size: np.ndarray, null: np.ndarray, field: VOField
) -> ColumnChunk:
    """array_send() output: ndim, has-null, element OID, (dim, lbound) x ndim, then elements,
    each a 4-byte length and the value; multi-dimensional arrays come out flattened."""
    element = NUMERIC[field.datatype][1]
    native = NATIVE[field.datatype]
    w = element.itemsize
    n = len(data)
    header = np.where(null[:, None], 0, buf[data[:, None] + np.arange(12)])
    header = header.astype(np.uint8).view(">i4").reshape(n, 3).astype(np.int64)
    ndim, has_null = header[:, 0], header[:, 1]
    counts = np.where(null | (ndim == 0), 0, (size - 12 - 8 * ndim) // (4 + w))
    first = data + 12 + 8 * ndim + 4  # the first element's value
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    row = np.repeat(np.arange(n), counts)
    k = np.arange(total) - offsets[:-1][row]
    at = first[row] + k * (4 + w)
    values = buf[at[:, None] + np.arange(w)].copy().view(element).ravel().astype(native)
    for j in np.flatnonzero(has_null & ~null):  # rare: an array holding a NULL element
        values, offsets = _array_with_nulls(buf, int(data[j]), int(j), values, offsets, field)
    return ColumnChunk(values, null, offsets)


def _array_with_nulls(buf, start, j, values, offsets, field):
    """Re-read row ``j``'s array element by element; NULL elements become NaN (or 0)."""
    element = NUMERIC[field.datatype][1]
    ndim = int(buf[start : start + 4].view(">i4")[0])
    dims = buf[start + 12 : start + 12 + 8 * ndim].view(">i4")[::2]
    count = int(np.prod(dims)) if ndim else 0
    at = start + 12 + 8 * ndim
    items = np.zeros(count, dtype=NATIVE[field.datatype])
    for i in range(count):
        length = int(buf[at : at + 4].view(">i4")[0])
        if length < 0:
            items[i] = np.nan if items.dtype.kind == "f" else 0
            at += 4
        else:
            items[i] = buf[at + 4 : at + 4 + length].view(element)[0]
            at += 4 + length
    lo, hi = offsets[j], offsets[j + 1]
    values = np.concatenate([values[:lo], items, values[hi:]])
    offsets = offsets.copy()
    offsets[j + 1 :] += count - (hi - lo)
    return values, offsets
