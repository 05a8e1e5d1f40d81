"""Periodic care of the jobs (Celery beat: ``celery -A tasks worker --beat``, see
tasks/celery.py): jobs whose worker died are ended, expired ones destroyed."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.signals import worker_ready
from django.utils import timezone

from archive.jobs import lifecycle
from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.jobs.phases import Phase

from .celery import app

log = logging.getLogger(__name__)

#: kinds whose task is short enough to be sure of: an EXECUTING job no live worker runs is lost
#: (a pipeline run's members may sit in the broker for hours, and resume carries them on)
REAPED_KINDS = (Kind.TAP_QUERY,)
GRACE = timedelta(seconds=20)  # a task just handed out may not show as active yet


def running_task_ids() -> set[str] | None:
    """Task ids that live workers execute or hold; None when no worker answers."""
    inspect = app.control.inspect(timeout=2.0)
    active, reserved = inspect.active(), inspect.reserved()
    if active is None and reserved is None:
        return None
    ids: set[str] = set()
    for by_worker in (active or {}, reserved or {}):
        for tasks in by_worker.values():
            ids |= {t["id"] for t in tasks}
    return ids


@app.task(name="jobs.reap_lost", ignore_result=True)
def reap_lost() -> int:
    """End in ERROR the EXECUTING jobs whose worker is gone (killed, machine lost), cancelling
    their query; returns how many."""
    candidates = list(
        Job.objects.filter(
            kind__in=REAPED_KINDS,
            phase=Phase.EXECUTING,
            start_time__lt=timezone.now() - GRACE,
        )
    )
    if not candidates:
        return 0
    running = running_task_ids()
    if running is None:
        return 0  # no worker answered: nothing can be told apart
    reaped = 0
    for job in candidates:
        if job.celery_task_id in running:
            continue
        pid = job.backend_pid
        if lifecycle.fail(
            job.pk, job.attempt, "the worker running this job stopped; submit the job again"
        ):
            reaped += 1
            log.warning("job %s: its worker is gone, ended in ERROR", job.pk)
            if pid is not None:
                lifecycle.cancel_backend(pid)
    return reaped


@app.task(name="jobs.destroy_expired", ignore_result=True)
def destroy_expired() -> int:
    """Destroy the jobs (and their result files) whose destruction time has passed."""
    return lifecycle.destroy_expired()


@worker_ready.connect
def _reap_at_start(sender=None, **kwargs) -> None:
    # a worker that starts may be the one that died: its jobs need not wait for the beat
    reap_lost.apply_async(countdown=GRACE.total_seconds())
