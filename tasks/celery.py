"""The Celery application, configured from Django settings (names prefixed CELERY_)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
# TensorFlow's start-up chatter (CPU features, absl) would drown the task logs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# several worker processes on one machine must not each start a thread per core: TensorFlow
# reads its pool size from the environment when it starts (ONNX Runtime gets it per session)
if threads := os.environ.get("RVS_WORKER_THREADS"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", threads)

app = Celery("rvscnn")
app.config_from_object("django.conf:settings", namespace="CELERY")

#: The queue of the tasks that train: each runs in a pool process of its own, one task per
#: process (its worker: ``-Q training --max-tasks-per-child 1``). TensorFlow keeps ~35 MB of
#: every member it trains, and finalize starts from where that process stands: 28 trainings,
#: finalize and labelling in one process reached 3.4 GiB at 1M stars (docs/benchmarks.md).
#: Labelling stays on the default queue, where a process keeps its loaded version.
TRAINING_QUEUE = "training"
TRAINING_TASKS = ("pipeline.train_member", "pipeline.finalize")
app.conf.task_routes = {name: {"queue": TRAINING_QUEUE} for name in TRAINING_TASKS}
app.conf.include = [
    "tasks.health",
    "tasks.jobs",
    "tasks.pipeline",
    "tasks.tap",
    "tasks.exports",
    "tasks.housekeeping",
]
# periodic care of the jobs (tasks/housekeeping.py); one worker runs the beat (--beat)
app.conf.beat_schedule = {
    "reap-lost-jobs": {"task": "jobs.reap_lost", "schedule": 60.0},
    "destroy-expired-jobs": {"task": "jobs.destroy_expired", "schedule": 3600.0},
}
