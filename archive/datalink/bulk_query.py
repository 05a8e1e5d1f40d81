"""The rows of a bulk spectra request: per requested ID, in the order asked, its RVS spectrum
(from the array store, one read per segment and batch) and XP coefficients, or why not.

One SQL statement a batch: the IDs as an array, LEFT JOINed to the catalogue, so an unknown ID
still gets its row (with the reason) and the batch keeps the request's order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection

from labeling.spectrum_store import RVS_PIXELS

from .ids import ParsedId

#: IDs read and written together: ~20 MB of spectra, so memory stays flat whatever the total
BATCH = 1000
N_XP = 55

_SQL = """
SELECT i.ord, g.source_id IS NOT NULL, r.store_array, r.store_row,
       x.source_id IS NOT NULL, x.bp_coefficients, x.bp_coefficient_errors,
       x.rp_coefficients, x.rp_coefficient_errors,
       x.bp_standard_deviation, x.rp_standard_deviation
FROM unnest(%s::bigint[]) WITH ORDINALITY AS i(sid, ord)
LEFT JOIN gaia_source g ON g.source_id = i.sid
LEFT JOIN rvs_spectrum r ON r.source_id = i.sid
LEFT JOIN xp_coefficients x ON x.source_id = i.sid
ORDER BY i.ord
"""

XP_ARRAYS = ("bp_coefficients", "bp_coefficient_errors", "rp_coefficients", "rp_coefficient_errors")


@dataclass
class Batch:
    """Columns of consecutive requested IDs; NaN where a value is missing."""

    source_id: np.ndarray  # (n,) int64; 0 where the ID was malformed (``id_null``)
    id_null: np.ndarray  # (n,) bool
    error: list[str]  # "" when the RVS spectrum and the XP coefficients were both found
    flux: np.ndarray  # (n, 2401) float32
    flux_error: np.ndarray  # (n, 2401) float32
    xp: dict[str, np.ndarray]  # XP_ARRAYS: (n, 55); *_standard_deviation: (n,)

    @property
    def rows(self) -> int:
        return len(self.source_id)


def _empty(n: int) -> Batch:
    xp = {name: np.full((n, N_XP), np.nan) for name in XP_ARRAYS}
    xp |= {f"{b}_standard_deviation": np.full(n, np.nan, np.float32) for b in ("bp", "rp")}
    return Batch(
        np.zeros(n, np.int64),
        np.zeros(n, bool),
        [""] * n,
        np.full((n, RVS_PIXELS), np.nan, np.float32),
        np.full((n, RVS_PIXELS), np.nan, np.float32),
        xp,
    )


def _fill(batch: Batch, ids: Sequence[ParsedId], store) -> None:
    known = [(k, p.source_id) for k, p in enumerate(ids) if p.source_id is not None]
    for k, p in enumerate(ids):
        if p.source_id is None:
            batch.id_null[k] = True
            batch.error[k] = f"{p.text[:40]!r} is {p.problem}"
        else:
            batch.source_id[k] = p.source_id
    if not known:
        return
    with connection.cursor() as cur:
        cur.execute(_SQL, [[sid for _, sid in known]])
        rows = cur.fetchall()
    refs: dict[str, list[tuple[int, int]]] = {}
    # ORDER BY i.ord: the rows come back in the order of ``known``
    for (_ord, in_source, segment, row, has_xp, *xp), (k, sid) in zip(rows, known, strict=True):
        if not in_source:
            batch.error[k] = f"no source {sid} in this archive"
            continue
        missing = []
        if segment is None:
            missing.append("RVS mean spectrum")
        else:
            refs.setdefault(segment, []).append((k, row))
        if has_xp:
            for name, values in zip(XP_ARRAYS, xp[:4], strict=True):
                if values is not None:
                    batch.xp[name][k] = values
            for band, sd in zip(("bp", "rp"), xp[4:], strict=True):
                batch.xp[f"{band}_standard_deviation"][k] = np.nan if sd is None else sd
        else:
            missing.append("XP coefficients")
        if missing:
            batch.error[k] = f"source {sid} has no {' and no '.join(missing)} in this archive"
    for segment, pairs in refs.items():
        where = np.array([k for k, _ in pairs])
        spectra = store.read_rows(segment, np.array([r for _, r in pairs]))
        batch.flux[where] = spectra[:, 0]
        batch.flux_error[where] = spectra[:, 1]


def batches(ids: Sequence[ParsedId], store, size: int = BATCH) -> Iterator[Batch]:
    """The requested IDs' rows, ``size`` at a time, in the order asked."""
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        batch = _empty(len(part))
        _fill(batch, part, store)
        yield batch
