"""The jobs layer: UWS phases and their transitions, attempts, abort, the kind registry."""

import threading
import time

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connections

from archive.jobs import lifecycle, registry
from archive.jobs.errors import TransitionError, UnknownKind
from archive.jobs.models import Job, JobResult
from archive.jobs.phases import TRANSITIONS, Phase, sources
from tests.conftest import db_params

pytestmark = pytest.mark.django_db


def test_a_job_lives_through_the_uws_phases(django_capture_on_commit_callbacks, settings, tmp_path):
    settings.RVS_JOBS_DIR = tmp_path
    owner = User.objects.create_user("astronomer")
    job = lifecycle.create("probe", owner=owner, parameters={"seconds": 0}, run_id="mine")
    assert (job.phase, job.attempt, job.owner, job.run_id) == ("PENDING", 1, owner, "mine")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        lifecycle.enqueue(job)
    assert job.phase == "QUEUED" and job.celery_task_id and len(sent) == 1  # sent on commit
    with pytest.raises(TransitionError, match="only pending or held jobs run"):
        lifecycle.enqueue(job)
    started = lifecycle.start(job.pk, 1)
    assert started.phase == "EXECUTING" and started.start_time is not None
    assert lifecycle.start(job.pk, 1) == started  # a re-delivered task carries on
    result = JobResult(id="result", path=str(tmp_path / "r.vot"), content_type="x", rows=3)
    assert lifecycle.complete(job.pk, 1, [result])
    job.refresh_from_db()
    assert job.phase == "COMPLETED" and job.end_time >= job.start_time
    assert job.result_list == [result] and job.execution_seconds >= 0
    assert not lifecycle.fail(job.pk, 1, "late")  # a completed job does not fail afterwards
    assert not lifecycle.abort(job.pk)
    lifecycle.job_dir(job).mkdir(parents=True)
    assert lifecycle.archive(job.pk)
    job.refresh_from_db()
    assert job.phase == "ARCHIVED" and job.results == [] and not lifecycle.job_dir(job).exists()


def test_transitions_are_enforced_in_the_database():
    job = lifecycle.create("probe")
    assert not lifecycle.start(job.pk, 1)  # PENDING never executes without being queued
    assert not lifecycle.complete(job.pk, 1)
    assert not lifecycle.move(job.pk, Phase.ARCHIVED)
    with pytest.raises(TransitionError, match="only failed or aborted jobs resume"):
        lifecycle.resume(job.pk)
    assert Job.objects.get(pk=job.pk).phase == "PENDING"
    assert lifecycle.move(job.pk, Phase.HELD) and lifecycle.move(job.pk, Phase.QUEUED)
    # the table itself: every phase listed, ARCHIVED final, nothing reaches PENDING but HELD
    assert set(TRANSITIONS) == set(Phase) and TRANSITIONS[Phase.ARCHIVED] == frozenset()
    assert sources(Phase.PENDING) == [Phase.HELD]


def test_a_stale_attempt_does_nothing(settings, tmp_path):
    from tasks.jobs import probe

    settings.RVS_JOBS_DIR = tmp_path
    job = lifecycle.create("probe", parameters={"seconds": 0})
    lifecycle.move(job.pk, Phase.QUEUED)
    assert lifecycle.start(job.pk, 1)
    assert lifecycle.fail(job.pk, 1, "worker lost")
    resumed = lifecycle.resume(job.pk)
    assert (resumed.phase, resumed.attempt, resumed.error_summary) == ("EXECUTING", 2, "")
    assert probe(job.pk, 1) is None  # the first attempt's task, re-delivered: nothing happens
    assert not lifecycle.complete(job.pk, 1)
    job.refresh_from_db()
    assert (job.phase, job.results) == ("EXECUTING", [])
    assert probe(job.pk, 2) == "COMPLETED"  # the current attempt does the work
    job.refresh_from_db()
    assert job.phase == "COMPLETED" and job.result_list[0].content_type == "application/json"


@pytest.mark.django_db(databases=["default", "reader"])  # abort cancels through the reader
def test_abort_cancels_the_query_of_the_jobs_backend():
    """A query running as the read-only role (as ADQL will), registered as the job's backend;
    the connection is closed once its query ends, as a worker's would be."""
    job = lifecycle.create("probe")
    lifecycle.move(job.pk, Phase.QUEUED)
    lifecycle.start(job.pk, 1)
    conn = psycopg.connect(**db_params("reader"), autocommit=True)
    pid = conn.info.backend_pid
    assert lifecycle.register_backend(job.pk, 1, pid)
    outcome, started = {}, threading.Event()

    def long_query():
        try:
            started.set()
            conn.execute("SELECT pg_sleep(600)")
        except psycopg.errors.QueryCanceled as exc:
            outcome["error"] = exc
        finally:
            conn.close()

    worker = threading.Thread(target=long_query)
    worker.start()
    # the owner sees every backend of the database (the query text only of its own)
    with psycopg.connect(**db_params(), autocommit=True) as watcher:
        present = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        assert started.wait(10) and watcher.execute(present, [pid]).fetchone()[0] == 1
        time.sleep(0.5)
        assert worker.is_alive()  # sleeping in PostgreSQL
        t0 = time.monotonic()
        try:
            assert lifecycle.abort(job.pk)
        finally:
            worker.join(timeout=10)
            if worker.is_alive():  # never leave a 10-minute query behind a failed test
                with psycopg.connect(**db_params("reader"), autocommit=True) as other:
                    other.execute("SELECT pg_cancel_backend(%s)", [pid])
        assert not worker.is_alive() and "error" in outcome and time.monotonic() - t0 < 5
        deadline = time.monotonic() + 5
        while watcher.execute(present, [pid]).fetchone()[0]:
            assert time.monotonic() < deadline, "the backend is still there"
            time.sleep(0.05)
    job.refresh_from_db()
    assert (job.phase, job.backend_pid) == ("ABORTED", None)
    assert not lifecycle.abort(job.pk)  # once
    connections["reader"].close()  # abort opened it: the test database is dropped at the end


def test_destroy_removes_the_job_and_its_files(settings, tmp_path):
    settings.RVS_JOBS_DIR = tmp_path
    job = lifecycle.create("probe")
    lifecycle.job_dir(job).mkdir(parents=True)
    (lifecycle.job_dir(job) / "result.csv").write_text("a\n1\n")
    lifecycle.destroy(job.pk)
    assert not Job.objects.filter(pk=job.pk).exists() and not lifecycle.job_dir(job).exists()


def test_expired_jobs_are_destroyed():
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    old = lifecycle.create("probe", destruction_time=now - timedelta(seconds=1))
    kept = lifecycle.create("probe", destruction_time=now + timedelta(days=1))
    assert lifecycle.destroy_expired(now) == 1
    assert list(Job.objects.values_list("pk", flat=True)) == [kept.pk]
    assert old.pk != kept.pk


def test_the_registry_names_tasks_the_worker_has():
    from tasks import app

    app.loader.import_default_modules()
    names = {k.name: k.task for k in registry.kinds()}
    assert names["pipeline"] == "pipeline.start" and names["probe"] == "jobs.probe"
    assert all(task in app.tasks for task in names.values())
    with pytest.raises(UnknownKind, match="no job kind 'nope'"):
        lifecycle.create("nope")
    with pytest.raises(ValueError, match="registered with jobs.probe already"):
        registry.register("probe", task="other.task")


def test_a_result_needs_an_id_and_one_place():
    with pytest.raises(ValueError):
        JobResult(id="r")
    with pytest.raises(ValueError):
        JobResult(id="r", href="https://x", path="/tmp/x")
    assert JobResult.from_dict({**JobResult(id="r", href="https://x").to_dict(), "extra": 1})
