"""Files of an export by HEALPix: a Gaia DR3 source_id holds its level-12 nested HEALPix index
in its top bits (source_id // 2**35), so source_id // 2**43 is the level-8 index Gaia's bulk
files are named by (GaiaSource_000000-003111.csv.gz: level-8 pixels 0 to 3111). Consecutive
level-8 pixels are grouped until a file holds about ``rows_per_file`` rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LEVEL = 8
SHIFT = 35 + 2 * (12 - LEVEL)  # source_id bits below the level-8 index
PIXELS = 12 * 4**LEVEL


def healpix8(source_id: int) -> int:
    return source_id >> SHIFT


@dataclass(frozen=True)
class PixelRange:
    """Level-8 pixels ``first`` to ``last`` (inclusive) and the rows they hold."""

    first: int
    last: int
    rows: int

    @property
    def stem(self) -> str:
        return f"{self.first:06d}-{self.last:06d}"

    @property
    def source_ids(self) -> tuple[int, int]:
        """The source_id range, inclusive."""
        return self.first << SHIFT, ((self.last + 1) << SHIFT) - 1


def ranges(counts: Iterable[tuple[int, int]], rows_per_file: int) -> list[PixelRange]:
    """Group (level-8 pixel, rows) in pixel order into ranges of about ``rows_per_file`` rows;
    together they cover every pixel from 0 to the last, so each file's name says what it holds."""
    out: list[PixelRange] = []
    start, rows, last = 0, 0, -1
    for pixel, n in counts:
        if rows and rows + n > rows_per_file:
            out.append(PixelRange(start, pixel - 1, rows))
            start, rows = pixel, 0
        rows += n
        last = pixel
    if rows:
        out.append(PixelRange(start, PIXELS - 1, rows))
    elif last < 0:
        return []
    return out
