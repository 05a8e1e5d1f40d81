"""/datalink/spectra from the real web service: one file, one row (or zip entry) per requested
ID in the order asked, the stored float32 bits, an error row for an unknown ID, DALI errors."""

import io
import urllib.parse
import urllib.request
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from archive.catalogue.spectra import read_spectrum

from .conftest import RVS_STARS, XP_STARS
from .test_products import get, same_bits, table

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN = 1234567890123


def post(url: str, data: bytes, ctype: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def asked() -> list[str]:
    rvs = list(RVS_STARS.values())
    return [str(rvs[0]), str(UNKNOWN), "not-an-id", str(XP_STARS[0]), f"Gaia DR3 {rvs[1]}"]


def check_rows(sids, errors, flux, bp) -> None:
    rvs = list(RVS_STARS.values())
    assert list(sids[:2]) == [rvs[0], UNKNOWN] and sids[3] == XP_STARS[0] and sids[4] == rvs[1]
    assert errors[1] == f"no source {UNKNOWN} in this archive"
    assert "not a Gaia DR3 source_id" in errors[2]
    assert "no RVS mean spectrum" in errors[3] and np.isnan(flux[3]).all()
    assert not np.isnan(bp[3]).all()
    for k in (0, 4):
        assert "RVS" not in errors[k]
        assert same_bits(flux[k], read_spectrum(sids[k])[0])
    assert np.isnan(flux[1]).all() and np.isnan(bp[1]).all()


@pytest.mark.parametrize("fmt", ["fits", "votable", "parquet"])
def test_one_row_per_id_in_order_with_errors(web_service, catalogue, fmt):
    query = urllib.parse.urlencode({"ID": ",".join(asked()), "RESPONSEFORMAT": fmt})
    status, headers, body = get(f"{web_service}/datalink/spectra?{query}")
    assert status == 200, body[:500]
    if fmt == "parquet":
        t = pq.read_table(io.BytesIO(body)).to_pydict()
        sids = [s if s is not None else 0 for s in t["source_id"]]
        flux = np.array(t["flux"], dtype=np.float32)
        bp = np.array(t["bp_coefficients"], dtype=np.float64)
        errors = t["error"]
    else:
        t = table(body, fmt)
        sids, errors = list(np.ma.filled(t["source_id"], 0)), [str(e) for e in t["error"]]
        flux = np.ma.filled(np.ma.asarray(t["flux"]), np.nan)
        bp = np.ma.filled(np.ma.asarray(t["bp_coefficients"]), np.nan)
    assert len(sids) == 5
    check_rows(sids, [e.strip() for e in errors], flux, bp)


def test_fits_is_valid_and_streams_with_a_known_length_of_rows(web_service, catalogue):
    query = urllib.parse.urlencode({"ID": asked()}, doseq=True)
    status, headers, body = get(f"{web_service}/datalink/spectra?{query}")
    assert status == 200 and headers["Content-Type"] == "application/fits"
    assert len(body) % 2880 == 0
    with fits.open(io.BytesIO(body)) as hdus:
        hdus.verify("exception")
        assert hdus[1].header["NAXIS2"] == 5 and hdus[1].header["NPIX"] == 2401


def test_zip_has_one_fits_per_id_from_an_upload(web_service, catalogue):
    ids = asked()
    boundary = "bulkboundary"
    csv = "source_id\n" + "\n".join(ids) + "\n"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=RESPONSEFORMAT\r\n\r\nzip\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=UPLOAD; filename=ids.csv\r\n"
        f"Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    ).encode()
    status, _, data = post(
        f"{web_service}/datalink/spectra", body, f"multipart/form-data; boundary={boundary}"
    )
    assert status == 200, data[:500]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == 5 and names[1] == f"000002_gaia_dr3_{UNKNOWN}.fits"
        assert names[2] == "000003_gaia_dr3_invalid.fits"
        with fits.open(io.BytesIO(archive.read(names[0]))) as hdus:
            sid = list(RVS_STARS.values())[0]
            assert hdus[1].data["source_id"][0] == sid
            assert same_bits(hdus[1].data["flux"][0], read_spectrum(sid)[0])


def test_more_than_100000_ids_is_a_dali_error(web_service, catalogue):
    ids = "\n".join(str(i) for i in range(1, 100_002))
    data = urllib.parse.urlencode({"ID": ids}).encode()
    status, _, body = post(
        f"{web_service}/datalink/spectra", data, "application/x-www-form-urlencoded"
    )
    assert status == 413 and b'name="QUERY_STATUS" value="ERROR"' in body
    assert b"at most 100000" in body


def test_100000_ids_are_accepted(web_service, catalogue):
    """No 5 000-ID cap: 100 000 IDs (a few real, the rest unknown) give 100 000 rows."""
    rvs = list(RVS_STARS.values())
    ids = [str(s) for s in rvs] + [str(10**12 + i) for i in range(100_000 - len(rvs))]
    data = urllib.parse.urlencode({"ID": "\n".join(ids), "FORMAT": "parquet"}).encode()
    status, _, body = post(
        f"{web_service}/datalink/spectra", data, "application/x-www-form-urlencoded"
    )
    assert status == 200, body[:300]
    t = pq.read_table(io.BytesIO(body), columns=["source_id", "error"])
    assert t.num_rows == 100_000
    assert t["source_id"][0].as_py() == rvs[0] and "RVS" not in t["error"][0].as_py()
    assert t["error"][-1].as_py() == f"no source {10**12 + 99_999 - len(rvs)} in this archive"


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("ID=1&RESPONSEFORMAT=hdf5", 400, b"unknown format 'hdf5'"),
        ("RESPONSEFORMAT=fits", 400, b"no IDs"),
        ("JOB=999999", 404, b"no job 999999"),
    ],
)
def test_bad_requests_are_dali_errors(web_service, catalogue, query, status, message):
    got, headers, body = get(f"{web_service}/datalink/spectra?{query}")
    assert got == status and message in body, body[:300]
    assert headers["Content-Type"].startswith("application/x-votable+xml")


def test_the_job_page_button_fetches_the_spectra_of_the_jobs_result(web_service, catalogue):
    """The web query page's job, then its page's bulk spectra form (JOB=<id>), as a browser
    posts it, in the same session: one row per result row, in the result's order."""
    import re
    import time

    import requests

    session = requests.Session()
    page = session.get(f"{web_service}/query/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    query = "SELECT source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn ORDER BY source_id DESC"
    posted = session.post(
        f"{web_service}/query/",
        data={"csrfmiddlewaretoken": token, "lang": "ADQL", "query": query},
        headers={"Referer": f"{web_service}/query/"},
        timeout=30,
    )
    job_url = posted.url
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and 'id="bulk-spectra"' not in posted.text:
        time.sleep(0.3)
        posted = session.get(job_url, timeout=30)
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*id="bulk-spectra">', posted.text)
    assert form, posted.text[:2000]
    job = re.search(r'name="JOB" value="(\d+)"', posted.text)[1]
    got = session.post(
        f"{web_service}{form[1]}", data={"JOB": job, "RESPONSEFORMAT": "fits"}, timeout=60
    )
    assert got.status_code == 200, got.text[:500]
    with fits.open(io.BytesIO(got.content)) as hdus:
        assert list(hdus[1].data["source_id"]) == sorted(RVS_STARS.values(), reverse=True)
        assert not any("RVS" in e for e in hdus[1].data["error"])
    # an unknown job is a DALI error
    status, _, body = get(f"{web_service}/datalink/spectra?JOB=0")
    assert status == 404 and b"no job 0" in body
