"""The query page: an ADQL / PostgreSQL editor with the TAP examples and the schema browser;
queries run as async jobs of the TAP service (``archive.tap.submit``), listed per visitor."""

from __future__ import annotations

import re

import numpy as np
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from archive.citation.infos import result_infos
from archive.errors import ArchiveError, NotFound, UsageError
from archive.jobs import lifecycle
from archive.jobs.access import Caller
from archive.jobs.models import Job
from archive.jobs.phases import ACTIVE, Phase
from archive.metadata.published import registry
from archive.results.descriptor import datalink_descriptors, site_url
from archive.results.formats import resolve
from archive.results.http import error_response, result_response
from archive.tap import examples, personal
from archive.tap.limits import limits_for
from archive.tap.service import caller_of, prepare, reader_connection, result_fields
from archive.tap.submit import Via, job_of, jobs_of, result_path
from archive.tap.submit import submit as tap_submit
from labeling.flags import CLEAN_FLAG

from . import plots
from .samp import table_url
from .search_views import DOWNLOADS

PREVIEW_ROWS = 100
PREVIEW_MAX_BYTES = 50 * 2**20
LANGS = ("ADQL", "PostgreSQL")
#: astropy's reader of each result file a TAP job writes (jobs sent by TAP clients too)
READERS = {
    ".vot": "votable",
    ".csv": "ascii.csv",
    ".tsv": "ascii.tab",
    ".ecsv": "ascii.ecsv",
    ".fits": "fits",
    ".parquet": "parquet",
}


def visible_jobs(request: HttpRequest):
    """The visitor's own queries: a user's, or those this anonymous session created."""
    return jobs_of(Caller.of(request))


def _job(request: HttpRequest, job_id: str) -> Job:
    try:
        return job_of(Caller.of(request), job_id)
    except NotFound:
        raise Http404(f"no job {job_id} of yours") from None


def _schema(user):
    """The published tables, then the user's personal ones (own and shared)."""
    tables = list(registry().tables())
    tables += [(s, t) for s in personal.schemas(user) for t in s.tables]
    return [{"schema": s.name, "table": t, "name": f"{s.name}.{t.name}"} for s, t in tables]


def query_page(request: HttpRequest) -> HttpResponse:
    error, status = None, 200
    lang = "ADQL"
    text = request.GET.get("adql") or (
        f"SELECT TOP 100 source_id, ra, dec, teff, logg, m_h, alpha_m, flag_boundary\n"
        f"FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn\nWHERE flag_boundary = '{CLEAN_FLAG}'"
    )
    chosen = request.GET.get("example")
    listed = examples.queries()
    if chosen:
        text = next((q for e, q in listed if e.id == chosen), text)
    if request.method == "POST" and request.POST.get("edit"):
        text = request.POST.get("query", "")  # a search handed over for editing, not run
    elif request.method == "POST":
        text = request.POST.get("query", "")
        lang = request.POST.get("lang", "ADQL")
        try:
            job = submit(request, lang, text, request.POST.get("maxrec", ""))
        except ArchiveError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect("web:job", job_id=job.public_id)
    return render(
        request,
        "web/query.html",
        {
            "query": text,
            "lang": lang,
            "langs": LANGS,
            "error": error,
            "error_at": _error_position(error),
            "examples": listed,
            "schema": _schema(request.user),
            "jobs": visible_jobs(request)[:50],
            "limits": limits_for(request.user),
            "tables": personal.readable(request.user),
            "finished": visible_jobs(request).filter(phase=Phase.COMPLETED)[:20],
        },
        status=status,
    )


def _error_position(error: str | None) -> tuple[int, int] | None:
    """(line, column) the translator names in its message, for the editor to mark."""
    found = re.search(r"at line (\d+), column (\d+)", error or "")
    return (int(found[1]), int(found[2])) if found else None


def submit(request: HttpRequest, lang: str, query: str, maxrec: str) -> Job:
    """Check the query (so an error shows beside it at once), then queue it as a TAP job."""
    if lang not in LANGS:
        raise UsageError(f"unknown query language {lang!r}")
    if not query.strip():
        raise UsageError("the query is empty")
    prepare(lang, query, user=request.user)  # raises QueryError with where the query is wrong
    params = {"LANG": lang, "QUERY": query, "RESPONSEFORMAT": "votable"}
    if maxrec.strip():
        params["MAXREC"] = maxrec.strip()
    return tap_submit(request, params, via=Via.WEB, run=True)


def _result_table(job: Job):
    """The job's result as an astropy table (None if too large to preview or gone)."""
    path = result_path(job)
    if path is None or path.stat().st_size > PREVIEW_MAX_BYTES:
        return None
    from astropy.table import Table

    reader = READERS.get(path.suffix)
    try:
        # a CSV cut by MAXREC ends with a "# QUERY_STATUS=OVERFLOW" line (archive.results.text)
        options = {"comment": "#"} if reader == "ascii.csv" else {}
        table = Table.read(path, format=reader, **options) if reader else None
    except Exception:  # noqa: BLE001 -- a result astropy cannot read is downloaded, not shown
        table = None
    if table is None:
        return None
    known = job.result_list[0]
    if known.rows is None:  # remember the count for the job list
        entry = {**job.results[0], "rows": len(table)}
        Job.objects.filter(pk=job.pk).update(results=[entry, *job.results[1:]])
    return table


def job_page(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    table = _result_table(job) if job.phase == Phase.COMPLETED else None
    columns, rows, numeric = [], [], []
    if table is not None:
        columns = [{"name": c, "unit": str(table[c].unit or "")} for c in table.colnames]
        rows = [[_cell(v) for v in row] for row in table[:PREVIEW_ROWS].iterrows()]
        numeric = [c for c in table.colnames if table[c].dtype.kind in "iuf"]
    return render(
        request,
        "web/job.html",
        {
            "job": job,
            "columns": columns,
            "rows": rows,
            "n_rows": None if table is None else len(table),
            "numeric": numeric,
            "x": request.GET.get("x") or (numeric[0] if numeric else ""),
            "y": request.GET.get("y", numeric[1] if len(numeric) > 1 else ""),
            "downloads": DOWNLOADS,
            "samp_url": table_url(
                request,
                job.parameters.get("QUERY", ""),
                job.parameters.get("LANG", "ADQL"),
                maxrec=_int_or_none(job.parameters.get("MAXREC")),
            ),
            "samp_name": f"rvs_cnn job {job.public_id}",
            "preview_rows": PREVIEW_ROWS,
            "active": job.phase in (*ACTIVE, Phase.PENDING),
        },
    )


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _cell(value) -> str:
    if isinstance(value, np.ma.core.MaskedConstant):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.6g}"
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def job_status(request: HttpRequest, job_id: str) -> JsonResponse:
    job = _job(request, job_id)
    return JsonResponse(
        {"phase": job.phase, "seconds": job.execution_seconds, "error": job.error_summary}
    )


def job_plot(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    table = _result_table(job) if job.phase == Phase.COMPLETED else None
    x, y = request.GET.get("x", ""), request.GET.get("y", "")
    if table is None or x not in table.colnames or (y and y not in table.colnames):
        raise Http404("no such column in the result")

    def values(name):
        col = table[name]
        return np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)

    try:
        body = plots.quick_plot(values(x), values(y) if y else None, x, y or None)
    except (TypeError, ValueError) as exc:
        raise Http404(f"not numeric: {exc}") from exc
    return HttpResponse(body, content_type="image/png")


def job_download(request: HttpRequest, job_id: str) -> HttpResponse:
    """The job's result in any format: its query run again through the TAP path, streamed."""
    job = _job(request, job_id)
    if job.phase != Phase.COMPLETED:
        raise Http404(f"job {job_id} is {job.phase}")
    limits = limits_for(request.user)
    maxrec = job.parameters.get("MAXREC")
    try:
        fmt = resolve(request.GET.get("format", "votable"))
        prepared = prepare(
            job.parameters.get("LANG", "ADQL"), job.parameters["QUERY"], user=job.owner
        )
        conn = reader_connection(limits.sync_timeout_s, caller_of(job.owner))
        fields = result_fields(conn, prepared)
    except ArchiveError as exc:
        return error_response(exc)
    rows = int(maxrec) if maxrec and maxrec.isdigit() else limits.maxrec_default
    links = datalink_descriptors(fields, site_url(request))
    return result_response(
        conn,
        prepared.sql,
        fields,
        fmt,
        rows,
        service_descriptors=links,
        infos=result_infos(site_url(request)),
        filename=f"job-{job.public_id}",
    )


@require_POST
def job_delete(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job(request, job_id)
    lifecycle.destroy(job.pk)
    return redirect(reverse("web:query") + "#jobs")
