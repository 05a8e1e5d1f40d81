"""Format detection and chunked, format-neutral table access.

Every product reader goes through :func:`iter_raw_chunks`, which yields blocks of at
most ``chunk_rows`` rows as raw numpy / masked columns, whatever the container:

* ECSV (Gaia DR3 bulk ``*.csv.gz`` files and DataLink ``.ecsv``): the YAML header is
  parsed by astropy (``astropy.table.meta.get_header_from_yaml``); the data lines are
  split into blocks of lines and each block is handed to astropy's fast CSV reader.
  Gaia writes missing values as ``null`` (not ECSV's empty field, see astropy issue
  #13331 and the astropy docs section on reading Gaia tables); both are masked here.
* CSV (DataLink ``.csv``): the same, without the YAML header.
* FITS: the first binary table, memory-mapped and read one row slice at a time.
* VOTable: TABLEDATA files are streamed by cutting the ``<TR>`` elements into blocks,
  each parsed by ``astropy.io.votable``; BINARY/BINARY2/FITS-serialised VOTables
  cannot be cut this way and are parsed whole (astropy has no streaming VOTable API).

``.gz`` files are decompressed on the fly; a ``.zip`` (the archive the Gaia DataLink
service returns) is read member by member, keeping the members whose name starts
with one of the given product prefixes (e.g. ``XP_CONTINUOUS``).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.io import fits, votable
from astropy.table import meta as table_meta

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
                    with gzip.GzipFile(fileobj=raw) as fh:
                        yield fh
                else:
                    yield raw
        elif _magic(path)[:2] == _GZIP_MAGIC:
            with gzip.open(path, "rb") as fh:
                yield fh
        else:
            with open(path, "rb") as fh:
                yield fh
    except ReadError:
        raise
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
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
    # A CSV header line: comma-separated identifiers (Gaia / DataLink column names).
    if re.fullmatch(r"\s*[A-Za-z_][\w.]*\s*(,\s*[A-Za-z_][\w.]*\s*)+\r?", first):
        return "csv"
    return None


def _detect(path: str | Path, member: str | None) -> str:
    display = _display(path, member)
    with _open_binary(path, member) as fh:
        try:
            head = fh.read(4096)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReadError(display, f"unreadable, truncated or corrupt file: {exc}") from exc
    fmt = _sniff(head)
    if fmt is None:
        suffixes = [s.lower() for s in Path(member or str(path)).suffixes]
        raise ReadError(
            display,
            f"unknown format (suffix {''.join(suffixes) or 'none'}; "
            "expected ECSV, CSV, FITS or VOTable)",
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


# ------------------------------------------------------------------------ iteration


def iter_raw_chunks(
    path: str | Path,
    chunk_rows: int,
    want: Iterable[str] | None = None,
    member_prefixes: Iterable[str] = (),
) -> Iterator[tuple[str, RawChunk]]:
    """Yield ``(display_path, RawChunk)`` blocks of at most ``chunk_rows`` rows.

    ``want``: lower-case column names to keep (None keeps all); absent ones are
    simply missing from the chunk, callers check what they require.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    wanted = None if want is None else {w.lower() for w in want}
    for member in sources(path, member_prefixes):
        display = _display(path, member)
        fmt = _detect(path, member)
        if fmt in ("ecsv", "csv"):
            yield from ((display, c) for c in _iter_text(path, member, fmt, chunk_rows, wanted))
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


def _iter_text(
    path: str | Path, member: str | None, fmt: str, chunk_rows: int, wanted: set[str] | None
) -> Iterator[RawChunk]:
    display = _display(path, member)
    row = 0
    with _open_binary(path, member) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
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
            header_line = line if line.endswith("\n") else line + "\n"
            batch: list[str] = []
            for line in fh:
                if not line.strip():
                    continue  # blank lines are not data rows
                batch.append(line)
                if len(batch) == chunk_rows:
                    yield _parse_block(
                        display, header_line, batch, row, delimiter, include, subtypes
                    )
                    row += len(batch)
                    batch = []
            if batch:
                yield _parse_block(display, header_line, batch, row, delimiter, include, subtypes)
        except UnicodeDecodeError as exc:
            raise ReadError(display, f"not UTF-8 text: {exc}", row=row + 1) from exc
        except (OSError, EOFError, zlib.error) as exc:
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
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            block = data[start:stop]
            columns: dict[str, np.ndarray] = {}
            for name in names:
                fcol = fcols[name]
                try:
                    values = block.field(fcol.name)
                except Exception as exc:
                    raise ReadError(
                        display, f"corrupt FITS column: {exc}", row=start + 1, field=name
                    ) from exc
                values = np.array(values, copy=True)
                null = fcol.null
                if null is not None and values.dtype.kind in "iu" and not isinstance(null, str):
                    values = np.ma.MaskedArray(values, mask=values == null)
                columns[name] = values
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
                        display, "VOTable truncated inside the table", row=row + len(rows) + 1
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
