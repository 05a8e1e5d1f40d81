"""The Celery application, configured from Django settings (names prefixed CELERY_)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
# TensorFlow's start-up chatter (CPU features, absl) would drown the task logs
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

app = Celery("rvscnn")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.include = ["tasks.health", "tasks.pipeline"]
