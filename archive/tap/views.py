"""TAP 1.1 endpoints: sync, async (UWS 1.1 on the jobs layer), VOSI and examples.

Views stay thin: parameters in ``params``, SQL in ``service``, documents in ``uws``,
``capabilities``, ``archive.metadata.vosi`` and ``examples``; results stream through
``archive.results``. Every error is a DALI error document with its HTTP status.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from archive.citation.infos import cite_text, result_infos
from archive.errors import ArchiveError, BadParameter, LimitExceeded, NotFound, UsageError
from archive.jobs import lifecycle
from archive.jobs.access import Caller, listed
from archive.jobs.models import Job
from archive.jobs.phases import ACTIVE, Phase
from archive.metadata import vosi
from archive.metadata.published import registry
from archive.metadata.registry import Registry, RegistryError
from archive.results.descriptor import datalink_descriptors, site_url
from archive.results.formats import resolve
from archive.results.http import ERROR_CONTENT_TYPE, error_response, result_response
from archive.results.query import archive_error
from archive.results.votable import error_document

from . import capabilities as caps
from . import examples, personal, submit, uws
from .limits import limits_for
from .params import QueryParams, collect, job_parameters_of
from .service import prepare, query_connection, reader_connection, result_fields
from .submit import Via
from .uploads import UploadTable, read_uploads

XML = "text/xml; charset=utf-8"
MAX_WAIT_S = 60


def _xml(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(body, content_type=XML, status=status)


def _text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8", status=status)


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("tap:root")).rstrip("/")


def root(request: HttpRequest) -> HttpResponse:
    return _text(
        "RVS-CNN Archive TAP 1.1 service. Endpoints: sync, async, capabilities, availability, "
        f"tables, examples under {_base(request)}/\n"
    )


def _uploads(request: HttpRequest, spec: str | None, limits) -> list[UploadTable]:
    if not spec:
        return []
    size = sum(f.size for f in request.FILES.values())
    if size > limits.upload_bytes:
        raise LimitExceeded(f"uploads of {size} bytes; at most {limits.upload_bytes} in all")
    parts = {name: f.read() for name, f in request.FILES.items()}
    caller = Caller.of(request)
    return read_uploads(
        spec,
        parts,
        limits,
        host=request.get_host(),
        result_file=lambda job_id, rid: submit.result_bytes(caller, job_id, rid),
    )


def _closing(content, connection):
    """The stream, then the connection closed (its temporary upload tables with it)."""
    try:
        yield from content
    finally:
        connection.close()


@csrf_exempt
def sync(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    limits = limits_for(request.user)
    dedicated = None  # the connection of a query with uploads, closed after its result
    try:
        params = QueryParams.parse(collect(request), limits)
        fmt = resolve(params.format)
        uploads = _uploads(request, params.upload, limits)
        prepared = prepare(params.lang, params.query, uploads, request.user)
        connection, own = query_connection(uploads, limits.sync_timeout_s, request.user)
        dedicated = connection if own else None
        fields = result_fields(connection, prepared)
        response = result_response(
            connection,
            prepared.sql,
            fields,
            fmt,
            params.maxrec,
            service_descriptors=datalink_descriptors(fields, site_url(request)),
            infos=result_infos(site_url(request)),
        )
    except (ArchiveError, psycopg.Error) as exc:
        response = error_response(archive_error(exc))
    if dedicated is not None:
        if response.streaming:
            response.streaming_content = _closing(response.streaming_content, dedicated)
        else:
            dedicated.close()
    return response


def availability(request: HttpRequest) -> HttpResponse:
    try:
        with reader_connection(5).cursor() as cur:
            cur.execute("SELECT 1 FROM TAP_SCHEMA.schemas LIMIT 1")
        return _xml(caps.availability(True, "The service is accepting queries"))
    except Exception as exc:  # any failure to reach the database means: not available
        return _xml(caps.availability(False, f"The database does not answer: {exc}"))


def capabilities(request: HttpRequest) -> HttpResponse:
    return _xml(caps.capabilities(_base(request)))


def _registry_of(request: HttpRequest) -> Registry:
    """The published registry, with the caller's personal tables (own and shared)."""
    mine = personal.schemas(request.user)
    base = registry()
    return Registry(schemas=base.schemas + mine) if mine else base


def tables(request: HttpRequest) -> HttpResponse:
    detail = collect(request).get("DETAIL", "max").lower()
    if detail not in ("min", "max"):
        return error_response(BadParameter("detail", detail, "min or max"))
    notes = {settings.PUBLISHED_SCHEMA: cite_text(site_url(request))}
    return _xml(vosi.tableset(_registry_of(request), detail=detail, notes=notes))


def table(request: HttpRequest, name: str) -> HttpResponse:
    try:
        return _xml(vosi.table_document(_registry_of(request), name))
    except RegistryError:
        return error_response(NotFound(f"no table {name}"))


def examples_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(examples.document(), content_type="application/xhtml+xml")


# --- async (UWS 1.1) ---------------------------------------------------------------------


def _job(request: HttpRequest, job_id: str) -> Job:
    return submit.job_of(Caller.of(request), job_id)


def _job_url(request: HttpRequest, job: Job) -> str:
    return request.build_absolute_uri(reverse("tap:job", args=[job.public_id]))


def _result_url(request: HttpRequest):
    return lambda job, rid: request.build_absolute_uri(
        reverse("tap:result", args=[job.public_id, rid])
    )


def _parse_time(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(name, value, "an ISO 8601 time, e.g. 2026-12-03T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _job_list(request: HttpRequest) -> HttpResponse:
    """The caller's own jobs (UWS 1.1 Sect. 2.2.1.1: PHASE, AFTER, LAST)."""
    jobs = listed(Caller.of(request), submit.queries())
    phases = [p.upper() for p in request.GET.getlist("PHASE") + request.GET.getlist("phase")]
    unknown = [p for p in phases if p not in Phase.values]
    if unknown:
        raise BadParameter("PHASE", unknown[0], ", ".join(Phase.values))
    jobs = jobs.filter(phase__in=phases) if phases else jobs.kept()
    params = collect(request)
    if "AFTER" in params:
        jobs = jobs.filter(creation_time__gt=_parse_time("AFTER", params["AFTER"]))
    jobs = jobs.select_related("owner").order_by("-creation_time", "-id")
    if "LAST" in params:
        try:
            last = int(params["LAST"])
            if last < 1:
                raise ValueError
        except ValueError:
            raise BadParameter("LAST", params["LAST"], "a positive whole number") from None
        jobs = jobs[:last]
    return _xml(uws.job_list(jobs, lambda job: _job_url(request, job)))


def _create(request: HttpRequest) -> HttpResponse:
    """A PENDING job with the parameters as sent: UWS accepts any, and a job whose query or
    parameters are wrong ends in ERROR saying why when it runs (taplint's QAS stage)."""
    params = collect(request)
    job = submit.submit(
        request,
        job_parameters_of(params),
        via=Via.TAP,
        run=params.get("PHASE", "").upper() == "RUN",
        run_id=params.get("RUNID", ""),
        files=request.FILES,
    )
    return HttpResponseRedirect(_job_url(request, job), status=303)


def _dispatch(handler):
    """CSRF-exempt, and ArchiveError → DALI error document."""

    @csrf_exempt
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return handler(request, *args, **kwargs)
        except ArchiveError as exc:
            return error_response(exc)

    view.__name__ = handler.__name__
    return view


@_dispatch
def async_jobs(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _job_list(request)
    if request.method == "POST":
        return _create(request)
    return HttpResponseNotAllowed(["GET", "POST"])


def _wait(request: HttpRequest, job: Job) -> Job:
    """UWS 1.1 blocking: WAIT=seconds returns when the phase leaves PHASE (or the current one)
    or the time is up (capped at MAX_WAIT_S; -1 means the cap)."""
    params = collect(request)
    if "WAIT" not in params:
        return job
    try:
        wait = int(params["WAIT"])
    except ValueError:
        raise BadParameter("WAIT", params["WAIT"], "seconds, a whole number") from None
    wait = MAX_WAIT_S if wait < 0 else min(wait, MAX_WAIT_S)
    start = params.get("PHASE", job.phase).upper()
    if job.phase != start or job.phase not in (*ACTIVE, Phase.PENDING):
        return job
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
        if job.phase != start:
            break
    return job


@_dispatch
def job(request: HttpRequest, job_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    if request.method == "GET":
        the_job = _wait(request, the_job)
        return _xml(uws.job_document(the_job, _result_url(request)))
    if request.method == "DELETE" or (
        request.method == "POST" and collect(request).get("ACTION", "").upper() == "DELETE"
    ):
        lifecycle.destroy(the_job.pk)
        return HttpResponseRedirect(request.build_absolute_uri(reverse("tap:async")), status=303)
    if request.method == "POST":
        params = collect(request)
        if "PHASE" in params:
            return _phase_post(request, the_job, params["PHASE"])
        return _update_parameters(request, the_job)
    return HttpResponseNotAllowed(["GET", "POST", "DELETE"])


def _phase_post(request: HttpRequest, the_job: Job, phase: str) -> HttpResponse:
    phase = phase.upper()
    if phase == "RUN":
        submit.run(Caller.of(request), Via.TAP, the_job)
    elif phase == "ABORT":
        lifecycle.abort(the_job.pk)
    else:
        raise BadParameter("PHASE", phase, "RUN or ABORT")
    return HttpResponseRedirect(_job_url(request, the_job), status=303)


def _update_parameters(request: HttpRequest, the_job: Job) -> HttpResponse:
    if the_job.phase != Phase.PENDING:
        raise UsageError(
            f"job {the_job.public_id} is {the_job.phase}: parameters change while PENDING"
        )
    merged = {**the_job.parameters, **job_parameters_of(collect(request))}
    Job.objects.filter(pk=the_job.pk).update(parameters=merged)
    return HttpResponseRedirect(_job_url(request, the_job), status=303)


@_dispatch
def job_phase(request: HttpRequest, job_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    if request.method == "POST":
        return _phase_post(request, the_job, collect(request).get("PHASE", ""))
    return _text(the_job.phase)


@_dispatch
def job_parameters(request: HttpRequest, job_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    if request.method == "POST":
        return _update_parameters(request, the_job)
    return _xml(uws.parameters_document(the_job))


@_dispatch
def job_execution_duration(request: HttpRequest, job_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    if request.method == "POST":
        value = collect(request).get("EXECUTIONDURATION", "")
        try:
            seconds = int(value)
            if seconds < 0:
                raise ValueError
        except ValueError:
            raise BadParameter("EXECUTIONDURATION", value, "seconds, 0 or more") from None
        if the_job.phase == Phase.PENDING:
            hard = limits_for(request.user).async_timeout_s
            seconds = hard if seconds == 0 else min(seconds, hard)
            Job.objects.filter(pk=the_job.pk).update(execution_duration=seconds)
        return HttpResponseRedirect(_job_url(request, the_job), status=303)
    return _text(str(the_job.execution_duration))


@_dispatch
def job_destruction(request: HttpRequest, job_id: str) -> HttpResponse:
    """UWS destruction; POST DESTRUCTION moves it, at most ``retention_max_s`` from now (the
    service may shorten what is asked: UWS 1.1 Sect. 2.2.3.3)."""
    the_job = _job(request, job_id)
    if request.method == "POST":
        value = collect(request).get("DESTRUCTION", "")
        wanted = _parse_time("DESTRUCTION", value)
        now = timezone.now()
        latest = now + timedelta(seconds=limits_for(request.user).retention_max_s)
        Job.objects.filter(pk=the_job.pk).update(destruction_time=max(now, min(wanted, latest)))
        return HttpResponseRedirect(_job_url(request, the_job), status=303)
    return _text(uws.timestamp(the_job.destruction_time) or "")


@_dispatch
def job_quote(request: HttpRequest, job_id: str) -> HttpResponse:
    return _text(uws.timestamp(_job(request, job_id).quote) or "")


@_dispatch
def job_owner(request: HttpRequest, job_id: str) -> HttpResponse:
    return _text(uws.owner_id(_job(request, job_id)) or "")


@_dispatch
def job_error(request: HttpRequest, job_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    if the_job.phase != Phase.ERROR:
        raise NotFound(f"job {job_id} is {the_job.phase}: it has no error")
    return HttpResponse(error_document(the_job.error_summary), content_type=ERROR_CONTENT_TYPE)


@_dispatch
def job_results(request: HttpRequest, job_id: str) -> HttpResponse:
    return _xml(uws.results_document(_job(request, job_id), _result_url(request)))


@_dispatch
def job_result(request: HttpRequest, job_id: str, result_id: str) -> HttpResponse:
    the_job = _job(request, job_id)
    found = next((r for r in the_job.result_list if r.id == result_id), None)
    if found is None:
        raise NotFound(f"job {job_id} has no result {result_id}")
    if found.href:
        return HttpResponseRedirect(found.href, status=303)
    path = submit.result_path(the_job, result_id)
    if path is None:
        raise NotFound(f"the result of job {job_id} is gone")
    return FileResponse(path.open("rb"), content_type=found.content_type)


@_dispatch
def unknown(request: HttpRequest, rest: str) -> HttpResponse:
    """Any other path under async: a UWS/DALI error document, not the site's HTML page."""
    raise NotFound(f"no such job or job resource: async/{rest}")
