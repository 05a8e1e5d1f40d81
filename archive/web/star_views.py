"""A star's page: its labels and flags in words, spectrum, XP, APOGEE labels, versions, links."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from archive.catalogue.counts import published_version
from archive.catalogue.spectra import read_spectrum
from labeling.flags import FLAG_DIGITS, FlagDigit
from labeling.labels import LABEL_SPECS, Label, format_error

from . import plots, queries

DATALINK_FORMATS = ("votable", "fits", "csv", "ecsv")


def decode_flag(flag: str, digits: tuple[FlagDigit, ...] = FLAG_DIGITS) -> list[dict]:
    """flag_boundary digit by digit, in words (1: outside the training sample)."""
    return [
        {"position": i + 1, "name": d.name, "digit": digit, "outside": digit == "1",
         "words": d.words(digit == "1")}
        for i, (d, digit) in enumerate(zip(digits, flag, strict=False))
    ]  # fmt: skip


def label_rows(row: dict, labels: tuple[Label, ...] = LABEL_SPECS, prefix: str = "") -> list[dict]:
    """The labels of one catalogue row (rvs_cnn, or training_sample with ``prefix="apogee_"``)
    as the page shows them: rounded to their precision, errors to two significant digits, and
    whether each is an extrapolation (its flag_boundary digit is 1)."""
    flag = row.get("flag_boundary") or ""
    out = []
    for i, x in enumerate(labels):
        value = row.get(f"{prefix}{x.name}")
        error = row.get(f"{prefix}e_{x.name}")
        sigma = row.get(f"sigma_{x.name}")
        out.append({"key": x.name, "name": x.display, "unit": x.unit, "value": x.format(value),
                    "e": format_error(error), "sigma": format_error(sigma),
                    "extrapolated": flag[i:i + 1] == "1"})  # fmt: skip
    return out


def _not_found(request: HttpRequest, source_id: int) -> HttpResponse:
    return render(request, "web/star_missing.html", {"source_id": source_id}, status=404)


def star(request: HttpRequest, source_id: int) -> HttpResponse:
    data = queries.star(source_id)
    if data is None:
        return _not_found(request, source_id)
    return render(request, "web/star.html", star_context(source_id, data))


def star_context(
    source_id: int,
    data: dict,
    labels: tuple[Label, ...] = LABEL_SPECS,
    digits: tuple[FlagDigit, ...] = FLAG_DIGITS,
) -> dict:
    """What the star page shows of ``queries.star``'s rows, the labels and flag digits from
    their declarations (a test passes others)."""
    published = data["labels"]
    rows = label_rows(published, labels) if published else []
    schema = settings.PUBLISHED_SCHEMA
    adql = (
        f"SELECT r.*, g.parallax, g.phot_g_mean_mag, g.rvs_spec_sig_to_noise\n"
        f"FROM {schema}.rvs_cnn AS r\n"
        f"JOIN {schema}.gaia_source AS g ON g.source_id = r.source_id\n"
        f"WHERE r.source_id = {source_id}"
    )
    xp = data["xp"]
    return {
        "source_id": source_id,
        "gaia": data["gaia"],
        "labels": published,
        "label_rows": rows,
        "extrapolated": [r["name"] for r in rows if r["extrapolated"]],
        "flag": decode_flag(published["flag_boundary"], digits) if published else [],
        "versions": [{**v, "rows": label_rows(v, labels)} for v in data["versions"]],
        "label_keys": [(x.name, x.display) for x in labels],
        "training": [
            {**t, "rows": label_rows(t, labels, prefix="apogee_")} for t in data["training"]
        ],
        "has_spectrum": data["has_spectrum"],
        "xp": xp,
        "xp_rows": list(
            zip(range(1, 56), xp.bp_coefficients or [], xp.rp_coefficients or [], strict=False)
        )
        if xp
        else [],  # fmt: skip
        "adql": adql,
        "datalink_formats": DATALINK_FORMATS,
    }


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
