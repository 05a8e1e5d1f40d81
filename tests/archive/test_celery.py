"""A real Celery worker on the test Redis runs tasks against the test database."""

import pytest

from tasks import health

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_runs_a_task_through_redis(celery_worker_process, settings):
    result = health.check.delay().get(timeout=60)
    assert result["database"] == settings.DATABASES["default"]["NAME"]
    assert result["user"] == settings.DATABASES["default"]["USER"]
    assert result["pg_sphere"] and result["q3c"]
