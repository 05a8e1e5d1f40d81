"""The spectrum store: Gaia RVS mean spectra in a chunked, compressed Zarr v3 store.

Spectra (2401 float32 flux + 2401 flux_error per star, 846-870 nm; Sect. 2 of the paper) do not
live in table rows. They are appended to *segments*, Zarr arrays ``rvs/seg000000``,
``rvs/seg000001``, ... of shape (rows, 2, 2401) — flux and flux_error side by side so that one
chunk read returns both — and a catalogue row keeps the reference (segment, row).

- Appends only ever add rows at the end of the last segment, and the caller records references
  after ``append`` returns: a crash mid-append leaves rows nobody references, which are harmless
  and reclaimed by ``compact``. One writer at a time (the archive serialises appends with a
  database lock).
- Reads: ``read`` for one spectrum by reference (star pages, DataLink), ``read_rows`` for a
  batch, ``iter_blocks`` to stream a segment sequentially, chunk-aligned (training, inference).
- The store is a local directory or any fsspec URL (``s3://bucket/spectra.zarr``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr
from zarr.codecs import BloscCodec, BloscShuffle

RVS_PIXELS = 2401  # 846.00-870.00 nm in 0.01 nm steps
GROUP = "rvs"


@dataclass(frozen=True)
class StoreLayout:
    """How segments are shaped: configuration as data, recorded in the store's attributes."""

    chunk_rows: int = 64  # one chunk = 64 spectra x 2 x 2401 float32 = 1.2 MB before compression
    segment_rows: int = 1_048_576  # a new segment starts when the last one is this full
    clevel: int = 3


@dataclass(frozen=True)
class StoreMark:
    segments: tuple[str, ...]
    last_rows: int


class SpectrumStore:
    """Append-only store of RVS spectra addressed by (segment name, row)."""

    def __init__(
        self,
        url: str,
        *,
        layout: StoreLayout | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = str(url)
        self.root = zarr.open_group(self.url, mode="a", storage_options=storage_options)
        if GROUP not in self.root:
            chosen = layout or StoreLayout()
            self.root.create_group(GROUP, attributes={"layout": chosen.__dict__})
        recorded = StoreLayout(**self.root[GROUP].attrs["layout"])
        if layout is not None and layout != recorded:
            raise ValueError(f"{self.url} was created with {recorded}, not {layout}")
        self.layout = recorded
        self.group = self.root[GROUP]

    # --- segments -------------------------------------------------------------------------

    def segments(self) -> list[str]:
        """Segment names, oldest first (e.g. ``rvs/seg000000``)."""
        return sorted(f"{GROUP}/{name}" for name in self.group.array_keys())

    def segment(self, name: str) -> zarr.Array:
        try:
            return self.root[name]
        except KeyError:
            raise KeyError(f"{self.url}: no segment {name!r}") from None

    def _new_segment(self) -> zarr.Array:
        existing = self.segments()
        number = int(existing[-1].rsplit("seg", 1)[1]) + 1 if existing else 0
        return self.group.create_array(
            f"seg{number:06d}",
            shape=(0, 2, RVS_PIXELS),
            chunks=(self.layout.chunk_rows, 2, RVS_PIXELS),
            dtype="float32",
            fill_value=np.nan,
            compressors=BloscCodec(
                cname="zstd", clevel=self.layout.clevel, shuffle=BloscShuffle.shuffle, typesize=4
            ),
            dimension_names=("row", "quantity", "pixel"),
            attributes={"quantities": ["flux", "flux_error"], "unit": ["", ""]},
        )

    # --- writing --------------------------------------------------------------------------

    def append(self, flux: np.ndarray, flux_error: np.ndarray) -> tuple[str, int]:
        """Write spectra at the end of the store; return (segment, first row).

        ``flux`` and ``flux_error`` are (n, 2401). All n rows go into one segment (a new one
        when the last cannot take them), so rows ``first .. first + n - 1`` are the references.
        """
        flux = np.asarray(flux, dtype=np.float32)
        flux_error = np.asarray(flux_error, dtype=np.float32)
        if flux.ndim != 2 or flux.shape[1] != RVS_PIXELS or flux.shape != flux_error.shape:
            raise ValueError(
                f"expected flux and flux_error of shape (n, {RVS_PIXELS}), "
                f"got {flux.shape} and {flux_error.shape}"
            )
        n = flux.shape[0]
        existing = self.segments()
        arr = self.segment(existing[-1]) if existing else self._new_segment()
        if arr.shape[0] + n > max(self.layout.segment_rows, n) and arr.shape[0] > 0:
            arr = self._new_segment()
        first = arr.shape[0]
        arr.resize((first + n, 2, RVS_PIXELS))
        if n:
            arr[first : first + n] = np.stack([flux, flux_error], axis=1)
        return arr.path, first

    def mark(self) -> StoreMark:
        """Where the store ends now, for ``rollback`` after a failed transaction."""
        segments = tuple(self.segments())
        return StoreMark(segments, self.rows(segments[-1]) if segments else 0)

    def rollback(self, mark: StoreMark) -> None:
        """Drop everything appended since ``mark`` (the caller still holds the writer lock)."""
        for name in self.segments():
            if name not in mark.segments:
                self.delete_segment(name)
        if mark.segments:
            last = self.segment(mark.segments[-1])
            if last.shape[0] > mark.last_rows:
                last.resize((mark.last_rows, 2, RVS_PIXELS))

    def delete_segment(self, name: str) -> None:
        """Remove a whole segment (``compact`` calls this once nothing references it)."""
        del self.root[name]

    # --- reading --------------------------------------------------------------------------

    def read(self, segment: str, row: int) -> tuple[np.ndarray, np.ndarray]:
        """One spectrum by reference: (flux, flux_error), each (2401,) float32."""
        arr = self.segment(segment)
        if not 0 <= row < arr.shape[0]:
            raise IndexError(f"{self.url}: {segment} has no row {row} (has {arr.shape[0]})")
        both = arr[row]
        return both[0], both[1]

    def read_rows(self, segment: str, rows: np.ndarray) -> np.ndarray:
        """Spectra of many references in one segment: (n, 2, 2401), in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, 2, RVS_PIXELS), dtype=np.float32)
        arr = self.segment(segment)
        order = np.argsort(rows, kind="stable")
        lo, hi = int(rows[order[0]]), int(rows[order[-1]]) + 1
        if lo < 0 or hi > arr.shape[0]:
            raise IndexError(f"{self.url}: {segment} rows {lo}..{hi - 1} out of {arr.shape[0]}")
        if hi - lo <= 4 * rows.size:  # dense: one contiguous read is cheaper than many
            block = arr[lo:hi]
            return block[rows - lo]
        out = np.empty((rows.size, 2, RVS_PIXELS), dtype=np.float32)
        out[order] = arr.get_orthogonal_selection((rows[order], slice(None), slice(None)))
        return out

    def iter_blocks(
        self, segment: str, start: int = 0, stop: int | None = None, block_rows: int = 4096
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Stream rows ``start:stop`` of a segment as (first row, (k, 2, 2401)) blocks.

        Blocks are aligned to the store's chunks so each chunk is decompressed once.
        """
        arr = self.segment(segment)
        stop = arr.shape[0] if stop is None else min(stop, arr.shape[0])
        step = max(
            self.layout.chunk_rows, block_rows // self.layout.chunk_rows * self.layout.chunk_rows
        )
        pos = start
        while pos < stop:
            end = min(stop, (pos // step + 1) * step)
            yield pos, arr[pos:end]
            pos = end

    def rows(self, segment: str) -> int:
        return self.segment(segment).shape[0]

    # --- compaction -----------------------------------------------------------------------

    def compact_plan(self, referenced: Mapping[str, int]) -> list[str]:
        """Segments worth rewriting: some rows unreferenced (or none referenced at all).

        ``referenced`` maps segment -> how many distinct rows of it the catalogue points at.
        """
        return [name for name in self.segments() if referenced.get(name, 0) < self.rows(name)]

    def copy_rows(self, segment: str, rows: np.ndarray, block_rows: int = 4096) -> np.ndarray:
        """Append the given rows of ``segment`` anew; return their new (segment, row) refs.

        The result is an (n,) structured array with fields ``segment`` and ``row``, in the
        order of ``rows``. The old segment is left untouched for the caller to delete once the
        catalogue points at the copies.
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(rows.size, dtype=[("segment", object), ("row", np.int64)])
        if rows.size:
            self._new_segment()  # never append copies into the segment being compacted
        for i in range(0, rows.size, block_rows):
            part = rows[i : i + block_rows]
            block = self.read_rows(segment, part)
            name, first = self.append(block[:, 0], block[:, 1])
            out["segment"][i : i + part.size] = name
            out["row"][i : i + part.size] = np.arange(first, first + part.size)
        return out
