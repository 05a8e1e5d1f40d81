"""The search page: the form, a page of results, and downloads of the whole result."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from archive.citation.infos import result_infos
from archive.errors import ArchiveError
from archive.results.descriptor import site_url
from archive.results.formats import resolve
from archive.results.http import error_response, result_response
from archive.tap.limits import limits_for
from archive.tap.service import prepare_adql, reader_connection, result_fields
from labeling.flags import CLEAN_FLAG, FLAG_DIGITS
from labeling.labels import readable_unit

from . import plots, queries
from .forms import PAGE_SIZES, SearchForm
from .samp import table_url
from .search import COUNT_CAP, QUANTITIES, Quantity

#: the formats offered as buttons (every format the service writes stays reachable by name)
DOWNLOADS = ("csv", "fits", "votable", "parquet", "ecsv", "tsv")
#: what the quick plot of a search's results can draw (numbers, not ids or strings)
PLOTTABLE = tuple(n for n in QUANTITIES if n not in ("source_id", "flag_boundary", "model_version"))
PLOT_PARAMS = ("plot_x", "plot_y")


def cell(value, quantity: Quantity | None = None) -> tuple[str, bool]:
    """(text, numeric) of one table cell; numbers rounded as ``quantity`` shows them."""
    if value is None:
        return "", False
    if isinstance(value, float):
        return (quantity.shown(value) if quantity else f"{value:.6g}"), True
    if isinstance(value, int):
        return str(value), True
    return str(value), False


def result_rows(rows: list[tuple], columns: tuple[str, ...]) -> list[list[dict]]:
    """The page's cells: text, numeric, and whether the value is an extrapolation (a label
    whose flag_boundary digit is 1, when the row shows flag_boundary)."""
    quantities = [QUANTITIES[c] for c in columns]
    digit = {d.key: i for i, d in enumerate(FLAG_DIGITS)}
    at_flag = columns.index("flag_boundary") if "flag_boundary" in columns else None
    out = []
    for row in rows:
        flag = row[at_flag] if at_flag is not None else None
        cells = []
        for q, value in zip(quantities, row, strict=True):
            text, numeric = cell(value, q)
            outside = bool(
                flag and q.of_label in digit and not q.error and flag[digit[q.of_label]] == "1"
            )
            cells.append({"text": text, "numeric": numeric, "extrapolated": outside})
        out.append(cells)
    return out


def _query_string(params: QueryDict, **changes) -> str:
    q = params.copy()
    for key, value in changes.items():
        q.pop(key, None)
        if value is not None:
            q[key] = str(value)
    q.pop("csrfmiddlewaretoken", None)
    return q.urlencode()


SAVED = "web_searches"  # session key: searches posted from the form, by a short key
MAX_SAVED = 20


def _params(request: HttpRequest) -> QueryDict:
    """The search's parameters: the GET's, on top of a saved search (``s=<key>``), so that a
    pasted list of thousands of ids (too long for a URL) pages, sorts and downloads."""
    params = QueryDict(mutable=True)
    saved = request.session.get(SAVED, {}).get(request.GET.get("s", ""))
    if saved:
        for key, values in saved.items():
            params.setlist(key, values)
    for key in request.GET:
        if key != "s":
            params.setlist(key, request.GET.getlist(key))
    if saved:
        params["s"] = request.GET["s"]
    return params


def _save(request: HttpRequest, data: QueryDict) -> str:
    """Keep a posted search in the session; its key goes in the URL instead of its fields."""
    fields = {k: data.getlist(k) for k in data if k not in ("csrfmiddlewaretoken", "page")}
    key = hashlib.blake2b(repr(sorted(fields.items())).encode(), digest_size=6).hexdigest()
    saved = dict(request.session.get(SAVED, {}))
    saved.pop(key, None)
    saved[key] = fields
    request.session[SAVED] = dict(list(saved.items())[-MAX_SAVED:])
    return key


def search(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SearchForm(request.POST)
        if form.is_valid():
            return redirect(reverse("web:search") + "?s=" + _save(request, request.POST))
    else:
        params = _params(request)
        if request.GET.get("s") and "s" not in params:
            return redirect("web:search")  # a saved search this session no longer has
        form = SearchForm(params or None)
    context: dict = {"form": form, "page": None, "downloads": DOWNLOADS, "clean_flag": CLEAN_FLAG}
    if form.is_bound and form.is_valid():
        s = form.search()
        per_page = form.cleaned_data.get("per_page") or PAGE_SIZES[1]
        number = form.cleaned_data.get("page") or 1
        limits = limits_for(request.user)
        try:
            page = queries.run_search(s, number, per_page, limits.sync_timeout_s, COUNT_CAP)
        except ArchiveError as exc:
            form.add_error(None, exc.message)
        else:
            capped = page.total > COUNT_CAP
            pages = max(1, -(-min(page.total, COUNT_CAP) // per_page))
            headers = []
            for f, name in zip(page.fields, s.columns, strict=True):
                direction = "desc" if s.sort == name and s.direction == "asc" else "asc"
                headers.append(
                    {
                        "name": name,
                        "label": QUANTITIES[name].label,
                        "unit": readable_unit(f.unit) if f.unit else "",
                        "description": f.description,
                        "sorted": s.direction if s.sort == name else "",
                        "href": "?"
                        + _query_string(request.GET, sort=name, direction=direction, page=None),
                    }
                )
            context.update(
                page=page,
                search=s,
                headers=headers,
                number=number,
                pages=pages,
                capped=capped,
                cap=COUNT_CAP,
                first_row=(number - 1) * per_page + 1,
                last_row=(number - 1) * per_page + len(page.rows),
                prev_href="?" + _query_string(request.GET, page=number - 1) if number > 1 else "",
                next_href="?" + _query_string(request.GET, page=number + 1)
                if number < pages or (capped and len(page.rows) == per_page)
                else "",
                download_query=_query_string(request.GET, page=None),
                rows=result_rows(page.rows, s.columns),
                missing_ids=queries.missing_ids(s, limits.sync_timeout_s),
                id_column=s.columns.index("source_id") if "source_id" in s.columns else None,
                page_ids="\n".join(str(r[s.columns.index("source_id")]) for r in page.rows)
                if "source_id" in s.columns
                else "",
                maxrec=limits.maxrec_default,
                samp_url=table_url(request, page.adql, maxrec=limits.maxrec_default),
                **_plot_context(request, s),
            )
    return render(request, "web/search.html", context)


def _plot_context(request: HttpRequest, s) -> dict:
    """The quick-plot form of the results: two columns (a Kiel diagram unless chosen)."""
    shown = [c for c in s.columns if c in PLOTTABLE]
    x = request.GET.get("plot_x") or (shown[0] if shown else "teff")
    y = request.GET.get("plot_y", "logg" if "plot_x" not in request.GET else "")
    x = x if x in PLOTTABLE else "teff"
    y = y if y in PLOTTABLE else ""
    return {
        "plottable": [(n, QUANTITIES[n].label) for n in PLOTTABLE],
        "plot_x": x,
        "plot_y": y,
        "plot_keep": [
            (k, v)
            for k in request.GET
            if k not in (*PLOT_PARAMS, "page")
            for v in request.GET.getlist(k)
        ],
        "plot_query": _query_string(request.GET, page=None, plot_x=None, plot_y=None),
    }


def _axis(name: str) -> str:
    q = QUANTITIES[name]
    return f"{q.label} ({q.unit})" if q.unit else q.label


def plot(request: HttpRequest) -> HttpResponse:
    """A quick look at a search's result: a histogram of ``x``, or ``y`` against ``x``
    (a 2-D histogram past plots.SCATTER_MAX rows), over its first QUICK_PLOT_ROWS rows."""
    form = SearchForm(_params(request))
    x, y = request.GET.get("x", ""), request.GET.get("y", "")
    if not form.is_valid() or x not in PLOTTABLE or (y and y not in PLOTTABLE):
        return HttpResponse("a valid search and plottable x (and y) are required",
                            status=400, content_type="text/plain")  # fmt: skip
    names = [x, y] if y else [x]
    try:
        columns = queries.search_columns(
            form.search(), names, limits_for(request.user).sync_timeout_s
        )
    except ArchiveError as exc:
        return error_response(exc)
    body = plots.quick_plot(columns[0], columns[1] if y else None, _axis(x), y and _axis(y))
    return HttpResponse(body, content_type="image/png")


def download(request: HttpRequest) -> HttpResponse:
    """The whole result of a search (up to the user's MAXREC) in any format, streamed through
    the TAP service's path."""
    form = SearchForm(_params(request))
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        return HttpResponse(f"invalid search: {errors}", status=400, content_type="text/plain")
    limits = limits_for(request.user)
    try:
        fmt = resolve(request.GET.get("format", "csv"))
        prepared = prepare_adql(form.search().adql())
        conn = reader_connection(limits.sync_timeout_s)
        fields = result_fields(conn, prepared)
    except ArchiveError as exc:
        return error_response(exc)
    return result_response(
        conn,
        prepared.sql,
        fields,
        fmt,
        limits.maxrec_default,
        filename="rvs_cnn_search",
        infos=result_infos(site_url(request)),
    )
