"""The re-training pipeline as Celery tasks: thin wrappers joining ``labeling`` to the archive.

    start (select, plan) ──► train_member × splits·members (a chord) ──► finalize (version)
        ──► predict_chunk × source_id chunks (a chord) ──► finish (count, publish)

A run is a job of kind "pipeline" (``archive.jobs``): the archive sends ``pipeline.start`` by
name and moves the job through its phases with ``archive.jobs.lifecycle``. Every stage records
its progress on the ``PipelineRun``; every task is idempotent (a finished member file is
reused, label rows are upserted by (version, source_id)), acknowledges late and is re-queued if
its worker dies, so a killed worker costs a re-run of its unit of work, never a missing or
duplicate row. Cancelling is cooperative: tasks of a cancelled run stop at their next start. A
resume (``archive.ops.runs.resume_run``, then ``carry_on``) carries a cancelled or failed run on
from what it left on disk and in the database (members trained, the model version, chunks
labelled); every task carries the run's ``attempt``, so tasks still queued from before a resume
stop instead of doing work twice. A failed or cancelled run never touches what is published.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from celery import Task, chord, group
from django.conf import settings
from django.db import transaction

from archive.catalogue.cnn_labels import LabelWriteError, write_labels
from archive.catalogue.models import CnnLabel, ModelVersion
from archive.catalogue.starsets import apogee_columns, load_star_set, selection_columns
from archive.catalogue.training import write_training_sample
from archive.jobs import lifecycle
from archive.jobs.phases import ACTIVE
from archive.ops.models import PipelineRun
from archive.ops.publishing import publish
from archive.progress import Progress
from labeling.pipeline import (
    Count,
    Labeller,
    LabelTimes,
    PipelineConfig,
    Plan,
    finalize_version,
    member_file,
    plan,
    train_one,
)
from labeling.selection import select
from labeling.version import load_version

from .celery import app

Stage = PipelineRun.Stage


def run_dir(run_id: int) -> Path:
    return Path(settings.RVS_RUNS_DIR) / f"run-{run_id:06d}"


def pipeline_config(run: PipelineRun) -> PipelineConfig:
    """The run's configuration (its ``PipelineConfig.to_dict()``, or the part it sets)."""
    return PipelineConfig.from_dict(run.config)


class PipelineTask(Task):
    """Marks the run failed when a task of it fails for good (after its retries)."""

    acks_late = True
    reject_on_worker_lost = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        run_id = args[0] if args else kwargs.get("run_id")
        attempt = args[1] if len(args) > 1 else kwargs.get("attempt", 1)
        lifecycle.fail(run_id, attempt, f"{self.name}: {exc!r}")


def _active(run_id: int, attempt: int, lock: bool = False) -> PipelineRun | None:
    """The run, unless it was cancelled, has failed or was resumed since this task was queued
    (``lock``: its row locked until the caller's transaction ends)."""
    runs = PipelineRun.objects.select_for_update() if lock else PipelineRun.objects
    return runs.filter(pk=run_id, attempt=attempt, phase__in=ACTIVE).first()


def _stage(run: PipelineRun, stage: str, percent: float = 0.0, **counts) -> None:
    PipelineRun.objects.filter(pk=run.pk).update(
        stage=stage, percent=percent, counts={**run.counts, **counts}
    )
    run.refresh_from_db()
    run.add_log(f"{stage}: {percent:.0f}% {json.dumps(counts) if counts else ''}".rstrip())


def _clock(run: PipelineRun, start: str | None = None, stop: str | None = None) -> None:
    """Start and/or stop a stage's wall clock (stages span many tasks and machines).

    ``timings[stage]`` ends up as seconds; ``timings[stage + "_from"]`` (a Unix time) exists
    while the stage runs.
    """
    run.refresh_from_db(fields=["timings"])
    timings, now = dict(run.timings), time.time()
    if stop is not None and f"{stop}_from" in timings:
        timings[stop] = round(now - timings.pop(f"{stop}_from"), 3)
    if start is not None:
        timings[f"{start}_from"] = now
    PipelineRun.objects.filter(pk=run.pk).update(timings=timings)
    run.timings = timings


def _samples(run_id: int) -> dict[str, np.ndarray]:
    with np.load(run_dir(run_id) / "samples.npz") as z:
        return {k: z[k] for k in z.files}


def _training_stars(run_id: int):
    s = _samples(run_id)
    errors = s.get("training_label_errors")  # absent in runs started before it was saved
    return load_star_set(s["training_ids"], s["training_labels"], label_errors=errors)


@app.task(base=PipelineTask, name="pipeline.start")
def start(run_id: int, attempt: int = 1) -> None:
    """Select the samples (Sect. 2), plan the ensemble, queue one task per member."""
    # QUEUED → EXECUTING unless it was cancelled or resumed since this task was sent
    if lifecycle.start(run_id, attempt) is None:
        return
    run = PipelineRun.objects.get(pk=run_id)
    t0 = time.perf_counter()
    selection = select(selection_columns(), apogee_columns())
    catalogue = np.union1d(selection.training_ids, selection.observed_ids)
    directory = run_dir(run_id)
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / "samples.npz",
        training_ids=selection.training_ids,
        training_labels=selection.labels,
        training_label_errors=selection.label_errors,
        catalogue_ids=catalogue,
    )
    (directory / "selection.txt").write_text(selection.format_report())
    config = pipeline_config(run)
    stars = _training_stars(run_id)
    the_plan = plan(stars, config)
    the_plan.save(directory)
    members = len(the_plan.member_jobs(config))
    _stage(
        run, Stage.TRAIN, 0.0, training=len(stars), catalogue=int(catalogue.size), members=members
    )
    PipelineRun.objects.filter(pk=run_id).update(
        timings={**run.timings, "select": time.perf_counter() - t0}
    )
    _queue_training(run, the_plan)


def _counter(run_id: int, stage: str) -> Count:
    """A ``labeling.pipeline.Count`` recording the run's progress through one stage's steps:
    each step (``done`` 0) begins a new count in its own unit, so the rate and the time left
    are the step's."""

    def count(unit: str, done: int, total: int) -> None:
        def change(p: Progress | None) -> Progress:
            if done == 0 or p is None or (p.stage, p.unit, p.total) != (stage, unit, total):
                return Progress.begin(stage, unit, total, done)
            return p.at(done)

        lifecycle.record_progress(run_id, change)

    return count


def _begin(run: PipelineRun, stage: str, unit: str, total: int, done: int) -> None:
    lifecycle.record_progress(run.pk, lambda _: Progress.begin(stage, unit, total, done))


def _queue_training(run: PipelineRun, the_plan: Plan) -> None:
    _clock(run, start="train")
    jobs = the_plan.member_jobs(pipeline_config(run))
    trained = len(list((run_dir(run.pk) / "members").glob("*.keras")))
    _begin(run, Stage.TRAIN, "members", len(jobs), trained)
    chord(group(train_member.si(run.pk, run.attempt, s, m) for s, m in jobs))(
        finalize.si(run.pk, run.attempt)
    )


@app.task(
    base=PipelineTask,
    name="pipeline.train_member",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=2,
)
def train_member(run_id: int, attempt: int, split: int, member: int) -> str | None:
    """Train one ensemble member (Sect. 3.2); a member already on disk is kept."""
    run = _active(run_id, attempt)
    if run is None:
        return None
    directory = run_dir(run_id)
    path = member_file(directory / "members", split, member)
    if not path.exists():
        config = pipeline_config(run)
        train_one(
            _training_stars(run_id),
            Plan.load(directory),
            config,
            split,
            member,
            directory / "members",
        )
    done = len(list((directory / "members").glob("*.keras")))
    total = run.counts.get("members", 1)
    lifecycle.record_progress(run_id, lambda p: p and p.at(done))
    _stage(run, Stage.TRAIN, 100.0 * done / total, members_trained=done)
    return str(path)


@app.task(base=PipelineTask, name="pipeline.finalize")
def finalize(run_id: int, attempt: int) -> None:
    """Build the model version (dispersion, ranges, t-SNE, report); queue the predictions."""
    run = _active(run_id, attempt)
    if run is None:
        return
    t0 = time.perf_counter()
    _clock(run, stop="train")
    _stage(run, Stage.FLAGS, 0.0)
    lifecycle.record_progress(run_id, lambda _: None)  # until its first long step begins
    config = pipeline_config(run)
    directory = run_dir(run_id)
    the_plan = Plan.load(directory)
    paths = [member_file(directory / "members", s, m) for s, m in the_plan.member_jobs(config)]
    # named after the run, not the clock: a re-delivered or resumed finalize finds its version
    name = f"{run.created_at:%Y%m%d-%H%M%S}-run{run_id}-{config.ensemble.inputs}"
    path = Path(settings.RVS_MODELS_DIR) / name
    if path.exists():  # written already (versions are saved atomically: complete or absent)
        loaded = load_version(path)
    else:
        loaded = finalize_version(
            path,
            _training_stars(run_id),
            the_plan,
            config,
            paths,
            extra_config={"run": run_id},
            progress=run.add_log,
            count=_counter(run_id, Stage.FLAGS),
        )
    manifest = loaded.manifest
    version, _ = ModelVersion.objects.get_or_create(
        name=name,
        defaults=dict(
            status=ModelVersion.Status.LABELLING,  # ready once finish has counted its rows
            inputs=config.ensemble.inputs,
            n_splits=config.ensemble.n_splits,
            n_members=config.ensemble.n_members,
            config=loaded.config,
            path=str(path),
            data_hash=manifest.get("data_hash", ""),
            code_version=str(manifest.get("code_version", "")),
            framework_versions=manifest.get("frameworks", {}),
        ),
    )
    if version.status == ModelVersion.Status.LABELLING:
        samples = _samples(run_id)
        write_training_sample(
            version.pk,
            samples["training_ids"],
            samples["training_labels"],
            samples.get("training_label_errors"),
            the_plan.holdout,
            the_plan.train,
            the_plan.splits,
        )
    PipelineRun.objects.filter(pk=run_id).update(
        model_version=version, timings={**run.timings, "finalize": time.perf_counter() - t0}
    )
    run.refresh_from_db()
    _queue_predictions(run)


def _chunks(run: PipelineRun, n: int) -> list[tuple[int, int]]:
    """Index ranges into the n sorted catalogue ids, so each chunk is a source_id range."""
    size = int(run.config.get("chunk_size", 20_000))
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def _queue_predictions(run: PipelineRun) -> None:
    """Queue the chunks not yet fully labelled (all of them on a first pass), then ``finish``."""
    ids = _samples(run.pk)["catalogue_ids"]
    chunks = _chunks(run, ids.size)
    labels = CnnLabel.objects.filter(model_version=run.model_version_id)
    todo = [
        (lo, hi)
        for lo, hi in chunks
        if labels.filter(source__gte=int(ids[lo]), source__lte=int(ids[hi - 1])).count() < hi - lo
    ]
    done = len(chunks) - len(todo)
    _clock(run, start="predict")
    _begin(run, Stage.PREDICT, "chunks", len(chunks), done)
    _stage(
        run, Stage.PREDICT, 100.0 * done / max(len(chunks), 1), chunks=len(chunks), chunks_done=done
    )
    chord(
        group(
            predict_chunk.si(run.pk, run.attempt, run.model_version_id, lo, hi) for lo, hi in todo
        )
    )(finish.si(run.pk, run.attempt))


@lru_cache(maxsize=2)
def _labeller(path: str) -> Labeller:
    # a worker labels many chunks with one version: load (and compile) it once
    return Labeller.from_version(
        load_version(path),
        threads=settings.RVS_WORKER_THREADS,
        backend=settings.RVS_INFERENCE_BACKEND,
    )


@app.task(
    base=PipelineTask,
    name="pipeline.predict_chunk",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=3,
)
def predict_chunk(run_id: int, attempt: int, version_id: int, lo: int, hi: int) -> int:
    """Labels, e_*, σ_* and flag_boundary of catalogue stars lo..hi-1, upserted."""
    run = _active(run_id, attempt)
    if run is None:
        return 0
    ids = _samples(run_id)["catalogue_ids"][lo:hi]
    version = ModelVersion.objects.get(pk=version_id)
    labeller, times = _labeller(version.path), LabelTimes()
    t0 = time.perf_counter()
    stars = load_star_set(ids)
    times.load = time.perf_counter() - t0
    labelled = labeller.label(stars, times=times)
    t0 = time.perf_counter()
    try:
        written = write_labels(version_id, labelled)
    except LabelWriteError:
        if _active(run_id, attempt) is None:  # a stale copy: the run finished meanwhile
            return 0
        raise
    times.write = time.perf_counter() - t0
    _chunk_done(run_id, times)
    return written


def _chunk_done(run_id: int, times: LabelTimes) -> None:
    """Count the chunk and add where its time went to ``counts["label_seconds"]``, whose
    ``serial / ensemble`` is the labelling stage's cost per star over the ensemble's own."""
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pk=run_id)
        done = run.counts.get("chunks_done", 0) + 1
        total = max(run.counts.get("chunks", 1), 1)
        seconds = dict(run.counts.get("label_seconds", {}))
        for key, value in {**times.as_dict(), "serial": times.serial}.items():
            seconds[key] = round(seconds.get(key, 0) + value, 4)
        run.counts = {**run.counts, "chunks_done": done, "label_seconds": seconds}
        run.percent = min(100.0, 100.0 * done / total)
        run.save(update_fields=["counts", "percent"])
    lifecycle.record_progress(run_id, lambda p: p and p.advance())


@app.task(base=PipelineTask, name="pipeline.finish")
def finish(run_id: int, attempt: int) -> None:
    """Check that every catalogue star has one label row, make the version ready, publish if
    asked, and mark the run succeeded: all in one transaction, so a re-delivered finish either
    finds the run succeeded or does it all again, and a cancel either comes first or finds the
    run done."""
    expected = int(_samples(run_id)["catalogue_ids"].size)
    with transaction.atomic():
        run = _active(run_id, attempt, lock=True)
        if run is None:
            return
        version = ModelVersion.objects.select_for_update().get(pk=run.model_version_id)
        rows = CnnLabel.objects.filter(model_version=version).count()
        if rows != expected:
            raise RuntimeError(f"{rows} label rows for {expected} catalogue stars")
        if version.status == ModelVersion.Status.LABELLING:
            version.status = ModelVersion.Status.READY
            version.save(update_fields=["status"])
        _clock(run, stop="predict")
        _stage(run, Stage.REPORT, 100.0, labelled=rows)
        if run.publish:
            _stage(run, Stage.PUBLISH, 0.0)
            publish(version, user=run.created_by, note=f"pipeline run {run_id}")
        PipelineRun.objects.filter(pk=run_id).update(stage=Stage.DONE, percent=100.0, progress={})
        lifecycle.complete(run_id, attempt)
        run.add_log("done")


@app.task(base=PipelineTask, name="pipeline.carry_on")
def carry_on(run_id: int, attempt: int) -> None:
    """Carry a resumed run on (``archive.ops.runs.resume_run`` decides and logs where): its
    training (members on disk are kept) then finalize, or, once it has a model version, the
    prediction chunks not yet complete, then ``finish``."""
    run = _active(run_id, attempt)
    if run is None:
        return
    if run.model_version_id is None:
        _stage(run, Stage.TRAIN, run.percent if run.stage == Stage.TRAIN else 0.0)
        _queue_training(run, Plan.load(run_dir(run_id)))
    else:
        _queue_predictions(run)
