"""Sending tasks by name through a Celery client configured from the CELERY_* settings.

The client knows no task: it only names them, so ``archive`` needs neither ``tasks`` nor the
libraries the tasks import (TensorFlow).
"""

from functools import lru_cache

from celery import Celery


@lru_cache(maxsize=1)
def client() -> Celery:
    app = Celery("rvscnn-client")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    return app


def send(task: str, args: tuple = (), task_id: str | None = None) -> str:
    """Queue ``task`` (a name) with ``args``; returns the Celery task id."""
    return client().send_task(task, args=list(args), task_id=task_id).id


def revoke(task_id: str) -> None:
    """Workers drop the task if it has not started (a started one stops cooperatively)."""
    client().control.revoke(task_id)
