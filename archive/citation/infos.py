"""The provenance INFOs that every result VOTable carries, as DaCHS writes them: who published
the rows, which model version made them, how to cite it and the paper, and when the request was
answered (VOTable 1.4 Sect. 4.8, INFO; the names are DaCHS's, which TOPCAT shows as table
parameters). Also the "how to cite" sentence of the VOSI tableset."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings

from archive.catalogue.counts import published_version
from archive.catalogue.models import ModelVersion

from .record import citation, resource, version_url

Info = tuple[str, str, str]  # name, value, text


def cite_text(site: str, version: ModelVersion | None = None) -> str:
    """The one paragraph saying how to cite ``version`` (default: the published one) and the
    paper; empty when nothing is published."""
    version = version or published_version()
    if version is None:
        return ""
    return _cite_text(version.pk, version.published_at, settings.RVS_PUBLIC_URL or site)


@lru_cache(maxsize=64)
def _cite_text(pk: int, published_at, site: str) -> str:
    # cached: a citation asks for the version's neighbours, two queries per result otherwise;
    # the key holds everything the text depends on that can change while the site runs
    version = ModelVersion.objects.get(pk=pk)
    paper = resource()["paper"]
    return (
        f"Please cite {citation(version, site, provenance=False).text} and the method paper, "
        f"{paper['citation']} (doi:{paper['doi']})."
    )


def result_infos(site: str, version: ModelVersion | None = None) -> list[Info]:
    """The INFOs of a result served from ``site`` (the address the request reached; ``""`` in
    a worker without one) over ``version`` (default: the published one)."""
    version = version or published_version()
    paper = resource()["paper"]
    infos: list[Info] = [
        ("publisher", settings.RVS_PUBLISHER, ""),
        ("request_date", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), ""),
        ("reference_url", f"https://doi.org/{paper['doi']}", paper["citation"]),
    ]
    if version is not None:
        site = settings.RVS_PUBLIC_URL or site
        infos.insert(1, ("model_version", version.name, "The CNN model version of the labels"))
        # value: where the citation record is (a URL only when the site's address is known)
        where = version_url(site, version) if site else version.name
        infos.append(("citation", where, cite_text(site, version)))
    return infos
