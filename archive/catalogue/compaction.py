"""Reclaiming spectrum-store rows that no catalogue row references."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from archive.pgcopy import Column, copy_columns
from labeling.spectrum_store import SpectrumStore

from .spectra import STORE_LOCK, get_store


@dataclass
class CompactReport:
    segments_rewritten: int = 0
    segments_deleted: int = 0
    rows_copied: int = 0
    rows_reclaimed: int = 0


def compact_store(store: SpectrumStore | None = None) -> CompactReport:
    """Reclaim rows no catalogue row references (left by failed ingests or replaced spectra).

    Referenced rows of a segment with garbage are copied to a fresh segment and the references
    switched in one transaction; the old segments are deleted after the commit. A crash at any
    point leaves only unreferenced data, which the next run removes.
    """
    store = store or get_store()
    report = CompactReport()
    obsolete = []
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [STORE_LOCK])
        cur.execute(
            "SELECT store_array, array_agg(store_row ORDER BY store_row), "
            "array_agg(source_id ORDER BY store_row) FROM rvs_spectrum GROUP BY 1"
        )
        refs = {seg: (np.array(rows), np.array(ids)) for seg, rows, ids in cur.fetchall()}
        plan = store.compact_plan({seg: rows for seg, (rows, _) in refs.items()})
        for segment in plan:
            rows, ids = refs.get(segment, (np.empty(0, np.int64), np.empty(0, np.int64)))
            report.rows_reclaimed += store.rows(segment) - rows.size
            if rows.size:
                new = store.copy_rows(segment, rows)
                cur.execute(
                    "CREATE TEMP TABLE compact_refs (source_id bigint, store_array text,"
                    " store_row bigint) ON COMMIT DROP"
                )
                copy_columns(
                    cur,
                    "compact_refs",
                    [
                        Column("source_id", "int8", ids),
                        Column(
                            "store_array",
                            "text",
                            new["segment"],
                            null=np.zeros(ids.size, dtype=bool),
                        ),
                        Column("store_row", "int8", new["row"]),
                    ],
                )
                cur.execute(
                    "UPDATE rvs_spectrum r SET store_array = c.store_array, "
                    "store_row = c.store_row FROM compact_refs c "
                    "WHERE r.source_id = c.source_id"
                )
                cur.execute("DROP TABLE compact_refs")
                report.rows_copied += rows.size
                report.segments_rewritten += 1
            obsolete.append(segment)
    for segment in obsolete:
        store.delete_segment(segment)
        report.segments_deleted += 1
    return report
