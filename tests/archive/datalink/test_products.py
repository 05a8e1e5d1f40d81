"""The RVS spectrum and XP products from the real web service, read back by astropy: units,
header and the stored float32 bits in every format."""

import io
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.units import UnitsWarning

from archive.catalogue.spectra import read_spectrum
from archive.datalink import products
from labeling.io import iter_xp_continuous

from .conftest import RVS_STARS, XP_STARS, read_table

pytestmark = pytest.mark.django_db(transaction=True)


def get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def table(data: bytes, fmt: str) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        if fmt == "csv":
            return Table.read(io.BytesIO(data), format="ascii.csv")
        if fmt == "ecsv":
            return Table.read(data.decode(), format="ascii.ecsv")
        if fmt == "votable":
            return Table.read(io.BytesIO(data), format="votable")
        return Table.read(io.BytesIO(data), format="fits")


def same_bits(got, expected: np.ndarray) -> bool:
    """The same float32 bits at every pixel with data, NaN (or null) at the same pixels."""
    got = np.asarray(np.ma.asarray(got).filled(np.nan), dtype=np.float32)
    nan = np.isnan(expected)
    return np.array_equal(np.isnan(got), nan) and np.array_equal(
        got[~nan].view(np.uint32), expected[~nan].view(np.uint32)
    )


@pytest.mark.parametrize("fmt", ["fits", "votable", "csv", "ecsv"])
def test_rvs_spectrum_reads_back_to_the_stored_bits(web_service, catalogue, fmt):
    for sid in RVS_STARS.values():
        status, headers, body = get(f"{web_service}/datalink/rvs/{sid}?RESPONSEFORMAT={fmt}")
        assert status == 200, body[:500]
        flux, flux_error = read_spectrum(sid)
        t = table(body, fmt)
        assert len(t) == 2401
        assert same_bits(t["flux"], flux) and same_bits(t["flux_error"], flux_error)
        wave = np.asarray(t["wavelength"], dtype=np.float64)
        assert wave[0] == 8460.0 and wave[-1] == 8700.0
        assert np.allclose(np.diff(wave), 0.1, atol=1e-9)
        if fmt != "csv":  # CSV carries no units
            assert str(t["wavelength"].unit) == "Angstrom"
        if fmt in ("fits", "ecsv"):
            assert t.meta["SOURCEID"] == sid


def test_rvs_fits_header_names_the_source_sn_and_grid(web_service, catalogue):
    sid = RVS_STARS["gaiaspec_HD176650.csv"]
    status, headers, body = get(f"{web_service}/datalink/rvs/{sid}")
    assert status == 200 and headers["Content-Type"] == "application/fits"
    with fits.open(io.BytesIO(body), checksum=True) as hdus:
        head = hdus[1].header
        assert head["SOURCEID"] == sid and head["OBJECT"] == f"Gaia DR3 {sid}"
        assert head["SNR"] == pytest.approx(catalogue_snr(sid))
        assert (head["WAVEMIN"], head["WAVEMAX"], head["NPIX"]) == (8460.0, 8700.0, 2401)
        assert head["TUNIT1"] == "Angstrom" and hdus[1].columns.names[:3] == [
            "wavelength",
            "flux",
            "flux_error",
        ]
        assert hdus[0].header["SOURCEID"] == sid


def catalogue_snr(sid: int) -> float:
    from archive.catalogue.models import GaiaSource

    return GaiaSource.objects.get(pk=sid).rvs_spec_sig_to_noise


XP_FILE = "gaiaxpy_XP_CONTINUOUS_RAW.ecsv"  # the catalogue's XP stars, in Gaia's own layout
BANDS = ("bp", "rp")


def xp_read_back(body: bytes, tmp_path, name: str) -> dict:
    """The product read by the reader that ingests Gaia's own XP_CONTINUOUS files."""
    path = tmp_path / name
    path.write_bytes(body)
    (chunk,) = iter_xp_continuous(path)
    return {k: np.ma.masked_array(v, chunk.masks.get(k, False)) for k, v in chunk.columns.items()}


@pytest.mark.parametrize("fmt", ["fits", "votable", "csv", "ecsv"])
def test_xp_product_is_gaias_xp_continuous_with_the_correlations(
    web_service, catalogue, data_dir, tmp_path, fmt
):
    reference = read_table(data_dir / "xp_continuous" / XP_FILE)
    served = 0
    for row in reference:
        sid = int(row["source_id"])
        status, headers, body = get(f"{web_service}/datalink/xp/{sid}?RESPONSEFORMAT={fmt}")
        assert status == 200, body[:300]
        assert f"xp_continuous_{sid}" in headers["Content-Disposition"]
        got = xp_read_back(body, tmp_path, f"{sid}.{fmt}")
        assert got["source_id"].tolist() == [sid]
        for band in BANDS:
            np.testing.assert_array_equal(
                got[f"{band}_coefficients"][0], row[f"{band}_coefficients"]
            )
            for name in ("coefficient_errors", "coefficient_correlations"):  # float32 in DR3
                expected = np.asarray(row[f"{band}_{name}"], dtype=np.float32)
                assert same_bits(got[f"{band}_{name}"][0], expected), (band, name)
            assert got[f"{band}_coefficient_correlations"].shape == (1, 1485)
            assert np.float32(got[f"{band}_standard_deviation"][0]) == np.float32(
                row[f"{band}_standard_deviation"]
            )
            assert got[f"{band}_n_relevant_bases"][0] == row[f"{band}_n_relevant_bases"]
        if fmt != "csv":  # CSV carries no units
            t = table(body, fmt)
            assert len(t) == 1 and str(t["rp_coefficients"].unit) == "e-/s"
            assert t["bp_n_parameters"][0] == 55
        served += 1
    assert served == 2


@pytest.mark.parametrize("fmt", ["fits", "votable", "csv", "ecsv"])
def test_xp_product_of_a_source_without_bp(fmt, tmp_path):
    rp = np.linspace(-1, 1, 55)
    stored = {
        "rp_coefficients": rp.tolist(),
        "rp_coefficient_errors": [0.5] * 55,
        "rp_coefficient_correlations": [0.25] * 1485,
        "rp_standard_deviation": 1.5,
        "rp_n_relevant_bases": 40,
    }
    product = products.xp_product_of(5405570973190252288, stored)
    body = products.render(product, products.PRODUCT_FORMATS[fmt])
    got = xp_read_back(body, tmp_path, f"xp.{fmt}")
    assert np.isnan(got["bp_coefficients"].filled(np.nan)).all()
    assert np.ma.is_masked(got["bp_n_relevant_bases"][0])
    np.testing.assert_array_equal(got["rp_coefficients"][0], rp)
    assert (got["rp_coefficient_correlations"][0] == np.float32(0.25)).all()
    if fmt == "fits":  # every source's FITS file has one size, given as content_length
        assert len(body) == products.content_length("xp_continuous", "fits")


def test_product_errors_are_dali_documents(web_service, catalogue):
    cases = {
        "/datalink/rvs/123": 404,  # no such source
        f"/datalink/rvs/{XP_STARS[0]}": 404,  # a source without an RVS spectrum
        "/datalink/rvs/not-a-number": 400,
        f"/datalink/rvs/{RVS_STARS['gaiaspec_Kepler-93.csv']}?RESPONSEFORMAT=png": 400,
        f"/datalink/xp/{RVS_STARS['gaiaspec_Kepler-93.csv']}": 404,
    }
    for path, expected in cases.items():
        status, headers, body = get(web_service + path)
        assert status == expected, (path, body[:300])
        assert b'name="QUERY_STATUS" value="ERROR"' in body
