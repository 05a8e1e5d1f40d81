"""Typed columns out of raw ones, with errors that name file, row and field.

The policy for missing values (see :class:`labeling.io.chunks.Chunk`): floats -> NaN;
integers / bools / strings -> 0 / False / "" plus a boolean mask.

Array columns come in four shapes depending on the container: a 2-D numeric array
(fixed-size FITS/VOTable arrays), an object array of 1-D arrays (FITS and VOTable
variable-length arrays, astropy-decoded ECSV), or strings -- ``"[v1,v2,...]"`` in Gaia
bulk ECSV (JSON, with ``null`` for a missing element) and ``"(v1, v2, ...)"`` in the
DataLink CSV.  JSON cells are decoded straight into the output rows, by simdjson when
the cell holds numbers only and by orjson otherwise (about 4x and 2x numpy's text
parser; bulk ECSV readers call :func:`json_row` as they read each line, see
:mod:`labeling.io.formats`); the others in one vectorised
pass per column (numpy's C number parser over the concatenated cells).
"""

from __future__ import annotations

import threading

import numpy as np
import orjson
import simdjson

from .errors import ReadError

_TRUE = {"true", "t", "1", "y", "yes"}
_FALSE = {"false", "f", "0", "n", "no"}


def _mask_of(raw: np.ndarray) -> np.ndarray:
    mask = np.ma.getmaskarray(raw) if isinstance(raw, np.ma.MaskedArray) else None
    if mask is None:
        mask = np.zeros(len(raw), dtype=bool)
    if mask.ndim > 1:
        mask = mask.all(axis=tuple(range(1, mask.ndim)))
    if raw.dtype.kind in "UO":
        data = np.ma.getdata(raw)
        if raw.dtype.kind == "U":
            stripped = np.char.strip(data)
            mask = mask | (stripped == "") | (np.char.lower(stripped) == "null")
        else:
            mask = mask | np.array(
                [v is None or (isinstance(v, str) and v.strip() in ("", "null")) for v in data],
                dtype=bool,
            )
    return mask


def _first_bad(strings: np.ndarray, convert) -> int:
    for i, value in enumerate(strings):
        try:
            convert(value)
        except (TypeError, ValueError):
            return i
    return 0


def to_float(
    raw: np.ndarray, path: str, first_row: int, field: str, dtype=np.float64
) -> np.ndarray:
    """Float column, NaN where missing; non-numeric text raises :class:`ReadError`."""
    mask = _mask_of(raw)
    data = np.ma.getdata(raw)
    if data.dtype.kind in "fiub":
        out = data.astype(dtype)
    else:
        text = np.where(mask, "nan", data.astype(str))
        try:
            out = text.astype(dtype)
        except ValueError:
            i = _first_bad(text, float)
            raise ReadError(
                path,
                f"not a number: {str(text[i])[:40]!r}",
                row=first_row + i,
                field=field,
            ) from None
    if mask.any():
        out = out.copy()
        out[mask] = np.nan
    return out


def to_int(
    raw: np.ndarray, path: str, first_row: int, field: str, dtype=np.int64
) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer column filled with 0 where missing, plus the mask (None if none missing)."""
    mask = _mask_of(raw)
    data = np.ma.getdata(raw)
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        mask = mask | ~finite
        bad = finite & ~mask & (np.floor(data) != data)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ReadError(path, f"not an integer: {data[i]!r}", row=first_row + i, field=field)
        out = np.where(mask, 0, data).astype(dtype)
    elif data.dtype.kind in "iub":
        out = data.astype(dtype)
    else:
        text = np.where(mask, "0", np.char.strip(data.astype(str)))
        try:
            out = text.astype(dtype)
        except (ValueError, OverflowError):
            i = _first_bad(text, int)
            raise ReadError(
                path,
                f"not an integer: {str(text[i])[:40]!r}",
                row=first_row + i,
                field=field,
            ) from None
    if mask.any():
        out = out.copy()
        out[mask] = 0
        return out, mask
    return out, None


def to_bool(
    raw: np.ndarray, path: str, first_row: int, field: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Bool column (ECSV ``True``/``False``, VOTable/FITS logicals), False where missing."""
    mask = _mask_of(raw)
    data = np.ma.getdata(raw)
    if data.dtype.kind in "biuf":
        out = np.where(mask, False, data.astype(bool) if data.dtype.kind != "f" else data == 1)
    else:
        text = np.char.lower(np.char.strip(data.astype(str)))
        true = np.isin(text, list(_TRUE))
        false = np.isin(text, list(_FALSE))
        bad = ~(true | false | mask)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ReadError(
                path,
                f"not a boolean: {str(data[i])[:40]!r}",
                row=first_row + i,
                field=field,
            )
        out = true & ~mask
    return out.astype(bool), (mask if mask.any() else None)


def to_str(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """String column, "" where missing."""
    mask = _mask_of(raw)
    data = np.ma.getdata(raw)
    if data.dtype.kind == "S":
        data = np.char.decode(data, "utf-8")
    out = np.char.strip(data.astype(str))
    if mask.any():
        out = np.where(mask, "", out)
        return out, mask
    return out, None


def to_array(
    raw: np.ndarray,
    path: str,
    first_row: int,
    field: str,
    length: int,
    dtype=np.float64,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """``(n, length)`` float array; a missing cell becomes a row of NaN.

    Any other number of values than ``length`` raises :class:`ReadError`.
    ``rows`` overrides the row numbers used in errors. Three stages by what the cells are:
    numeric 2-D arrays, arrays per cell (FITS/VOTable), text (JSON or parenthesised lists).
    """
    n = len(raw)
    data = np.ma.getdata(raw)
    if (
        data.ndim == 2
        and data.dtype == np.dtype(dtype)
        and data.shape[1] == length
        and not isinstance(raw, np.ma.MaskedArray)
        and data.flags.writeable
    ):
        return data  # already decoded (bulk ECSV JSON cells, FITS/VOTable fixed arrays)
    out = np.full((n, length), np.nan, dtype=dtype)
    if n == 0:
        return out
    where = _Where(path, field, first_row, rows)
    cell_mask = _mask_of(raw)
    if data.dtype.kind in "fiub" and data.ndim == 2:
        _from_numeric(out, raw, data, cell_mask, where)
    elif data.dtype.kind == "O" and not any(isinstance(v, str) for v in data[:1]):
        _from_cell_arrays(out, data, cell_mask, dtype, where)
    else:
        _from_text(out, data, cell_mask, where)
    return out


class _Where:
    """Where a cell of ``to_array`` is, for its errors: file, field and row."""

    def __init__(self, path: str, field: str, first_row: int, rows: np.ndarray | None) -> None:
        self.path, self.field, self.first_row, self.rows = path, field, first_row, rows

    def row(self, i: int) -> int:
        return int(self.rows[i]) if self.rows is not None else self.first_row + i

    def error(self, message: str, i: int) -> ReadError:
        return ReadError(self.path, message, row=self.row(i), field=self.field)


def _from_numeric(out: np.ndarray, raw, data: np.ndarray, cell_mask, where: _Where) -> None:
    """A numeric (n, k) column: copied, masked elements and cells NaN."""
    length = out.shape[1]
    if data.shape[1] != length:
        raise where.error(f"expected {length} values, found {data.shape[1]}", 0)
    out[:] = data
    elem_mask = np.ma.getmaskarray(raw) if isinstance(raw, np.ma.MaskedArray) else None
    if elem_mask is not None and elem_mask.ndim == 2 and elem_mask.any():
        out[elem_mask] = np.nan
    out[cell_mask] = np.nan


def _from_cell_arrays(out: np.ndarray, data: np.ndarray, cell_mask, dtype, where: _Where) -> None:
    """One array per cell (FITS/VOTable variable-length arrays)."""
    length = out.shape[1]
    for i, cell in enumerate(data):
        if cell_mask[i] or cell is None:
            continue
        values = np.ma.asarray(cell)
        if values.size == 0:
            continue  # a zero-length VLA is how FITS/VOTable say "no spectrum"
        if values.size != length:
            raise where.error(f"expected {length} values, found {values.size}", i)
        try:
            out[i] = np.ma.filled(values.astype(dtype).ravel(), np.nan)
        except (TypeError, ValueError) as exc:
            raise where.error(f"not numeric: {exc}", i) from exc


def _from_text(out: np.ndarray, data: np.ndarray, cell_mask, where: _Where) -> None:
    """Text cells: "[1.0,2.0,null]" (bulk ECSV / JSON) or "(1.0, 2.0)" (DataLink CSV)."""
    length = out.shape[1]
    # Work on Python str objects (1 byte/char) rather than numpy's 4-byte unicode.
    strings = data.astype(str).tolist() if data.dtype.kind != "O" else [str(v) for v in data]
    present_idx: list[int] = []
    cells: list[str] = []
    for i, cell in enumerate(strings):
        if cell_mask[i]:
            continue
        cell = cell.strip()
        if cell.startswith("[") and cell.endswith("]"):
            json_row(out[i], cell, where.path, where.row(i), where.field)  # JSON: orjson
            continue
        cell = cell.strip(" \t\r\n[]()")
        if cell and cell not in ("null", "NULL"):
            present_idx.append(i)
            cells.append(cell)
    del strings
    if not cells:
        return
    for j, cell in enumerate(cells):
        count = cell.count(",") + 1
        if count != length:
            raise where.error(f"expected {length} values, found {count}", present_idx[j])
    # JSON null (Gaia bulk) and the literal NaN spellings all become NaN.
    joined = ",".join(cells).replace("null", "nan").replace("NULL", "nan")
    try:
        values = np.fromstring(joined, dtype=np.float64, sep=",")
    except ValueError:
        values = None
    del joined
    if values is None or values.size != len(cells) * length:
        _raise_first_bad(cells, present_idx, length, where)
    out[np.asarray(present_idx)] = values.reshape(len(cells), length)


def _raise_first_bad(cells: list[str], present_idx: list[int], length: int, where: _Where):
    """The text cells did not decode as a whole: name the first cell that does not."""
    for j, cell in enumerate(cells):
        try:
            parsed = np.fromstring(cell.replace("null", "nan"), dtype=np.float64, sep=",")
        except ValueError:
            parsed = None
        if parsed is None or parsed.size != length:
            bad = next((v for v in cell.split(",") if not _is_number(v)), cell[:40])
            raise where.error(f"not a number: {bad.strip()[:40]!r}", present_idx[j])
    raise where.error("cannot decode array values", 0)


def json_row(dest: np.ndarray, text: str, path: str, row: int, field: str) -> bool:
    """Decode one JSON array cell ``"[v1,v2,...,null,...]"`` into the 1-D row ``dest``.

    ``null`` becomes NaN (as do the non-JSON spellings ``nan``/``NaN``/``inf`` that
    numpy's text parser accepted).  An empty array ``[]`` leaves ``dest`` alone (no
    data: the caller's NaN) and returns False.  Any other number of values than
    ``len(dest)``, or an element that is not a number (``true``, ``"x"``, ``1.2.3``),
    raises :class:`ReadError` naming ``path``, ``row`` and ``field``.
    """
    if _fill_numbers(dest, text):
        return True
    try:
        values = _loads(text)
    except _JSONDecodeError:
        values = _text_values(text, path, row, field)
    else:
        # JSON true/false would pass as 1/0; no JSON number holds a "t" or an "f".
        if type(values) is not list or "t" in text or "f" in text:
            values = _text_values(text, path, row, field)
    if len(values) != len(dest):
        if not values:
            return False
        raise ReadError(
            path,
            f"expected {len(dest)} values, found {len(values)}",
            row=row,
            field=field,
        )
    try:
        dest[:] = values  # None (JSON null) -> NaN
    except (TypeError, ValueError):
        dest[:] = _text_values(text, path, row, field)  # raises, naming the bad element
    return True


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_local = threading.local()  # a simdjson parser is not to be shared between threads


def _fill_numbers(dest: np.ndarray, text: str) -> bool:
    """Fast path of :func:`json_row` for the common cell: a flat array of numbers only.

    simdjson parses the whole cell into a C buffer of doubles, without making a Python
    float per element (2-3x orjson on 2401-value spectra, docs/benchmarks.md). Anything
    else (``null`` elements, nesting, a wrong length, bad syntax) returns False for the
    general path, which decodes or reports it.
    """
    if text.count("[") != 1:  # simdjson's buffer would flatten nested arrays
        return False
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    try:
        values = np.frombuffer(parser.parse(text.encode()).as_buffer(of_type="d"), np.float64)
    except (TypeError, ValueError, AttributeError):
        return False
    if len(values) != len(dest):
        return False
    dest[:] = values
    return True


def _text_values(text: str, path: str, row: int, field: str) -> list[float]:
    """Slow path of :func:`json_row`: element by element, raising on the first bad one."""
    inner = text.strip()
    inner = inner[1:-1] if inner.startswith("[") and inner.endswith("]") else inner
    if not inner.strip():
        return []
    values = []
    for token in inner.split(","):
        token = token.strip()
        if token in ("null", "NULL"):
            values.append(np.nan)
            continue
        try:
            values.append(float(token))
        except ValueError:
            raise ReadError(path, f"not a number: {token[:40]!r}", row=row, field=field) from None
    return values


def _is_number(text: str) -> bool:
    text = text.strip()
    if text in ("null", "NULL"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def build_columns(
    path: str,
    raw_columns: dict[str, np.ndarray],
    first_row: int,
    spec: dict[str, str],
    required: tuple[str, ...] = (),
    out_names: dict[str, str] | None = None,
    no_missing: tuple[str, ...] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Convert the ``spec`` columns (name -> "float"/"int"/"bool"/"str") of a raw chunk.

    Raw keys are lower case; ``out_names`` renames on output (APOGEE keeps upper
    case).  Optional columns absent from the file are absent from the result; a
    missing required column, or a missing value in a ``no_missing`` column (default:
    the required ones), raises.
    """
    no_missing = required if no_missing is None else no_missing
    columns: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for name, kind in spec.items():
        out = (out_names or {}).get(name, name)
        if name not in raw_columns:
            if name in required:
                raise ReadError(path, "required column missing", field=out)
            continue
        raw = raw_columns[name]
        mask = None
        if kind == "float":
            columns[out] = to_float(raw, path, first_row, out)
        elif kind == "int":
            columns[out], mask = to_int(raw, path, first_row, out)
        elif kind == "bool":
            columns[out], mask = to_bool(raw, path, first_row, out)
        else:
            columns[out], mask = to_str(raw)
        if name in no_missing:
            missing = np.isnan(columns[out]) if kind == "float" else mask
            if missing is not None and missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise ReadError(path, "required value missing", row=first_row + i, field=out)
        if mask is not None:
            masks[out] = mask
    return columns, masks
