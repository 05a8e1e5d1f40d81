"""TAP async: UWS jobs run by a real Celery worker, aborted, deleted, listed."""

import io
import time

import psycopg
import pytest
from astropy.io.votable import parse_single_table
from django.utils import timezone

from archive.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "SELECT table_name, table_index FROM TAP_SCHEMA.tables ORDER BY table_index"


@pytest.fixture
def tap_worker(celery_worker_process, reader_connections_closed, worker_settings):
    return celery_worker_process


def create(client, query=QUERY, lang="ADQL", **params):
    response = client.post("/tap/async", {"LANG": lang, "QUERY": query, **params})
    assert response.status_code == 303, response.content
    return response["Location"]


def ref(url: str) -> str:
    return f'<uws:jobref id="{url.rsplit("/", 1)[1]}"'


def phase(client, url) -> str:
    return client.get(f"{url}/phase").content.decode()


def wait_for(client, url, phases, timeout=60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = phase(client, url)
        if now in phases:
            return now
        time.sleep(0.1)
    raise AssertionError(f"{url} still {now}")


def test_a_job_runs_to_completion_and_serves_its_result(client, tap_worker):
    url = create(client, RUNID="mine")
    assert phase(client, url) == "PENDING"
    doc = client.get(url).content.decode()
    assert "<uws:runId>mine</uws:runId>" in doc and 'id="query"' in doc
    assert client.post(f"{url}/phase", {"PHASE": "RUN"}).status_code == 303
    # blocking: returns once the phase has moved on from QUEUED/EXECUTING
    blocked = client.get(url, {"WAIT": "30", "PHASE": "QUEUED"})
    assert blocked.status_code == 200
    assert wait_for(client, url, {"COMPLETED", "ERROR"}) == "COMPLETED"
    results = client.get(f"{url}/results").content.decode()
    assert 'id="result"' in results
    result = client.get(f"{url}/results/result")
    assert result.status_code == 200, result.content
    table = parse_single_table(io.BytesIO(b"".join(result.streaming_content))).to_table()
    assert table["table_name"][0].endswith(".rvs_cnn")
    job = Job.objects.get(run_id="mine")
    assert job.start_time and job.end_time and job.destruction_time > timezone.now()
    assert client.get(f"{url}/executionduration").content.decode().isdigit()
    assert client.get(f"{url}/destruction").content.decode().endswith("Z")


def test_phase_run_at_creation_and_the_job_list_filters(client, tap_worker):
    url = create(client, PHASE="RUN")
    wait_for(client, url, {"COMPLETED"})
    pending = create(client)
    listing = client.get("/tap/async", {"PHASE": "COMPLETED"}).content.decode()
    assert ref(url) in listing and ref(pending) not in listing
    last = client.get("/tap/async", {"LAST": "1"}).content.decode()
    assert last.count("<uws:jobref") == 1 and ref(pending) in last
    after = client.get("/tap/async", {"AFTER": "2999-01-01T00:00:00Z"}).content.decode()
    assert "<uws:jobref" not in after
    assert client.get("/tap/async", {"PHASE": "RUNNING"}).status_code == 400


def test_a_failing_query_ends_in_error_with_its_reason(client, tap_worker):
    url = create(
        client, "SELECT 1 / (table_index - table_index) AS x FROM TAP_SCHEMA.tables", PHASE="RUN"
    )
    assert wait_for(client, url, {"COMPLETED", "ERROR"}) == "ERROR"
    error = client.get(f"{url}/error").content.decode()
    assert "division by zero" in error and 'value="ERROR"' in error
    assert "<uws:errorSummary" in client.get(url).content.decode()


def test_abort_cancels_the_query_in_the_database(client, tap_worker, reader_conn):
    from tests.conftest import db_params

    url = create(client, "SELECT pg_sleep(60)", lang="PostgreSQL", PHASE="RUN")
    wait_for(client, url, {"EXECUTING"})
    job = Job.objects.get(public_id=url.rsplit("/", 1)[1])
    deadline = time.monotonic() + 20
    while job.backend_pid is None and time.monotonic() < deadline:
        time.sleep(0.1)
        job.refresh_from_db()
    pid = job.backend_pid
    assert pid is not None
    assert client.post(url, {"PHASE": "ABORT"}).status_code == 303
    assert phase(client, url) == "ABORTED"
    with psycopg.connect(**db_params(), autocommit=True) as owner:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            row = owner.execute(
                "SELECT state, query FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
            if row is None or "pg_sleep" not in (row[1] or "") or row[0] != "active":
                break
            time.sleep(0.1)
        assert row is None or row[0] != "active" or "pg_sleep" not in row[1]


def test_delete_redirects_to_the_list_and_the_job_is_gone(client, tap_worker):
    url = create(client)
    response = client.delete(url)
    assert response.status_code == 303 and response["Location"].endswith("/tap/async")
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    second = create(client)
    assert client.post(second, {"ACTION": "DELETE"}).status_code == 303
    assert client.get(f"{second}/phase").status_code == 404
    assert client.get("/tap/async/999999").status_code == 404


def test_parameters_change_while_pending_only(client, tap_worker):
    url = create(client)
    assert client.post(f"{url}/parameters", {"MAXREC": "1"}).status_code == 303
    assert '<uws:parameter id="maxrec">1</uws:parameter>' in client.get(url).content.decode()
    assert client.post(f"{url}/phase", {"PHASE": "SUSPEND"}).status_code == 400
    client.post(f"{url}/phase", {"PHASE": "RUN"})
    wait_for(client, url, {"COMPLETED"})
    assert client.post(f"{url}/parameters", {"MAXREC": "5"}).status_code == 400


@pytest.mark.parametrize(
    "params,message",
    [
        ({"LANG": "ADQL", "QUERY": "SELECT FROM WHERE"}, "column"),
        ({"LANG": "XQuery", "QUERY": "SELECT 1"}, "LANG"),
        ({"LANG": "ADQL", "QUERY": QUERY, "MAXREC": "lots"}, "MAXREC"),
        ({"LANG": "ADQL", "QUERY": QUERY, "RESPONSEFORMAT": "excel"}, "excel"),
    ],
)
def test_bad_parameters_make_a_job_that_ends_in_error_saying_why(
    client, tap_worker, params, message
):
    response = client.post("/tap/async", {**params, "PHASE": "RUN"})
    assert response.status_code == 303
    url = response["Location"]
    assert wait_for(client, url, {"ERROR", "COMPLETED"}) == "ERROR"
    assert message in client.get(f"{url}/error").content.decode()


def test_a_job_whose_worker_is_killed_ends_in_error_not_executing(client, tap_worker):
    from datetime import timedelta

    from tasks.housekeeping import reap_lost

    url = create(client, "SELECT pg_sleep(120)", lang="PostgreSQL", PHASE="RUN")
    wait_for(client, url, {"EXECUTING"})
    job_id = Job.objects.get(public_id=url.rsplit("/", 1)[1]).pk
    tap_worker.kill()  # SIGKILL: no acknowledgement, no clean-up
    tap_worker.start()
    # as if the beat came by after the grace period
    Job.objects.filter(pk=job_id).update(start_time=timezone.now() - timedelta(minutes=5))
    assert reap_lost() == 1
    assert phase(client, url) == "ERROR"
    assert "worker" in client.get(f"{url}/error").content.decode()
    assert reap_lost() == 0
