"""Deployment settings: `manage.py check --deploy` is clean; the loopback demo keeps HTTP."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import services  # noqa: E402


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        # not the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (check --deploy warns about it)
        env={
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DJANGO_SETTINGS_MODULE": "archive.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_for_a_deployment():
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="rvs-cnn.example.org",
        DJANGO_SECRET_KEY=services.django_secret_key(),
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("hosts", "debug", "https"),
    [("127.0.0.1,localhost", "0", False), ("rvs-cnn.example.org", "1", False)],
)
def test_the_demo_and_debugging_keep_plain_http(hosts, debug, https):
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; import json; print(json.dumps("
        "[s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))",
        DJANGO_DEBUG=debug,
        DJANGO_ALLOWED_HOSTS=hosts,
        DJANGO_SECRET_KEY="x" * 50,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout.splitlines()[-1]) == [https, https, 31536000 if https else 0]


def test_a_short_secret_key_is_replaced_on_the_next_start_and_the_rest_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("RVS_VAR_DIR", str(tmp_path))
    s = services
    inst = s.Instance("deploy", 1, 2, durable=False)
    first = s.load_secrets(inst)
    assert len(first["django_secret_key"]) >= 50
    assert s.load_secrets(inst) == first  # kept while long enough
    old = {**first, "django_secret_key": "k" * 32}
    (inst.var / "secrets.json").write_text(json.dumps(old))
    renewed = s.load_secrets(inst)
    assert len(renewed["django_secret_key"]) >= 50
    assert {k: v for k, v in renewed.items() if k != "django_secret_key"} == {
        k: v for k, v in old.items() if k != "django_secret_key"
    }
    assert json.loads((inst.var / "secrets.json").read_text()) == renewed
