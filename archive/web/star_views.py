"""A star's page: its labels and flags in words, spectrum, XP, APOGEE labels, versions, links."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from archive.catalogue.counts import published_version
from archive.catalogue.spectra import read_spectrum
from labeling.labels import DISPLAY, LABELS

from . import plots, queries
from .search import FLAG_DIGITS

UNITS = {"teff": "K", "logg": "dex", "m_h": "dex", "alpha_m": "dex", "fe_h": "dex"}
DATALINK_FORMATS = ("votable", "fits", "csv", "ecsv")


def decode_flag(flag: str) -> list[dict]:
    """flag_boundary digit by digit, in words (1: outside the training sample)."""
    out = []
    for i, ((key, name), digit) in enumerate(zip(FLAG_DIGITS, flag, strict=False)):
        outside = digit == "1"
        if key == "tsne":
            words = (
                "the spectrum is unlike the training spectra (t-SNE)"
                if outside
                else "the spectrum resembles the training spectra (t-SNE)"
            )
        else:
            words = (
                f"{name} lies outside the training sample's range"
                if outside
                else f"{name} lies within the training sample's range"
            )
        out.append({"position": i + 1, "name": name, "digit": digit, "outside": outside,
                    "words": words})  # fmt: skip
    return out


def _not_found(request: HttpRequest, source_id: int) -> HttpResponse:
    return render(request, "web/star_missing.html", {"source_id": source_id}, status=404)


def star(request: HttpRequest, source_id: int) -> HttpResponse:
    data = queries.star(source_id)
    if data is None:
        return _not_found(request, source_id)
    labels = data["labels"]
    rows = []
    if labels:
        for k in LABELS:
            rows.append({"key": k, "name": DISPLAY[k], "unit": UNITS[k], "value": labels[k],
                         "e": labels[f"e_{k}"], "sigma": labels[f"sigma_{k}"]})  # fmt: skip
    schema = settings.PUBLISHED_SCHEMA
    adql = (
        f"SELECT r.*, g.parallax, g.phot_g_mean_mag, g.rvs_spec_sig_to_noise\n"
        f"FROM {schema}.rvs_cnn AS r\n"
        f"JOIN {schema}.gaia_source AS g ON g.source_id = r.source_id\n"
        f"WHERE r.source_id = {source_id}"
    )
    xp = data["xp"]
    return render(
        request,
        "web/star.html",
        {
            "source_id": source_id,
            "gaia": data["gaia"],
            "labels": labels,
            "label_rows": rows,
            "flag": decode_flag(labels["flag_boundary"]) if labels else [],
            "versions": data["versions"],
            "label_keys": [(k, DISPLAY[k]) for k in LABELS],
            "training": data["training"],
            "has_spectrum": data["has_spectrum"],
            "xp": xp,
            "xp_rows": list(
                zip(range(1, 56), xp.bp_coefficients or [], xp.rp_coefficients or [], strict=False)
            )
            if xp
            else [],  # fmt: skip
            "adql": adql,
            "datalink_formats": DATALINK_FORMATS,
        },
    )


def spectrum_png(request: HttpRequest, source_id: int) -> HttpResponse:
    try:
        flux, error = read_spectrum(source_id)
    except Exception as exc:  # no reference, or the store lacks it: no figure
        raise Http404(f"no RVS spectrum of {source_id}") from exc
    body = plots.spectrum(flux, error, f"Gaia DR3 {source_id}: RVS mean spectrum")
    return _png(body, max_age=86400)


def planes_png(request: HttpRequest, source_id: int) -> HttpResponse:
    version = published_version()
    data = queries.star(source_id)
    if version is None or data is None or data["labels"] is None:
        raise Http404("no published labels for this star")
    return _png(plots.star_planes(version, data["labels"]), max_age=3600)


def _png(body: bytes, max_age: int) -> HttpResponse:
    response = HttpResponse(body, content_type="image/png")
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response
