"""VOSI capabilities (TAPRegExt 1.0) and availability of the TAP service.

Declares exactly what works: every ADQL feature and function declared here is run by a query
against the live service in tests/archive/tap/test_tap_features.py; the formats are the result
writers', the limits those of anonymous users (archive.tap.limits).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from archive.results.formats import FORMATS

from .adql.udf import UDFS
from .limits import ANONYMOUS, REGISTERED

VOSI_CAP = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAIL = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
for prefix, uri in (("vosi", VOSI_CAP), ("xsi", XSI)):
    ET.register_namespace(prefix, uri)

FEATURES = "ivo://ivoa.net/std/TAPRegExt#features-"
#: TAPRegExt feature type -> forms: the optional features of ADQL 2.1 that translate and run,
#: and the bitwise operators of ADQL 2.1's proposed recommendation (the feature type taplint
#: and DaCHS know; the recommendation dropped them). tests/archive/tap/test_tap_features.py
#: runs a query for every form declared here against the live service.
ADQL_FEATURES: dict[str, tuple[str, ...]] = {
    "adqlgeo": (
        "POINT",
        "CIRCLE",
        "BOX",
        "POLYGON",
        "CONTAINS",
        "INTERSECTS",
        "DISTANCE",
        "AREA",
        "COORD1",
        "COORD2",
        "COORDSYS",
        "CENTROID",
    ),
    "adql-string": ("LOWER", "UPPER", "ILIKE"),
    "adql-sets": ("UNION", "EXCEPT", "INTERSECT"),
    "adql-type": ("CAST",),
    "adql-conditional": ("COALESCE",),
    "adql-offset": ("OFFSET",),
    "adql-common-table": ("WITH",),
    "adql-unit": ("IN_UNIT",),
    "adql-bitwise": ("BIT_AND", "BIT_OR", "BIT_XOR", "BIT_NOT"),
}
#: feature types written as ADQL 2.1 (the REC) spells them, where that differs: IVOIDs compare
#: case-insensitively, and Debian's taplint (STILTS 3.4.7, older than the REC) takes a
#: "TAPRegExt"-spelled key it does not know for an error, this spelling for a custom feature
#: type (a warning); newer taplint knows the feature
FEATURE_TYPES = {"adql-conditional": "ivo://ivoa.net/std/tapregext#features-adql-conditional"}
#: what the bitwise forms are (their section was dropped from ADQL 2.1, so say it here)
FEATURE_DESCRIPTIONS = {
    "BIT_AND": "a & b: bitwise AND of two integers",
    "BIT_OR": "a | b: bitwise OR of two integers",
    "BIT_XOR": "a ^ b: bitwise exclusive OR of two integers",
    "BIT_NOT": "~a: bitwise NOT of an integer",
}

STANDARD = {
    "tap": "ivo://ivoa.net/std/TAP",
    "capabilities": "ivo://ivoa.net/std/VOSI#capabilities",
    "availability": "ivo://ivoa.net/std/VOSI#availability",
    "tables": "ivo://ivoa.net/std/VOSI#tables-1.1",
    "examples": "ivo://ivoa.net/std/DALI#examples",
}


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _interface(cap: ET.Element, url: str, use: str = "full", **attrs: str) -> None:
    iface = _sub(cap, "interface", **{f"{{{XSI}}}type": "vs:ParamHTTP", **attrs})
    _sub(iface, "accessURL", url, use=use)


def _languages(cap: ET.Element) -> None:
    adql = _sub(cap, "language")
    _sub(adql, "name", "ADQL")
    _sub(adql, "version", "2.0", **{"ivo-id": "ivo://ivoa.net/std/ADQL#v2.0"})
    _sub(adql, "version", "2.1", **{"ivo-id": "ivo://ivoa.net/std/ADQL#v2.1"})
    _sub(
        adql,
        "description",
        "ADQL 2.1 translated to PostgreSQL with pg_sphere and q3c; positions in ICRS",
    )
    for kind, forms in ADQL_FEATURES.items():
        block = _sub(adql, "languageFeatures", type=FEATURE_TYPES.get(kind, FEATURES + kind))
        for form in forms:
            feature = _sub(block, "feature")
            _sub(feature, "form", form)
            if form in FEATURE_DESCRIPTIONS:
                _sub(feature, "description", FEATURE_DESCRIPTIONS[form])
    udfs = _sub(adql, "languageFeatures", type=FEATURES + "udf")
    for udf in UDFS:
        feature = _sub(udfs, "feature")
        _sub(feature, "form", udf.form)
        _sub(feature, "description", udf.description)
    pg = _sub(cap, "language")
    _sub(pg, "name", "PostgreSQL")
    _sub(pg, "version", "15")
    _sub(
        pg,
        "description",
        "One read-only SELECT in PostgreSQL 15 (with pg_sphere and q3c) on the published "
        "schemas and TAP_SCHEMA",
    )


def capabilities(base: str) -> bytes:
    """The capabilities of the TAP service at ``base`` (its URL, no trailing slash)."""
    root = ET.Element(f"{{{VOSI_CAP}}}capabilities")
    root.set("xmlns:vr", VR)
    root.set("xmlns:vs", VS)
    root.set("xmlns:tr", TR)
    tap = _sub(
        root, "capability", standardID=STANDARD["tap"], **{f"{{{XSI}}}type": "tr:TableAccess"}
    )
    _interface(tap, base, use="base", role="std", version="1.1")
    _languages(tap)
    for fmt in FORMATS:
        out = _sub(tap, "outputFormat")
        _sub(out, "mime", fmt.content_type)
        for alias in fmt.aliases:
            if "/" not in alias:
                _sub(out, "alias", alias)
    for method in ("inline", "http"):
        _sub(tap, "uploadMethod", **{"ivo-id": f"ivo://ivoa.net/std/TAPRegExt#upload-{method}"})
    for tag, default, hard, unit in (
        ("retentionPeriod", ANONYMOUS.retention_s, REGISTERED.retention_s, None),
        ("executionDuration", ANONYMOUS.async_timeout_s, REGISTERED.async_timeout_s, None),
        ("outputLimit", ANONYMOUS.maxrec_default, ANONYMOUS.maxrec_hard, "row"),
    ):
        el = _sub(tap, tag)
        _sub(el, "default", str(default), **({"unit": unit} if unit else {}))
        _sub(el, "hard", str(hard), **({"unit": unit} if unit else {}))
    limit = _sub(tap, "uploadLimit")
    _sub(limit, "default", str(ANONYMOUS.upload_bytes), unit="byte")
    _sub(limit, "hard", str(REGISTERED.upload_bytes), unit="byte")
    for name in ("capabilities", "availability", "tables", "examples"):
        cap = _sub(root, "capability", standardID=STANDARD[name])
        _interface(cap, f"{base}/{name}")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def availability(available: bool, note: str) -> bytes:
    """VOSI 1.1 availability: whether the service answers, and why not."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<vosi:availability xmlns:vosi="{VOSI_AVAIL}">'
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>"
        f"<vosi:note>{escape(note)}</vosi:note></vosi:availability>"
    ).encode()
