"""Public pages: home (the catalogue overview) and the published validation report."""

import json
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse

from archive.catalogue.counts import catalogue_counts, published_version
from archive.catalogue.models import CnnLabel, ModelVersion, TrainingStar
from labeling.flags import CLEAN_FLAG
from labeling.labels import BY_NAME, LABELS, format_error

from . import plots
from .context_processors import data_origin

#: the home page's name for gaia_source rows ingested from the synthetic sky
SYNTHETIC_SOURCES = "Synthetic-sky sources (not Gaia DR3)"


def home(request: HttpRequest) -> HttpResponse:
    """What the catalogue is, what the archive holds right now (live counts) and the published
    version's figures (cached per version)."""
    counts = catalogue_counts()
    if data_origin(request)["synthetic_sky"]:
        for c in counts:
            if c["table"] == "gaia_source":
                c["label"] = SYNTHETIC_SOURCES
    version = published_version()
    overview = validation = None
    if version is not None and CnnLabel.objects.filter(model_version=version).exists():
        overview = plots.overview_numbers(version)
    if version is not None and version.path:
        validation = validation_numbers(version)
    training = None
    if version is not None:
        stars = TrainingStar.objects.filter(model_version=version)
        training = {"n": stars.count(), "held_out": stars.filter(held_out=True).count()}
    return render(
        request,
        "web/home.html",
        {
            "counts": counts,
            "version": version,
            "schema": settings.PUBLISHED_SCHEMA,
            "overview": overview,
            "validation": validation,
            "training": training,
            "clean_flag": CLEAN_FLAG,
        },
    )


def validation_numbers(version: ModelVersion) -> list[dict] | None:
    """Held-out accuracy, σ_* and its coverage per label, from the version's report.json."""
    path = _report_root(version) / "report.json"
    if not path.is_file():
        return None
    figures = json.loads(path.read_text(encoding="utf-8")).get("figures", {})
    held = figures.get("accuracy", {}).get("heldout", {})
    # rounded as people read them: the bias to the label's precision, spreads to two
    # significant digits (report.json keeps every digit)
    return [
        {
            "name": BY_NAME[k].display,
            "unit": BY_NAME[k].unit,
            "n": held[k].get("n"),
            "bias": BY_NAME[k].format(held[k].get("bias")),
            "sigma": format_error(held[k].get("robust_sigma")),
            "median_sigma": format_error(held[k].get("median_sigma")),
            "coverage": held[k].get("coverage_1sigma"),
        }
        for k in LABELS
        if k in held
    ] or None


def overview_plot(request: HttpRequest, name: str) -> HttpResponse:
    """A figure of the published catalogue (cached per version under var/)."""
    version = published_version()
    if version is None or name not in plots.OVERVIEW:
        raise Http404("no such figure")
    response = HttpResponse(plots.overview_png(version, name), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    return response


def _report_root(version: ModelVersion) -> Path:
    return (Path(version.path) / "files" / "validation").resolve()


def validation_report(request: HttpRequest, name: str = "index.html") -> HttpResponse:
    """The validation report (Sect. 4) of the published version, for everyone: its page, with
    links back to the site and the version, and its plots and report.json."""
    version = published_version()
    if version is None or not version.path:
        raise Http404("no catalogue version is published yet")
    root = _report_root(version)
    target = (root / name).resolve()
    if root not in target.parents or not target.is_file():
        raise Http404("no such report file")
    if name != "index.html":
        return FileResponse(open(target, "rb"))  # noqa: SIM115 -- FileResponse closes it
    page = target.read_text(encoding="utf-8")
    # the labelled catalogue, which the report (written before the labelling) cannot show
    labels = CnnLabel.objects.filter(model_version=version)
    head = render_to_string(
        "web/report_header.html",
        {
            "version": version,
            "version_url": reverse("web:home") + "#published-version",
            "n_labelled": labels.count(),
            "n_clean": labels.filter(flag_boundary=CLEAN_FLAG).count(),
            "clean_flag": CLEAN_FLAG,
        },
        request=request,
    )
    # the report is a self-contained file written with the version; the site's links (and the
    # synthetic-sky banner) go in front of its content as it is served
    at = page.find("<body>")
    if at < 0:
        raise Http404("the report has no body")
    at += len("<body>")
    page = page[:at] + head + page[at:]
    return HttpResponse(page)
