"""The spectrum store, the same on local disk and on an S3-compatible object store (moto)."""

import numpy as np
import pytest

from labeling.dataset import StoreSpectra
from labeling.spectrum_store import RVS_PIXELS, SpectrumStore, StoreLayout

SMALL = StoreLayout(chunk_rows=8, segment_rows=50)


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path) -> tuple[str, dict | None]:
    """(URL, storage options) of an empty store, on disk or in a bucket of the moto server."""
    if request.param == "local":
        return str(tmp_path / "spectra.zarr"), None
    return request.getfixturevalue("s3_store")


def spectra(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flux = rng.normal(1.0, 0.05, (n, RVS_PIXELS)).astype(np.float32)
    flux[:, :3] = np.nan  # NaN pixels are kept as NaN
    return flux, np.abs(rng.normal(0.02, 0.005, (n, RVS_PIXELS))).astype(np.float32)


def test_append_and_read_back_by_reference(where):
    url, options = where
    store = SpectrumStore(url, layout=SMALL, storage_options=options)
    flux, error = spectra(30, 1)
    assert store.append(flux[:20], error[:20]) == ("rvs/seg000000", 0)
    assert store.append(flux[20:], error[20:]) == ("rvs/seg000000", 20)
    again = SpectrumStore(url, storage_options=options)  # a second process opening it
    assert again.layout == SMALL
    got_flux, got_error = again.read("rvs/seg000000", 23)
    np.testing.assert_array_equal(got_flux, flux[23])
    np.testing.assert_array_equal(got_error, error[23])
    rows = np.array([29, 2, 17])
    np.testing.assert_array_equal(again.read_rows("rvs/seg000000", rows)[:, 0], flux[rows])
    with pytest.raises(IndexError, match="no row 30"):
        again.read("rvs/seg000000", 30)


def test_segments_roll_over_and_blocks_stream_chunk_aligned(where):
    url, options = where
    store = SpectrumStore(url, layout=SMALL, storage_options=options)
    flux, error = spectra(70, 2)
    store.append(flux[:40], error[:40])
    assert store.append(flux[40:], error[40:]) == ("rvs/seg000001", 0)  # 40 + 30 > 50
    blocks = list(store.iter_blocks("rvs/seg000000", start=3, block_rows=16))
    assert [(first, len(b)) for first, b in blocks] == [(3, 13), (16, 16), (32, 8)]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks])[:, 1], error[3:40])
    source = StoreSpectra(
        store,
        np.array(["rvs/seg000001", "rvs/seg000000", "rvs/seg000001"], dtype=object),
        np.array([5, 39, 0]),
    )
    np.testing.assert_array_equal(source.get(np.arange(3)), flux[[45, 39, 40]])


def test_rollback_forgets_what_a_failed_ingest_appended(where):
    url, options = where
    store = SpectrumStore(url, layout=SMALL, storage_options=options)
    flux, error = spectra(45, 3)
    store.append(flux[:30], error[:30])
    mark = store.mark()
    store.append(flux[30:40], error[30:40])
    store.append(flux[:45], error[:45])  # into a new segment
    store.rollback(mark)
    reopened = SpectrumStore(url, storage_options=options)
    assert reopened.segments() == ["rvs/seg000000"]
    assert reopened.rows("rvs/seg000000") == 30
    # the next append reuses the rows rolled back, with the new data
    assert reopened.append(flux[40:45], error[40:45]) == ("rvs/seg000000", 30)
    np.testing.assert_array_equal(reopened.read("rvs/seg000000", 32)[0], flux[42])


def test_copy_rows_for_compaction(where):
    url, options = where
    store = SpectrumStore(url, layout=SMALL, storage_options=options)
    flux, error = spectra(20, 4)
    store.append(flux, error)
    keep = np.array([19, 4, 7])
    assert store.compact_plan({"rvs/seg000000": keep.size}) == ["rvs/seg000000"]
    refs = store.copy_rows("rvs/seg000000", keep)
    assert list(refs["segment"]) == ["rvs/seg000001"] * 3
    store.delete_segment("rvs/seg000000")
    assert store.segments() == ["rvs/seg000001"]
    np.testing.assert_array_equal(store.read_rows("rvs/seg000001", refs["row"])[:, 0], flux[keep])
    assert store.compact_plan({"rvs/seg000001": refs.size}) == []
    assert store.compact_plan({}) == ["rvs/seg000001"]  # nothing points at it


def test_a_store_keeps_its_layout(where):
    url, options = where
    SpectrumStore(url, layout=SMALL, storage_options=options)
    with pytest.raises(ValueError, match="was created with"):
        SpectrumStore(url, layout=StoreLayout(chunk_rows=16), storage_options=options)
