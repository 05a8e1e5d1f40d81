"""The archive's spectrum store, as configured (``RVS_SPECTRUM_STORE_URL``)."""

from __future__ import annotations

import numpy as np
from django.conf import settings

from labeling.spectrum_store import SpectrumStore

from .models import RvsSpectrum

# pg_advisory_xact_lock key held by every writer of the store (ingest, compaction)
STORE_LOCK = 0x5256_5343


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
