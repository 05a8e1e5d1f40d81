"""Health of a worker: can it reach the database and the broker it listens on."""

import socket

from django.db import connection

from .celery import app


@app.task(name="health.check")
def check() -> dict:
    """Round-trip through the worker: reports its host and what the database answers."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT current_database(), current_user, "
            "(SELECT extversion FROM pg_extension WHERE extname = 'pg_sphere'), "
            "(SELECT extversion FROM pg_extension WHERE extname = 'q3c')"
        )
        database, user, pg_sphere, q3c = cur.fetchone()
    return {
        "hostname": socket.gethostname(),
        "database": database,
        "user": user,
        "pg_sphere": pg_sphere,
        "q3c": q3c,
    }
