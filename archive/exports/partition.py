"""Files of an export by HEALPix: a Gaia DR3 source_id holds its level-12 nested HEALPix index
in its top bits (source_id // 2**35), so source_id // 2**43 is the level-8 index Gaia's bulk
files are named by (GaiaSource_000000-003111.csv.gz: level-8 pixels 0 to 3111). Consecutive
level-8 pixels are grouped into files of about ``rows_per_file`` rows: a pixel goes to file
``k`` when the rows of the pixels before it number from ``k * rows_per_file`` to
``(k + 1) * rows_per_file - 1`` (a pixel is never split). The database applies the same rule
(:func:`archive.exports.build.pixel_groups`), so the counts of a billion-row catalogue never
leave the server."""

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


def buckets(counts: Iterable[tuple[int, int]], rows_per_file: int) -> list[tuple[int, int, int]]:
    """(first pixel, last pixel, rows) of each file from (level-8 pixel, rows) in pixel order,
    by the rule above (what :func:`archive.exports.build.pixel_groups` computes in SQL)."""
    out: dict[int, list[int]] = {}
    before = 0
    for pixel, n in counts:
        group = out.setdefault(before // rows_per_file, [pixel, pixel, 0])
        group[1], group[2] = pixel, group[2] + n
        before += n
    return [tuple(g) for _, g in sorted(out.items())]


def cover(groups: Iterable[tuple[int, int, int]]) -> list[PixelRange]:
    """The groups widened to cover every pixel from 0 to the last once, so that each file's
    name says which part of the sky it holds."""
    groups = list(groups)
    out = []
    for i, (_, _, rows) in enumerate(groups):
        first = out[-1].last + 1 if out else 0
        last = groups[i + 1][0] - 1 if i + 1 < len(groups) else PIXELS - 1
        out.append(PixelRange(first, last, rows))
    return out


def ranges(counts: Iterable[tuple[int, int]], rows_per_file: int) -> list[PixelRange]:
    """Files of (level-8 pixel, rows) counts, in pixel order."""
    return cover(buckets(counts, rows_per_file))
