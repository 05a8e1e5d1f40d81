"""A probe job: the jobs layer end to end on a worker (enqueue by name, start, a database
backend that abort can cancel, a result file, complete), as ``health.check`` is for Celery."""

import json
import socket

from django.db import connection

from archive.jobs import lifecycle
from archive.jobs.models import JobResult

from .celery import app


@app.task(name="jobs.probe", acks_late=True)
def probe(job_id: int, attempt: int) -> str | None:
    """Sleep ``parameters["seconds"]`` in PostgreSQL, then write the worker's host and database
    as the job's result. Returns the phase it left, or None when the task was stale."""
    job = lifecycle.start(job_id, attempt)
    if job is None:  # aborted, failed or resumed since this task was sent
        return None
    try:
        with lifecycle.backend(job_id, attempt), connection.cursor() as cur:
            cur.execute("SELECT pg_sleep(%s), current_database()", [job.parameters["seconds"]])
            database = cur.fetchone()[1]
    except Exception as exc:  # a cancelled query among them: fail() leaves an abort standing
        lifecycle.fail(job_id, attempt, f"{type(exc).__name__}: {exc}".strip())
        return "ERROR"
    out = lifecycle.job_dir(job_id)
    out.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"hostname": socket.gethostname(), "database": database}).encode()
    (out / "probe.json").write_bytes(data)
    result = JobResult(
        id="probe", path=str(out / "probe.json"), content_type="application/json", size=len(data)
    )
    return "COMPLETED" if lifecycle.complete(job_id, attempt, [result]) else None
