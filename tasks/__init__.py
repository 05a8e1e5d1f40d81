"""Celery tasks of RVS-CNN Archive: thin wrappers joining ``labeling`` to the archive models.

Workers: ``celery -A tasks worker``. The app is configured from Django settings (CELERY_*).
"""

from .celery import app

__all__ = ["app"]
