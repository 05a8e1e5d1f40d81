"""The life of a job: create, enqueue, start, complete, fail, abort, resume, archive, destroy.

Every move is one conditional UPDATE (``phase IN (the phases it may come from)``, and for the
worker's moves ``attempt = the task's attempt``), so two processes racing on a job cannot both
win: a cancel that lands first stands, and a task sent for an earlier attempt (re-delivered by
the broker, or queued before a resume) finds it is not current and does nothing.

The web side calls :func:`create`, :func:`enqueue`, :func:`abort`, :func:`resume`,
:func:`archive` and :func:`destroy`; a job's task calls :func:`start` first, records the
database backend doing its work with :func:`backend`, and ends with :func:`complete` or
:func:`fail`.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from archive.progress import Progress

from . import queue, registry
from .errors import TransitionError
from .models import Job, JobResult
from .phases import ACTIVE, TRANSITIONS, Phase, sources

log = logging.getLogger(__name__)


def jobs_dir() -> Path:
    """Where jobs write their result files (``RVS_JOBS_DIR``; next to the runs by default)."""
    default = Path(settings.RVS_RUNS_DIR).parent / "jobs"
    return Path(getattr(settings, "RVS_JOBS_DIR", default))


def job_dir(job: Job | int) -> Path:
    """The job's own directory: its result files, deleted with it (by the internal key: the
    public id is for URLs)."""
    return jobs_dir() / f"job-{getattr(job, 'pk', job):08d}"


def create(
    kind: str,
    *,
    owner=None,
    parameters: dict | None = None,
    run_id: str = "",
    execution_duration: int = 0,
    destruction_time: datetime | None = None,
    quote: datetime | None = None,
    site_url: str = "",
    session: str = "",
    client: str = "",
) -> Job:
    """A PENDING job of a registered kind (nothing runs until :func:`enqueue`); ``site_url``:
    the site's address as the request creating it reached it, for links in its results;
    ``session``, ``client``: the anonymous caller that created it (:mod:`.access`)."""
    registry.kind(kind)
    return Job.objects.create(
        kind=kind,
        owner=owner,
        parameters=parameters or {},
        run_id=run_id,
        execution_duration=execution_duration,
        destruction_time=destruction_time,
        quote=quote,
        site_url=site_url,
        session=session,
        client=client,
    )


def move(job_id: int, to: Phase, *, attempt: int | None = None, **fields) -> bool:
    """Move the job to ``to`` if its phase allows it (and ``attempt`` is current); True if it
    moved. ``fields``: other columns set in the same UPDATE."""
    rows = Job.objects.filter(pk=job_id, phase__in=sources(to))
    if attempt is not None:
        rows = rows.filter(attempt=attempt)
    return rows.update(phase=to, **fields) == 1


def enqueue(job: Job) -> Job:
    """PENDING or HELD → QUEUED, and send the kind's task by name with (job id, attempt); a job
    created QUEUED (a pipeline run) whose task was never sent is sent.

    The task is sent when the current transaction commits, so the worker finds the job saved.
    """
    task = registry.kind(job.kind).task
    task_id = str(uuid.uuid4())
    waiting = Q(phase__in=[Phase.PENDING, Phase.HELD]) | Q(phase=Phase.QUEUED, celery_task_id="")
    if not Job.objects.filter(waiting, pk=job.pk).update(
        phase=Phase.QUEUED, celery_task_id=task_id
    ):
        raise TransitionError(f"job {job.pk} is {_phase(job.pk)}: only pending or held jobs run")
    job.refresh_from_db()
    attempt = job.attempt
    transaction.on_commit(lambda: queue.send(task, (job.pk, attempt), task_id=task_id))
    return job


def send(job: Job, task: str) -> str:
    """Send another task of the job's work by name with (job id, attempt), on commit."""
    task_id = str(uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(celery_task_id=task_id)
    job.celery_task_id = task_id
    args = (job.pk, job.attempt)
    transaction.on_commit(lambda: queue.send(task, args, task_id=task_id))
    return task_id


def current(job_id: int, attempt: int, *, lock: bool = False) -> Job | None:
    """The job if it is active and ``attempt`` is its current attempt, else None (``lock``: its
    row locked until the caller's transaction ends)."""
    jobs = Job.objects.select_for_update() if lock else Job.objects
    return jobs.filter(pk=job_id, attempt=attempt, phase__in=ACTIVE).first()


def start(job_id: int, attempt: int, task_id: str = "") -> Job | None:
    """What a job's task does first: QUEUED → EXECUTING. Returns the job, or None when the task
    is stale (aborted, failed, or a later attempt exists); a re-delivered task of the current
    attempt finds the job EXECUTING already and carries on."""
    extra = {"celery_task_id": task_id} if task_id else {}
    # from QUEUED only: EXECUTING may also be reached from ERROR/ABORTED, by resume alone
    Job.objects.filter(pk=job_id, attempt=attempt, phase=Phase.QUEUED).update(
        phase=Phase.EXECUTING, start_time=timezone.now(), **extra
    )
    return Job.objects.filter(pk=job_id, attempt=attempt, phase=Phase.EXECUTING).first()


def complete(job_id: int, attempt: int, results: Iterable[JobResult] = ()) -> bool:
    """EXECUTING → COMPLETED with its results; False for a stale task."""
    return move(
        job_id,
        Phase.COMPLETED,
        attempt=attempt,
        end_time=timezone.now(),
        results=[r.to_dict() for r in results],
        backend_pid=None,
    )


def fail(job_id: int, attempt: int | None, summary: str) -> bool:
    """QUEUED, EXECUTING or SUSPENDED → ERROR with a summary; False for a stale task."""
    return move(
        job_id,
        Phase.ERROR,
        attempt=attempt,
        end_time=timezone.now(),
        error_summary=summary,
        backend_pid=None,
    )


def abort(job_id: int) -> bool:
    """→ ABORTED from any phase that allows it; revokes its Celery task and cancels the query its
    database backend runs. False when the job had ended already."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if Phase.ABORTED not in _targets(job.phase):
            return False
        task_id, pid = job.celery_task_id, job.backend_pid
        Job.objects.filter(pk=job_id).update(
            phase=Phase.ABORTED, end_time=timezone.now(), backend_pid=None
        )
    if task_id:
        queue.revoke(task_id)
    if pid is not None:
        cancel_backend(pid)
    return True


def resume(job_id: int) -> Job:
    """ERROR or ABORTED → EXECUTING under a new attempt (tasks of earlier ones stop); the caller
    sends the task that carries the work on (:func:`send`)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.phase not in (Phase.ERROR, Phase.ABORTED):
            raise TransitionError(
                f"job {job_id} is {job.phase}: only failed or aborted jobs resume"
            )
        job.attempt += 1
        job.phase, job.error_summary, job.end_time = Phase.EXECUTING, "", None
        job.save(update_fields=["attempt", "phase", "error_summary", "end_time"])
    return job


def archive(job_id: int) -> bool:
    """COMPLETED, ERROR or ABORTED → ARCHIVED: its result files deleted, its record kept."""
    if not move(job_id, Phase.ARCHIVED, results=[]):
        return False
    shutil.rmtree(job_dir(job_id), ignore_errors=True)
    return True


def destroy(job_id: int) -> None:
    """Abort it if it runs, delete its result files and its record (UWS DELETE)."""
    abort(job_id)
    shutil.rmtree(job_dir(job_id), ignore_errors=True)
    Job.objects.filter(pk=job_id).delete()


def destroy_expired(now: datetime | None = None) -> int:
    """Destroy every job whose destruction time has passed; returns how many."""
    expired = list(
        Job.objects.filter(destruction_time__lte=now or timezone.now()).values_list("pk", flat=True)
    )
    for pk in expired:
        destroy(pk)
    return len(expired)


@contextmanager
def backend(job_id: int, attempt: int, alias: str = "default") -> Iterator[int]:
    """Record the PostgreSQL backend of connection ``alias`` as the job's work while the block
    runs, so that :func:`abort` cancels its query; yields the backend pid."""
    with connections[alias].cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    register_backend(job_id, attempt, pid)
    try:
        yield pid
    finally:
        Job.objects.filter(pk=job_id, backend_pid=pid).update(backend_pid=None)


def register_backend(job_id: int, attempt: int, pid: int) -> bool:
    """Record ``pid`` as the backend of the job's current attempt (False: not current)."""
    return bool(
        Job.objects.filter(pk=job_id, attempt=attempt, phase=Phase.EXECUTING).update(
            backend_pid=pid
        )
    )


def cancel_backend(pid: int) -> bool:
    """Cancel the query of backend ``pid`` of this database. The owner role may signal the
    read-only role's backends (it holds pg_signal_backend; the reader may signal none, since
    every TAP user shares it). True if a signal was sent."""
    db = connections["default"].settings_dict["NAME"]
    with connections["default"].cursor() as cur:
        cur.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = %s AND datname = %s",
            [pid, db],
        )
        row = cur.fetchone()
    sent = bool(row and row[0])
    if row is not None and not sent:
        log.warning("could not cancel backend %s", pid)
    return sent


def _phase(job_id: int) -> str:
    return Job.objects.filter(pk=job_id).values_list("phase", flat=True).first() or "gone"


def _targets(phase: str) -> frozenset[Phase]:
    return TRANSITIONS[Phase(phase)]


def record_progress(job_id: int, change: Callable[[Progress | None], Progress | None]) -> None:
    """Replace the job's progress by ``change(progress)`` (None clears it), under a row lock:
    tasks of one job finishing at once each count their unit."""
    with transaction.atomic():
        job = Job.objects.select_for_update().only("progress").get(pk=job_id)
        new = change(Progress.from_dict(job.progress))
        Job.objects.filter(pk=job_id).update(progress=new.to_dict() if new is not None else {})
