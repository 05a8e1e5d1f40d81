"""DataLink /datalink/links against the real web service: the links of each source, error rows,
many IDs, STILTS datalinklint and votlint, and pyvo's DataLink from a TAP result."""

import io
import re
import subprocess
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from archive.datalink.views import MAX_IDS

from .conftest import RVS_STARS, TRAINING_STAR, XP_STARS
from .test_products import get

pytestmark = pytest.mark.django_db(transaction=True)
DATALINK_TYPE = "application/x-votable+xml;content=datalink"


def links_url(base: str, *ids) -> str:
    return f"{base}/datalink/links?" + urllib.parse.urlencode([("ID", i) for i in ids])


def rows(body: bytes) -> list[dict]:
    table = parse_single_table(io.BytesIO(body)).to_table()
    return [{k: row[k] for k in table.colnames} for row in table]


def stilts(tool: str, location: str) -> str:
    out = subprocess.run(
        ["stilts", tool, f"votable={location}"], capture_output=True, text=True, timeout=300
    )
    return out.stdout + out.stderr


def test_links_of_each_source(web_service, catalogue):
    trained = TRAINING_STAR
    other = RVS_STARS["gaiaspec_Kepler-93.csv"]
    xp_only = XP_STARS[0]
    status, headers, body = get(links_url(web_service, trained, f"Gaia DR3 {other}", xp_only))
    assert status == 200 and headers["Content-Type"] == DATALINK_TYPE
    by_id: dict[str, list[dict]] = {}
    for r in rows(body):
        by_id.setdefault(str(r["ID"]), []).append(r)
    semantics = {i: sorted(str(r["semantics"]) for r in rs) for i, rs in by_id.items()}
    assert semantics[str(trained)] == sorted(
        ["#this", "#progenitor", "#progenitor", "#auxiliary", "#auxiliary"]
    )
    assert semantics[f"Gaia DR3 {other}"] == [
        "#auxiliary",
        "#progenitor",
        "#progenitor",
        "#this",
    ]
    assert semantics[str(xp_only)] == ["#progenitor", "#progenitor", "#this"]  # XP, no RVS
    for rs in by_id.values():
        for r in rs:
            assert not r["error_message"] and r["access_url"] and r["content_type"]
            status, headers, data = get(str(r["access_url"]))
            assert status == 200, (r["access_url"], data[:300])
            # a product's exact size, FITS or VOTable; a query's or the report page's is not
            # known before it is made
            length = r["content_length"]
            if r["local_semantics"] in ("rvs-spectrum", "xp-coefficients"):
                assert not np.ma.is_masked(length) and int(length) == len(data), r
            else:
                assert np.ma.is_masked(length), r
            assert headers["Content-Type"].split(";")[0] == str(r["content_type"]).split(";")[0]
    auxiliary = next(r for r in by_id[str(trained)] if r["local_semantics"] == "apogee-labels")
    labels = Table.read(io.BytesIO(get(str(auxiliary["access_url"]))[2]), format="votable")
    assert list(labels["source_id"]) == [trained] and labels["apogee_teff"][0] == 5100.0


def test_unknown_and_malformed_ids_are_error_rows(web_service, catalogue):
    good = RVS_STARS["gaiaspec_Kepler-409.csv"]
    status, _, body = get(links_url(web_service, "12345", "abc", good, "1" * 30))
    assert status == 200
    found = rows(body)
    errors = {str(r["ID"]): str(r["error_message"]) for r in found if r["error_message"]}
    assert errors["12345"].startswith("NotFoundFault")
    assert errors["abc"].startswith("UsageFault") and errors["1" * 30].startswith("UsageFault")
    assert any(str(r["ID"]) == str(good) and r["semantics"] == "#this" for r in found)


def test_requests_without_ids_or_with_too_many_are_refused(web_service, catalogue):
    status, _, body = get(f"{web_service}/datalink/links")
    assert status == 400 and b"ID is required" in body
    data = urllib.parse.urlencode([("ID", str(i)) for i in range(MAX_IDS + 1)]).encode()
    request = urllib.request.Request(f"{web_service}/datalink/links", data=data)
    try:
        urllib.request.urlopen(request, timeout=60)
        raise AssertionError("accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 413 and b"QUERY_STATUS" in err.read()


def test_ten_thousand_ids_in_one_post(web_service, catalogue):
    ids = [str(s) for s in RVS_STARS.values()] + [str(10**12 + i) for i in range(MAX_IDS - 4)]
    data = urllib.parse.urlencode([("ID", i) for i in ids]).encode()
    start = time.monotonic()
    with urllib.request.urlopen(
        urllib.request.Request(f"{web_service}/datalink/links", data=data), timeout=60
    ) as r:
        body = r.read()
    elapsed = time.monotonic() - start
    found = rows(body)
    assert len({str(r["ID"]) for r in found}) == MAX_IDS
    assert sum(1 for r in found if r["error_message"]) == MAX_IDS - 4
    print(f"10 000 IDs: {elapsed:.2f} s, {len(body) / 1e6:.1f} MB")
    assert elapsed < 30


def test_datalinklint_and_votlint_report_no_errors(web_service, catalogue):
    url = links_url(web_service, *RVS_STARS.values(), XP_STARS[0], "42", "bad id")
    report = stilts("datalinklint", url)
    summary = re.search(r"Totals: Errors: (\d+); Warnings: (\d+)", report)
    print(report)
    assert summary and int(summary.group(1)) == 0, report
    votlint = stilts("votlint", url)
    print(votlint)
    assert not [line for line in votlint.splitlines() if line.upper().startswith("ERROR")]
    assert "WARNING" not in votlint


def test_pyvo_datalinks_from_a_tap_result(web_service, catalogue):
    import pyvo

    tap = pyvo.dal.TAPService(f"{web_service}/tap")
    result = tap.search("SELECT source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn ORDER BY source_id")
    assert len(result) == len(RVS_STARS)
    seen = 0
    # preserve_order: one request per row. pyvo's batched mode matches the echoed ID (char, as
    # DataLink requires) against the rows' source_id values (int64) and never finds them
    # (docs/datalink.md)
    for row, links in zip(result, result.iter_datalinks(preserve_order=True), strict=True):
        assert isinstance(links, pyvo.dal.adhoc.DatalinkResults)
        assert set(links["ID"]) == {str(row["source_id"])}  # the row's own links
        # (bysemantics() would fetch the vocabulary from the network)
        spectra = [r for r in links if r.semantics == "#progenitor"]
        fits_link = next(
            r for r in spectra if r.content_type == "application/fits" and "rvs" in r.access_url
        )
        data = get(fits_link.access_url)[2]
        spectrum = Table.read(io.BytesIO(data), format="fits")
        assert str(spectrum["wavelength"].unit) == "Angstrom" and len(spectrum) == 2401
        seen += 1
    assert seen == len(RVS_STARS)
    # a result without source_id carries no descriptor
    plain = tap.search("SELECT teff FROM gaiadr3_rvs_cnn.rvs_cnn")
    assert not list(plain.iter_adhocservices())
