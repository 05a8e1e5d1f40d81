"""The archive's spectrum store, as configured (``RVS_SPECTRUM_STORE_URL``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection

from labeling.spectrum_store import SpectrumStore

from .models import RvsSpectrum

# advisory lock key held by every writer of the store (ingest, compaction)
STORE_LOCK = 0x5256_5343


@contextmanager
def store_writer_lock() -> Iterator[None]:
    """Hold the store's writer lock for this database session, waiting for any other writer.

    A session lock, not a transaction lock: a writer whose transaction failed must cut the
    store back (or delete what it replaced) after the rollback and before the next writer
    takes its own mark, and a transaction lock is gone by then.
    """
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [STORE_LOCK])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [STORE_LOCK])
        except DatabaseError:
            pass  # the session is broken, and a session that ends releases its locks


def get_store() -> SpectrumStore:
    """The configured store: a local directory or an fsspec URL (``s3://...``)."""
    return SpectrumStore(
        settings.RVS_SPECTRUM_STORE_URL,
        storage_options=settings.RVS_SPECTRUM_STORE_OPTIONS or None,
    )


def read_spectrum(source_id: int, store: SpectrumStore | None = None) -> tuple[np.ndarray, ...]:
    """(flux, flux_error) of one star, each (2401,) float32, read by its reference."""
    ref = RvsSpectrum.objects.only("store_array", "store_row").get(source_id=source_id)
    return (store or get_store()).read(ref.store_array, ref.store_row)
