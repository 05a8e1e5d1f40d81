"""The citable record of a model version: DataCite Metadata Schema 4.5 (JSON and XML) and
BibTeX, built from the version's own provenance (what it was trained on, its code and data
hashes, its predecessor and successor) and the archive's description (resource.toml)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET

from django.conf import settings

from archive.catalogue.models import ModelVersion, TrainingStar

DATACITE = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DATACITE_XSD = "http://schema.datacite.org/meta/kernel-4.5/metadata.xsd"


@cache
def resource() -> dict:
    """The archive's description of itself (resource.toml beside this module)."""
    return tomllib.loads((Path(__file__).with_name("resource.toml")).read_text())


@dataclass(frozen=True)
class Related:
    """A DataCite relatedIdentifier: ``relation`` as DataCite spells it (IsNewVersionOf, ...)."""

    identifier: str
    kind: str  # DOI or URL
    relation: str
    what: str = ""


@dataclass(frozen=True)
class Training:
    """What a version was trained and validated on (Sect. 2.2, 3.2)."""

    stars: int
    held_out: int
    splits: int
    members: int
    inputs: str
    data_hash: str
    code_version: str


@dataclass(frozen=True)
class Citation:
    """Everything a citation of one model version needs."""

    version: str
    url: str
    title: str
    creators: tuple[str, ...]
    publisher: str
    year: int
    published: str  # ISO date of publication, or of creation for unpublished versions
    description: str
    subjects: tuple[str, ...]
    training: Training | None
    related: tuple[Related, ...]

    @property
    def key(self) -> str:
        """A BibTeX key: publisher initials, year, version."""
        stem = re.sub(r"[^A-Za-z0-9]", "", resource()["short_name"])
        return f"{stem}_{self.year}_{re.sub(r'[^A-Za-z0-9]+', '_', self.version)}"

    @property
    def derived_from(self) -> tuple[Related, ...]:
        return tuple(r for r in self.related if r.relation == "IsDerivedFrom")

    @property
    def text(self) -> str:
        """The one-line citation shown to people."""
        who = ", ".join(self.creators)
        return (
            f"{who} ({self.year}). {self.title}, model version {self.version}. "
            f"{self.publisher}. {self.url}"
        )


def version_url(base_url: str, version: ModelVersion) -> str:
    """The landing page of a version (its citable identifier when no DOI is minted)."""
    return f"{base_url}/versions/{version.name}/"


def neighbours(version: ModelVersion) -> tuple[ModelVersion | None, ModelVersion | None]:
    """(predecessor, successor): the ready versions created just before and after it."""
    ready = ModelVersion.objects.ready().exclude(pk=version.pk)
    before = ready.filter(created_at__lt=version.created_at).order_by("-created_at").first()
    after = ready.filter(created_at__gt=version.created_at).order_by("created_at").first()
    return before, after


def training_of(version: ModelVersion) -> Training:
    stars = TrainingStar.objects.filter(model_version=version)
    return Training(
        stars=stars.count(),
        held_out=stars.filter(held_out=True).count(),
        splits=version.n_splits,
        members=version.n_members,
        inputs=version.get_inputs_display(),
        data_hash=version.data_hash,
        code_version=version.code_version,
    )


def citation(version: ModelVersion, base_url: str, provenance: bool = True) -> Citation:
    """The citation of ``version`` as served from ``base_url`` (scheme and host, no slash);
    without ``provenance`` (a page's citation box) the training sample is not counted."""
    res = resource()
    when = version.published_at or version.created_at
    related = [
        Related(res["paper"]["doi"], "DOI", "IsDocumentedBy", res["paper"]["citation"]),
        *(Related(d["doi"], "DOI", "IsDerivedFrom", d["what"]) for d in res["derived_from"]),
    ]
    before, after = neighbours(version)
    if before is not None:
        related.append(Related(version_url(base_url, before), "URL", "IsNewVersionOf", before.name))
    if after is not None:
        related.append(
            Related(version_url(base_url, after), "URL", "IsPreviousVersionOf", after.name)
        )
    return Citation(
        version=version.name,
        url=version_url(base_url, version),
        title=res["title"],
        creators=tuple(settings.RVS_CITATION_CREATORS),
        publisher=settings.RVS_PUBLISHER,
        year=when.year,
        published=when.date().isoformat(),
        description=" ".join(res["description"].split()),
        subjects=tuple(res["subjects"]),
        training=training_of(version) if provenance else None,
        related=tuple(related),
    )


def _training_text(c: Citation) -> str:
    t = c.training
    if t is None:
        return ""
    return (
        f"Deep ensemble of {t.splits * t.members} models ({t.splits} train/validation splits "
        f"x {t.members}), inputs: {t.inputs}; trained on {t.stars} stars with APOGEE DR17 "
        f"labels, {t.held_out} of them held out; training data SHA-256 {t.data_hash or 'n/a'}, "
        f"code {t.code_version or 'n/a'}."
    )


def datacite_json(c: Citation) -> dict:
    """The DataCite REST API's ``attributes`` object (Metadata Schema 4.5)."""
    return {
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": resource()["resource_type"]},
        "url": c.url,
        "identifiers": [{"identifier": c.url, "identifierType": "URL"}],
        "creators": [{"name": name} for name in c.creators],
        "titles": [{"title": c.title}],
        "publisher": c.publisher,
        "publicationYear": c.year,
        "version": c.version,
        "dates": [{"date": c.published, "dateType": "Issued"}],
        "subjects": [{"subject": s} for s in c.subjects],
        "descriptions": [
            {"description": c.description, "descriptionType": "Abstract"},
            {"description": _training_text(c), "descriptionType": "Methods"},
        ],
        "relatedIdentifiers": [
            {
                "relatedIdentifier": r.identifier,
                "relatedIdentifierType": r.kind,
                "relationType": r.relation,
            }
            for r in c.related
        ],
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


def datacite_xml(c: Citation) -> bytes:
    """The DataCite kernel-4 XML record."""
    ET.register_namespace("", DATACITE)
    ET.register_namespace("xsi", XSI)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{DATACITE}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    root = ET.Element(
        f"{{{DATACITE}}}resource", {f"{{{XSI}}}schemaLocation": f"{DATACITE} {DATACITE_XSD}"}
    )
    sub(root, "identifier", c.url, identifierType="URL")
    creators = sub(root, "creators")
    for name in c.creators:
        sub(sub(creators, "creator"), "creatorName", name)
    sub(sub(root, "titles"), "title", c.title)
    sub(root, "publisher", c.publisher)
    sub(root, "publicationYear", str(c.year))
    sub(root, "resourceType", resource()["resource_type"], resourceTypeGeneral="Dataset")
    subjects = sub(root, "subjects")
    for s in c.subjects:
        sub(subjects, "subject", s)
    sub(sub(root, "dates"), "date", c.published, dateType="Issued")
    sub(root, "version", c.version)
    related = sub(root, "relatedIdentifiers")
    for r in c.related:
        sub(
            related,
            "relatedIdentifier",
            r.identifier,
            relatedIdentifierType=r.kind,
            relationType=r.relation,
        )
    descriptions = sub(root, "descriptions")
    sub(descriptions, "description", c.description, descriptionType="Abstract")
    sub(descriptions, "description", _training_text(c), descriptionType="Methods")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _bib(value: str) -> str:
    # braces keep capitals and protect BibTeX's specials
    return "{" + re.sub(r"([&%$#_])", r"\\\1", value) + "}"


def bibtex(c: Citation) -> str:
    """A BibTeX @misc entry for the version, with a note naming the paper to cite with it."""
    paper = resource()["paper"]
    fields = {
        "author": " and ".join("{" + name + "}" for name in c.creators),
        "title": _bib(f"{c.title} (model version {c.version})"),
        "publisher": _bib(c.publisher),
        "year": str(c.year),
        "version": _bib(c.version),
        "howpublished": _bib(c.url),
        "url": "{" + c.url + "}",
        "note": _bib(f"Method: {paper['citation']}, doi:{paper['doi']}"),
    }
    body = ",\n".join(f"  {k} = {v}" for k, v in fields.items())
    return f"@misc{{{c.key},\n{body}\n}}\n"
