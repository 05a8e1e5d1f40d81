"""DataLink /datalink/links, the products /datalink/rvs|xp/<source_id>, cone search /scs.

Every failure of a whole request is a DALI error document with its HTTP status; within a links
document, one bad ID is an error row.
"""

from __future__ import annotations

from urllib.parse import urlencode

import psycopg
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from archive.citation.infos import result_infos
from archive.errors import ArchiveError, LimitExceeded, UnknownFormat, UsageError
from archive.results.descriptor import site_url
from archive.results.http import error_response, result_response
from archive.results.query import archive_error
from archive.tap.service import reader_connection

from . import bulk, bulk_query, clients, document, products, scs
from .bulk_ids import MAX_BULK_IDS, form_pairs, parameter, requested_ids
from .ids import parse_id
from .links import Urls, links_for

#: IDs one links document answers (10 000 answer in well under a second); a request may
#: carry up to MAX_BULK_IDS, and the document then ends in OVERFLOW: pyVO's batched
#: iter_datalinks sends every row's ID at once, then asks again for the rest in batches of
#: the size the first document answered
MAX_IDS = 10_000
SCS_TIMEOUT_S = 60


def _params(request: HttpRequest) -> dict[str, str]:
    params = {}
    for source in (request.GET, request.POST):
        for key in source:
            params[key.upper()] = source.get(key)
    return params


def _urls(request: HttpRequest) -> Urls:
    def product(kind: str, source_id: int, fmt: str) -> str:
        path = reverse(f"datalink:{kind}", args=[source_id])
        return request.build_absolute_uri(path) + "?" + urlencode({"RESPONSEFORMAT": fmt})

    return Urls(
        tap_sync=request.build_absolute_uri(reverse("tap:sync")),
        product=product,
        validation=request.build_absolute_uri(reverse("web:validation")),
    )


@csrf_exempt
def links(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        pairs = form_pairs(request, MAX_BULK_IDS)
        ids = [v for k, v in pairs if k.upper() == "ID"]
        if not ids:
            raise UsageError("ID is required: one or more Gaia DR3 source_ids")
        if len(ids) > MAX_BULK_IDS:
            raise LimitExceeded(f"{len(ids)} IDs in one request; at most {MAX_BULK_IDS}")
        fmt = parameter(pairs, "RESPONSEFORMAT")
        if fmt and fmt.split(";")[0].lower() not in ("votable", "application/x-votable+xml"):
            raise UnknownFormat(fmt, [document.CONTENT_TYPE])
        parsed = [parse_id(i) for i in ids[:MAX_IDS]]
        body = document.document(
            links_for(parsed, _urls(request)),
            integer_ids=clients.echoes_integer_ids(request, parsed),
            overflow=len(ids) > MAX_IDS,
        )
    except ArchiveError as exc:
        return error_response(exc)
    return HttpResponse(body, content_type=document.CONTENT_TYPE)


def _product(request: HttpRequest, ident: str, build) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        params = _params(request)
        fmt = products.product_format(params.get("RESPONSEFORMAT") or params.get("FORMAT"))
        parsed = parse_id(ident)
        if parsed.source_id is None:
            raise UsageError(f"{ident!r} is {parsed.problem}")
        product = build(parsed.source_id)
        body = products.render(product, fmt)
    except ArchiveError as exc:
        return error_response(exc)
    response = HttpResponse(body, content_type=fmt.content_type)
    response["Content-Disposition"] = f'inline; filename="{product.filename(fmt)}"'
    return response


def rvs(request: HttpRequest, ident: str) -> HttpResponse:
    """The RVS mean spectrum (RESPONSEFORMAT fits, votable, csv, ecsv)."""
    return _product(request, ident, products.rvs_product)


def xp(request: HttpRequest, ident: str) -> HttpResponse:
    """The XP continuous coefficients."""
    return _product(request, ident, products.xp_product)


@csrf_exempt
def cone_search(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        cone = scs.parse(_params(request))
        selected = scs.fields(cone.verb)
        connection = reader_connection(SCS_TIMEOUT_S)
        return result_response(
            connection,
            scs.sql(cone, selected),
            selected,
            "votable",
            cone.maxrec,
            "cone",
            infos=result_infos(site_url(request)),
        )
    except (ArchiveError, psycopg.Error) as exc:
        return error_response(archive_error(exc))


@csrf_exempt
def spectra(request: HttpRequest) -> HttpResponse:
    """RVS spectra and XP coefficients of up to MAX_BULK_IDS sources in one streamed file."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        pairs = form_pairs(request, MAX_BULK_IDS)
        fmt = bulk.bulk_format(parameter(pairs, "RESPONSEFORMAT") or parameter(pairs, "FORMAT"))
        ids = requested_ids(request, pairs)
        store = products._store()
    except ArchiveError as exc:
        return error_response(exc)
    rows = bulk.WRITERS[fmt.name](bulk_query.batches(ids, store), len(ids))
    response = StreamingHttpResponse(rows, content_type=fmt.content_type)
    response["Content-Disposition"] = f'attachment; filename="gaia_dr3_spectra{fmt.suffix}"'
    return response
