"""Test bootstrap: the real services of the ``test`` instance, a real Celery worker, Chromium.

``make test`` starts PostgreSQL and Redis (scripts/services.py start test) before pytest. Pure
library tests (tests/labeling) need none of them.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
#: the stars of the real files in ../shared/data (../shared/data/SOURCES.md): RVS spectrum
#: file -> source_id, and the source_ids of the XP continuous file
RVS_STARS = {
    "gaiaspec_Kepler-93.csv": 2052747119115620352,
    "gaiaspec_HD176650.csv": 4268620287278693120,
    "gaiaspec_GaiaDR3-3174658066485297152.csv": 3174658066485297152,
    "gaiaspec_Kepler-409.csv": 2128215909315876352,
}
XP_STARS = [
    5853498713190525696,
    5762406957886626816,
    5405570973190252288,
    4345775217221821312,
    5937083312263887616,
]


@pytest.fixture(scope="session", autouse=True)
def _services_answer(request):
    """Fail early, with the command to run, when the test instance is not up."""
    if not any(
        item.get_closest_marker("django_db") or "live_server" in item.fixturenames
        for item in request.session.items
    ):
        return
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"the test PostgreSQL is not reachable ({exc}); run `make test`, or "
            "`python3 scripts/services.py start test` first",
            returncode=3,
        )


@pytest.fixture(scope="session")
def reader_connections_closed(django_db_setup):
    """The TAP service keeps a reader connection per thread: closed before the test database
    is dropped (request it in the fixtures of tests that query the service)."""
    yield
    from archive.tap.service import close_reader_connections

    close_reader_connections()


def db_params(alias: str = "default") -> dict:
    """psycopg connection parameters of a Django database alias (test database name)."""
    from django.db import connections

    s = connections[alias].settings_dict
    return {
        "host": s["HOST"],
        "port": s["PORT"],
        "user": s["USER"],
        "password": s["PASSWORD"],
        "dbname": connections["default"].settings_dict["NAME"],
    }


@pytest.fixture
def reader_conn(django_db_blocker):
    """A psycopg connection to the test database as the read-only role."""
    import psycopg

    with django_db_blocker.unblock():
        params = db_params("reader")
    conn = psycopg.connect(**params, autocommit=True)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def worker_dirs(tmp_path_factory) -> dict[str, str]:
    """Spectrum store, model versions and run files shared by the tests and the worker."""
    root = tmp_path_factory.mktemp("worker")
    return {
        "RVS_SPECTRUM_STORE_URL": str(root / "spectra.zarr"),
        "RVS_MODELS_DIR": str(root / "models"),
        "RVS_RUNS_DIR": str(root / "runs"),
    }


@pytest.fixture
def worker_settings(settings, worker_dirs):
    """Point this test's settings at the same places as the worker's."""
    settings.RVS_SPECTRUM_STORE_URL = worker_dirs["RVS_SPECTRUM_STORE_URL"]
    settings.RVS_MODELS_DIR = Path(worker_dirs["RVS_MODELS_DIR"])
    settings.RVS_RUNS_DIR = Path(worker_dirs["RVS_RUNS_DIR"])
    return settings


class WorkerProcess:
    """A real ``celery -A tasks worker`` process (its own process group, so it can be killed)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.proc = env, log, None

    def start(self, **env: str) -> None:
        from tasks import app

        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "tasks",
                    "worker",
                    "--pool=prefork",
                    "--concurrency=1",
                    # both queues in one process: the tests' runs are small (the rehearsal and
                    # the demo give training processes of their own)
                    "--queues=celery,training",
                    "--loglevel=INFO",
                    "--hostname=pytest@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=REPO,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Celery worker exited with {self.proc.returncode}; see {self.log}")
            if app.control.ping(timeout=0.5):
                return
        pytest.fail(f"Celery worker did not answer within 60 s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no clean shutdown, no acknowledgement."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, worker_dirs):
    """A real Celery worker process on the test Redis, using the test database."""
    from django.db import connections

    with django_db_blocker.unblock():
        test_db = connections["default"].settings_dict["NAME"]
    env = {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": test_db,
        "DJANGO_SETTINGS_MODULE": "archive.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **worker_dirs,
    }
    log = REPO / "var" / "test" / "celery-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    worker = WorkerProcess(env, log)
    worker.start()
    yield worker
    worker.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_service(django_db_setup, django_db_blocker, worker_dirs, celery_worker_process):
    """The site served by gunicorn as the demo serves it (scripts/gunicorn.conf.py), on the
    test database, with the Celery worker behind it: what TAP clients and validators talk to.
    Returns its base URL."""
    import urllib.request

    from django.db import connections

    with django_db_blocker.unblock():
        test_db = connections["default"].settings_dict["NAME"]
    port = free_port()
    env = {
        **os.environ,
        "RVS_INSTANCE": "test",
        "RVS_DB_NAME": test_db,
        "DJANGO_SETTINGS_MODULE": "archive.settings",
        "RVS_WEB_BIND": f"127.0.0.1:{port}",
        "RVS_WEB_WORKERS": "1",
        "RVS_WEB_THREADS": "8",
        **worker_dirs,
    }
    log = REPO / "var" / "test" / "gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/tap/availability", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"gunicorn did not answer within 60 s; see {log}")
            time.sleep(0.2)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible object store (moto's server) on a loopback port of its own."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_server, request) -> tuple[str, dict]:
    """(URL, storage options) of an empty spectrum store in a fresh bucket of ``s3_server``."""
    import re

    import s3fs

    options = {
        "endpoint_url": s3_server,
        "key": "rvscnn-test",
        "secret": "rvscnn-test-secret",
        "client_kwargs": {"region_name": "eu-central-1"},
    }
    bucket = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    fs.mkdir(bucket)
    yield f"s3://{bucket}/spectra.zarr", options
    fs.rm(bucket, recursive=True)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `python3 scripts/services.py install --test`")
    # Playwright's sync API runs an event loop in this thread; the ORM calls tests make
    # between page actions are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real Gaia DR3 files of ../shared/data (read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} not found: the shared data must sit beside the repository")
    return SHARED_DATA
