"""labeling.io writers: real bulk layouts, and writer -> reader round trips."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import meta as table_meta

from labeling.io import (
    ReadError,
    iter_apogee_allstar,
    iter_astrophysical_parameters,
    iter_gaia_source,
    iter_rvs_spectra,
    iter_xp_continuous,
    open_bulk_writer,
    write_allstar,
)


def collect(chunks) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    chunks = list(chunks)
    cols = {k: np.concatenate([c.columns[k] for c in chunks]) for k in chunks[0].columns}
    masks = {
        k: np.concatenate([c.masks.get(k, np.zeros(len(c), bool)) for c in chunks])
        for k in {k for c in chunks for k in c.masks}
    }
    return cols, masks


def header_of(path: Path) -> tuple[dict, list[str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    comments = [ln[2:] for ln in lines if ln.startswith("# ")]
    data = [ln for ln in lines if not ln.startswith("#")]
    return table_meta.get_header_from_yaml(comments), data


def test_gaia_source_round_trip_in_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 1000
    cols = {
        "solution_id": np.full(n, 4581203047879300000),
        "source_id": rng.integers(1, 2**62, n),
        "ra": rng.uniform(0, 360, n),
        "dec": rng.uniform(-90, 90, n),
        "parallax": rng.normal(1, 1, n),
        "phot_g_mean_mag": rng.uniform(5, 17, n).astype(np.float32),
        "radial_velocity": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 30, n)),
        "non_single_star": np.ma.MaskedArray(rng.integers(0, 3, n), mask=rng.random(n) < 0.1),
        "phot_variable_flag": np.where(rng.random(n) < 0.5, "VARIABLE", "NOT_AVAILABLE"),
        "has_xp_continuous": rng.random(n) < 0.5,
        "in_qso_candidates": np.zeros(n, bool),
    }
    path = tmp_path / "GaiaSource_000000-003111.csv.gz"
    with open_bulk_writer("gaia_source", path) as w:
        for start in range(0, n, 300):
            w.write({k: v[start : start + 300] for k, v in cols.items()})
    header, data = header_of(path)
    assert gzip.decompress(path.read_bytes()).startswith(b"# %ECSV 1.0\n# ---\n")
    assert header["delimiter"] == ","
    spec = {c["name"]: c for c in header["datatype"]}
    assert list(spec) == list(cols)
    assert spec["ra"]["datatype"] == "float64" and spec["ra"]["unit"] == "deg"
    assert spec["phot_g_mean_mag"]["datatype"] == "float32"
    assert spec["non_single_star"]["datatype"] == "int16"
    assert spec["has_xp_continuous"]["datatype"] == "bool"
    assert spec["source_id"]["meta"]["ucd"] == "meta.id;meta.main"
    assert data[0] == ",".join(cols)
    assert len(data) == n + 1 and ",null," in "\n".join(data)

    got, masks = collect(iter_gaia_source(path, chunk_rows=256))
    np.testing.assert_array_equal(got["source_id"], cols["source_id"])
    np.testing.assert_array_equal(got["ra"], cols["ra"])
    np.testing.assert_array_equal(got["parallax"], cols["parallax"])
    # float32 data-model columns: the text holds the float32 value exactly.
    np.testing.assert_array_equal(
        got["phot_g_mean_mag"].astype(np.float32), cols["phot_g_mean_mag"]
    )
    np.testing.assert_array_equal(
        got["radial_velocity"].astype(np.float32), cols["radial_velocity"].astype(np.float32)
    )
    np.testing.assert_array_equal(masks["non_single_star"], cols["non_single_star"].mask)
    np.testing.assert_array_equal(got["non_single_star"], cols["non_single_star"].filled(0))
    np.testing.assert_array_equal(got["phot_variable_flag"], cols["phot_variable_flag"])
    np.testing.assert_array_equal(got["has_xp_continuous"], cols["has_xp_continuous"])
    assert "ruwe" not in got  # not written, so absent


def test_astrophysical_parameters_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "AstrophysicalParameters_000000-003111.csv.gz"
    labels = np.array(["", "ELS_STAR", "", "ELS_STAR, weird"])
    with open_bulk_writer("astrophysical_parameters", path) as w:
        w.write({"source_id": np.arange(4), "classlabel_espels": labels})
    got, masks = collect(iter_astrophysical_parameters(path))
    assert got["classlabel_espels"].tolist() == labels.tolist()
    assert masks["classlabel_espels"].tolist() == [True, False, True, False]
    header, data = header_of(path)
    assert data[1] == "0,null" and data[4] == '3,"ELS_STAR, weird"'


def test_rvs_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 7
    flux = rng.normal(1, 0.02, (n, 2401)).astype(np.float32)
    flux[:, :3] = np.nan  # spectrum ends without data
    err = np.abs(rng.normal(0, 0.01, (n, 2401))).astype(np.float32)
    path = tmp_path / "RvsMeanSpectrum_000000-003111.csv.gz"
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        for start in (0, 4):
            sl = slice(start, start + 4)
            w.write({
                "source_id": np.arange(n)[sl] + 10**18,
                "solution_id": np.full(n, 4545469030156206080)[sl],
                "ra": np.linspace(0, 1, n)[sl],
                "dec": np.linspace(0, 1, n)[sl],
                "flux": flux[sl],
                "flux_error": err[sl],
                "combined_transits": np.full(n, 17, np.int16)[sl],
                "combined_ccds": np.full(n, 47)[sl],
                "deblended_ccds": np.zeros(n, int)[sl],
            })  # fmt: skip
    header, data = header_of(path)
    spec = {c["name"]: c for c in header["datatype"]}
    assert spec["flux"]["datatype"] == "string"
    assert spec["flux"]["subtype"] == "float32[null]"
    assert ',"[null,null,null,' in data[1]
    chunks = list(iter_rvs_spectra(path, chunk_stars=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    got, _ = collect(chunks)
    np.testing.assert_array_equal(got["source_id"], np.arange(n) + 10**18)
    np.testing.assert_array_equal(got["flux"], flux)
    np.testing.assert_array_equal(got["flux_error"], err)
    assert got["flux"].dtype == np.float32
    assert got["combined_transits"].tolist() == [17] * n


def test_xp_round_trip_with_missing_bp(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 5
    bp = rng.normal(0, 100, (n, 55))
    bp[2] = np.nan  # no BP spectrum for this source
    cols = {
        "source_id": np.arange(n) + 5,
        "bp_standard_deviation": rng.uniform(1, 2, n).astype(np.float32),
        "rp_standard_deviation": rng.uniform(1, 2, n).astype(np.float32),
        "bp_coefficients": bp,
        "bp_coefficient_errors": np.abs(bp).astype(np.float32) / 10,
        "bp_coefficient_correlations": rng.uniform(-1, 1, (n, 1485)).astype(np.float32),
        "bp_n_relevant_bases": np.ma.MaskedArray([53, 50, 0, 40, 41], mask=[0, 0, 1, 0, 0]),
        "rp_coefficients": rng.normal(0, 100, (n, 55)),
        "rp_coefficient_errors": rng.uniform(0, 1, (n, 55)).astype(np.float32),
        "rp_coefficient_correlations": rng.uniform(-1, 1, (n, 1485)).astype(np.float32),
        "rp_n_relevant_bases": np.array([50, 51, 47, 40, 41]),
    }
    path = tmp_path / "XpContinuousMeanSpectrum_000000-003111.csv.gz"
    with open_bulk_writer("xp_continuous", path) as w:
        w.write(cols)
    header, data = header_of(path)
    spec = {c["name"]: c for c in header["datatype"]}
    assert spec["bp_coefficients"]["subtype"] == "float64[null]"
    assert spec["bp_coefficient_errors"]["subtype"] == "float32[null]"
    assert ",null," in data[3]
    got, masks = collect(iter_xp_continuous(path))
    for key, values in cols.items():
        expected = np.ma.filled(values, 0)
        np.testing.assert_array_equal(got[key].astype(expected.dtype), expected, err_msg=key)
    assert masks["bp_n_relevant_bases"].tolist() == [False, False, True, False, False]


def test_bulk_writer_rejects_changed_columns(tmp_path: Path) -> None:
    with open_bulk_writer("gaia_source", tmp_path / "g.csv.gz") as w:
        w.write({"source_id": [1], "ra": [1.0], "dec": [2.0]})
        with pytest.raises(ValueError, match="differ"):
            w.write({"source_id": [2], "ra": [1.0]})
    with pytest.raises(ValueError, match="unknown product"):
        open_bulk_writer("gaia_sauce", tmp_path / "x.csv.gz")


def allstar_columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    teff = rng.uniform(3500, 7000, n).astype(np.float32)
    teff[1] = np.nan
    return {
        "APOGEE_ID": np.array([f"2M{i:08d}+0000000" for i in range(n)]),
        "TELESCOPE": np.array(["apo25m", "lco25m"] * (n // 2) + ["apo25m"] * (n % 2)),
        "FIELD": np.array(["M67"] * n),
        "GAIAEDR3_SOURCE_ID": np.r_[0, rng.integers(1, 2**62, n - 1)],
        "TEFF": teff,
        "TEFF_ERR": np.full(n, 50, np.float32),
        "LOGG": rng.uniform(0, 5, n).astype(np.float32),
        "LOGG_ERR": np.full(n, 0.05, np.float32),
        "M_H": rng.normal(0, 0.3, n).astype(np.float32),
        "M_H_ERR": np.full(n, 0.01, np.float32),
        "FE_H": np.r_[-9999.0, rng.normal(0, 0.3, n - 1)].astype(np.float32),
        "FE_H_ERR": np.full(n, 0.01, np.float32),
        "ALPHA_M": rng.normal(0.1, 0.1, n).astype(np.float32),
        "ALPHA_M_ERR": np.full(n, 0.01, np.float32),
        "ASPCAPFLAG": np.r_[np.uint64(1) << np.uint64(63), np.zeros(n - 1, np.uint64)],
        "ASPCAP_CHI2": rng.uniform(1, 10, n).astype(np.float32),
        "FE_H_FLAG": np.zeros(n, np.int32),
        "SNR": rng.uniform(50, 500, n).astype(np.float32),
        "VHELIO_AVG": rng.normal(0, 30, n).astype(np.float32),
    }


def test_allstar_round_trip(tmp_path: Path) -> None:
    n = 25
    cols = allstar_columns(n)
    path = tmp_path / "allStar-dr17-synspec_rev1.fits"
    write_allstar(path, cols)
    with fits.open(path) as hdul:
        formats = {c.name: c.format for c in hdul[1].columns}
    assert formats["ASPCAPFLAG"] == "K" and formats["GAIAEDR3_SOURCE_ID"] == "K"
    assert formats["APOGEE_ID"].endswith("A") and formats["TEFF"] == "E"
    chunks = list(iter_apogee_allstar(path, chunk_rows=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    got, masks = collect(chunks)
    assert got["APOGEE_ID"].tolist() == cols["APOGEE_ID"].tolist()
    assert got["TELESCOPE"].tolist() == cols["TELESCOPE"].tolist()
    np.testing.assert_array_equal(got["TEFF"], cols["TEFF"])
    assert np.isnan(got["FE_H"][0])  # -9999 sentinel
    np.testing.assert_array_equal(got["FE_H"][1:], cols["FE_H"][1:])
    assert masks["GAIAEDR3_SOURCE_ID"].tolist() == [True] + [False] * (n - 1)
    np.testing.assert_array_equal(got["GAIAEDR3_SOURCE_ID"][1:], cols["GAIAEDR3_SOURCE_ID"][1:])
    assert got["ASPCAPFLAG"][0].astype(np.int64).view(np.uint64) == np.uint64(1) << np.uint64(63)
    assert "VHELIO_AVG" not in got


def test_allstar_missing_column(tmp_path: Path) -> None:
    cols = allstar_columns(4)
    del cols["ALPHA_M_ERR"]
    path = tmp_path / "allStar.fits"
    write_allstar(path, cols)
    with pytest.raises(ReadError) as info:
        list(iter_apogee_allstar(path))
    assert info.value.field == "ALPHA_M_ERR" and str(path) in str(info.value)
