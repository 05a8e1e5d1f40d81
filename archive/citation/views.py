"""The version pages with their citation, the citation files, and the OAI-PMH endpoint."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from archive.catalogue.models import ModelVersion
from archive.results import descriptor

from . import oai
from .record import bibtex, citation, datacite_json, datacite_xml, neighbours


def site_url(request: HttpRequest) -> str:
    """The site's public URL: RVS_PUBLIC_URL when set, else the address the client reached."""
    return settings.RVS_PUBLIC_URL or descriptor.site_url(request)


def _ready(name: str) -> ModelVersion:
    version = ModelVersion.objects.ready().filter(name=name).first()
    if version is None:
        raise Http404(f"no ready model version {name}")
    return version


@require_GET
def versions(request: HttpRequest) -> HttpResponse:
    ready = ModelVersion.objects.ready().order_by("-created_at")
    return render(request, "citation/versions.html", {"versions": ready})


@require_GET
def version(request: HttpRequest, name: str) -> HttpResponse:
    the_version = _ready(name)
    before, after = neighbours(the_version)
    context = {
        "version": the_version,
        "citation": citation(the_version, site_url(request)),
        "predecessor": before,
        "successor": after,
    }
    return render(request, "citation/version.html", context)


#: suffix -> (content type, writer of the citation)
CITATION_FILES = {
    "json": (
        "application/vnd.datacite.datacite+json",
        lambda c: json.dumps(datacite_json(c), indent=2).encode(),
    ),
    "xml": ("application/vnd.datacite.datacite+xml", datacite_xml),
    "bib": ("application/x-bibtex; charset=utf-8", lambda c: bibtex(c).encode()),
}


@require_GET
def citation_file(request: HttpRequest, name: str, suffix: str) -> HttpResponse:
    if suffix not in CITATION_FILES:
        raise Http404(f"no citation format {suffix}")
    content_type, write = CITATION_FILES[suffix]
    response = HttpResponse(
        write(citation(_ready(name), site_url(request))), content_type=content_type
    )
    response["Content-Disposition"] = f'inline; filename="rvs-cnn-{name}.{suffix}"'
    return response


@require_http_methods(["GET", "POST"])
def oai_pmh(request: HttpRequest) -> HttpResponse:
    """OAI-PMH 2.0 (GET or POST, as the protocol allows); errors are answered with 200."""
    args = request.POST if request.method == "POST" else request.GET
    base = site_url(request)
    document = oai.answer({k: args.getlist(k) for k in args}, base, f"{base}/oai")
    return HttpResponse(document, content_type="text/xml; charset=utf-8")
