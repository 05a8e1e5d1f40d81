"""Citation records of model versions (DataCite JSON/XML, BibTeX), the version pages, the "how
to cite" box, and the OAI-PMH publishing registry, on the web tests' small published sky."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree as ET

import pytest

from tests.archive.web.sky import sky_fixture

pytestmark = pytest.mark.django_db

OAI = "{http://www.openarchives.org/OAI/2.0/}"
RI = "{http://www.ivoa.net/xml/RegistryInterface/v1.0}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DATACITE = "{http://datacite.org/schema/kernel-4}"
PAPER_DOI = "10.1051/0004-6361/202347122"


sky = sky_fixture("citesky")


def test_datacite_json_names_version_paper_training_and_predecessor(client, sky):
    r = client.get(f"/versions/{sky.published}/citation.json")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.datacite.datacite+json"
    doc = json.loads(r.content)
    assert doc["version"] == sky.published
    assert doc["url"] == f"http://testserver/versions/{sky.published}/"
    assert doc["types"]["resourceTypeGeneral"] == "Dataset"
    relations = {(x["relationType"], x["relatedIdentifier"]) for x in doc["relatedIdentifiers"]}
    assert ("IsDocumentedBy", PAPER_DOI) in relations
    assert ("IsDerivedFrom", "10.5270/esa-qa4lep3") in relations  # Gaia DR3
    # the older ready version is its predecessor, and names this one as its successor
    assert ("IsNewVersionOf", f"http://testserver/versions/{sky.older}/") in relations
    older = json.loads(client.get(f"/versions/{sky.older}/citation.json").content)
    assert {
        "relationType": "IsPreviousVersionOf",
        "relatedIdentifier": f"http://testserver/versions/{sky.published}/",
        "relatedIdentifierType": "URL",
    } in older["relatedIdentifiers"]
    methods = next(d for d in doc["descriptions"] if d["descriptionType"] == "Methods")
    held = sum(sky.training.values())
    assert f"trained on {len(sky.training)} stars" in methods["description"]
    assert f"{held} of them held out" in methods["description"]


def test_datacite_xml_is_the_kernel_4_record(client, sky):
    r = client.get(f"/versions/{sky.published}/citation.xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{DATACITE}resource"
    assert root.find(f"{DATACITE}version").text == sky.published
    assert root.find(f"{DATACITE}identifier").get("identifierType") == "URL"
    kinds = {(el.get("relationType"), el.text) for el in root.iter(f"{DATACITE}relatedIdentifier")}
    assert ("IsDocumentedBy", PAPER_DOI) in kinds


def test_bibtex_entry_parses_as_one_misc_entry(client, sky):
    text = client.get(f"/versions/{sky.published}/citation.bib").content.decode()
    assert text.startswith("@misc{RVSCNN_")
    assert text.count("{") == text.count("}")
    fields = dict(re.findall(r"^  (\w+) = (.*?),?$", text, re.M))
    assert {"author", "title", "year", "version", "url", "note"} <= fields.keys()
    assert sky.published in fields["version"]
    assert PAPER_DOI in fields["note"]


def test_unready_or_unknown_versions_have_no_record(client, sky):
    from archive.catalogue.models import ModelVersion

    ModelVersion.objects.create(name="still-training", status="training")
    assert client.get("/versions/still-training/").status_code == 404
    assert client.get("/versions/nope/citation.json").status_code == 404
    assert client.get(f"/versions/{sky.published}/citation.pdf").status_code == 404


def test_version_page_shows_citation_and_provenance(client, sky):
    html = client.get(f"/versions/{sky.published}/").content.decode()
    assert 'id="citation-text"' in html and sky.published in html
    assert f"{len(sky.training)} stars with APOGEE DR17 labels" in html
    assert f'href="/versions/{sky.older}/"' in html  # predecessor link
    listing = client.get("/versions/").content.decode()
    assert sky.published in listing and sky.older in listing


def test_star_page_and_search_results_say_how_to_cite(client, sky):
    star = client.get(f"/star/{sky.source_ids[0]}/").content.decode()
    assert 'id="how-to-cite"' in star
    assert f"/versions/{sky.published}/citation.bib" in star
    results = client.get("/search/", {"flags": "clean"}).content.decode()
    assert 'id="how-to-cite"' in results


def _oai(client, **params) -> ET.Element:
    r = client.get("/oai", params)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/xml")
    return ET.fromstring(r.content)


def test_oai_identify_carries_the_registry_record(client, sky):
    root = _oai(client, verb="Identify")
    ident = root.find(f"{OAI}Identify")
    assert ident.find(f"{OAI}baseURL").text == "http://testserver/oai"
    assert ident.find(f"{OAI}protocolVersion").text == "2.0"
    registry = ident.find(f"{OAI}description/{RI}Resource")
    assert registry.get(XSI_TYPE) == "vg:Registry"
    assert registry.find("capability/interface/accessURL").text == "http://testserver/oai"


def test_oai_list_records_has_tap_scs_and_datalink_services(client, sky):
    root = _oai(client, verb="ListRecords", metadataPrefix="ivo_vor")
    resources = {
        r.find(f"{OAI}header/{OAI}identifier").text: r.find(f"{OAI}metadata/{RI}Resource")
        for r in root.iter(f"{OAI}record")
    }
    by_suffix = {ivoid.rsplit("/", 1)[-1]: res for ivoid, res in resources.items()}
    tap = by_suffix["tap"]
    standards = {c.get("standardID") for c in tap.findall("capability")}
    assert "ivo://ivoa.net/std/TAP" in standards
    assert tap.find("capability/interface/accessURL").text == "http://testserver/tap"
    assert tap.find("content/source").text == "2024A&A...682A...9G"
    assert any(t.find("name").text.endswith(".rvs_cnn") for t in tap.iter("table"))
    assert tap.find("curation/version").text == sky.published
    scs = by_suffix["scs"].find("capability")
    assert scs.get("standardID") == "ivo://ivoa.net/std/ConeSearch"
    assert scs.find("interface/accessURL").text == "http://testserver/scs?"
    dl = by_suffix["datalink"].find("capability")
    assert dl.get("standardID") == "ivo://ivoa.net/std/DataLink#links-1.1"
    # every xsi:type prefix is declared in the document
    text = client.get("/oai", {"verb": "ListRecords", "metadataPrefix": "ivo_vor"}).content
    for prefix in {
        t.split(":")[0] for t in re.findall(rb'xsi:type="([^"]+)"', text) for t in [t.decode()]
    }:
        assert f"xmlns:{prefix}=".encode() in text, prefix


def test_oai_get_record_in_dublin_core(client, sky):
    ids = [
        el.text
        for el in _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc").iter(
            f"{OAI}identifier"
        )
    ]
    assert len(ids) == 5
    root = _oai(client, verb="GetRecord", identifier=ids[2], metadataPrefix="oai_dc")
    dc = root.find(f"{OAI}GetRecord/{OAI}record/{OAI}metadata")
    assert dc[0].find("{http://purl.org/dc/elements/1.1/}identifier").text == ids[2]


@pytest.mark.parametrize(
    "params, code",
    [
        ({}, "badVerb"),
        ({"verb": "Explode"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "extra": "1"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "metadataPrefix": "ivo_vor", "identifier": "ivo://x/y"},
            "idDoesNotExist",
        ),
        ({"verb": "ListRecords", "resumptionToken": "abc"}, "badResumptionToken"),
        ({"verb": "ListRecords", "metadataPrefix": "ivo_vor", "from": "yesterday"}, "badArgument"),
        (
            {"verb": "ListRecords", "metadataPrefix": "ivo_vor", "until": "2000-01-01"},
            "noRecordsMatch",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "ivo_vor", "set": "other"}, "noRecordsMatch"),
    ],
)
def test_oai_errors(client, sky, params, code):
    root = _oai(client, **params)
    errors = root.findall(f"{OAI}error")
    assert [e.get("code") for e in errors] == [code]
    assert errors[0].text


def test_oai_from_until_select_by_datestamp(client, sky):
    root = _oai(client, verb="ListIdentifiers", metadataPrefix="ivo_vor", **{"from": "2000-01-01"})
    stamps = {el.text for el in root.iter(f"{OAI}datestamp")}
    assert len(stamps) == 1
    (stamp,) = stamps
    day = stamp[:10]
    assert (
        _oai(client, verb="ListIdentifiers", metadataPrefix="ivo_vor", until=day).find(
            f"{OAI}error"
        )
        is None
    )
