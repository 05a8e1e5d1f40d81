"""Bulk-ECSV JSON array cells: the fast (orjson, cut-from-the-line) path and its errors."""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import numpy as np
import pytest

from labeling.io import ReadError, iter_rvs_spectra, iter_xp_continuous, open_bulk_writer
from labeling.io.convert import _fill_numbers, json_row, to_array

N = 2401


def collect(chunks) -> dict[str, np.ndarray]:
    chunks = list(chunks)
    return {k: np.concatenate([c.columns[k] for c in chunks]) for k in chunks[0].columns}


def rvs_file(path: Path, n: int, seed: int = 1, **extra: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    flux = rng.normal(1, 0.02, (n, N)).astype(np.float32)
    err = np.abs(rng.normal(0, 0.01, (n, N))).astype(np.float32)
    flux[:, :5] = np.nan
    err[1, 100] = np.nan
    cols = {
        "source_id": np.arange(n) + 10**18,
        **extra,
        "flux": flux,
        "flux_error": err,
        "combined_transits": np.arange(n) % 30,
    }
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        for start in range(0, n, 4):
            w.write({k: v[start : start + 4] for k, v in cols.items()})
    return cols


def edit_lines(path: Path, edit) -> None:
    """Apply ``edit(data_lines)`` (the lines after the column header) in place."""
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("#")) + 1
    data = lines[first:]
    edit(data)
    path.write_bytes(gzip.compress("\n".join(lines[:first] + data).encode()))


def read_error(path: Path, **kw) -> ReadError:
    with pytest.raises(ReadError) as info:
        for _ in iter_rvs_spectra(path, **kw):
            pass
    return info.value


# ------------------------------------------------------------------ values / NaN


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_bulk_rvs_values_any_chunk_size(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "RvsMeanSpectrum_v.csv.gz"
    cols = rvs_file(path, 10)
    chunks = list(iter_rvs_spectra(path, chunk_stars=chunk))
    assert [c.first_row for c in chunks] == list(range(1, 11, chunk))
    got = collect(chunks)
    np.testing.assert_array_equal(got["flux"], cols["flux"])
    np.testing.assert_array_equal(got["flux_error"], cols["flux_error"])
    assert got["flux"].dtype == np.float32 and got["flux"].flags.c_contiguous
    assert np.isnan(got["flux"][:, :5]).all() and np.isnan(got["flux_error"][1, 100])
    assert got["combined_transits"].tolist() == (np.arange(10) % 30).tolist()


def test_bulk_null_cell_empty_array_and_nan_spellings(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_n.csv.gz"
    cols = rvs_file(path, 6)

    def edit(data: list[str]) -> None:
        head, flux, rest = data[1].split('"', 2)
        data[1] = head + "null" + rest  # unquoted null: no spectrum
        head, flux, rest = data[2].split('"', 2)
        data[2] = head + '"[]"' + rest  # empty array: no spectrum either
        head, flux, rest = data[3].split('"', 2)
        values = flux[1:-1].split(",")
        values[10], values[11], values[12] = "NaN", "nan", " null "
        data[3] = head + '"[' + ",".join(values) + ']"' + rest

    edit_lines(path, edit)
    got = collect(iter_rvs_spectra(path, chunk_stars=4))
    assert np.isnan(got["flux"][[1, 2]]).all()
    np.testing.assert_array_equal(got["flux_error"][1:3], cols["flux_error"][1:3])
    assert np.isnan(got["flux"][3, 10:13]).all()
    np.testing.assert_array_equal(got["flux"][3, 13:], cols["flux"][3, 13:])
    np.testing.assert_array_equal(got["flux"][[0, 4, 5]], cols["flux"][[0, 4, 5]])


def test_bulk_quoted_strings_before_the_arrays(tmp_path: Path) -> None:
    """Other quoted fields (commas, doubled quotes) do not shift the array columns."""
    path = tmp_path / "RvsMeanSpectrum_s.csv.gz"
    note = np.array(['a "quoted", name', "plain", "", "[1,2]"])
    cols = rvs_file(path, 4, note=note)
    got = collect(iter_rvs_spectra(path))
    np.testing.assert_array_equal(got["flux"], cols["flux"])
    np.testing.assert_array_equal(got["flux_error"], cols["flux_error"])
    assert got["source_id"].tolist() == cols["source_id"].tolist()


def test_json_row_unit() -> None:
    row = np.full(4, -1.0, np.float32)
    assert json_row(row, "[1,null,2.5e1,-0]", "f", 7, "x")
    assert row[0] == 1 and np.isnan(row[1]) and row[2] == 25 and row[3] == 0
    row[:] = -1
    assert not json_row(row, "[]", "f", 7, "x") and (row == -1).all()
    with pytest.raises(ReadError, match="expected 4 values, found 3") as info:
        json_row(row, "[1,2,3]", "f", 7, "x")
    assert (info.value.row, info.value.field) == (7, "x")
    for bad, token in [("[1,true,2,3]", "true"), ("[1,2,x3,4]", "x3"), ("[1,,2,3]", "")]:
        with pytest.raises(ReadError) as info:
            json_row(row, bad, "f", 8, "y")
        assert f"not a number: {token!r}" in str(info.value) and info.value.row == 8
    with pytest.raises(ReadError, match="not a number"):
        json_row(row, "[1,[2],3,4]", "f", 8, "y")


def test_numbers_only_cells_take_the_simdjson_path_and_the_rest_fall_back() -> None:
    flux = np.random.default_rng(3).normal(1, 0.02, N).astype(np.float32)
    cell = "[" + ",".join(repr(float(v)) for v in flux) + "]"
    row = np.empty(N, np.float32)
    assert _fill_numbers(row, cell)
    np.testing.assert_array_equal(row, flux)  # float32 values survive the float64 buffer
    four = np.full(4, -1.0, np.float32)
    for general in ["[1,null,2,3]", "[1,[2],3,4]", "[1,2,3]", "[1,true,2,3]", "[1,2,3,", "{}"]:
        assert not _fill_numbers(four, general), general
    assert (four == -1).all()  # nothing written when the general path has to decide


def test_to_array_json_text_cells() -> None:
    raw = np.array(["[1,2]", "null", "[3,null]", "(5, 6)"], dtype=object)
    out = to_array(raw, "f", 1, "x", 2)
    np.testing.assert_array_equal(out, [[1, 2], [np.nan, np.nan], [3, np.nan], [5, 6]])
    with pytest.raises(ReadError, match="expected 2 values, found 3") as info:
        to_array(np.array(["[1,2]", "[1,2,3]"]), "f", 10, "x", 2)
    assert info.value.row == 11


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize("chunk", [2, 100])
def test_bulk_non_numeric_in_array_names_row_and_field(tmp_path: Path, chunk: int) -> None:
    path = tmp_path / "RvsMeanSpectrum_bad.csv.gz"
    rvs_file(path, 7)

    def edit(data: list[str]) -> None:
        head, flux, mid, err, rest = data[4].split('"')
        values = err[1:-1].split(",")
        values[1234] = "1.0abc"
        data[4] = '"'.join([head, flux, mid, "[" + ",".join(values) + "]", rest])

    edit_lines(path, edit)
    err = read_error(path, chunk_stars=chunk)
    assert (err.row, err.field) == (5, "flux_error") and str(path) in str(err)
    assert "not a number: '1.0abc'" in str(err)


def test_bulk_true_inside_array_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_t.csv.gz"
    rvs_file(path, 3)
    edit_lines(path, lambda d: d.__setitem__(1, d[1].replace('"[null,', '"[true,', 1)))
    err = read_error(path)
    assert (err.row, err.field) == (2, "flux") and "'true'" in str(err)


@pytest.mark.parametrize(("cut", "field"), [(0, "flux"), (1, "flux_error")])
def test_bulk_2400_and_2402_values(tmp_path: Path, cut: int, field: str) -> None:
    path = tmp_path / "RvsMeanSpectrum_2400.csv.gz"
    rvs_file(path, 9)

    def drop(data: list[str]) -> None:
        parts = data[6].split('"')
        k = 1 + 2 * cut
        parts[k] = "[" + parts[k][1:-1].split(",", 1)[1] + "]"  # first value gone
        data[6] = '"'.join(parts)

    edit_lines(path, drop)
    err = read_error(path, chunk_stars=4)
    assert (err.row, err.field) == (7, field)
    assert "expected 2401 values, found 2400" in str(err)

    rvs_file(path, 9)
    edit_lines(path, lambda d: d.__setitem__(2, d[2].replace('"[null,', '"[null,1,', 1)))
    err = read_error(path)
    assert (err.row, err.field) == (3, "flux") and "found 2402" in str(err)


def test_bulk_truncated_line_names_row(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_cut.csv.gz"
    rvs_file(path, 5)
    edit_lines(path, lambda d: d.__setitem__(3, d[3][: len(d[3]) // 2]))
    err = read_error(path, chunk_stars=2)
    assert err.row == 4 and "fields" in err.message


def test_bulk_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_gz.csv.gz"
    rvs_file(path, 60)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = read_error(path, chunk_stars=10)
    assert "truncated" in err.message and err.row is not None and err.row > 1


def test_reader_thread_stops_when_iteration_stops(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_stop.csv.gz"
    rvs_file(path, 40)
    before = threading.active_count()
    it = iter_rvs_spectra(path, chunk_stars=2)
    next(it)
    it.close()
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("labeling-io")]


# ---------------------------------------------------------------------------- XP


def test_bulk_xp_errors_and_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 6
    bp = rng.normal(0, 100, (n, 55))
    bp[3] = np.nan
    corr = rng.uniform(-1, 1, (n, 1485)).astype(np.float32)
    corr[2, 7] = np.nan
    cols = {
        "source_id": np.arange(n) + 1,
        "bp_coefficients": bp,
        "bp_coefficient_correlations": corr,
        "rp_coefficients": rng.normal(0, 100, (n, 55)),
        "rp_coefficient_correlations": corr[::-1].copy(),
    }
    path = tmp_path / "XpContinuousMeanSpectrum_x.csv.gz"
    with open_bulk_writer("xp_continuous", path) as w:
        w.write(cols)
    for chunk in (1, 4, 100):
        got = collect(iter_xp_continuous(path, chunk_rows=chunk))
        for key, values in cols.items():
            np.testing.assert_array_equal(got[key], values, err_msg=key)
    assert got["bp_coefficients"].dtype == np.float64
    assert got["rp_coefficient_correlations"].dtype == np.float32

    def edit(data: list[str]) -> None:
        parts = data[4].split('"')
        corr_text = parts[3]  # bp_coefficient_correlations
        parts[3] = "[" + corr_text[1:-1].split(",", 1)[1] + "]"  # 1484 values
        data[4] = '"'.join(parts)

    edit_lines(path, edit)
    with pytest.raises(ReadError) as info:
        list(iter_xp_continuous(path, chunk_rows=2))
    assert (info.value.row, info.value.field) == (5, "bp_coefficient_correlations")
    assert "expected 1485 values, found 1484" in str(info.value)


def test_bulk_xp_many_rows_without_json_cells(tmp_path: Path) -> None:
    """Rows whose arrays are all null (no JSON cell at all) past the first few hundred."""
    rng = np.random.default_rng(9)
    n = 9000  # past the 4096 rows the block arrays start with
    bp = rng.normal(0, 100, (n, 55))
    rp = rng.normal(0, 100, (n, 55))
    bp[5000:], rp[5000:] = np.nan, np.nan
    path = tmp_path / "XpContinuousMeanSpectrum_null.csv.gz"
    with open_bulk_writer("xp_continuous", path) as w:
        w.write({"source_id": np.arange(n), "bp_coefficients": bp, "rp_coefficients": rp})
    for chunk in (3000, 10**6):
        got = collect(iter_xp_continuous(path, chunk_rows=chunk))
        np.testing.assert_array_equal(got["bp_coefficients"], bp)
        np.testing.assert_array_equal(got["rp_coefficients"], rp)
        assert got["source_id"].tolist() == list(range(n))
