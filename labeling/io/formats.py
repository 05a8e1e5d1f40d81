"""Format detection and chunked, format-neutral table access.

Every product reader goes through :func:`iter_raw_chunks`, which yields blocks of at
most ``chunk_rows`` rows as raw numpy / masked columns, whatever the container:

* ECSV (Gaia DR3 bulk ``*.csv.gz`` files and DataLink ``.ecsv``): the YAML header is
  parsed by astropy (``astropy.table.meta.get_header_from_yaml``); the data lines are
  split into blocks of lines and each block is handed to astropy's fast CSV reader.
  Gaia writes missing values as ``null`` (not ECSV's empty field, see astropy issue
  #13331 and the astropy docs section on reading Gaia tables); both are masked here.
  Array columns the caller names in ``arrays`` (bulk RVS ``flux``, XP coefficients)
  are quoted JSON cells ``"[v1,...,null,...]"`` that make up almost all of a line:
  each is cut out of its line as the line is read and decoded (simdjson, orjson) straight
  into the block's ``(n, length)`` array (:func:`labeling.io.convert.json_row`); the
  rest of the line (a ``null`` in its place) still goes to astropy.  Any cell not of
  that form (``null``, DataLink's ``"(v1, v2)"``, garbage) stays in the line and is
  decoded, or reported, the ordinary way.
* CSV (DataLink ``.csv``): the same, without the YAML header.
* FITS: the first binary table, memory-mapped and read one row slice at a time.
* VOTable: TABLEDATA files are streamed by cutting the ``<TR>`` elements into blocks,
  each parsed by ``astropy.io.votable``; BINARY/BINARY2/FITS-serialised VOTables
  cannot be cut this way and are parsed whole (astropy has no streaming VOTable API).

``.gz`` files are decompressed on the fly, by a background thread that keeps a few
MiB ahead of the parser (zlib-ng releases the GIL, so inflating overlaps parsing); a
``.zip`` (the archive the Gaia DataLink
service returns) is read member by member, keeping the members whose name starts
with one of the given product prefixes (e.g. ``XP_CONTINUOUS``).
"""

from __future__ import annotations

import csv
import io
import queue
import re
import threading
import warnings
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.io import fits, votable
from astropy.table import meta as table_meta
from zlib_ng import gzip_ng, zlib_ng

from .convert import json_row, to_array
from .errors import ReadError

FORMATS = ("ecsv", "csv", "fits", "votable")

# Gaia writes missing values as "null"; ECSV's own convention is the empty field.
_FILL_VALUES = [("null", "0"), ("", "0")]
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class RawChunk:
    """Raw columns (keys lower-cased) of rows ``first_row .. first_row + n - 1``."""

    first_row: int
    columns: dict[str, np.ndarray]
    n_rows: int
    # ECSV array subtypes ('float32[null]') and per-table scalars (VOTable PARAM/INFO,
    # FITS header cards), lower-cased keys: the DataLink "COMBINED" RVS layout puts
    # source_id there instead of in a column.
    subtypes: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------- opening


def _display(path: str | Path, member: str | None) -> str:
    return f"{path}:{member}" if member else str(path)


def _magic(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)
    except OSError as exc:
        raise ReadError(str(path), f"cannot open file: {exc}") from exc


def _zip_members(path: str | Path, prefixes: Iterable[str]) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(str(path), f"corrupt zip archive: {exc}") from exc
    prefixes = [p.lower() for p in prefixes]
    if prefixes:
        names = [n for n in names if Path(n).name.lower().startswith(tuple(prefixes))]
    if not names:
        want = " or ".join(prefixes) or "any"
        raise ReadError(str(path), f"zip archive holds no {want} product")
    return sorted(names)


@contextmanager
def _open_binary(path: str | Path, member: str | None) -> Iterator[IO[bytes]]:
    """Decompressed byte stream of a plain, gzipped or zipped-member file."""
    display = _display(path, member)
    try:
        if member is not None:
            with zipfile.ZipFile(path) as zf, zf.open(member) as raw:
                if raw.peek(2)[:2] == _GZIP_MAGIC:
                    with gzip_ng.GzipFile(fileobj=raw) as fh:
                        yield fh
                else:
                    yield raw
        elif _magic(path)[:2] == _GZIP_MAGIC:
            # zlib-ng's gzip reader (C) inflates ~2-3x faster than the standard library's
            with gzip_ng.open(path, "rb") as fh:
                yield fh
        else:
            with open(path, "rb") as fh:
                yield fh
    except ReadError:
        raise
    except (OSError, EOFError, zlib.error, zlib_ng.error, zipfile.BadZipFile) as exc:
        raise ReadError(display, f"unreadable, truncated or corrupt file: {exc}") from exc


def _sniff(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"SIMPLE  =") or head.startswith(b"SIMPLE  ="):
        return "fits"
    if text.startswith(b"# %ECSV"):
        return "ecsv"
    if text.startswith(b"<?xml") or text[:200].lower().find(b"<votable") >= 0:
        return "votable"
    if b"\x00" in head:
        return None
    try:
        first = text.split(b"\n", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    # A CSV header line: one or more comma-separated identifiers (Gaia / DataLink column names).
    if re.fullmatch(r"\s*[A-Za-z_][\w.]*\s*(,\s*[A-Za-z_][\w.]*\s*)*\r?", first):
        return "csv"
    return None


_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _not_a_product(head: bytes, compressed: bool) -> str:
    """Why ``head`` (the first decompressed bytes) is none of the known formats."""
    text = head.lstrip(b"\xef\xbb\xbf")
    if not head:
        return "empty file (nothing inside the gzip stream)" if compressed else "empty file"
    if not text.strip():
        return "empty file (only blank lines)"
    first_bytes = text.lstrip().split(b"\n", 1)[0]
    try:
        first = first_bytes.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        first = None
    if b"\x00" in head or first is None:
        return (
            "not a text file: binary content that is neither FITS, VOTable, gzip nor zip "
            f"(first bytes {head[:8].hex(' ')})"
        )
    name = r"\s*[A-Za-z_][\w.]*\s*"
    for delimiter, what in _OTHER_DELIMITERS.items():
        if re.fullmatch(f"{name}({re.escape(delimiter)}{name})+", first):
            return (
                f"the header line {first[:80]!r} separates its column names by {what} "
                f"({delimiter!r}); CSV and ECSV files must be comma-delimited"
            )
    return f"text, but its first line is not a comma-separated header of names: {first[:80]!r}"


def _detect(path: str | Path, member: str | None) -> str:
    display = _display(path, member)
    with _open_binary(path, member) as fh:
        try:
            head = fh.read(4096)
        except (OSError, EOFError, zlib.error, zlib_ng.error) as exc:
            raise ReadError(display, f"unreadable, truncated or corrupt file: {exc}") from exc
    fmt = _sniff(head)
    if fmt is None:
        compressed = member is None and _magic(path)[:2] == _GZIP_MAGIC
        raise ReadError(
            display,
            f"{_not_a_product(head, compressed)} (expected ECSV, CSV, FITS or VOTable)",
        )
    return fmt


def detect_format(path: str | Path, member_prefixes: Iterable[str] = ()) -> str:
    """Return "ecsv", "csv", "fits" or "votable" for ``path``.

    Decided from the content, not the name (Gaia bulk ECSV files are called
    ``*.csv.gz``).  Gzip is seen through; for a DataLink ``.zip`` the format of the
    first member whose name starts with one of ``member_prefixes`` (any member if
    none given) is returned.  Raises :class:`ReadError` for anything else.
    """
    magic = _magic(path)
    if magic.startswith(_ZIP_MAGIC):
        return _detect(path, _zip_members(path, member_prefixes)[0])
    return _detect(path, None)


def sources(path: str | Path, member_prefixes: Iterable[str] = ()) -> list[str | None]:
    """Zip members to read for ``path`` (``[None]`` for a plain or gzipped file)."""
    if _magic(path).startswith(_ZIP_MAGIC):
        return list(_zip_members(path, member_prefixes))
    return [None]


# ------------------------------------------------------------------------ the header


@dataclass(frozen=True)
class TableHeader:
    """What a file's header says, before any data row: its format, its column names (lower
    case, in file order) and its table-level metadata (lower-case keys: the ECSV header's
    ``meta``, FITS header cards, VOTable PARAM/INFO)."""

    format: str
    columns: tuple[str, ...]
    params: dict[str, object]


def read_header(path: str | Path, member_prefixes: Iterable[str] = ()) -> TableHeader:
    """The :class:`TableHeader` of ``path`` (of its first matching member for a zip)."""
    member = sources(path, member_prefixes)[0]
    return _header(path, member, _detect(path, member))


def check_columns(
    display: str,
    columns: Collection[str],
    required: Iterable[str],
    params: Mapping[str, object] | None = None,
) -> None:
    """Raise one :class:`ReadError` naming every column of ``required`` absent from
    ``columns`` (a table-level parameter of the same name counts as present)."""
    have = {c.lower() for c in columns} | {k.lower() for k in (params or {})}
    missing = [r for r in required if r.lower() not in have]
    if not missing:
        return
    shown = ", ".join(list(columns)[:12]) + (", ..." if len(columns) > 12 else "")
    noun = "column" if len(missing) == 1 else "columns"
    raise ReadError(
        display,
        f"required {noun} missing: {', '.join(missing)} "
        f"(the file has {len(columns)} columns: {shown or 'none'})",
        field=missing[0] if len(missing) == 1 else None,
    )


@contextmanager
def _open_fits(path: str | Path, member: str | None) -> Iterator[fits.HDUList]:
    if member is None and _magic(path)[:2] != _GZIP_MAGIC:
        # memory-mapped, headers only: the real allStar is several GB
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            yield hdul
    else:
        with _open_binary(path, member) as fh, fits.open(io.BytesIO(fh.read())) as hdul:
            yield hdul


def _header(path: str | Path, member: str | None, fmt: str) -> TableHeader:
    display = _display(path, member)
    if fmt in ("ecsv", "csv"):
        comments, line, n_lines = [], "", 0
        with _open_binary(path, member) as raw:
            fh = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            for text in fh:
                n_lines += 1
                if text.startswith("#"):
                    comments.append(text)
                elif text.strip():
                    line = text
                    break
        meta: dict[str, object] = {}
        delimiter = ","
        if fmt == "ecsv":
            if not line:  # cut off inside its YAML header, or a file of comments
                raise ReadError(
                    display,
                    f"the header ends at line {n_lines} without its column line: the file is "
                    "truncated or not ECSV",
                )
            header = _ecsv_header(display, comments)
            delimiter = header.get("delimiter", " ")
            meta = {str(k).lower(): v for k, v in (header.get("meta") or {}).items()}
        names = _split_header_line(line.rstrip("\r\n"), delimiter) if line else []
        return TableHeader(fmt, tuple(n.strip().lower() for n in names), meta)
    if fmt == "fits":
        try:
            with _open_fits(path, member) as hdul:
                table = next(
                    (h for h in hdul[1:] if isinstance(h, fits.BinTableHDU | fits.TableHDU)), None
                )
                params = _fits_params(hdul[0].header)
                if table is None:
                    return TableHeader(fmt, (), params)
                params |= _fits_params(table.header)
                return TableHeader(fmt, tuple(c.name.lower() for c in table.columns), params)
        except ReadError:
            raise
        except Exception as exc:
            raise ReadError(display, f"unreadable, truncated or corrupt FITS file: {exc}") from exc
    for raw in _iter_votable(path, member, 1, None):
        return TableHeader(fmt, tuple(raw.columns), dict(raw.params))
    return TableHeader(fmt, (), {})


# ------------------------------------------------------------------------ iteration


ArraySpec = tuple[int, "np.typing.DTypeLike"]  # (values per cell, dtype)


def iter_raw_chunks(
    path: str | Path,
    chunk_rows: int,
    want: Iterable[str] | None = None,
    member_prefixes: Iterable[str] = (),
    arrays: Mapping[str, ArraySpec] | None = None,
    skip_rows: Collection[int] = (),
    required: Collection[str] = (),
) -> Iterator[tuple[str, RawChunk]]:
    """Yield ``(display_path, RawChunk)`` blocks of at most ``chunk_rows`` rows.

    ``required``: lower-case column names the file must have; when any is absent, one
    :class:`ReadError` names them all before any data row is read.

    ``skip_rows``: 1-based data rows of CSV/ECSV files to leave out unread (rows a caller
    rejected); the other rows keep their numbers. FITS and VOTable rows cannot be skipped.

    ``want``: lower-case column names to keep (None keeps all); absent ones are
    simply missing from the chunk, callers check what they require.
    ``arrays``: lower-case name -> ``(length, dtype)`` of array columns; in CSV/ECSV
    files these come back already decoded, as ``(n, length)`` arrays with NaN for a
    missing cell or element, with the errors of :func:`labeling.io.convert.to_array`.
    Other containers return them raw (``to_array`` decodes those).
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    wanted = None if want is None else {w.lower() for w in want}
    array_specs = {k.lower(): v for k, v in (arrays or {}).items()}
    for member in sources(path, member_prefixes):
        display = _display(path, member)
        fmt = _detect(path, member)
        if required:
            header = _header(path, member, fmt)
            check_columns(display, header.columns, required, header.params)
        if fmt in ("ecsv", "csv"):
            chunks = _iter_text(
                path, member, fmt, chunk_rows, wanted, array_specs, frozenset(skip_rows)
            )
            yield from ((display, c) for c in chunks)
        elif fmt == "fits":
            yield from ((display, c) for c in _iter_fits(path, member, chunk_rows, wanted))
        else:
            yield from ((display, c) for c in _iter_votable(path, member, chunk_rows, wanted))


# ---- ECSV / CSV


def _ecsv_header(display: str, lines: list[str]) -> dict:
    body = [ln[2:] if ln.startswith("# ") else ln[1:] for ln in lines]
    body = [ln.rstrip("\r\n") for ln in body]
    if not body or not body[0].strip().startswith("%ECSV") or "---" not in body[:3]:
        raise ReadError(display, "corrupt ECSV header: no '%ECSV' / '---' start lines")
    try:
        # Like astropy's own ECSV reader: the whole block, "%ECSV 1.0" line included.
        return table_meta.get_header_from_yaml([ln for ln in body if ln.strip()])
    except Exception as exc:  # YAML errors come in many classes
        raise ReadError(display, f"corrupt ECSV header: {exc}") from exc


def _split_header_line(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))


def _read_blocks(fh: IO[bytes], block: int = 1 << 18) -> Iterator[bytes]:
    # read1: whatever one step inflates
    read = getattr(fh, "read1", fh.read)
    while data := read(block):
        yield data


@contextmanager
def _open_blocks(path: str | Path, member: str | None) -> Iterator[Iterator[bytes]]:
    """Decompressed content of a file as an iterator of byte blocks."""
    if member is None and _magic(path)[:2] == _GZIP_MAGIC:
        yield _gunzip_blocks(path)
    else:
        with _open_binary(path, member) as fh:
            yield _read_blocks(fh)


def _gunzip_blocks(path: str | Path, block: int = 1 << 18) -> Iterator[bytes]:
    """Inflate a gzip file (zlib-ng's C reader) in large blocks.

    Large reads keep the reading thread from contending for the GIL (1 << 14 byte blocks
    halve the reader's speed). A read that meets a truncated or corrupt spot raises and
    loses what it had inflated, so the file is then read again from the last good block
    in small steps: everything before the bad spot reaches the parser, then the error.
    """
    done = 0
    try:
        with gzip_ng.open(path, "rb") as fh:
            while data := fh.read1(block):
                done += len(data)
                yield data
            return
    except (EOFError, OSError, zlib_ng.error):
        pass
    with gzip_ng.open(path, "rb") as fh:
        fh.seek(done)
        while data := fh.read1(1 << 12):
            yield data
    raise EOFError(f"{path}: the stream failed at one read and not at the next")


class _Prefetcher(io.RawIOBase):
    """Runs ``blocks`` (reading and inflating) in a background thread, up to ``depth``
    blocks ahead of the reader of this stream.

    zlib releases the GIL while it inflates, so decompression runs beside the parsing
    instead of before it.  An exception from ``blocks`` is raised by the ``read`` that
    reaches it.  Must be closed (it stops and joins the thread) before the file is.
    """

    def __init__(self, blocks: Iterator[bytes], depth: int = 2) -> None:
        super().__init__()
        self._queue: queue.Queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._buffer = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(
            target=self._run, args=(blocks,), name="labeling-io-prefetch", daemon=True
        )
        self._thread.start()

    def _run(self, blocks: Iterator[bytes]) -> None:
        try:
            for data in blocks:
                if self._stop.is_set():
                    return
                self._put(data)
            self._put(b"")
        except BaseException as exc:  # noqa: BLE001 -- handed to the reading thread
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._buffer:
            if self._done:
                return 0
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
                return 0
            self._buffer = memoryview(item)
        n = min(len(b), len(self._buffer))
        b[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._buffer = memoryview(b"")
        super().close()


class _JsonCells:
    """Cuts the JSON array cells of ``fields`` out of data lines and decodes them.

    ``fields``: field position in the line -> (lower-case name, length, dtype).  Each
    line is split at its double quotes; quoted parts sit at odd positions (an escaped
    ``""`` only adds an empty even part), so the field position of a quoted part is
    the number of delimiters in the even parts before it.  A quoted part is taken
    when it is a whole field of one of ``fields`` and starts with ``[``; a line whose
    field count is off is left whole, for astropy to report.
    """

    def __init__(
        self,
        display: str,
        fields: dict[int, tuple[str, int, np.dtype]],
        n_fields: int,
        delimiter: str,
        chunk_rows: int,
    ) -> None:
        self.display = display
        self.fields = fields
        self.n_fields = n_fields
        self.delimiter = delimiter
        self.chunk_rows = chunk_rows
        self._new_block()

    def _new_block(self, rows: int = 0) -> None:
        # One (rows, length) array per column, filled as lines come in; grown on demand
        # up to chunk_rows, so a huge chunk_rows with a short file costs nothing.
        self.capacity = min(self.chunk_rows, max(rows, 4096))  # np.empty: pages untouched
        old_arrays = getattr(self, "arrays", {}) if rows else {}
        old_taken = getattr(self, "taken", {}) if rows else {}
        self.arrays, self.taken = {}, {}
        for name, length, dtype in self.fields.values():
            self.arrays[name] = np.empty((self.capacity, length), dtype)
            self.taken[name] = np.zeros(self.capacity, bool)
            if name in old_arrays:
                kept = len(old_arrays[name])
                self.arrays[name][:kept] = old_arrays[name]
                self.taken[name][:kept] = old_taken[name]

    def cut(self, line: str, i: int, row: int) -> str:
        """Decode the JSON cells of ``line`` (block row ``i``, data row ``row``) into
        the block arrays; return the line with ``null`` in place of each."""
        parts = line.split('"')
        last = len(parts) - 1
        if last < 2 or last % 2:
            return line  # no quoted field, or an unclosed quote (truncated line)
        delimiter = self.delimiter
        position = 0
        found: list[tuple[int, tuple[str, int, np.dtype]]] = []
        for k in range(0, last + 1, 2):
            position += parts[k].count(delimiter)
            if k == last:
                break
            spec = self.fields.get(position)
            text = parts[k + 1]
            if (
                spec is not None
                and text.startswith("[")
                and (parts[k].endswith(delimiter) or (k == 0 and not parts[0]))
                and (
                    parts[k + 2].startswith(delimiter)
                    or (k + 2 == last and not parts[k + 2].strip())
                )
            ):
                found.append((k + 1, spec))
        if not found or position + 1 != self.n_fields:
            return line
        if i >= self.capacity:
            self._new_block(max(2 * self.capacity, i + 1))
        taken: set[int] = set()
        for k, (name, _length, _dtype) in found:
            if json_row(self.arrays[name][i], parts[k], self.display, row, name):
                self.taken[name][i] = True
            taken.add(k)
        pieces = [parts[0]]
        for k in range(1, last + 1):
            if k in taken:
                pieces.append("null")
            elif k - 1 in taken:
                pieces.append(parts[k])
            else:
                pieces.append('"')
                pieces.append(parts[k])
        return "".join(pieces)

    def finish(self, chunk: RawChunk) -> RawChunk:
        """Put the decoded arrays into ``chunk`` (its rows' leftover cells decoded too)."""
        n = chunk.n_rows
        if n > self.capacity:  # the last lines had no JSON cell
            self._new_block(n)
        for name, length, dtype in self.fields.values():
            values = self.arrays[name][:n]
            taken = self.taken[name][:n]
            rest = np.flatnonzero(~taken)
            if len(rest):
                values[rest] = np.nan
                if name in chunk.columns:
                    leftover = chunk.columns[name][rest]
                    values[rest] = to_array(
                        leftover, self.display, chunk.first_row, name, length, dtype,
                        rows=rest + chunk.first_row,
                    )  # fmt: skip
            chunk.columns[name] = values
        self._new_block()
        return chunk


def _iter_text(
    path: str | Path,
    member: str | None,
    fmt: str,
    chunk_rows: int,
    wanted: set[str] | None,
    array_specs: dict[str, ArraySpec],
    skip_rows: frozenset[int] = frozenset(),
) -> Iterator[RawChunk]:
    display = _display(path, member)
    row = 0
    with _open_blocks(path, member) as blocks, _Prefetcher(blocks) as ahead:
        fh = io.TextIOWrapper(ahead, encoding="utf-8", errors="strict", newline="")
        fh._CHUNK_SIZE = 1 << 16  # fewer, larger reads: bulk spectrum lines are ~55 kB
        try:
            comments: list[str] = []
            line = fh.readline()
            while line.startswith("#") or (fmt == "csv" and not line.strip() and line):
                if line.startswith("#"):
                    comments.append(line)
                line = fh.readline()
            if not line.strip():
                raise ReadError(display, "no column header line (empty file?)")
            delimiter = ","
            subtypes: dict[str, str] = {}
            if fmt == "ecsv":
                header = _ecsv_header(display, comments)
                delimiter = header.get("delimiter", " ")
                for col in header.get("datatype", []):
                    if col.get("subtype"):
                        subtypes[str(col["name"]).lower()] = str(col["subtype"])
            names = [n.strip() for n in _split_header_line(line.rstrip("\r\n"), delimiter)]
            include = [n for n in names if wanted is None or n.lower() in wanted]
            if not include:
                raise ReadError(
                    display,
                    f"none of the columns this product reads is in the file "
                    f"(its header line: {line.strip()[:120]!r})",
                )
            header_line = line if line.endswith("\n") else line + "\n"
            fields = {
                i: (
                    n.lower(),
                    int(array_specs[n.lower()][0]),
                    np.dtype(array_specs[n.lower()][1]),
                )
                for i, n in enumerate(names)
                if n.lower() in array_specs and n in include
            }
            cells = (
                _JsonCells(display, fields, len(names), delimiter, chunk_rows) if fields else None
            )
            batch: list[str] = []
            for line in fh:
                if not line or line.isspace():
                    continue  # blank lines are not data rows
                if skip_rows and row + len(batch) + 1 in skip_rows:
                    # close the block so every chunk stays a run of consecutive rows
                    if batch:
                        chunk = _parse_block(
                            display, header_line, batch, row, delimiter, include, subtypes
                        )
                        yield cells.finish(chunk) if cells is not None else chunk
                        row += len(batch)
                        batch = []
                    row += 1
                    continue
                if cells is not None:
                    line = cells.cut(line, len(batch), row + len(batch) + 1)
                batch.append(line)
                if len(batch) == chunk_rows:
                    chunk = _parse_block(
                        display, header_line, batch, row, delimiter, include, subtypes
                    )
                    yield cells.finish(chunk) if cells is not None else chunk
                    row += len(batch)
                    batch = []
            if batch:
                chunk = _parse_block(display, header_line, batch, row, delimiter, include, subtypes)
                yield cells.finish(chunk) if cells is not None else chunk
        except UnicodeDecodeError as exc:
            raise ReadError(display, f"not UTF-8 text: {exc}", row=row + 1) from exc
        except (OSError, EOFError, zlib.error, zlib_ng.error) as exc:
            raise ReadError(
                display, f"unreadable, truncated or corrupt file: {exc}", row=row + 1
            ) from exc


def _astropy_block(header_line: str, lines: list[str], delimiter: str, include: list[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return astropy_ascii.read(
            [header_line, *lines],
            format="basic",
            delimiter=delimiter,
            quotechar='"',
            guess=False,
            fast_reader=True,  # strtod: exact float64 round trip
            fill_values=_FILL_VALUES,
            include_names=include,
        )


def _parse_block(
    display: str,
    header_line: str,
    lines: list[str],
    row: int,
    delimiter: str,
    include: list[str],
    subtypes: dict[str, str],
) -> RawChunk:
    try:
        table = _astropy_block(header_line, lines, delimiter, include)
    except Exception as exc:
        # Find the first line astropy chokes on (bisection keeps this cheap).
        lo, hi = 0, len(lines)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                _astropy_block(header_line, lines[lo:mid], delimiter, include)
                lo = mid
            except Exception:
                hi = mid
        bad = lines[lo].rstrip("\r\n")
        n_expected = len(_split_header_line(header_line.rstrip("\r\n"), delimiter))
        n_found = len(_split_header_line(bad, delimiter)) if bad else 0
        msg = f"cannot parse line ({exc})"
        if n_found != n_expected:
            msg = f"expected {n_expected} fields, found {n_found} (truncated or corrupt line)"
        raise ReadError(display, msg, row=row + lo + 1) from exc
    if len(table) != len(lines):
        n_expected = len(_split_header_line(header_line.rstrip("\r\n"), delimiter))
        # A quoted field left open (a line cut short) swallows the line break.
        lo = next((i for i, ln in enumerate(lines) if ln.count('"') % 2), None)
        if lo is not None:
            raise ReadError(
                display,
                f"expected {n_expected} fields, found an unclosed quote "
                "(truncated or corrupt line)",
                row=row + lo + 1,
            )
        raise ReadError(
            display,
            f"{len(lines)} lines parsed as {len(table)} rows of {n_expected} fields",
            row=row + 1,
        )
    cols = {name.lower(): table[name] for name in table.colnames}
    columns = {
        k: (np.ma.MaskedArray(v) if hasattr(v, "mask") else np.asarray(v)) for k, v in cols.items()
    }
    return RawChunk(row + 1, columns, len(lines), subtypes=subtypes)


# ---- FITS


def _fits_params(header: fits.Header) -> dict[str, object]:
    return {k.lower(): header[k] for k in header if k and not k.startswith(("TTYPE", "TFORM"))}


def _iter_fits(
    path: str | Path, member: str | None, chunk_rows: int, wanted: set[str] | None
) -> Iterator[RawChunk]:
    display = _display(path, member)
    try:
        if member is None and _magic(path)[:2] != _GZIP_MAGIC:
            hdul = fits.open(path, memmap=True, lazy_load_hdus=True)
        else:
            # Compressed FITS cannot be memory-mapped: astropy needs the bytes.
            with _open_binary(path, member) as fh:
                hdul = fits.open(io.BytesIO(fh.read()), lazy_load_hdus=True)
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(display, f"unreadable, truncated or corrupt FITS file: {exc}") from exc
    with hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unit strings like 'mas.yr**-1' are not FITS units
        hdu = None
        try:
            for candidate in hdul[1:]:
                if isinstance(candidate, fits.BinTableHDU | fits.TableHDU):
                    hdu = candidate
                    break
        except Exception as exc:
            raise ReadError(display, f"truncated or corrupt FITS file: {exc}") from exc
        if hdu is None:
            raise ReadError(display, "FITS file has no table extension")
        params = _fits_params(hdul[0].header) | _fits_params(hdu.header)
        fcols = {c.name.lower(): c for c in hdu.columns}
        names = [n for n in fcols if wanted is None or n in wanted]
        n_rows = int(hdu.header.get("NAXIS2", 0))
        try:
            data = hdu.data
        except Exception as exc:
            raise ReadError(display, f"truncated or corrupt FITS table: {exc}") from exc
        if data is None:
            n_rows = 0
        elif len(data) != n_rows:
            raise ReadError(display, f"FITS table truncated: {len(data)} of {n_rows} rows")
        mapped = hdul.filename() is not None
        if mapped:
            index = hdul.index(hdu)
            del data
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            if mapped:
                # A memory map that stays open keeps every page read so far resident (the real
                # allStar is several GB): each chunk maps the file anew and lets go of it.
                chunk_hdul = fits.open(path, memmap=True, lazy_load_hdus=True)
                block = chunk_hdul[index].data[start:stop]
            else:
                chunk_hdul, block = None, data[start:stop]
            columns: dict[str, np.ndarray] = {}
            for name in names:
                fcol = fcols[name]
                try:
                    values = block.field(fcol.name)
                except Exception as exc:
                    raise ReadError(
                        display,
                        f"corrupt FITS column: {exc}",
                        row=start + 1,
                        field=name,
                    ) from exc
                values = np.array(values, copy=True)
                null = fcol.null
                if null is not None and values.dtype.kind in "iu" and not isinstance(null, str):
                    values = np.ma.MaskedArray(values, mask=values == null)
                columns[name] = values
            if chunk_hdul is not None:
                del block
                chunk_hdul.close()
            yield RawChunk(start + 1, columns, stop - start, params=params)


# ---- VOTable


_TR_RE = re.compile(r"</TR\s*>", re.IGNORECASE)


def _votable_params(vot, table) -> dict[str, object]:
    params: dict[str, object] = {}
    for resource in vot.iter_resources() if hasattr(vot, "iter_resources") else []:
        for p in list(resource.params) + list(resource.infos):
            params.setdefault(p.name.lower(), p.value)
    for p in list(table.params) + list(table.infos):
        params[p.name.lower()] = p.value
    return params


def _parse_votable(display: str, source) -> tuple[np.ma.MaskedArray, list, dict]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vot = votable.parse(source, verify="ignore")
    except Exception as exc:
        raise ReadError(display, f"unreadable, truncated or corrupt VOTable: {exc}") from exc
    for table in vot.iter_tables():
        if table.fields:
            return table.array, list(table.fields), _votable_params(vot, table)
    raise ReadError(display, "VOTable holds no table")


def _votable_block(display: str, arr, fields, params, first_row, wanted) -> RawChunk:
    columns = {}
    for f in fields:
        key = f.name.lower()
        if wanted is not None and key not in wanted:
            continue
        columns[key] = arr[f.ID] if f.ID in arr.dtype.names else arr[f.name]
    return RawChunk(first_row, columns, len(arr), params=params)


def _iter_votable(
    path: str | Path, member: str | None, chunk_rows: int, wanted: set[str] | None
) -> Iterator[RawChunk]:
    display = _display(path, member)
    with _open_binary(path, member) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        # Read up to and including <TABLEDATA>: that prefix parses as a table skeleton.
        prefix: list[str] = []
        for line in fh:
            prefix.append(line)
            if re.search(r"<TABLEDATA\s*>", line, re.IGNORECASE):
                break
            if re.search(r"<(BINARY2?|FITS)\b", line, re.IGNORECASE):
                break
        head = "".join(prefix)
        m = re.search(r"<TABLEDATA\s*>", head, re.IGNORECASE)
        if m is None:
            # Not TABLEDATA (or no data at all): astropy has to parse the whole file.
            text = head + fh.read()
            arr, fields, params = _parse_votable(display, io.BytesIO(text.encode("utf-8")))
            for start in range(0, len(arr), chunk_rows):
                block = arr[start : start + chunk_rows]
                yield _votable_block(display, block, fields, params, start + 1, wanted)
            if len(arr) == 0:
                yield _votable_block(display, arr, fields, params, 1, wanted)
            return
        skeleton = head[: m.end()]
        rest = head[m.end() :]
        opened = len(re.findall(r"<RESOURCE\b", skeleton, re.IGNORECASE))
        closed = len(re.findall(r"</RESOURCE\s*>", skeleton, re.IGNORECASE))
        closing = "</TABLEDATA></DATA></TABLE>" + "</RESOURCE>" * (opened - closed) + "</VOTABLE>"
        row = 0
        pending = rest
        done = False
        while not done:
            rows: list[str] = []
            while len(rows) < chunk_rows:
                pos = 0
                for match in _TR_RE.finditer(pending):
                    rows.append(pending[pos : match.end()])
                    pos = match.end()
                    if len(rows) == chunk_rows:
                        break
                pending = pending[pos:]  # one copy per buffer, not per row
                if len(rows) == chunk_rows:
                    break
                more = fh.read(1 << 20)
                if more:
                    pending += more
                    continue
                if re.search(r"<TR\b", pending, re.IGNORECASE) or not re.search(
                    r"</TABLEDATA\s*>", pending, re.IGNORECASE
                ):
                    raise ReadError(
                        display,
                        "VOTable truncated inside the table",
                        row=row + len(rows) + 1,
                    )
                done = True
                break
            if not rows and row > 0:
                break
            doc = skeleton + "".join(rows) + closing
            arr, fields, params = _parse_votable(display, io.BytesIO(doc.encode("utf-8")))
            if len(arr) != len(rows):
                raise ReadError(display, "corrupt VOTable rows", row=row + 1)
            yield _votable_block(display, arr, fields, params, row + 1, wanted)
            row += len(rows)
