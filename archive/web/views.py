"""Public pages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from archive.catalogue.counts import catalogue_counts, published_version


def home(request: HttpRequest) -> HttpResponse:
    """What the archive holds right now, read live from the database."""
    return render(
        request,
        "web/home.html",
        {
            "counts": catalogue_counts(),
            "version": published_version(),
            "schema": settings.PUBLISHED_SCHEMA,
        },
    )
