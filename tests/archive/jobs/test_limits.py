"""Job limits per visitor (an account, a web session, an anonymous TAP client's address) and
the service's cap on all queries at once: 429 and 503 with a DALI error document."""

import pytest
from django.test import Client

from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.jobs.phases import Phase

pytestmark = pytest.mark.django_db
QUERY = {"LANG": "ADQL", "QUERY": "SELECT 1"}


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.TAP_LIMITS = {"anonymous": {"active_jobs": 1, "pending_jobs": 2}}
    settings.TAP_ACTIVE_JOBS_TOTAL = 3


def _refused(response, status: int, kind: str) -> None:
    assert response.status_code == status, response.content
    assert b'name="QUERY_STATUS" value="ERROR"' in response.content
    assert f'name="ERROR_KIND" value="{kind}"'.encode() in response.content
    assert response["Retry-After"].isdigit()


def test_pending_jobs_are_counted_per_client_address():
    first, neighbour = Client(REMOTE_ADDR="10.1.0.1"), Client(REMOTE_ADDR="10.1.0.2")
    for _ in range(2):
        assert first.post("/tap/async", QUERY).status_code == 303
    _refused(first.post("/tap/async", QUERY), 429, "too-many-jobs")
    # a cookie-less client at the same address is the same visitor; another address is not
    _refused(Client(REMOTE_ADDR="10.1.0.1").post("/tap/async", QUERY), 429, "too-many-jobs")
    assert neighbour.post("/tap/async", QUERY).status_code == 303


def test_active_jobs_per_visitor_then_the_global_cap():
    a, b, c = (Client(REMOTE_ADDR=f"10.2.0.{i}") for i in (1, 2, 3))
    assert a.post("/tap/async", {**QUERY, "PHASE": "RUN"}).status_code == 303
    pending = a.post("/tap/async", QUERY)["Location"]
    _refused(a.post(pending, {"PHASE": "RUN"}), 429, "too-many-jobs")
    assert Job.objects.get(public_id=pending.rsplit("/", 1)[1]).phase == Phase.PENDING
    assert b.post("/tap/async", {**QUERY, "PHASE": "RUN"}).status_code == 303
    assert c.post("/tap/async", {**QUERY, "PHASE": "RUN"}).status_code == 303
    # three queries queued for everyone: a fourth visitor waits, whoever they are
    d = Client(REMOTE_ADDR="10.2.0.4")
    _refused(d.post("/tap/async", {**QUERY, "PHASE": "RUN"}), 503, "unavailable")
    assert Job.objects.of_kind(Kind.TAP_QUERY).active().count() == 3


def test_web_visitors_behind_one_address_have_limits_of_their_own(settings):
    settings.TAP_LIMITS = {"anonymous": {"active_jobs": 1}}
    first, second = Client(REMOTE_ADDR="10.3.0.1"), Client(REMOTE_ADDR="10.3.0.1")
    form = {"query": "SELECT 1 AS x", "lang": "PostgreSQL"}
    assert first.post("/query/", form).status_code == 302
    refused = first.post("/query/", form)
    assert refused.status_code == 429 and b"at most 1 run at once" in refused.content
    assert second.post("/query/", form).status_code == 302


def test_the_owner_extends_a_jobs_destruction_within_the_limit():
    from datetime import timedelta

    from django.utils import timezone

    from archive.tap.limits import ANONYMOUS

    client = Client(REMOTE_ADDR="10.4.0.1")
    url = client.post("/tap/async", QUERY)["Location"]
    job = Job.objects.get(public_id=url.rsplit("/", 1)[1])
    first = job.destruction_time
    later = (first + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.post(f"{url}/destruction", {"DESTRUCTION": later}).status_code == 303
    job.refresh_from_db()
    assert job.destruction_time > first + timedelta(hours=23)
    # asked for a year: given the longest the limits allow
    year = (timezone.now() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.post(f"{url}/destruction", {"DESTRUCTION": year})
    job.refresh_from_db()
    most = timezone.now() + timedelta(seconds=ANONYMOUS.retention_max_s)
    assert most - timedelta(minutes=1) < job.destruction_time <= most
