"""OAI-PMH 2.0, the harvesting interface of a publishing registry (IVOA Registry Interfaces 1.1,
Sect. 3): the VO registries harvest the archive's VOResource records (:mod:`.resources`) from it.

Every record fits in one answer, so no resumption token is ever issued (one sent back is a
``badResumptionToken``). Records are never deleted (``deletedRecord`` is ``no``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from django.conf import settings

from .resources import NAMESPACES, RI, Dates, Record, dates, records, stamp, sub

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
OAI_XSD = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
SET = "ivo_managed"  # the set every record of a publishing registry is in (RI 1.1, 3.1.3)
for _prefix, _uri in (("oai", OAI), ("oai_dc", OAI_DC), ("dc", DC), ("ri", RI)):
    ET.register_namespace(_prefix, _uri)
ET.register_namespace("xsi", NAMESPACES["xsi"])
#: prefixes that appear only inside xsi:type values, declared on each record by hand
_TYPE_PREFIXES = ("vr", "vs", "vg", "tr", "cs")


class Verb(enum.StrEnum):
    IDENTIFY = "Identify"
    LIST_METADATA_FORMATS = "ListMetadataFormats"
    LIST_SETS = "ListSets"
    LIST_IDENTIFIERS = "ListIdentifiers"
    LIST_RECORDS = "ListRecords"
    GET_RECORD = "GetRecord"


#: verb -> (required arguments, optional arguments)
ARGUMENTS: dict[Verb, tuple[set[str], set[str]]] = {
    Verb.IDENTIFY: (set(), set()),
    Verb.LIST_METADATA_FORMATS: (set(), {"identifier"}),
    Verb.LIST_SETS: (set(), {"resumptionToken"}),
    Verb.LIST_IDENTIFIERS: ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    Verb.LIST_RECORDS: ({"metadataPrefix"}, {"from", "until", "set", "resumptionToken"}),
    Verb.GET_RECORD: ({"identifier", "metadataPrefix"}, set()),
}
FORMATS = {
    "ivo_vor": (RI, "http://www.ivoa.net/xml/RegistryInterface/v1.0"),
    "oai_dc": (OAI_DC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"),
}


class OaiError(Exception):
    """An OAI-PMH error condition (OAI-PMH 2.0, Sect. 3.6), answered with HTTP 200."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _datestamp(value: str, name: str, until: bool) -> datetime:
    for fmt, day in (("%Y-%m-%dT%H:%M:%SZ", False), ("%Y-%m-%d", True)):
        try:
            when = datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if day and until:
            when = when.replace(hour=23, minute=59, second=59)
        return when
    raise OaiError("badArgument", f"{name}={value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")


def check_arguments(args: Mapping[str, list[str]]) -> tuple[Verb, dict[str, str]]:
    """The verb and its arguments, or the OAI error the request deserves."""
    verbs = args.get("verb", [])
    if len(verbs) != 1 or verbs[0] not in Verb._value2member_map_:
        raise OaiError("badVerb", "verb must be one of " + ", ".join(v.value for v in Verb))
    verb = Verb(verbs[0])
    required, optional = ARGUMENTS[verb]
    given = {k: v for k, v in args.items() if k != "verb"}
    for name, values in given.items():
        if name not in required | optional:
            raise OaiError("badArgument", f"{verb} takes no argument {name!r}")
        if len(values) != 1:
            raise OaiError("badArgument", f"{name} is repeated")
    if "resumptionToken" in given:
        raise OaiError("badResumptionToken", "this repository issues no resumption tokens")
    missing = required - given.keys()
    if missing:
        raise OaiError("badArgument", f"{verb} needs " + ", ".join(sorted(missing)))
    return verb, {k: v[0] for k, v in given.items()}


def _envelope(request_url: str, verb: str | None, args: dict[str, str]) -> ET.Element:
    root = ET.Element(
        f"{{{OAI}}}OAI-PMH",
        {f"{{{NAMESPACES['xsi']}}}schemaLocation": f"{OAI} {OAI_XSD}"},
    )
    sub(root, f"{{{OAI}}}responseDate", stamp(datetime.now(UTC)))
    attrs = {"verb": verb, **args} if verb else {}
    sub(root, f"{{{OAI}}}request", request_url, **attrs)
    return root


def _metadata(record: Record, prefix: str, base: str, d: Dates) -> ET.Element:
    resource = record.build(base, d)
    if prefix == "ivo_vor":
        for p in _TYPE_PREFIXES:
            resource.set(f"xmlns:{p}", NAMESPACES[p])
        return resource
    dc = ET.Element(
        f"{{{OAI_DC}}}dc",
        {f"{{{NAMESPACES['xsi']}}}schemaLocation": f"{OAI_DC} {FORMATS['oai_dc'][1]}"},
    )
    for tag, path in (
        ("title", "title"),
        ("identifier", "identifier"),
        ("description", "content/description"),
        ("publisher", "curation/publisher"),
        ("creator", "curation/creator/name"),
        ("subject", "content/subject"),
    ):
        for el in resource.findall(path):
            sub(dc, f"{{{DC}}}{tag}", el.text)
    sub(dc, f"{{{DC}}}date", stamp(d.updated))
    return dc


def _header(parent: ET.Element, record: Record, d: Dates) -> None:
    head = sub(parent, f"{{{OAI}}}header")
    sub(head, f"{{{OAI}}}identifier", record.identifier)
    sub(head, f"{{{OAI}}}datestamp", stamp(d.updated))
    sub(head, f"{{{OAI}}}setSpec", SET)


def _selected(args: dict[str, str], d: Dates) -> list[Record]:
    prefix = args["metadataPrefix"]
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"no metadata format {prefix!r}")
    low = _datestamp(args["from"], "from", False) if "from" in args else None
    high = _datestamp(args["until"], "until", True) if "until" in args else None
    if low and high and low > high:
        raise OaiError("badArgument", "from is after until")
    if "set" in args and args["set"] != SET:
        return []
    if (low and d.updated < low) or (high and d.updated > high):
        return []
    return records()


def answer(args: Mapping[str, list[str]], base: str, request_url: str) -> bytes:
    """The OAI-PMH response document to a request's arguments (``base``: the site's URL)."""
    try:
        verb, kw = check_arguments(args)
    except OaiError as exc:
        root = _envelope(request_url, None, {})
        sub(root, f"{{{OAI}}}error", exc.message, code=exc.code)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)
    root = _envelope(request_url, verb.value, kw)
    try:
        root.append(_body(verb, kw, base))
    except OaiError as exc:
        sub(root, f"{{{OAI}}}error", exc.message, code=exc.code)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _by_id(identifier: str) -> Record:
    for record in records():
        if record.identifier == identifier:
            return record
    raise OaiError("idDoesNotExist", f"no record {identifier}")


def _body(verb: Verb, kw: dict[str, str], base: str) -> ET.Element:
    d = dates()
    el = ET.Element(f"{{{OAI}}}{verb.value}")
    if verb is Verb.IDENTIFY:
        sub(el, f"{{{OAI}}}repositoryName", f"{settings.RVS_PUBLISHER} publishing registry")
        sub(el, f"{{{OAI}}}baseURL", f"{base}/oai")
        sub(el, f"{{{OAI}}}protocolVersion", "2.0")
        sub(el, f"{{{OAI}}}adminEmail", settings.RVS_CONTACT_EMAIL)
        sub(el, f"{{{OAI}}}earliestDatestamp", stamp(d.created))
        sub(el, f"{{{OAI}}}deletedRecord", "no")
        sub(el, f"{{{OAI}}}granularity", "YYYY-MM-DDThh:mm:ssZ")
        desc = sub(el, f"{{{OAI}}}description")
        desc.append(_metadata(_by_id(records()[1].identifier), "ivo_vor", base, d))
    elif verb is Verb.LIST_METADATA_FORMATS:
        if "identifier" in kw:
            _by_id(kw["identifier"])
        for prefix, (namespace, schema) in FORMATS.items():
            fmt = sub(el, f"{{{OAI}}}metadataFormat")
            sub(fmt, f"{{{OAI}}}metadataPrefix", prefix)
            sub(fmt, f"{{{OAI}}}schema", schema)
            sub(fmt, f"{{{OAI}}}metadataNamespace", namespace)
    elif verb is Verb.LIST_SETS:
        s = sub(el, f"{{{OAI}}}set")
        sub(s, f"{{{OAI}}}setSpec", SET)
        sub(s, f"{{{OAI}}}setName", "Resources managed by this registry")
    elif verb is Verb.GET_RECORD:
        record = _by_id(kw["identifier"])
        if kw["metadataPrefix"] not in FORMATS:
            raise OaiError(
                "cannotDisseminateFormat", f"no metadata format {kw['metadataPrefix']!r}"
            )
        rec = sub(el, f"{{{OAI}}}record")
        _header(rec, record, d)
        sub(rec, f"{{{OAI}}}metadata").append(_metadata(record, kw["metadataPrefix"], base, d))
    else:
        chosen = _selected(kw, d)
        if not chosen:
            raise OaiError("noRecordsMatch", "no record matches these arguments")
        for record in chosen:
            if verb is Verb.LIST_IDENTIFIERS:
                _header(el, record, d)
                continue
            rec = sub(el, f"{{{OAI}}}record")
            _header(rec, record, d)
            sub(rec, f"{{{OAI}}}metadata").append(_metadata(record, kw["metadataPrefix"], base, d))
    return el
