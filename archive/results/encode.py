"""Vectorised byte assembly shared by the binary writers: variable-size rows built by scatter,
text re-encoded per batch, base64 in lines."""

from __future__ import annotations

import binascii

import numpy as np

from archive.results.fetch import ColumnChunk


def scatter(out: np.ndarray, starts: np.ndarray, block: np.ndarray) -> None:
    """out[starts[i] : starts[i] + w] = block[i] for a (rows, w) uint8 block."""
    w = block.shape[1]
    if w:
        out[starts[:, None] + np.arange(w)] = block


def scatter_var(out: np.ndarray, starts: np.ndarray, data: np.ndarray, lengths: np.ndarray) -> None:
    """Variable pieces: out[starts[i] : starts[i] + lengths[i]] = the i-th piece of ``data``."""
    total = int(lengths.sum())
    if total:
        src_starts = np.cumsum(lengths) - lengths
        index = np.arange(total, dtype=np.int64) + np.repeat(starts - src_starts, lengths)
        out[index] = data


def fixed_width(column: ColumnChunk, width: int) -> np.ndarray:
    """(rows, width) uint8: each row's text cut or zero-padded to ``width`` bytes."""
    lengths = np.minimum(column.lengths(), width)
    rows = len(lengths)
    block = np.zeros((rows, width), dtype=np.uint8)
    if rows == 0:
        return block
    k = np.arange(width)
    keep = k[None, :] < lengths[:, None]
    src = (column.offsets[:-1, None] + k[None, :])[keep]
    block[keep] = column.values[src]
    return block


def utf16(column: ColumnChunk) -> ColumnChunk:
    """The same text as UTF-16BE (VOTable unicodeChar); offsets in bytes."""
    data = column.values
    if not len(data):
        return column
    if not (data >= 0x80).any():  # ASCII: each byte becomes 0, byte
        out = np.zeros(2 * len(data), dtype=np.uint8)
        out[1::2] = data
        return ColumnChunk(out, column.mask, column.offsets * 2)
    encoded = data.tobytes().decode("utf-8").encode("utf-16-be")
    # UTF-16 code units per UTF-8 byte: one per lead byte, two for 4-byte sequences
    units = (((data & 0xC0) != 0x80).astype(np.int64)) + (data >= 0xF0)
    cum = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(units, out=cum[1:])
    return ColumnChunk(np.frombuffer(encoded, dtype=np.uint8), column.mask, 2 * cum[column.offsets])


class Base64Lines:
    """base64 of a byte stream in 76-character lines, fed in pieces of any size."""

    LINE = 57  # input bytes per output line

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        if self.carry:  # complete the carried line first, then encode the rest in place
            need = self.LINE - len(self.carry)
            head, data = self.carry + data[:need], memoryview(data)[need:]
            if len(head) < self.LINE:
                self.carry = head
                return b""
            self.carry = b""
            return self._lines(head) + self.feed(data)
        view = memoryview(data)
        whole = len(view) - len(view) % self.LINE
        self.carry = bytes(view[whole:])
        return self._lines(view[:whole])

    def close(self) -> bytes:
        tail, self.carry = self.carry, b""
        return binascii.b2a_base64(tail) if tail else b""

    def _lines(self, data: bytes) -> bytes:
        if not data:
            return b""
        text = np.frombuffer(binascii.b2a_base64(data, newline=False), dtype=np.uint8)
        lines = np.empty((len(text) // 76, 77), dtype=np.uint8)
        lines[:, :76] = text.reshape(-1, 76)
        lines[:, 76] = ord("\n")
        return lines.tobytes()
