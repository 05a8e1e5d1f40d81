"""Reader for Gaia DR3 RVS mean spectra (``rvs_mean_spectrum``).

Data model: Gaia DR3 documentation section 20.12.1 -- normalised flux on a fixed
grid of 2401 pixels, 846-870 nm in 0.01 nm steps.  Two layouts:

* bulk download (``RvsMeanSpectrum_*.csv.gz``, ECSV): one row per star, ``flux`` and
  ``flux_error`` as array cells (JSON ``"[v1,...,v2401]"``, subtype ``float32[...]``);
* DataLink ``RVS_MEAN_SPECTRUM`` (RAW option; VOTable, FITS, CSV or ECSV): one row
  per pixel with ``wavelength``, ``flux``, ``flux_error``, possibly many stars one
  after the other.  Each star must have exactly the 2401 grid pixels.

NaN pixels (the grid ends, which the DataLink CSV leaves empty) stay NaN.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..labels import N_PIXELS
from ..wavelength import WAVELENGTH_NM
from .chunks import Chunk
from .convert import build_columns, to_array, to_float, to_int
from .errors import ReadError
from .formats import RawChunk, iter_raw_chunks

_WAVELENGTH_TOLERANCE = 0.002  # nm; grid values are printed with 2 decimals
_STAR_COLUMNS = {"combined_transits": "int", "combined_ccds": "int", "deblended_ccds": "int"}
_WANT = ("source_id", "wavelength", "flux", "flux_error", *_STAR_COLUMNS)
# Bulk layout: the array cells, decoded while the file is read (JSON -> float32).
_BULK_ARRAYS = {"flux": (N_PIXELS, np.float32), "flux_error": (N_PIXELS, np.float32)}
# DataLink zips name members "RVS-Gaia DR3 <id>.xml" or "RVS_MEAN_SPECTRUM-...".
_MEMBER_PREFIXES = ("rvs",)
# Pixel lines parsed per block in the per-pixel layout (about 20 stars).
_PIXEL_ROWS = 50_000


def read_rvs_wavelength(path: str | Path) -> np.ndarray:
    """The 2401-element wavelength grid (nm) stored in a FITS primary HDU."""
    try:
        with fits.open(path) as hdul:
            grid = np.array(hdul[0].data, dtype=np.float64).ravel()
    except Exception as exc:
        raise ReadError(str(path), f"unreadable FITS wavelength grid: {exc}") from exc
    if grid.size != N_PIXELS:
        raise ReadError(str(path), f"expected {N_PIXELS} wavelengths, found {grid.size}")
    return grid


def iter_rvs_spectra(
    path: str | Path, chunk_stars: int = 1024, skip_rows: Collection[int] = ()
) -> Iterator[Chunk]:
    """Stream RVS mean spectra, at most ``chunk_stars`` stars per chunk.

    Columns: ``source_id`` (n,) int64, ``flux`` and ``flux_error`` (n, 2401) float32,
    and ``combined_transits``, ``combined_ccds``, ``deblended_ccds`` (int64) when the
    file has them.
    """
    if chunk_stars < 1:
        raise ValueError("chunk_stars must be >= 1")
    for member_path, layout in _layouts(path):
        if layout == "bulk":
            chunks = iter_raw_chunks(
                member_path,
                chunk_stars,
                _WANT,
                _MEMBER_PREFIXES,
                arrays=_BULK_ARRAYS,
                skip_rows=skip_rows,
            )
            for display, raw in chunks:
                yield from _bulk_chunks(display, raw, chunk_stars)
            continue
        grouper: _PixelGrouper | None = None
        for display, raw in iter_raw_chunks(member_path, _PIXEL_ROWS, _WANT, _MEMBER_PREFIXES):
            if grouper is None or grouper.display != display:
                if grouper is not None:
                    yield from grouper.finish()
                grouper = _PixelGrouper(display, chunk_stars)
            yield from grouper.feed(raw)
        if grouper is not None:
            yield from grouper.finish()


def _layouts(path: str | Path) -> list[tuple[str | Path, str]]:
    """("bulk" | "pixel") layout of the file, from its first row only."""
    for _display, raw in iter_raw_chunks(path, 1, _WANT, _MEMBER_PREFIXES):
        return [(path, "pixel" if "wavelength" in raw.columns else "bulk")]
    return [(path, "bulk")]


def _bulk_chunks(display: str, raw: RawChunk, chunk_stars: int) -> Iterator[Chunk]:
    for name in ("source_id", "flux", "flux_error"):
        if name not in raw.columns:
            raise ReadError(display, "required column missing", field=name)
    for start in range(0, raw.n_rows, chunk_stars):
        sl = slice(start, start + chunk_stars)
        first = raw.first_row + start
        part = {k: v[sl] for k, v in raw.columns.items()}
        spec = {"source_id": "int", **_STAR_COLUMNS}
        columns, masks = build_columns(display, part, first, spec, ("source_id",))
        for name in ("flux", "flux_error"):
            columns[name] = to_array(part[name], display, first, name, N_PIXELS, np.float32)
        yield Chunk(display, first, columns, masks)


class _PixelGrouper:
    """Turns per-pixel rows (arriving in blocks) into per-star spectra."""

    def __init__(self, display: str, chunk_stars: int) -> None:
        self.display = display
        self.chunk_stars = chunk_stars
        self.pending: dict[str, np.ndarray] | None = None  # rows of an unfinished star
        self.pending_first_row = 0
        self.stars: list[dict[str, object]] = []

    def feed(self, raw: RawChunk) -> Iterator[Chunk]:
        cols = self._typed(raw)
        if self.pending is not None:
            cols = {k: np.concatenate([self.pending[k], cols[k]]) for k in cols}
            first_row = self.pending_first_row
        else:
            first_row = raw.first_row
        sid = cols["source_id"]
        # Start index of each run of equal source_id (stars come one after the other).
        starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
        ends = np.r_[starts[1:], len(sid)]
        # The last run may continue in the next block.
        for s, e in zip(starts[:-1], ends[:-1], strict=True):
            self._add_star(cols, s, e, first_row)
            if len(self.stars) == self.chunk_stars:
                yield self._flush()
        s = int(starts[-1]) if len(starts) else 0
        self.pending = {k: v[s:] for k, v in cols.items()}
        self.pending_first_row = first_row + s

    def finish(self) -> Iterator[Chunk]:
        if self.pending is not None and len(self.pending["source_id"]):
            self._add_star(self.pending, 0, len(self.pending["source_id"]), self.pending_first_row)
        self.pending = None
        if self.stars:
            yield self._flush()

    def _typed(self, raw: RawChunk) -> dict[str, np.ndarray]:
        d, first = self.display, raw.first_row
        for name in ("wavelength", "flux", "flux_error"):
            if name not in raw.columns:
                raise ReadError(d, "required column missing", field=name)
        out: dict[str, np.ndarray] = {}
        if "source_id" in raw.columns:
            out["source_id"], mask = to_int(raw.columns["source_id"], d, first, "source_id")
            if mask is not None:
                i = int(np.flatnonzero(mask)[0])
                raise ReadError(d, "required value missing", row=first + i, field="source_id")
        elif "source_id" in raw.params:
            # DataLink COMBINED/INDIVIDUAL VOTables give source_id as a PARAM.
            try:
                out["source_id"] = np.full(raw.n_rows, int(raw.params["source_id"]), np.int64)
            except (TypeError, ValueError) as exc:
                raise ReadError(d, f"bad source_id parameter: {exc}", field="source_id") from exc
        else:
            raise ReadError(d, "required column missing", field="source_id")
        for name in ("wavelength", "flux", "flux_error"):
            out[name] = to_float(raw.columns[name], d, first, name)
        for name in _STAR_COLUMNS:
            if name in raw.columns:
                values, mask = to_int(raw.columns[name], d, first, name)
                out[name] = values
                out[name + "__mask"] = mask if mask is not None else np.zeros(len(values), bool)
        return out

    def _add_star(self, cols: dict[str, np.ndarray], s: int, e: int, first_row: int) -> None:
        d = self.display
        wl = cols["wavelength"][s:e]
        n = e - s
        row0 = first_row + s
        order = np.argsort(wl, kind="stable")
        if np.any(order != np.arange(n)):
            wl = wl[order]
        else:
            order = None
        grid = WAVELENGTH_NM[: min(n, N_PIXELS)]
        off = np.abs(wl[: len(grid)] - grid) > _WAVELENGTH_TOLERANCE
        sid = int(cols["source_id"][s])
        if off.any() or np.isnan(wl[: len(grid)]).any():
            k = int(np.flatnonzero(off | np.isnan(wl[: len(grid)]))[0])
            k_line = int(order[k]) if order is not None else k
            raise ReadError(
                d,
                f"source_id {sid}: wavelength {wl[k]} is not on the RVS grid "
                f"(846-870 nm, 0.01 nm steps; expected {grid[k]:.2f})",
                row=row0 + k_line,
                field="wavelength",
            )
        if n != N_PIXELS:
            k_line = N_PIXELS if n > N_PIXELS else n - 1
            raise ReadError(
                d,
                f"source_id {sid}: {n} pixels, expected exactly {N_PIXELS} (846-870 nm)",
                row=row0 + k_line,
                field="wavelength",
            )
        star: dict[str, object] = {"source_id": sid, "row": row0}
        for name in ("flux", "flux_error"):
            values = cols[name][s:e]
            star[name] = (values[order] if order is not None else values).astype(np.float32)
        for name in _STAR_COLUMNS:
            if name in cols:
                star[name] = int(cols[name][s])
                star[name + "__mask"] = bool(cols[name + "__mask"][s])
        self.stars.append(star)

    def _flush(self) -> Chunk:
        stars, self.stars = self.stars, []
        rows = np.array([s["row"] for s in stars], dtype=np.int64)
        columns: dict[str, np.ndarray] = {
            "source_id": np.array([s["source_id"] for s in stars], dtype=np.int64),
            "flux": np.stack([s["flux"] for s in stars]),
            "flux_error": np.stack([s["flux_error"] for s in stars]),
        }
        masks: dict[str, np.ndarray] = {}
        for name in _STAR_COLUMNS:
            if name in stars[0]:
                columns[name] = np.array([s[name] for s in stars], dtype=np.int64)
                mask = np.array([s[name + "__mask"] for s in stars], dtype=bool)
                if mask.any():
                    masks[name] = mask
        return Chunk(self.display, int(rows[0]), columns, masks, row_numbers=rows)
