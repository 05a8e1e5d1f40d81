"""The async TAP query: run a job's query under the read-only role, write its result file."""

from __future__ import annotations

import os

import psycopg

from archive.citation.infos import result_infos
from archive.errors import ArchiveError
from archive.jobs import lifecycle
from archive.jobs.access import Caller
from archive.jobs.models import Job, JobResult
from archive.results.descriptor import datalink_descriptors
from archive.results.formats import resolve
from archive.results.query import archive_error
from archive.results.stream import stream_result
from archive.tap.limits import limits_for
from archive.tap.params import QueryParams
from archive.tap.service import prepare, query_connection, result_fields
from archive.tap.submit import RESULT, result_bytes
from archive.tap.uploads import read_uploads

from .celery import app


@app.task(name="tap.run_query", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_query(self, job_id: int, attempt: int) -> None:
    """QUEUED → EXECUTING → COMPLETED with ``result`` (or ERROR with the reason); an aborted
    job's query is cancelled by the abort, and its task ends without a result."""
    job = lifecycle.start(job_id, attempt, self.request.id or "")
    if job is None:
        return
    job = Job.objects.select_related("owner").get(pk=job.pk)
    directory = lifecycle.job_dir(job)
    directory.mkdir(parents=True, exist_ok=True)
    dedicated = None  # the connection of a query with uploads, closed after it
    try:
        limits = limits_for(job.owner)
        query = QueryParams.parse(job.parameters, limits)
        fmt = resolve(query.format)
        uploads = []
        if query.upload:
            stored = directory / "uploads"
            parts = {p.name: p.read_bytes() for p in stored.iterdir()} if stored.is_dir() else {}
            caller = Caller.of_job(job)  # an upload by URL reads only what its creator may

            def result_file(job_id: str, result_id: str) -> bytes:
                return result_bytes(caller, job_id, result_id)

            uploads = read_uploads(query.upload, parts, limits, result_file=result_file)
        prepared = prepare(query.lang, query.query, uploads, job.owner)
        name = f"result{fmt.suffix}"
        partial = directory / f".{name}.part"
        timeout = job.execution_duration or limits.async_timeout_s
        connection, own = query_connection(uploads, timeout, job.owner)
        dedicated = connection if own else None
        fields = result_fields(connection, prepared)
        lifecycle.register_backend(job_id, attempt, connection.info.backend_pid)
        # the site's address is the request's that created the job (a worker has no request)
        descriptors = datalink_descriptors(fields, job.site_url)
        with partial.open("wb") as out:
            infos = result_infos(job.site_url)
            blocks = stream_result(
                connection, prepared.sql, fields, fmt, query.maxrec, descriptors, infos
            )
            for block in blocks:
                out.write(block)
        os.replace(partial, directory / name)
    except (ArchiveError, psycopg.Error) as exc:
        lifecycle.fail(job_id, attempt, archive_error(exc).message)
        return
    except Exception as exc:  # a fault of ours: the job says so rather than staying EXECUTING
        lifecycle.fail(job_id, attempt, f"the service failed: {exc!r}")
        raise
    finally:
        if dedicated is not None:
            dedicated.close()
    result = JobResult(
        id=RESULT,
        path=name,
        content_type=fmt.content_type,
        size=(directory / name).stat().st_size,
    )
    lifecycle.complete(job_id, attempt, [result])
