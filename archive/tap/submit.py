"""Submitting a query as a job, for the TAP service and the web query page alike.

One path from a request to a queued query: the caller's limits (jobs waiting and running per
visitor, and all callers' running queries together), the job with its parameters, times and
site address, its uploads stored for the worker, and the lookup of a job and its result files.
Who may see a job is :mod:`archive.jobs.access`'s rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.utils import timezone

from archive.errors import LimitExceeded, NotFound, ServiceUnavailable, TooManyJobs, UsageError
from archive.jobs import lifecycle
from archive.jobs.access import Caller, find, listed
from archive.jobs.kinds import Kind
from archive.jobs.models import Job, JobQuerySet
from archive.jobs.phases import Phase
from archive.results.descriptor import site_url

from .limits import Limits, active_jobs_total, limits_for
from .uploads import IDENTIFIER

#: the id of a query's result table among a job's results (TAP 1.1, section 2.2.2)
RESULT = "result"


class Via(StrEnum):
    """Where a query comes from: it decides how an anonymous caller's jobs are counted."""

    TAP = "tap"  # a TAP client: per client address (many send no cookie)
    WEB = "web"  # the query page: per session


def queries() -> JobQuerySet:
    return Job.objects.of_kind(Kind.TAP_QUERY)


def jobs_of(caller: Caller) -> JobQuerySet:
    """The caller's own queries that still exist, newest first (the UWS and web job lists)."""
    return listed(caller, queries().kept()).order_by("-creation_time", "-id")


def job_of(caller: Caller, public_id: str) -> Job:
    """The query job of that id if the caller may see it; NotFound otherwise."""
    job = find(caller, queries(), public_id)
    if job is None:
        raise NotFound(f"no job {public_id}")
    return job


def _counted(caller: Caller, via: Via) -> JobQuerySet:
    """The jobs that count against the caller's limits."""
    if caller.user is not None:
        return queries().owned_by(caller.user)
    if via is Via.TAP:
        return queries().of_client(caller.address)
    return queries().of_session(caller.session)


def check_room(caller: Caller, via: Via, limits: Limits, *, running: bool) -> None:
    """Raise TooManyJobs when the caller has as many jobs waiting (or, ``running``, queued or
    executing) as they may, ServiceUnavailable when all callers' queries fill the service."""
    if not running:
        waiting = _counted(caller, via).filter(phase__in=[Phase.PENDING, Phase.HELD]).count()
        if waiting >= limits.pending_jobs:
            raise TooManyJobs(
                f"{waiting} of your jobs wait to be run; at most {limits.pending_jobs}: run or "
                "delete some"
            )
        return
    active = _counted(caller, via).active().count()
    if active >= limits.active_jobs:
        raise TooManyJobs(
            f"{active} of your jobs are queued or executing; at most {limits.active_jobs} run "
            "at once: wait for one to finish"
        )
    total = active_jobs_total()
    if queries().active().count() >= total:
        raise ServiceUnavailable(
            f"the service runs {total} queries, as many as it takes at once: retry later"
        )


def submit(
    request: HttpRequest,
    parameters: Mapping[str, str],
    *,
    via: Via,
    run: bool,
    run_id: str = "",
    files: Mapping[str, UploadedFile] | None = None,
) -> Job:
    """A query job of the request's caller with ``parameters`` (TAP names), its upload parts
    stored for the worker; queued at once when ``run``."""
    caller = Caller.of(request, start_session=True)
    limits = limits_for(caller.user)
    check_room(caller, via, limits, running=run)
    files = files or {}
    size = sum(f.size or 0 for f in files.values())
    if size > limits.upload_bytes:
        raise LimitExceeded(f"uploads of {size} bytes; at most {limits.upload_bytes} in all")
    job = lifecycle.create(
        Kind.TAP_QUERY,
        owner=caller.user,
        session=caller.session if caller.anonymous else "",
        client=caller.address if caller.anonymous and via is Via.TAP else "",
        parameters=dict(parameters),
        run_id=run_id[:64],
        execution_duration=limits.async_timeout_s,
        destruction_time=timezone.now() + timedelta(seconds=limits.retention_s),
        site_url=site_url(request),
    )
    if files:  # the parts UPLOAD names, read when the job runs
        directory = lifecycle.job_dir(job) / "uploads"
        directory.mkdir(parents=True, exist_ok=True)
        for name, part in files.items():
            if IDENTIFIER.match(name):
                (directory / name).write_bytes(part.read())
    if run:
        lifecycle.enqueue(job)
    return job


def run(caller: Caller, via: Via, job: Job) -> None:
    """UWS PHASE=RUN: queue a pending job when the caller's limits and the service allow."""
    if job.phase in (Phase.PENDING, Phase.HELD):
        check_room(caller, via, limits_for(caller.user), running=True)
        lifecycle.enqueue(job)


def result_path(job: Job, result_id: str = RESULT) -> Path | None:
    """The file of one of the job's results, None when it has none or it is gone."""
    found = next((r for r in job.result_list if r.id == result_id and r.path), None)
    if found is None:
        return None
    path = lifecycle.job_dir(job) / found.path
    return path if path.is_file() else None


def result_bytes(caller: Caller, public_id: str, result_id: str) -> bytes:
    """The bytes of a result of a job the caller may see (an upload by the result's URL)."""
    job = find(caller, queries(), public_id)
    path = result_path(job, result_id) if job is not None else None
    if path is None:
        raise UsageError(f"upload: job {public_id} has no result {result_id}")
    return path.read_bytes()
