"""Django settings for RVS-CNN Archive.

Everything that differs between machines comes from environment variables. Local defaults come
from ``var/<instance>/services.env``, written by ``scripts/services.py`` when it starts the
private PostgreSQL and Redis of that instance (``RVS_INSTANCE``: ``demo`` by default, ``test``
under pytest). Real environment variables always win over that file. Nothing secret is committed.
"""

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE = os.environ.get("RVS_INSTANCE", "demo")
VAR_DIR = Path(os.environ.get("RVS_VAR_DIR", BASE_DIR / "var")).resolve()


def _load_env_file(path: Path) -> None:
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


_load_env_file(VAR_DIR / INSTANCE / "services.env")
env = os.environ.get


def env_bool(name: str, default: bool) -> bool:
    return env(name, str(default)).lower() in {"1", "true", "yes", "on"}


SECRET_KEY = env("DJANGO_SECRET_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set: start the local services "
            "(`make services`) or set it in the environment"
        )
    SECRET_KEY = "insecure-debug-only"
ALLOWED_HOSTS = env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in env("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "archive.catalogue",
    "archive.ingest",
    "archive.metadata",
    "archive.jobs",
    "archive.results",
    "archive.tap",
    "archive.datalink",
    "archive.exports",
    "archive.ops",
    "archive.web",
    "archive.accounts",
    "archive.citation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "archive.accounts.middleware.TokenAuthenticationMiddleware",  # API tokens (pyvo)
    "archive.replicas.ReplicaReadsMiddleware",  # TAP, DataLink, web reads on replicas
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "archive.urls"
WSGI_APPLICATION = "archive.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "archive.web.context_processors.data_origin",
            ],
        },
    },
]

# Two roles on one database: the owner (Django, workers, migrations) and the read-only reader
# that serves user queries. The reader is a mirror in tests so it sees the test database.
_db = {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": env("RVS_DB_HOST", "127.0.0.1"),
    "PORT": env("RVS_DB_PORT", "54329"),
    "NAME": env("RVS_DB_NAME", "rvscnn"),
    "CONN_MAX_AGE": int(env("RVS_DB_CONN_MAX_AGE", "60")),
    # a persistent connection outlives a server restart (a replica's, a failover): checked
    # before a request reuses it, so the restart costs no request an error
    "CONN_HEALTH_CHECKS": True,
}
DATABASES = {
    "default": {
        **_db,
        "USER": env("RVS_DB_USER", "rvscnn_owner"),
        "PASSWORD": env("RVS_DB_PASSWORD", ""),
    },
    "reader": {
        **_db,
        "USER": env("RVS_DB_READER_USER", "rvscnn_reader"),
        "PASSWORD": env("RVS_DB_READER_PASSWORD", ""),
        "TEST": {"MIRROR": "default"},
    },
}
DATABASE_ROUTERS = ["archive.replicas.ReplicaRouter"]
# Hot standbys (host:port, scripts/services.py) that serve user reads; see archive/replicas.py
RVS_DB_REPLICAS = [r for r in env("RVS_DB_REPLICAS", "").split(",") if r]
RVS_REPLICA_READS = env_bool("RVS_REPLICA_READS", True)
#: a replica that did not answer is left alone this long before it is tried again
RVS_REPLICA_RETRY_S = float(env("RVS_REPLICA_RETRY_S", "10"))
#: libpq's connect timeout to a replica (2 s is its least)
RVS_REPLICA_CONNECT_TIMEOUT_S = int(env("RVS_REPLICA_CONNECT_TIMEOUT_S", "2"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MIGRATION_MODULES = {
    app: f"migrations.{app}"
    for app in ("catalogue", "ingest", "metadata", "jobs", "ops", "accounts", "tap")
}

# Spectrum store (Zarr v3): a local directory or any fsspec URL, e.g. s3://bucket/spectra.zarr;
# options (JSON) are passed to fsspec, e.g. {"endpoint_url": "http://127.0.0.1:9000"}.
RVS_SPECTRUM_STORE_URL = env("RVS_SPECTRUM_STORE_URL", str(VAR_DIR / INSTANCE / "spectra.zarr"))
RVS_SPECTRUM_STORE_OPTIONS = json.loads(env("RVS_SPECTRUM_STORE_OPTIONS", "{}"))

# Model versions (immutable directories) and the working files of pipeline runs; on several
# machines both must be shared (a network file system) — see docs/operations.md.
RVS_MODELS_DIR = Path(env("RVS_MODELS_DIR", VAR_DIR / INSTANCE / "models"))
RVS_RUNS_DIR = Path(env("RVS_RUNS_DIR", VAR_DIR / INSTANCE / "runs"))
# Threads each worker process gives TensorFlow and ONNX Runtime (unset: all cores). Set it to
# cores / processes when several worker processes share a machine (tasks/celery.py).
RVS_WORKER_THREADS = int(env("RVS_WORKER_THREADS", "0")) or None
# labeling.ensemble.CompiledEnsemble's backend: auto (the fused Keras model where Keras sees a
# GPU, else ONNX Runtime), onnx, fused, xla or graph
RVS_INFERENCE_BACKEND = env("RVS_INFERENCE_BACKEND", "auto")

# Schema served to users (TAP, web); it holds views over the catalogue tables.
PUBLISHED_SCHEMA = env("RVS_PUBLISHED_SCHEMA", "gaiadr3_rvs_cnn")

# The site's public base URL (e.g. https://archive.example.org): async TAP results, written by
# a worker with no request at hand, link to DataLink through it; empty: they carry no link.
RVS_PUBLIC_URL = env("RVS_PUBLIC_URL", "").rstrip("/")
# Who publishes the catalogue, as citations (DataCite, BibTeX) and the VO registry records
# (OAI-PMH at /oai) name them; archive/citation/resource.toml holds what does not vary.
RVS_PUBLISHER = env("RVS_PUBLISHER", "RVS-CNN Archive")
RVS_CITATION_CREATORS = [
    c.strip() for c in env("RVS_CITATION_CREATORS", "RVS-CNN Archive team").split(";")
]
RVS_IVOID_AUTHORITY = env("RVS_IVOID_AUTHORITY", "rvs-cnn.archive")
RVS_CONTACT_NAME = env("RVS_CONTACT_NAME", "RVS-CNN Archive operators")
RVS_CONTACT_EMAIL = env("RVS_CONTACT_EMAIL", "rvs-cnn-archive@example.org")
# Bulk exports of the published versions (archive.exports): one directory per version; unset:
# "exports" beside RVS_RUNS_DIR (as the jobs' files are).
RVS_EXPORTS_DIR = env("RVS_EXPORTS_DIR", "") or None
# Build an export job when a version is published.
RVS_EXPORT_ON_PUBLISH = env("RVS_EXPORT_ON_PUBLISH", "1") == "1"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Accounts (archive/accounts): the demo has no mail server, so password reset links are
# printed to the server log. A deployment (DEBUG off and a host other than loopback in
# DJANGO_ALLOWED_HOSTS) is served over HTTPS with the cookies, HSTS and redirect that
# `manage.py check --deploy` asks for; the demo on loopback keeps plain HTTP. RVS_HTTPS=0/1
# overrides the choice (e.g. a site behind a proxy that is not HTTPS yet).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "accounts:profile"
LOGOUT_REDIRECT_URL = "web:home"
EMAIL_BACKEND = env("RVS_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("RVS_FROM_EMAIL", "archive@localhost")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the query page's script reads it for its form posts
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", ""}
IS_DEPLOYMENT = not DEBUG and any(h.strip() not in LOOPBACK_HOSTS for h in ALLOWED_HOSTS)
if env_bool("RVS_HTTPS", IS_DEPLOYMENT):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

STATIC_URL = "static/"
STATIC_ROOT = Path(env("RVS_STATIC_ROOT", VAR_DIR / INSTANCE / "static"))
# Serve app static files straight from their folders when not collected (demo, tests).
WHITENOISE_USE_FINDERS = True

# Celery (tasks/celery.py reads the CELERY_* names)
CELERY_BROKER_URL = env("RVS_REDIS_URL", "redis://127.0.0.1:63799/0")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker process whose resident memory passed this after a task is replaced by a fresh one,
# so what one task leaves behind (TensorFlow's state after a member's training, a finished
# finalize's arrays) does not carry into the next (issue 25: 28 trainings, a finalize and the
# labelling in one process reached 3.4 GiB). Above a labelling worker's steady state (~1.5 GB
# with 28 members at the paper's training-sample size), so chunks reuse the loaded version.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = int(env("RVS_WORKER_MAX_MEMORY_MB", "1600")) * 1024  # KiB
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken by a worker that dies is handed out again after this many seconds; it must
# exceed the longest task (training one member at paper scale takes hours on a CPU).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("RVS_CELERY_VISIBILITY_TIMEOUT", str(12 * 3600)))
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("RVS_LOG_LEVEL", "INFO")},
}
