"""The links of a set of sources (DataLink 1.1 Sect. 3): what this archive holds for each, found
in a few set-wise queries, so that thousands of IDs answer in one pass.

Semantics from the IVOA datalink core vocabulary (http://www.ivoa.net/rdf/datalink/core):
``#this`` the source's catalogue row, ``#progenitor`` the data the CNN labels were derived from
(the RVS mean spectrum, the XP coefficients), ``#auxiliary`` the APOGEE DR17 labels of a
training star, and ``#auxiliary`` too for the validation report of the published model version
(``#documentation`` is newer than the vocabulary STILTS datalinklint knows, which flags it; the
``local_semantics`` column tells the two auxiliary links apart).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from archive.catalogue.models import ready_sql

from . import products
from .ids import ParsedId


@dataclass(frozen=True)
class Link:
    """One row of a links document (an error row has ``error_message`` and no URL)."""

    id: str
    semantics: str
    access_url: str = ""
    error_message: str = ""
    description: str = ""
    content_type: str = ""
    content_length: int | None = None
    content_qualifier: str = ""
    local_semantics: str = ""


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of the services the links point at (from the request)."""

    tap_sync: str
    product: Callable[[str, int, str], str]  # (product, source_id, format) -> URL
    validation: str


def _adql(table: str, source_id: int) -> str:
    return f"SELECT * FROM {settings.PUBLISHED_SCHEMA}.{table} WHERE source_id = {source_id}"


def _tap(urls: Urls, table: str, source_id: int) -> str:
    query = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": _adql(table, source_id)}
    return f"{urls.tap_sync}?{urlencode(query)}"


def _known(ids: list[int]) -> dict[str, set[int] | dict]:
    """Which of ``ids`` have a source, a spectrum, XP, published labels, training labels."""
    from django.db import connections

    from archive.replicas import read_alias

    found: dict = {}
    # the request's server (a replica for DataLink): the same rows its other reads see
    with connections[read_alias()].cursor() as cur:
        for key, table in (("source", "gaia_source"), ("xp", "xp_coefficients")):
            cur.execute(f"SELECT source_id FROM {table} WHERE source_id = ANY(%s)", [ids])
            found[key] = {r[0] for r in cur.fetchall()}
        # what the spectrum product's header (and so its size) holds
        cur.execute(
            "SELECT r.source_id, g.ra, g.dec, g.rvs_spec_sig_to_noise, r.combined_transits, "
            "r.combined_ccds, r.n_nan_pixels FROM rvs_spectrum r "
            "JOIN gaia_source g ON g.source_id = r.source_id WHERE r.source_id = ANY(%s)",
            [ids],
        )
        found["rvs"] = {r[0]: products.rvs_keywords(*r) for r in cur.fetchall()}
        cur.execute(
            "SELECT l.source_id, v.name FROM cnn_label l JOIN model_version v "
            "ON v.id = l.model_version_id AND v.is_published WHERE l.source_id = ANY(%s)",
            [ids],
        )
        found["published"] = dict(cur.fetchall())
        cur.execute(
            "SELECT t.source_id, string_agg(v.name, ', ' ORDER BY v.name) FROM training_star t "
            f"JOIN model_version v ON v.id = t.model_version_id AND {ready_sql('v')} "
            "WHERE t.source_id = ANY(%s) GROUP BY t.source_id",
            [ids],
        )
        found["training"] = dict(cur.fetchall())
    found["report"] = _has_report()
    return found


def _has_report() -> bool:
    """Whether the published version has the validation report /validation/ serves (its page
    is put together as it is served, so its size is not known ahead)."""
    from pathlib import Path

    from archive.catalogue.models import ModelVersion

    path = ModelVersion.objects.published().values_list("path", flat=True).first()
    return bool(path) and (Path(path) / "files" / "validation" / "index.html").is_file()


def links_for(parsed: Sequence[ParsedId], urls: Urls) -> list[Link]:
    """Every link of every ID, in the order the IDs came; an error row for an ID that is
    malformed or names no source of this archive."""
    ids = sorted({p.source_id for p in parsed if p.source_id is not None})
    known = _known(ids) if ids else {"source": set()}
    rows: list[Link] = []
    for p in parsed:
        if p.source_id is None:
            rows.append(Link(p.text, "#this", error_message=f"UsageFault: {p.problem}"))
        elif p.source_id not in known["source"]:
            message = f"NotFoundFault: no source {p.source_id} in this archive"
            rows.append(Link(p.text, "#this", error_message=message))
        else:
            rows += _source_links(p.text, p.source_id, known, urls)
    return rows


def _source_links(text: str, sid: int, known: dict, urls: Urls) -> list[Link]:
    version = known["published"].get(sid)
    votable = "application/x-votable+xml"
    if version is not None:
        this = Link(
            text,
            "#this",
            _tap(urls, "rvs_cnn", sid),
            description=f"CNN labels (Teff, log g, [M/H], [alpha/M], [Fe/H]) of the source "
            f"from the published model version {version}",
            content_type=votable,
            local_semantics="catalogue-row",
        )
    else:
        this = Link(
            text,
            "#this",
            _tap(urls, "gaia_source", sid),
            description="Gaia DR3 columns of the source (no published CNN labels)",
            content_type=votable,
            local_semantics="catalogue-row",
        )
    rows = [this]
    if sid in known["rvs"]:
        for fmt, ctype in (("fits", "application/fits"), ("votable", votable)):
            length = products.content_length("rvs_spectrum", fmt, known["rvs"][sid])
            rows.append(
                Link(
                    text,
                    "#progenitor",
                    urls.product("rvs", sid, fmt),
                    description="Gaia DR3 RVS mean spectrum the labels were derived from "
                    f"(846-870 nm, 2401 pixels, wavelength in Angstrom) as {fmt.upper()}",
                    content_type=ctype,
                    content_length=length,
                    content_qualifier="#spectrum",
                    local_semantics="rvs-spectrum",
                )
            )
    if sid in known["xp"]:
        for fmt, ctype in (("fits", "application/fits"), ("votable", votable)):
            length = products.content_length("xp_continuous", fmt, products.xp_keywords(sid))
            rows.append(
                Link(
                    text,
                    "#progenitor",
                    urls.product("xp", sid, fmt),
                    description="Gaia DR3 XP continuous mean spectrum the hybrid CNN used (55 "
                    "BP and 55 RP coefficients with their errors and correlations, as the Gaia "
                    f"archive's XP_CONTINUOUS) as {fmt.upper()}",
                    content_type=ctype,
                    content_length=length,
                    local_semantics="xp-coefficients",
                )
            )
    if sid in known["training"]:
        rows.append(
            Link(
                text,
                "#auxiliary",
                _tap(urls, "training_sample", sid),
                description="APOGEE DR17 labels this training star was trained or validated "
                f"on (model versions {known['training'][sid]})",
                content_type=votable,
                local_semantics="apogee-labels",
            )
        )
    if version is not None and known["report"]:
        rows.append(
            Link(
                text,
                "#auxiliary",
                urls.validation,
                description=f"Validation report of the published model version {version}",
                content_type="text/html",
                local_semantics="validation-report",
            )
        )
    return rows
