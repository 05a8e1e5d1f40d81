"""labeling.io readers against the real Gaia DR3 sample files and against bad input."""

from __future__ import annotations

import gzip
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table, vstack

from labeling.io import (
    ReadError,
    detect_format,
    iter_apogee_allstar,
    iter_astrophysical_parameters,
    iter_gaia_source,
    iter_rvs_spectra,
    iter_xp_continuous,
    open_bulk_writer,
    read_header,
    read_rvs_wavelength,
    write_allstar,
)
from labeling.io.provenance import is_synthetic_sky, synthetic_sky_marker
from labeling.wavelength import WAVELENGTH_NM

RVS_FILES = {
    "gaiaspec_Kepler-93.csv": 2052747119115620352,
    "gaiaspec_HD176650.csv": 4268620287278693120,
    "gaiaspec_GaiaDR3-3174658066485297152.csv": 3174658066485297152,
    "gaiaspec_Kepler-409.csv": 2128215909315876352,
}
XP_FILES = [
    "gaiaxpy_XP_CONTINUOUS_RAW.csv",
    "gaiaxpy_XP_CONTINUOUS_RAW.ecsv",
    "gaiaxpy_XP_CONTINUOUS_RAW.fits",
    "gaiaxpy_XP_CONTINUOUS_RAW.xml",
]
XP_IDS = [5853498713190525696, 5762406957886626816]
ZIP_ID = 5937083312263887616


def collect(chunks) -> dict[str, np.ndarray]:
    chunks = list(chunks)
    assert chunks, "reader yielded nothing"
    return {k: np.concatenate([c.columns[k] for c in chunks]) for k in chunks[0].columns}


def read_table(path: Path) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Table.read(path, format="ascii.csv")


# ----------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("rvs_mean_spectrum/gaiaspec_Kepler-93.csv", "csv"),
        ("xp_continuous/gaiaxpy_XP_CONTINUOUS_RAW.ecsv", "ecsv"),
        ("xp_continuous/gaiaxpy_XP_CONTINUOUS_RAW.fits", "fits"),
        ("xp_continuous/gaiaxpy_XP_CONTINUOUS_RAW.xml", "votable"),
        (
            "xp_continuous/astroquery_gaia_dr3_source_id_5937083312263887616_dl_products_csv.zip",
            "csv",
        ),  # noqa: E501
        (
            "xp_continuous/astroquery_gaia_dr3_source_id_5937083312263887616_dl_products_ecsv.zip",
            "ecsv",
        ),  # noqa: E501
        ("gaia_source/pyia_gdr3_sm.fits", "fits"),
        ("gaia_source/astroquery_1710099405832VAL-result.vot", "votable"),
    ],
)
def test_detect_format(data_dir: Path, rel: str, fmt: str) -> None:
    assert detect_format(data_dir / rel, ["XP_CONTINUOUS"]) == fmt


# ----------------------------------------------------------------------------- RVS


@pytest.mark.parametrize("name", sorted(RVS_FILES))
def test_rvs_datalink_csv_matches_file(data_dir: Path, name: str) -> None:
    path = data_dir / "rvs_mean_spectrum" / name
    chunks = list(iter_rvs_spectra(path))
    assert len(chunks) == 1 and len(chunks[0]) == 1
    got = chunks[0].columns
    ref = read_table(path)
    assert got["source_id"].tolist() == [RVS_FILES[name]]
    assert got["flux"].shape == (1, 2401) and got["flux"].dtype == np.float32
    flux = np.ma.filled(ref["flux"].astype(float), np.nan).astype(np.float32)
    err = np.ma.filled(ref["flux_error"].astype(float), np.nan).astype(np.float32)
    np.testing.assert_array_equal(got["flux"][0], flux)
    np.testing.assert_array_equal(got["flux_error"][0], err)
    assert got["combined_transits"][0] == ref["combined_transits"][0]
    assert chunks[0].rows.tolist() == [1]


def test_rvs_kepler93_values(data_dir: Path) -> None:
    (chunk,) = iter_rvs_spectra(data_dir / "rvs_mean_spectrum" / "gaiaspec_Kepler-93.csv")
    flux, err = chunk.columns["flux"][0], chunk.columns["flux_error"][0]
    assert flux[0] == np.float32(0.9942193) and flux[1] == np.float32(0.9944692)
    assert err[0] == np.float32(0.009473045)
    assert np.isnan(flux[-1]) and np.isnan(err[-1])  # empty fields at 870.00 nm stay NaN
    assert (chunk.columns["combined_transits"][0], chunk.columns["combined_ccds"][0]) == (17, 47)
    assert chunk.columns["deblended_ccds"][0] == 15


def test_rvs_wavelength_grid_file(data_dir: Path) -> None:
    grid = read_rvs_wavelength(data_dir / "rvs_mean_spectrum" / "gaiaspec_gaia_rvs_wavelength.fits")
    np.testing.assert_allclose(grid, WAVELENGTH_NM, atol=1e-9)


@pytest.fixture(scope="module")
def rvs_pixel_table(data_dir: Path) -> Table:
    """The four DataLink spectra one after the other: a multi-star per-pixel file."""
    return vstack([read_table(data_dir / "rvs_mean_spectrum" / n) for n in sorted(RVS_FILES)])


@pytest.mark.parametrize("fmt", ["csv", "ecsv", "fits", "votable"])
def test_rvs_per_pixel_multi_star_all_containers(
    rvs_pixel_table: Table, tmp_path: Path, fmt: str
) -> None:
    suffix = {"csv": ".csv", "ecsv": ".ecsv", "fits": ".fits", "votable": ".xml"}[fmt]
    path = tmp_path / f"RVS_MEAN_SPECTRUM{suffix}"
    astropy_format = {"csv": "ascii.csv", "ecsv": "ascii.ecsv", "fits": "fits"}.get(fmt, "votable")
    rvs_pixel_table.write(path, format=astropy_format)
    chunks = list(iter_rvs_spectra(path, chunk_stars=3))
    assert [len(c) for c in chunks] == [3, 1]
    got = collect(chunks)
    assert got["source_id"].tolist() == [RVS_FILES[n] for n in sorted(RVS_FILES)]
    flux = np.ma.filled(rvs_pixel_table["flux"].astype(float), np.nan).reshape(4, 2401)
    np.testing.assert_array_equal(got["flux"], flux.astype(np.float32))
    assert np.concatenate([c.rows for c in chunks]).tolist() == [1, 2402, 4803, 7204]


# ------------------------------------------------------------------------------ XP


@pytest.mark.parametrize("name", XP_FILES)
def test_xp_all_containers(data_dir: Path, name: str) -> None:
    got = collect(iter_xp_continuous(data_dir / "xp_continuous" / name))
    assert got["source_id"].tolist() == XP_IDS
    assert got["bp_coefficients"].shape == (2, 55)
    assert got["rp_coefficient_correlations"].shape == (2, 1485)
    assert got["bp_coefficients"][0, 0] == pytest.approx(56947.03696840172, rel=1e-15)
    assert got["bp_coefficients"][1, 0] == pytest.approx(7685.987865952477, rel=1e-15)
    assert got["rp_coefficients"][0, 0] == pytest.approx(735186.2157096652, rel=1e-15)
    assert got["bp_coefficient_errors"][0, 0] == pytest.approx(55.701263, rel=1e-6)
    assert got["bp_coefficient_correlations"][0, 0] == pytest.approx(0.7158656, rel=1e-6)
    assert got["bp_n_relevant_bases"].tolist() == [53, 53]
    assert got["rp_n_relevant_bases"].tolist() == [40, 50]
    assert got["bp_standard_deviation"][0] == pytest.approx(1.1224667, rel=1e-6)
    assert not np.isnan(got["rp_coefficient_errors"]).any()


def test_xp_containers_agree(data_dir: Path) -> None:
    ref = collect(iter_xp_continuous(data_dir / "xp_continuous" / XP_FILES[0]))
    for name in XP_FILES[1:]:
        got = collect(iter_xp_continuous(data_dir / "xp_continuous" / name))
        for key, values in ref.items():
            np.testing.assert_allclose(got[key], values, rtol=1e-6, err_msg=f"{name} {key}")


def test_xp_missing_bp_gives_nan(data_dir: Path) -> None:
    path = data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW_with_missing_BP.csv"
    (chunk,) = iter_xp_continuous(path)
    cols = chunk.columns
    assert cols["source_id"].tolist() == [XP_IDS[0], 5405570973190252288, XP_IDS[1]]
    for key in ("bp_coefficients", "bp_coefficient_errors", "bp_coefficient_correlations"):
        assert np.isnan(cols[key][1]).all()
        assert not np.isnan(cols[key][[0, 2]]).any()
    assert np.isnan(cols["bp_standard_deviation"][1])
    assert chunk.masks["bp_n_relevant_bases"].tolist() == [False, True, False]
    assert cols["rp_n_relevant_bases"][1] == 47
    assert cols["rp_coefficients"][1, 0] == pytest.approx(38.18018501664883)


@pytest.mark.parametrize("kind", ["csv", "ecsv"])
def test_xp_datalink_zip(data_dir: Path, kind: str) -> None:
    name = f"astroquery_gaia_dr3_source_id_5937083312263887616_dl_products_{kind}.zip"
    chunks = list(iter_xp_continuous(data_dir / "xp_continuous" / name))
    assert len(chunks) == 1 and "XP_CONTINUOUS-Gaia DR3" in chunks[0].path
    cols = chunks[0].columns
    assert cols["source_id"].tolist() == [ZIP_ID]
    assert cols["bp_coefficients"][0, 0] == pytest.approx(3325.743093963916, rel=1e-15)
    assert cols["bp_coefficients"][0, 1] == pytest.approx(-392.20328365493384, rel=1e-15)
    assert cols["bp_n_relevant_bases"].tolist() == [22]


def test_xp_18sco_reduced_columns(data_dir: Path) -> None:
    (chunk,) = iter_xp_continuous(data_dir / "xp_continuous" / "gaiaxpy_18Sco-XP-spectra.csv")
    cols = chunk.columns
    assert cols["source_id"].tolist() == [4345775217221821312]
    assert cols["bp_coefficients"][0, 0] == pytest.approx(9226249.48757417, rel=1e-15)
    assert cols["rp_coefficient_correlations"].shape == (1, 1485)
    assert "bp_n_relevant_bases" not in cols  # not in this reduced file


# --------------------------------------------------------------------- gaia_source


def test_gaia_source_fits(data_dir: Path) -> None:
    path = data_dir / "gaia_source" / "pyia_gdr3_sm.fits"
    chunks = list(iter_gaia_source(path, chunk_rows=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    got = collect(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fits.getdata(path, 1)
    assert got["source_id"][0] == 4267180339403392768
    np.testing.assert_array_equal(got["source_id"], ref["source_id"])
    np.testing.assert_array_equal(got["ra"], ref["ra"])
    np.testing.assert_array_equal(got["parallax"], ref["parallax"])
    np.testing.assert_array_equal(got["has_xp_continuous"], ref["has_xp_continuous"])
    np.testing.assert_array_equal(
        got["phot_variable_flag"], np.char.strip(ref["phot_variable_flag"])
    )
    assert np.isnan(got["rvs_spec_sig_to_noise"]).all()  # no RVS spectra in this sample
    assert "classlabel_espels" not in got
    assert chunks[1].rows[0] == 301


def test_gaia_source_votable(data_dir: Path) -> None:
    (chunk,) = iter_gaia_source(data_dir / "gaia_source" / "astroquery_1710099405832VAL-result.vot")
    cols = chunk.columns
    assert cols["source_id"].tolist() == [4583627001381815936, 5348723816842275584]
    assert cols["rvs_spec_sig_to_noise"] == pytest.approx([852.7974, 525.4957], rel=1e-6)
    assert cols["ra"][0] == 268.0676646661466
    assert cols["phot_variable_flag"].tolist() == ["VARIABLE", "VARIABLE"]
    assert cols["has_xp_continuous"].tolist() == [True, True]
    assert cols["non_single_star"].tolist() == [0, 0]


def test_astrophysical_parameters_csv(tmp_path: Path) -> None:
    path = tmp_path / "ap.csv"
    path.write_text("source_id,classlabel_espels,teff_gspspec\n1,ELS_STAR,5000\n2,null,\n")
    (chunk,) = iter_astrophysical_parameters(path)
    assert chunk.columns["source_id"].tolist() == [1, 2]
    assert chunk.columns["classlabel_espels"].tolist() == ["ELS_STAR", ""]
    assert chunk.masks["classlabel_espels"].tolist() == [False, True]
    assert set(chunk.columns) == {"source_id", "classlabel_espels"}


# -------------------------------------------------------------------------- errors


def assert_names(err: ReadError, path: Path, row: int | None, field: str | None) -> None:
    text = str(err)
    assert str(path) in text and err.path.startswith(str(path))
    if row is not None:
        assert err.row == row and f"row {row}" in text
    if field is not None:
        assert err.field == field and f"field {field}" in text


def test_error_truncated_gzip(tmp_path: Path) -> None:
    good = tmp_path / "GaiaSource_full.csv.gz"
    n = 3000
    with open_bulk_writer("gaia_source", good) as w:
        w.write({"source_id": np.arange(n), "ra": np.linspace(0, 1, n), "dec": np.zeros(n)})
    bad = tmp_path / "GaiaSource_cut.csv.gz"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReadError) as info:
        for _ in iter_gaia_source(bad, chunk_rows=500):
            pass
    assert_names(info.value, bad, None, None)
    assert info.value.row is not None and info.value.row > 1
    assert "truncated" in info.value.message


def test_error_ecsv_cut_inside_its_header(tmp_path: Path) -> None:
    """Issue 27, rough edge 1: an ECSV cut off inside its YAML header is refused with where
    its header ends, not with its last comment line taken for the column names."""
    good = tmp_path / "gs.ecsv"
    Table({"source_id": [1, 2], "ra": [1.0, 2.0], "dec": [3.0, 4.0]}).write(good)
    lines = good.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "name: ra" in line) + 1
    bad = tmp_path / "gs_cut.ecsv"
    bad.write_text("".join(lines[:cut]))
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(bad))
    assert_names(info.value, bad, None, None)
    assert (
        f"the header ends at line {cut} without its column line: the file is truncated or "
        "not ECSV" in info.value.message
    )
    assert "required column" not in str(info.value)


def test_error_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "gs.csv"
    path.write_text("source_id,dec\n1,2.0\n")
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert_names(info.value, path, None, "ra")
    assert "required column" in str(info.value)


def test_error_non_numeric_value(tmp_path: Path) -> None:
    path = tmp_path / "gs.csv"
    path.write_text("source_id,ra,dec,parallax\n1,1.0,2.0,0.5\n2,1.0,2.0,abc\n")
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert_names(info.value, path, 2, "parallax")
    assert "abc" in str(info.value)


def test_error_non_numeric_in_array_cell(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW.csv"
    lines = src.read_text().splitlines()
    lines[2] = lines[2].replace("(7685.987865952477,", "(7685.98x,", 1)
    path = tmp_path / "xp.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReadError) as info:
        list(iter_xp_continuous(path))
    assert_names(info.value, path, 2, "bp_coefficients")


def test_error_wrong_coefficient_count(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW.csv"
    lines = src.read_text().splitlines()
    lines[1] = lines[1].replace("(735186.2157096652, ", "(", 1)  # drop one RP coefficient
    path = tmp_path / "xp.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReadError) as info:
        list(iter_xp_continuous(path))
    assert_names(info.value, path, 1, "rp_coefficients")
    assert "expected 55 values, found 54" in str(info.value)


def test_error_2400_pixel_spectrum_per_pixel(data_dir: Path, tmp_path: Path) -> None:
    lines = (data_dir / "rvs_mean_spectrum" / "gaiaspec_Kepler-93.csv").read_text().splitlines()
    path = tmp_path / "rvs.csv"
    path.write_text("\n".join(lines[:-1]) + "\n")  # header + 2400 pixels
    with pytest.raises(ReadError) as info:
        list(iter_rvs_spectra(path))
    assert_names(info.value, path, 2400, "wavelength")
    assert "2400 pixels" in str(info.value)


def test_error_off_grid_pixel(data_dir: Path, tmp_path: Path) -> None:
    lines = (data_dir / "rvs_mean_spectrum" / "gaiaspec_Kepler-93.csv").read_text().splitlines()
    del lines[11]  # the 846.10 nm pixel: data row 11 now holds 846.11 nm
    lines.append(lines[-1].replace(",870.0,", ",870.01,"))
    path = tmp_path / "rvs.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReadError) as info:
        list(iter_rvs_spectra(path))
    assert_names(info.value, path, 11, "wavelength")


def test_error_2400_pixel_spectrum_bulk(tmp_path: Path) -> None:
    path = tmp_path / "RvsMeanSpectrum_bad.csv.gz"
    flux = np.ones((3, 2401), np.float32)
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        w.write({"source_id": np.arange(3), "flux": flux, "flux_error": flux})
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    text[-1] = text[-1].replace("[1.0,", "[", 1)  # third star loses a flux pixel
    path.write_bytes(gzip.compress(("\n".join(text) + "\n").encode()))
    with pytest.raises(ReadError) as info:
        list(iter_rvs_spectra(path))
    assert_names(info.value, path, 3, "flux")
    assert "expected 2401 values, found 2400" in str(info.value)


def test_error_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "mystery.dat"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ReadError) as info:
        detect_format(path)
    assert_names(info.value, path, None, None)
    assert "not a text file: binary content" in str(info.value)
    with pytest.raises(ReadError):
        list(iter_gaia_source(path))


@pytest.mark.parametrize(
    ("content", "gzipped", "says"),
    [
        (b"", False, "empty file"),
        (b"", True, "empty file (nothing inside the gzip stream)"),
        (b"\n  \n\n", False, "empty file (only blank lines)"),
        (b"\x8a\x01\xff\xfegarbage\x00\x13", False, "not a text file: binary content"),
        (b"source_id;ra;dec\n1;2.0;3.0\n", False, "separates its column names by semicolons"),
        (b"source_id\tra\tdec\n1\t2.0\t3.0\n", False, "by tabs"),
        (b"hello world, this is prose\n", False, "not a comma-separated header"),
    ],
)
def test_error_says_what_the_file_is(tmp_path: Path, content, gzipped, says) -> None:
    path = tmp_path / ("GaiaSource_bad.csv.gz" if gzipped else "GaiaSource_bad.csv")
    path.write_bytes(gzip.compress(content) if gzipped else content)
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert_names(info.value, path, None, None)
    assert says in info.value.message
    assert "unknown format" not in info.value.message  # it names what it found instead


def test_error_names_every_missing_required_column(tmp_path: Path) -> None:
    """A CSV of other columns: the columns are named, not an 'unclosed quote' (there is none)."""
    path = tmp_path / "stars.csv"
    path.write_text("name,mag,colour\nVega,0.03,0.0\nSirius,-1.46,0.0\n")
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert "required columns missing: source_id, ra, dec" in info.value.message
    assert "name, mag, colour" in info.value.message and "quote" not in info.value.message
    fits_path = tmp_path / "allStar-cut.fits"
    write_allstar(fits_path, {"APOGEE_ID": np.array(["2M1"]), "TEFF": np.array([5000.0])})
    with pytest.raises(ReadError) as info:
        list(iter_apogee_allstar(fits_path))
    assert "TELESCOPE, FIELD, GAIAEDR3_SOURCE_ID" in info.value.message


def test_header_reports_columns_and_the_synthetic_marker(tmp_path: Path) -> None:
    path = tmp_path / "GaiaSource_marked.csv.gz"
    marker = synthetic_sky_marker({"seed": 4})
    with open_bulk_writer("gaia_source", path, meta=marker) as w:
        w.write({"source_id": np.arange(3), "ra": np.zeros(3), "dec": np.zeros(3)})
    header = read_header(path)
    assert (header.format, header.columns) == ("ecsv", ("source_id", "ra", "dec"))
    assert is_synthetic_sky(header.params) and header.params["synthetic_sky"] == {"seed": "4"}
    assert sum(len(c) for c in iter_gaia_source(path)) == 3  # the marker does not disturb reading
    allstar = tmp_path / "allStar-marked.fits"
    write_allstar(allstar, {"APOGEE_ID": np.array(["2M1"])}, meta=marker)
    assert is_synthetic_sky(read_header(allstar).params)
    plain = tmp_path / "GaiaSource_plain.csv"
    plain.write_text("source_id,ra,dec\n1,2.0,3.0\n")
    assert not is_synthetic_sky(read_header(plain).params)


def test_error_corrupt_fits(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.fits"
    path.write_bytes((data_dir / "gaia_source" / "pyia_gdr3_sm.fits").read_bytes()[:100_000])
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert_names(info.value, path, None, None)


def test_error_wrong_field_count_line(tmp_path: Path) -> None:
    path = tmp_path / "gs.csv"
    path.write_text("source_id,ra,dec\n1,1.0,2.0\n2,1.0,2.0\n3,1.0\n4,1.0,2.0\n")
    with pytest.raises(ReadError) as info:
        list(iter_gaia_source(path))
    assert_names(info.value, path, 3, None)


# ------------------------------------------------------------------------ chunking


def test_chunking_same_data_any_chunk_size(tmp_path: Path) -> None:
    path = tmp_path / "GaiaSource_x.csv.gz"
    rng = np.random.default_rng(3)
    n = 2345
    parallax = rng.normal(size=n)
    parallax[::5] = np.nan
    with open_bulk_writer("gaia_source", path) as w:
        w.write({"source_id": np.arange(n) + 10**18, "ra": rng.uniform(0, 360, n),
                 "dec": rng.uniform(-90, 90, n), "parallax": parallax})  # fmt: skip
    one = collect(iter_gaia_source(path, chunk_rows=10**6))
    chunks = list(iter_gaia_source(path, chunk_rows=500))
    assert [c.first_row for c in chunks] == [1, 501, 1001, 1501, 2001]
    many = collect(chunks)
    for key in one:
        np.testing.assert_array_equal(many[key], one[key])
    np.testing.assert_array_equal(one["parallax"], parallax)


def _rvs_file(path: Path, n: int) -> None:
    rng = np.random.default_rng(n)
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        for start in range(0, n, 50):
            m = min(50, n - start)
            flux = rng.normal(1, 0.01, (m, 2401)).astype(np.float32)
            w.write({"source_id": np.arange(start, start + m), "flux": flux, "flux_error": flux})


def test_rvs_memory_does_not_scale_with_file_size(tmp_path: Path) -> None:
    peaks = []
    for n in (40, 400):
        path = tmp_path / f"RvsMeanSpectrum_{n}.csv.gz"
        _rvs_file(path, n)
        tracemalloc.start()
        count = sum(len(c) for c in iter_rvs_spectra(path, chunk_stars=20))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == n
    # holding the extra 360 spectra would cost 360 x 2 x 2401 x 4 B = 6.9 MB; the growth must be
    # a small fraction of that (the read-ahead thread's timing moves the peak by ~0.5 MB)
    held = 360 * 2 * 2401 * 4
    assert peaks[1] - peaks[0] < 0.15 * held, peaks
