"""Who sees a query job, as a permissions table: caller × job owner × list/read/result/delete,
through the TAP service's UWS endpoints and the web job pages (one rule: archive.jobs.access)."""

import pytest
from django.test import Client

from archive.jobs import lifecycle
from archive.jobs.access import VISITOR
from archive.jobs.kinds import Kind
from archive.jobs.models import Job, JobResult
from archive.jobs.phases import Phase

pytestmark = pytest.mark.django_db

OPERATIONS = ("list", "read", "result", "delete")
#: job owner -> caller -> the operations the caller may do on it
TABLE = {
    "user": {
        "user": OPERATIONS,
        "other user": (),
        "web visitor": (),
        "other visitor": (),
        "tap client": (),
    },
    # a web visitor's job: their session's only, its id alone opens nothing
    "web visitor": {
        "user": (),
        "other user": (),
        "web visitor": OPERATIONS,
        "other visitor": (),
        "tap client": (),
    },
    # an anonymous TAP client's job (it sent no cookie): its unguessable id is the key, and no
    # one's job list shows it
    "tap client": {
        "user": ("read", "result", "delete"),
        "other user": ("read", "result", "delete"),
        "web visitor": ("read", "result", "delete"),
        "other visitor": ("read", "result", "delete"),
        "tap client": ("read", "result", "delete"),
    },
}


@pytest.fixture
def callers(django_user_model):
    user = django_user_model.objects.create_user("job-owner", password="x")
    other = django_user_model.objects.create_user("job-other", password="x")
    made = {}
    for name, who in (("user", user), ("other user", other)):
        made[name] = Client(REMOTE_ADDR="10.0.0.1")
        made[name].force_login(who)
    for name, token in (("web visitor", "a" * 32), ("other visitor", "b" * 32)):
        made[name] = Client(REMOTE_ADDR="10.0.0.2")  # behind one address: told apart by session
        session = made[name].session
        session[VISITOR] = token
        session.save()
    made["tap client"] = Client(REMOTE_ADDR="10.0.0.3")
    return made, user


def _job(owner: str, user) -> Job:
    kwargs = {
        "user": {"owner": user},
        "web visitor": {"session": "a" * 32},
        "tap client": {"client": "10.0.0.9"},
    }[owner]
    job = lifecycle.create(Kind.TAP_QUERY, parameters={"QUERY": "SELECT 1"}, **kwargs)
    out = lifecycle.job_dir(job)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.csv").write_text("x\n1\n")
    result = JobResult(id="result", path="result.csv", content_type="text/csv", size=4)
    Job.objects.filter(pk=job.pk).update(phase=Phase.COMPLETED, results=[result.to_dict()])
    return job


def _allowed(client: Client, job: Job, operation: str) -> bool:
    url = f"/tap/async/{job.public_id}"
    if operation == "list":
        return f'id="{job.public_id}"' in client.get("/tap/async").content.decode()
    if operation == "read":
        status = client.get(url).status_code
    elif operation == "result":
        status = client.get(f"{url}/results/result").status_code
    else:
        status = client.delete(url).status_code
    assert status in (200, 303, 404), (operation, status)
    if status == 404:  # a DALI error document, never the site's HTML page
        assert b"QUERY_STATUS" in client.get(url).content
    return status != 404


@pytest.mark.parametrize("owner", list(TABLE))
@pytest.mark.parametrize("caller", list(TABLE["user"]))
def test_permissions_table(callers, owner, caller):
    clients, user = callers
    job = _job(owner, user)
    client = clients[caller]
    for operation in OPERATIONS:
        expected = operation in TABLE[owner][caller]
        assert _allowed(client, job, operation) == expected, (owner, caller, operation)
    assert Job.objects.filter(pk=job.pk).exists() != ("delete" in TABLE[owner][caller])


@pytest.mark.parametrize("owner", list(TABLE))
@pytest.mark.parametrize("caller", list(TABLE["user"]))
def test_the_web_job_page_follows_the_same_rule(callers, owner, caller):
    clients, user = callers
    job = _job(owner, user)
    status = clients[caller].get(f"/query/jobs/{job.public_id}/status").status_code
    assert (status == 200) == ("read" in TABLE[owner][caller])


def test_the_integer_key_and_an_unknown_id_reach_nothing(callers):
    clients, user = callers
    job = _job("tap client", user)
    for path in (f"/tap/async/{job.pk}", "/tap/async/abc", f"/tap/async/{job.pk}/phase",
                 "/tap/async/abc/results/result", "/tap/async/abc/no/such/thing"):  # fmt: skip
        response = clients["tap client"].get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/x-votable+xml"), path
        assert b'name="QUERY_STATUS" value="ERROR"' in response.content
        assert b'name="ERROR_KIND" value="not-found"' in response.content


def test_public_ids_are_random_and_distinct(callers):
    _, user = callers
    ids = {_job("tap client", user).public_id for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 32 and int(i, 16) for i in ids)


def test_a_job_created_by_an_anonymous_tap_client_is_listed_for_its_session():
    client = Client(REMOTE_ADDR="10.0.0.4")  # keeps its cookie, as pyvo's session does
    made = client.post("/tap/async", {"LANG": "ADQL", "QUERY": "SELECT 1"})
    assert made.status_code == 303
    public_id = made["Location"].rstrip("/").rsplit("/", 1)[1]
    assert f'id="{public_id}"' in client.get("/tap/async").content.decode()
    job = Job.objects.get(public_id=public_id)
    assert job.client == "10.0.0.4" and job.session and job.owner is None
    stranger = Client(REMOTE_ADDR="10.0.0.4")  # same address, no cookie
    assert f'id="{public_id}"' not in stranger.get("/tap/async").content.decode()
    assert stranger.get(f"/tap/async/{public_id}").status_code == 200
