"""gunicorn settings of the demo (``make demo``) and of the tests that serve through it.

Threads (gthread): a long streamed download holds one thread, not a whole worker, so other
clients go on being served; workers × threads requests run at once. Overrides come from the
environment: RVS_WEB_BIND, RVS_WEB_WORKERS, RVS_WEB_THREADS.
"""

import os

bind = os.environ.get("RVS_WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("RVS_WEB_WORKERS", "2"))
threads = int(os.environ.get("RVS_WEB_THREADS", "16"))
# the worker heartbeat runs beside the request threads: a download longer than this is fine
timeout = 120
graceful_timeout = 30
accesslog = "-"
loglevel = "warning"
wsgi_app = "archive.wsgi:application"
