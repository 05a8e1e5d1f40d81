"""Every result VOTable says who published its rows, from which model version, and how to cite
them (INFOs, as DaCHS writes them), and so does the VOSI tableset; on the web tests' sky."""

from __future__ import annotations

import io
from xml.etree import ElementTree as ET

import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse

from tests.archive.web.sky import sky_fixture

pytestmark = pytest.mark.django_db

PAPER_DOI = "10.1051/0004-6361/202347122"
VS = "{http://www.ivoa.net/xml/VOSITables/v1.0}"

sky = sky_fixture("provsky")


def _infos(content: bytes) -> dict:
    resource = parse(io.BytesIO(content)).resources[0]
    return {i.name: i for i in resource.infos}


def _check(infos: dict, published: str) -> None:
    assert infos["model_version"].value == published
    assert infos["citation"].value == f"http://testserver/versions/{published}/"
    assert published in infos["citation"].content and PAPER_DOI in infos["citation"].content
    assert infos["reference_url"].value == f"https://doi.org/{PAPER_DOI}"
    assert infos["publisher"].value
    assert infos["request_date"].value.endswith("Z")


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_tap_sync_votables_carry_citation_infos(client, sky, fmt):
    q = "SELECT TOP 3 source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn"
    r = client.get("/tap/sync", {"LANG": "ADQL", "QUERY": q, "FORMAT": fmt})
    assert r.status_code == 200
    _check(_infos(b"".join(r.streaming_content)), sky.published)


def test_parquet_votable_metadata_carries_them_too(client, sky):
    q = "SELECT TOP 3 source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn"
    r = client.get("/tap/sync", {"LANG": "ADQL", "QUERY": q, "FORMAT": "parquet"})
    meta = pq.read_schema(io.BytesIO(b"".join(r.streaming_content))).metadata
    _check(_infos(meta[b"IVOA.VOTable-Parquet.content"]), sky.published)


def test_cone_search_and_search_downloads_carry_them(client, sky):
    cone = client.get("/scs", {"RA": 0, "DEC": 0, "SR": 180})
    _check(_infos(b"".join(cone.streaming_content)), sky.published)
    download = client.get("/search/download", {"flags": "clean", "format": "votable"})
    _check(_infos(b"".join(download.streaming_content)), sky.published)


def test_vosi_tables_say_how_to_cite_the_published_schema(client, sky):
    root = ET.fromstring(client.get("/tap/tables", {"detail": "min"}).content)
    schemas = {s.findtext("name"): s.findtext("description") for s in root.iter("schema")}
    text = schemas["gaiadr3_rvs_cnn"]
    assert "Please cite" in text and sky.published in text and PAPER_DOI in text
    assert "Please cite" not in (schemas.get("tap_schema") or schemas.get("TAP_SCHEMA") or "")
