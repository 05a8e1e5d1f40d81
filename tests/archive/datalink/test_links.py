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
from astropy.io.votable import parse, parse_single_table
from astropy.table import Table

from archive.datalink.bulk_ids import MAX_BULK_IDS
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


def post_links(base: str, ids, user_agent: str = "") -> bytes:
    data = urllib.parse.urlencode([("ID", str(i)) for i in ids]).encode()
    headers = {"User-Agent": user_agent} if user_agent else {}
    request = urllib.request.Request(f"{base}/datalink/links", data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as r:
        return r.read()


def test_requests_without_ids_or_with_too_many_are_refused(web_service, catalogue):
    status, _, body = get(f"{web_service}/datalink/links")
    assert status == 400 and b"ID is required" in body
    try:
        post_links(web_service, range(MAX_BULK_IDS + 1))
        raise AssertionError("accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 413 and b"QUERY_STATUS" in err.read()


def test_more_ids_than_one_document_answers_end_in_overflow(web_service, catalogue):
    ids = [10**12 + i for i in range(MAX_IDS + 5)]
    table = parse_single_table(io.BytesIO(post_links(web_service, ids)))
    answered = [str(v) for v in table.array["ID"]]
    assert answered == [str(i) for i in ids[:MAX_IDS]]  # the first MAX_IDS, in order
    root = parse(io.BytesIO(post_links(web_service, ids)))
    status = [i.value for i in root.resources[0].infos if i.name == "QUERY_STATUS"]
    assert status == ["OK", "OVERFLOW"]
    below = parse(io.BytesIO(post_links(web_service, ids[:3])))
    assert [i.value for i in below.resources[0].infos if i.name == "QUERY_STATUS"] == ["OK"]


def test_the_id_column_is_char_but_long_for_pyvo_1(web_service, catalogue):
    good = RVS_STARS["gaiaspec_Kepler-409.csv"]
    pyvo_agent = "pyVO/1.10.0 Python/3.11.2 (Linux) (IVOA-science)"
    for agent, datatype in [("", "char"), ("STILTS/3.4", "char"), (pyvo_agent, "long")]:
        table = parse_single_table(io.BytesIO(post_links(web_service, [good, 42], agent)))
        assert table.get_field_by_id_or_name("ID").datatype == datatype, agent
        assert {int(v) for v in table.array["ID"]} == {good, 42}
    # an ID that is not a plain integer keeps the column char, so it can be echoed as sent
    mixed = post_links(web_service, [good, "Gaia DR3 42"], pyvo_agent)
    assert parse_single_table(io.BytesIO(mixed)).get_field_by_id_or_name("ID").datatype == "char"
    assert (
        parse_single_table(io.BytesIO(post_links(web_service, [good], "pyVO/2.0")))
        .get_field_by_id_or_name("ID")
        .datatype
        == "char"
    )


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
    # preserve_order: one request per row, in row order (the batched default: the test below)
    for row, links in zip(result, result.iter_datalinks(preserve_order=True), strict=True):
        assert isinstance(links, pyvo.dal.adhoc.DatalinkResults)
        assert {int(i) for i in links["ID"]} == {int(row["source_id"])}  # the row's own links
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


def test_pyvo_default_iter_datalinks_gives_each_row_its_own_links(web_service, catalogue):
    """pyVO's batched default over a result longer than one links document: every row's own
    links (``original_row``), every row once, no exception."""
    import pyvo
    from astropy.table import Table as ATable

    known = sorted(RVS_STARS.values())
    ids = np.array(known + [10**12 + 7 * i for i in range(MAX_IDS + 50)], dtype=np.int64)
    upload = ATable({"source_id": ids[::-1], "k": np.arange(len(ids))})
    tap = pyvo.dal.TAPService(f"{web_service}/tap")
    result = tap.search(
        "SELECT u.source_id, u.k, c.teff FROM TAP_UPLOAD.t AS u"
        " LEFT JOIN gaiadr3_rvs_cnn.rvs_cnn AS c ON c.source_id = u.source_id",
        uploads={"t": upload},
        maxrec=len(ids) + 1,
    )
    assert len(result) == len(ids)
    seen = {}
    for links in result.iter_datalinks():  # the default: batched
        row = links.original_row
        assert row is not None
        echoed = {int(v) for v in links["ID"]}
        assert echoed == {int(row["source_id"])}  # the row's own links
        seen[int(row["source_id"])] = links
    assert sorted(seen) == sorted(ids.tolist())  # every row, once
    for sid in known:
        semantics = {r.semantics for r in seen[sid]}
        assert "#this" in semantics and "#progenitor" in semantics
    unknown = seen[10**12]
    assert all(r.error_message.startswith("NotFoundFault") for r in unknown)
