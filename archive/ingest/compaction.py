"""Reclaiming spectrum-store rows that no catalogue row references."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from archive.catalogue.spectra import get_store, store_writer_lock
from archive.pgcopy import Column, copy_columns
from labeling.spectrum_store import SpectrumStore


@dataclass
class CompactReport:
    segments_rewritten: int = 0
    segments_deleted: int = 0
    rows_copied: int = 0
    rows_reclaimed: int = 0


def compact_store(store: SpectrumStore | None = None) -> CompactReport:
    """Reclaim rows no catalogue row references (left by failed ingests or replaced spectra).

    Referenced rows of a segment with garbage are copied to a fresh segment and the references
    switched in one transaction; the old segments are deleted after the commit, still under the
    store's writer lock (an ingest waiting for it could otherwise append to a segment about to
    go). A failure before the commit cuts the store back; a crash at any point leaves only
    unreferenced data, which the next run removes. Memory is bounded by one segment's
    references, whatever the size of the catalogue.
    """
    store = store or get_store()
    report = CompactReport()
    with store_writer_lock():
        mark = store.mark()
        try:
            obsolete = _rewrite_references(store, report)
        except BaseException:
            store.rollback(mark)  # the copies; the catalogue still points at the old rows
            raise
        for segment in obsolete:
            store.delete_segment(segment)
            report.segments_deleted += 1
    return report


def _rewrite_references(store: SpectrumStore, report: CompactReport) -> list[str]:
    """Copy the referenced rows of every segment with garbage and point the catalogue at the
    copies, in one transaction; return the segments nothing references any more."""
    obsolete = []
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT store_array, count(DISTINCT store_row) FROM rvs_spectrum GROUP BY 1")
        for segment in store.compact_plan(dict(cur.fetchall())):
            cur.execute(
                "SELECT store_row, source_id FROM rvs_spectrum WHERE store_array = %s "
                "ORDER BY store_row",
                [segment],
            )
            refs = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 2)
            rows, ids = refs[:, 0], refs[:, 1]
            report.rows_reclaimed += store.rows(segment) - np.unique(rows).size
            if rows.size:
                _point_at_copies(cur, ids, store.copy_rows(segment, rows))
                report.rows_copied += rows.size
                report.segments_rewritten += 1
            obsolete.append(segment)
    return obsolete


def _point_at_copies(cur, ids: np.ndarray, new: np.ndarray) -> None:
    cur.execute(
        "CREATE TEMP TABLE compact_refs (source_id bigint, store_array text, store_row bigint)"
        " ON COMMIT DROP"
    )
    copy_columns(
        cur,
        "compact_refs",
        [
            Column("source_id", "int8", ids),
            Column("store_array", "text", new["segment"], null=np.zeros(ids.size, dtype=bool)),
            Column("store_row", "int8", new["row"]),
        ],
    )
    cur.execute(
        "UPDATE rvs_spectrum r SET store_array = c.store_array, store_row = c.store_row "
        "FROM compact_refs c WHERE r.source_id = c.source_id"
    )
    cur.execute("DROP TABLE compact_refs")
