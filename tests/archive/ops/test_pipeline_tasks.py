"""The whole pipeline through a real Celery worker and Redis, on a small synthetic sky."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from archive.catalogue.models import CnnLabel, ModelVersion
from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.ops.models import PipelineRun
from archive.ops.publishing import PublishError, publish
from archive.progress import Progress
from labeling.synthetic import write_sky
from tasks.pipeline import start

pytestmark = pytest.mark.django_db(transaction=True)

TINY = {
    "n_splits": 1,
    "n_members": 2,
    "epochs": 2,
    "patience": 2,
    "chunk_size": 700,
    "tsne_perplexities": [30],
    "seed": 3,
}


def ingest_sky(tmp_path, n=3000, seed=21):
    """Write a synthetic sky of n stars and ingest every product, as ``make demo`` does."""
    files = write_sky(tmp_path / "sky", n, seed=seed)
    for product, path, extra in [
        ("gaia-source", files.gaia_source, []),
        ("astrophysical-parameters", files.astrophysical_parameters, []),
        ("rvs-spectra", files.rvs_mean_spectrum, []),
        ("xp-continuous", files.xp_continuous, []),
        ("apogee", files.allstar, ["--skip-bad-rows"]),
    ]:
        call_command("ingest", product, str(path), "--no-progress", *extra)
    return files


def wait(run: PipelineRun, timeout: float = 900) -> PipelineRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if not run.is_active:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run.pk} still {run.status} at {run.stage}: {run.log}")


def wait_for_first_chunk(run: PipelineRun, timeout: float = 900) -> None:
    """Until the run is predicting and at least one chunk is labelled (not all, given 120/chunk)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        assert run.is_active, (run.status, run.error)
        if run.stage == "predict" and run.counts.get("chunks_done", 0) >= 1:
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} not predicting: {run.log}")


def test_pipeline_labels_every_star_and_publishes(celery_worker_process, worker_settings, tmp_path):
    ingest_sky(tmp_path)
    run = PipelineRun.objects.create(config=TINY, publish=True)
    start.delay(run.pk)
    run = wait(run)
    assert run.status == "succeeded", (run.error, run.log)
    version = run.model_version
    assert version.is_published and version.status == "ready"
    n = run.counts["catalogue"]
    assert n > 0 and CnnLabel.objects.filter(model_version=version).count() == n
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT count(*), count(DISTINCT source_id), "
            f"bool_and(flag_boundary ~ '^[01]{{8}}$'), "
            f"bool_and(sigma_teff >= e_teff AND e_logg >= 0) "
            f"FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn"
        )
        assert cur.fetchone() == (n, n, True, True)
    assert "training" in run.counts and run.counts["chunks_done"] == run.counts["chunks"]
    assert set(run.timings) == {"select", "train", "finalize", "predict"}  # seconds, all of them
    assert all(seconds > 0 for seconds in run.timings.values())
    # every chunk says where its time went: the stage's cost over the ensemble's own
    seconds = run.counts["label_seconds"]
    assert seconds["stars"] == n and seconds["ensemble"] > 0 and seconds["write"] > 0
    assert seconds["serial"] >= seconds["ensemble"] + seconds["load"]
    report = Path(version.path) / "files" / "validation" / "index.html"
    assert report.read_text().count("<img") >= 3


def test_failed_run_leaves_the_published_version_untouched(
    celery_worker_process, worker_settings, tmp_path
):
    published = ModelVersion.objects.create(
        name="published-before", status="ready", is_published=True
    )
    run = PipelineRun.objects.create(config=TINY, publish=True)  # nothing ingested: fails
    start.delay(run.pk)
    run = wait(run, timeout=120)
    assert run.status == "failed" and run.error
    assert ModelVersion.objects.get(is_published=True) == published


def test_worker_killed_during_inference_leaves_one_row_per_star(
    celery_worker_process, worker_settings, tmp_path
):
    ingest_sky(tmp_path)
    run = PipelineRun.objects.create(config={**TINY, "chunk_size": 120})
    start.delay(run.pk)
    wait_for_first_chunk(run)
    assert run.counts["chunks_done"] < run.counts["chunks"]
    progress = Progress.from_dict(run.progress)  # recorded per chunk by the worker
    assert (progress.stage, progress.unit, progress.total) == (
        "predict",
        "chunks",
        run.counts["chunks"],
    )
    assert 1 <= progress.done < progress.total and progress.updated > progress.started
    out = io.StringIO()
    call_command("pipeline", "status", str(run.pk), stdout=out)
    assert f"/{progress.total} chunks (" in out.getvalue()
    celery_worker_process.kill()  # mid-inference: its chunk was taken but never acknowledged
    # a new worker hands out again what the dead one held (after the visibility timeout)
    celery_worker_process.start(RVS_CELERY_VISIBILITY_TIMEOUT="3")
    run = wait(run)
    assert run.status == "succeeded", (run.error, run.log)
    n = run.counts["catalogue"]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT source_id) FROM cnn_label WHERE model_version_id = %s",
            [run.model_version_id],
        )
        assert cur.fetchone() == (n, n)


def wait_for_publish_blocked(version: ModelVersion, timeout: float = 900) -> None:
    """Until a worker's publish waits for the row lock this test holds on ``version``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s AND pid <> pg_backend_pid()",
                # publish locks every version row (no WHERE); an export of the old version
                # finishing (export on publish) locks that row alone and must not count
                ['%FROM "model_version" ORDER BY%FOR UPDATE%'],
            )
            if cur.fetchone()[0]:
                return
        time.sleep(0.2)
    raise AssertionError("no publish waiting")


def test_worker_killed_during_publication_publishes_once_and_the_old_catalogue_serves(
    celery_worker_process, worker_settings, tmp_path
):
    import psycopg

    from tests.archive.ops.test_publishing import published_teff, version_with_labels
    from tests.conftest import db_params

    ingest_sky(tmp_path)
    some = list(CnnLabel.source.field.related_model.objects.values_list("pk", flat=True)[:2])
    old = version_with_labels("published-before", 4000.0, sources=some)
    publish(old)
    # the export that publishing queues must be over before the test locks the old version's
    # row: the worker (one slot) would otherwise wait on that lock and never reach the run
    deadline = time.monotonic() + 300
    while Job.objects.of_kind(Kind.EXPORT).active().exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run = PipelineRun.objects.create(config=TINY, publish=True)
    # the old version's row locked: the run's publish stops inside its transaction, there
    with psycopg.connect(**db_params()) as holder:
        holder.execute("SELECT 1 FROM model_version WHERE id = %s FOR UPDATE", [old.pk])
        start.delay(run.pk)
        wait_for_publish_blocked(old)
        celery_worker_process.kill()
        assert published_teff() == {4000.0}  # readers are never blocked by the switch
        run.refresh_from_db()
        assert run.is_active and run.model_version.status == "labelling"
        holder.rollback()
    assert published_teff() == {4000.0}
    celery_worker_process.start(RVS_CELERY_VISIBILITY_TIMEOUT="3")
    run = wait(run)
    assert run.status == "succeeded", (run.error, run.log)
    version = run.model_version
    assert version.is_published and version.publications.count() == 1
    assert old.publications.count() == 1 and not ModelVersion.objects.get(pk=old.pk).is_published
    n = run.counts["catalogue"]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT count(*), count(DISTINCT source_id), min(teff) <> 4000 OR max(teff) <> 4000 "
            f"FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn"
        )
        assert cur.fetchone() == (n, n, True)


def test_cancelled_run_resumes_without_redoing_work(
    celery_worker_process, worker_settings, tmp_path
):
    ingest_sky(tmp_path)
    run = PipelineRun.objects.create(config={**TINY, "chunk_size": 120}, publish=True)
    start.delay(run.pk)
    wait_for_first_chunk(run)
    call_command("pipeline", "cancel", str(run.pk))
    members = sorted(Path(settings.RVS_RUNS_DIR, f"run-{run.pk:06d}", "members").glob("*.keras"))
    stamps = [p.stat().st_mtime_ns for p in members]
    time.sleep(3)  # the chunks still queued stop at their start
    run.refresh_from_db()
    assert run.status == "cancelled" and not ModelVersion.objects.filter(is_published=True)
    labelled = CnnLabel.objects.filter(model_version=run.model_version).count()
    n = run.counts["catalogue"]
    assert 0 < labelled < n
    assert run.model_version.status == "labelling"  # half a catalogue: not publishable
    with pytest.raises(PublishError, match="is labelling, not ready"):
        publish(run.model_version)
    call_command("pipeline", "resume", str(run.pk))
    version = run.model_version
    run = wait(run)
    assert run.status == "succeeded", (run.error, run.log)
    version.refresh_from_db()
    assert run.attempt == 2 and run.model_version == version and version.is_published
    assert [p.stat().st_mtime_ns for p in members] == stamps  # nothing retrained
    assert "resumed (attempt 2): prediction" in run.log
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT source_id) FROM cnn_label WHERE model_version_id = %s",
            [version.pk],
        )
        assert cur.fetchone() == (n, n)


def test_finish_is_all_or_nothing_and_can_run_again(settings, tmp_path, monkeypatch):
    """A worker lost after the publish but before the run was marked succeeded used to leave a
    published version and, on re-delivery, a run failed with "already published"."""
    from archive.ops.models import PipelineRun as Run
    from tasks import pipeline
    from tests.archive.ops.test_publishing import version_with_labels

    settings.RVS_RUNS_DIR = tmp_path
    version = version_with_labels("v", 4000.0, status="labelling")  # stars 1 and 2
    run = Run.objects.create(config=TINY, publish=True, status="running", model_version=version)
    pipeline.run_dir(run.pk).mkdir(parents=True)
    np.savez(pipeline.run_dir(run.pk) / "samples.npz", catalogue_ids=np.array([1, 2]))
    publish = pipeline.publish

    def lost_after_publishing(*args, **kwargs):
        publish(*args, **kwargs)
        raise SystemExit("worker lost")

    monkeypatch.setattr(pipeline, "publish", lost_after_publishing)
    with pytest.raises(SystemExit):
        pipeline.finish(run.pk, run.attempt)
    run.refresh_from_db()
    version.refresh_from_db()
    assert (run.status, version.status, version.is_published) == ("running", "labelling", False)
    monkeypatch.setattr(pipeline, "publish", publish)
    pipeline.finish(run.pk, run.attempt)  # the re-delivered task
    pipeline.finish(run.pk, run.attempt)  # and once more: nothing left to do
    run.refresh_from_db()
    version.refresh_from_db()
    assert (run.status, version.status, version.is_published) == ("succeeded", "ready", True)
    assert version.publications.count() == 1


def test_training_tasks_go_to_a_queue_of_their_own_and_labelling_stays_on_the_default():
    # a training worker (-Q training --max-tasks-per-child 1) gives each a fresh process; a
    # labelling process keeps its loaded version from chunk to chunk
    from tasks import app
    from tasks.celery import TRAINING_QUEUE

    def queue(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("pipeline.train_member") == queue("pipeline.finalize") == TRAINING_QUEUE
    for name in ("pipeline.start", "pipeline.predict_chunk", "pipeline.finish", "tap.run_query"):
        assert queue(name) == app.conf.task_default_queue != TRAINING_QUEUE
