"""WSGI entry point (gunicorn: scripts/gunicorn.conf.py, docker/)."""

import os

from django.core.wsgi import get_wsgi_application

from archive.chunked import with_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
# the largest upload a registered TAP user may send, and some room for the form around it
application = with_chunked_bodies(get_wsgi_application(), limit=256 * 2**20)
