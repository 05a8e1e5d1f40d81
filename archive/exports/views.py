"""The bulk downloads: a listing of the exports, one page per version, the files themselves
(ranges, ETags), and a staff action that builds a version's export."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from archive.catalogue.models import ModelVersion

from . import store
from .jobs import request_export
from .serving import file_response


def _visible() -> dict[str, store.Manifest]:
    """Complete exports of versions that still exist and are ready."""
    ready = set(ModelVersion.objects.ready().values_list("name", flat=True))
    return {k: m for k, m in store.complete_exports().items() if k in ready}


def index(request: HttpRequest) -> HttpResponse:
    published = ModelVersion.objects.published().values_list("name", flat=True)
    published = set(published)
    exports = [
        {
            "version": name,
            "published": name in published,
            "rows": m.rows,
            "n_files": len(m.files),
            "size": sum(f.size for f in m.files),
            "created": m.created,
        }
        for name, m in _visible().items()
    ]
    exports.sort(key=lambda e: (not e["published"], e["version"]))
    buildable = []
    if request.user.is_staff:  # staff may (re)build the export of any ready version
        buildable = list(
            ModelVersion.objects.ready().order_by("name").values_list("name", flat=True)
        )
    return render(request, "exports/index.html", {"exports": exports, "buildable": buildable})


def version(request: HttpRequest, version: str) -> HttpResponse:
    manifest = _visible().get(version)
    if manifest is None:
        raise Http404(f"no export of version {version}")
    return render(request, "exports/version.html", {"manifest": manifest})


def export_file(request: HttpRequest, version: str, name: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if version not in _visible():
        raise Http404(f"no export of version {version}")
    root = store.export_dir(version).resolve()
    target = (root / name).resolve()
    if root not in target.parents or not target.is_file() or target.name.startswith("."):
        raise Http404("no such file")
    return file_response(request, target)


@require_POST
@staff_member_required
def build(request: HttpRequest, version: str) -> HttpResponse:
    the_version = ModelVersion.objects.ready().filter(name=version).first()
    if the_version is None:
        raise Http404(f"no ready version {version}")
    request_export(the_version, owner=request.user)
    return redirect("exports:index")
