"""Jobs enqueued by name reach a real Celery worker; abort stops its database work."""

import time

import psycopg
import pytest

from archive.jobs import lifecycle
from archive.jobs.models import Job
from tests.conftest import db_params

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(job: Job, phases: set[str], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.phase in phases:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} still {job.phase}")


def test_enqueue_by_name_reaches_a_worker(celery_worker_process, worker_settings, settings):
    job = lifecycle.enqueue(lifecycle.create("probe", parameters={"seconds": 0.1}))
    job = wait_for(job, {"COMPLETED", "ERROR"})
    assert job.phase == "COMPLETED", job.error_summary
    (result,) = job.result_list
    assert result.id == "probe" and result.size > 0
    with open(result.path) as f:
        assert settings.DATABASES["default"]["NAME"] in f.read()


def test_abort_stops_the_workers_query(celery_worker_process, worker_settings):
    job = lifecycle.enqueue(lifecycle.create("probe", parameters={"seconds": 600}))
    deadline = time.monotonic() + 60
    while (pid := Job.objects.get(pk=job.pk).backend_pid) is None:
        assert time.monotonic() < deadline, "the worker never started the query"
        time.sleep(0.1)
    assert lifecycle.abort(job.pk)
    with psycopg.connect(**db_params(), autocommit=True) as watcher:
        deadline = time.monotonic() + 10
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state = 'active'"
        while watcher.execute(query, [pid]).fetchone()[0]:
            assert time.monotonic() < deadline, "the backend still runs its query"
            time.sleep(0.1)
    time.sleep(1)  # the task's own error handling must leave the abort standing
    job.refresh_from_db()
    assert (job.phase, job.backend_pid) == ("ABORTED", None)
