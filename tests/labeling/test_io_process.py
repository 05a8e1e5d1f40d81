"""Readers run in a child process (labeling.io.iter_in_process): same chunks, same errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from labeling.io import ReadError, iter_in_process, iter_rvs_spectra, open_bulk_writer


def rvs_file(path: Path, n: int) -> Path:
    rng = np.random.default_rng(11)
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        w.write(
            {
                "source_id": np.arange(1, n + 1, dtype=np.int64),
                "flux": (1 + 0.01 * rng.standard_normal((n, 2401))).astype(np.float32),
                "flux_error": np.full((n, 2401), 0.01, dtype=np.float32),
            }
        )
    return path


def test_chunks_from_the_child_equal_the_readers(tmp_path):
    path = rvs_file(tmp_path / "RvsMeanSpectrum_a.csv.gz", 300)
    here = list(iter_rvs_spectra(path, chunk_stars=128, skip_rows={7}))
    there = list(iter_in_process(iter_rvs_spectra, path, chunk_stars=128, skip_rows={7}))
    assert [len(c) for c in there] == [len(c) for c in here] == [6, 128, 128, 37]
    for a, b in zip(here, there, strict=True):
        assert (a.path, a.first_row) == (b.path, b.first_row)
        np.testing.assert_array_equal(a.rows, b.rows)
        for name in a.columns:
            np.testing.assert_array_equal(a.columns[name], b.columns[name])


def test_a_read_error_in_the_child_is_raised_unchanged(tmp_path):
    good = rvs_file(tmp_path / "RvsMeanSpectrum_b.csv.gz", 50)
    lines = gzip.decompress(good.read_bytes()).decode().splitlines()
    lines[-10] = lines[-10].replace("[1", "[x1", 1)  # row 41: a flux value that is no number
    bad = tmp_path / "RvsMeanSpectrum_bad.csv.gz"
    bad.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(ReadError) as here:
        list(iter_rvs_spectra(bad))
    with pytest.raises(ReadError) as there:
        list(iter_in_process(iter_rvs_spectra, bad))
    assert str(there.value) == str(here.value)
    assert (there.value.row, there.value.field) == (41, "flux")


def test_stopping_early_ends_the_child(tmp_path):
    path = rvs_file(tmp_path / "RvsMeanSpectrum_c.csv.gz", 600)
    chunks = iter_in_process(iter_rvs_spectra, path, chunk_stars=64, depth=1)
    assert len(next(chunks)) == 64
    chunks.close()  # the finally clause terminates and joins the child
    import multiprocessing

    assert not [p for p in multiprocessing.active_children() if p.name == "reader"]
