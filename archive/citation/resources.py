"""VOResource 1.1 records of the archive (IVOA Registry Interfaces 1.1): the naming authority,
the publishing registry itself, and the TAP, cone search and DataLink services. The TAP record's
capabilities are those of the live VOSI capabilities document, so the two never disagree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from django.conf import settings
from django.db.models import Max, Min

from archive.catalogue.models import ModelVersion
from archive.datalink import scs
from archive.metadata import vosi
from archive.metadata.published import registry as published_registry
from archive.tap import capabilities as tap_capabilities

from .record import resource

RI = "http://www.ivoa.net/xml/RegistryInterface/v1.0"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
VG = "http://www.ivoa.net/xml/VORegistry/v1.0"
TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
CS = "http://www.ivoa.net/xml/ConeSearch/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NAMESPACES = {"ri": RI, "vr": VR, "vs": VS, "vg": VG, "tr": TR, "cs": CS, "xsi": XSI}
#: before any model version exists, records are dated from this instant
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def xsi_type(value: str) -> dict[str, str]:
    return {f"{{{XSI}}}type": value}


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def stamp(when: datetime) -> str:
    """OAI-PMH and VOResource datestamps: UTC, seconds granularity."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Dates:
    created: datetime
    updated: datetime
    version: str  # the published model version, or "" before the first publication


def dates() -> Dates:
    agg = ModelVersion.objects.aggregate(first=Min("created_at"), last=Max("published_at"))
    created = agg["first"] or EPOCH
    published = ModelVersion.objects.published().first()
    return Dates(created, max(agg["last"] or created, created), published.name if published else "")


def ivoid(suffix: str = "") -> str:
    return f"ivo://{settings.RVS_IVOID_AUTHORITY}{'/' + suffix if suffix else ''}"


@dataclass(frozen=True)
class Record:
    """One registry record: its IVOID, and how to build its VOResource element."""

    identifier: str
    build: Callable[[str, Dates], ET.Element]


def _resource(kind: str, identifier: str, title: str, d: Dates) -> ET.Element:
    el = ET.Element(
        f"{{{RI}}}Resource",
        {
            **xsi_type(kind),
            "created": stamp(d.created),
            "updated": stamp(d.updated),
            "status": "active",
        },
    )
    sub(el, "title", title)
    sub(el, "shortName", resource()["short_name"])
    sub(el, "identifier", identifier)
    return el


def _curation(el: ET.Element, d: Dates) -> None:
    cur = sub(el, "curation")
    sub(cur, "publisher", settings.RVS_PUBLISHER, **{"ivo-id": ivoid()})
    for name in settings.RVS_CITATION_CREATORS:
        sub(sub(cur, "creator"), "name", name)
    sub(cur, "date", d.updated.date().isoformat(), role="Updated")
    if d.version:
        sub(cur, "version", d.version)
    contact = sub(cur, "contact")
    sub(contact, "name", settings.RVS_CONTACT_NAME)
    sub(contact, "email", settings.RVS_CONTACT_EMAIL)


def _content(el: ET.Element, base: str, description: str, kind: str = "Catalog") -> None:
    res = resource()
    content = sub(el, "content")
    for subject in res["subjects"]:
        sub(content, "subject", subject)
    sub(content, "description", description)
    sub(content, "source", res["paper"]["bibcode"], format="bibcode")
    sub(content, "referenceURL", f"{base}/")
    sub(content, "type", kind)
    for level in res["content_level"]:
        sub(content, "contentLevel", level)


def _related(el: ET.Element, relation: str, *targets: tuple[str, str]) -> None:
    rel = sub(el.find("content"), "relationship")  # vr:Content's last element
    sub(rel, "relationshipType", relation)
    for name, target in targets:
        sub(rel, "relatedResource", name, **{"ivo-id": target})


def _description() -> str:
    return " ".join(resource()["description"].split())


def authority(base: str, d: Dates) -> ET.Element:
    el = _resource("vg:Authority", ivoid(), f"{settings.RVS_PUBLISHER} naming authority", d)
    _curation(el, d)
    _content(el, base, f"The naming authority of {settings.RVS_PUBLISHER}.", kind="Other")
    sub(el, "managingOrg", settings.RVS_PUBLISHER)
    return el


def publishing_registry(base: str, d: Dates) -> ET.Element:
    el = _resource("vg:Registry", ivoid("registry"), f"{settings.RVS_PUBLISHER} registry", d)
    _curation(el, d)
    _content(el, base, "The publishing registry of the archive's services (OAI-PMH).", kind="Other")
    cap = sub(el, "capability", standardID="ivo://ivoa.net/std/Registry", **xsi_type("vg:Harvest"))
    iface = sub(cap, "interface", role="std", version="1.0", **xsi_type("vg:OAIHTTP"))
    sub(iface, "accessURL", f"{base}/oai", use="base")
    sub(cap, "maxRecords", "0")
    # vg:Registry's own elements follow vr:Service's capabilities
    sub(el, "full", "false")
    sub(el, "managedAuthority", settings.RVS_IVOID_AUTHORITY)
    return el


def tap_service(base: str, d: Dates) -> ET.Element:
    el = _resource("vs:CatalogService", ivoid("tap"), f"{resource()['title']} (TAP)", d)
    _curation(el, d)
    _content(el, base, _description())
    _related(el, "IsServiceFor", ("cone search", ivoid("scs")), ("DataLink", ivoid("datalink")))
    doc = ET.fromstring(tap_capabilities.capabilities(f"{base}/tap"))
    for cap in doc:  # the live capabilities, namespaces as VOResource writes them
        cap.tag = "capability"
        el.append(cap)
    tables = ET.fromstring(vosi.tableset(published_registry(), detail="min"))
    tableset = sub(el, "tableset")
    for schema in tables:
        tableset.append(schema)
    return el


def cone_service(base: str, d: Dates) -> ET.Element:
    el = _resource("vs:CatalogService", ivoid("scs"), f"{resource()['title']} (cone search)", d)
    _curation(el, d)
    _content(el, base, _description())
    _related(el, "IsServiceFor", ("TAP", ivoid("tap")))
    cap = sub(
        el, "capability", standardID="ivo://ivoa.net/std/ConeSearch", **xsi_type("cs:ConeSearch")
    )
    iface = sub(cap, "interface", role="std", **xsi_type("vs:ParamHTTP"))
    sub(iface, "accessURL", f"{base}/scs?", use="base")
    sub(cap, "maxSR", "180")
    sub(cap, "maxRecords", str(scs.MAXREC_LIMIT))
    sub(cap, "verbosity", "true")
    return el


def datalink_service(base: str, d: Dates) -> ET.Element:
    el = _resource("vs:CatalogService", ivoid("datalink"), f"{resource()['title']} (DataLink)", d)
    _curation(el, d)
    _content(
        el,
        base,
        "DataLink links of every star: its RVS mean spectrum and XP coefficients as VOTable "
        "and FITS products, its star page. " + _description(),
    )
    _related(el, "IsServiceFor", ("TAP", ivoid("tap")))
    cap = sub(el, "capability", standardID="ivo://ivoa.net/std/DataLink#links-1.1")
    iface = sub(cap, "interface", role="std", **xsi_type("vs:ParamHTTP"))
    sub(iface, "accessURL", f"{base}/datalink/links", use="base")
    return el


def records() -> list[Record]:
    return [
        Record(ivoid(), authority),
        Record(ivoid("registry"), publishing_registry),
        Record(ivoid("tap"), tap_service),
        Record(ivoid("scs"), cone_service),
        Record(ivoid("datalink"), datalink_service),
    ]
