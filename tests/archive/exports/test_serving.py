"""The bulk downloads served by the real web service: listing pages, whole files and ranges,
ETags, HEAD; the export job queued on publish and run by the worker; the staff action."""

import time
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from archive.exports import build, store
from archive.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def fetch(url: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def exported(version_stars, reader, web_service):
    version, ids = version_stars
    manifest = build.build_export(version, reader, rows_per_file=500)
    return version, manifest, f"{web_service}/exports/{version.name}/"


def test_listing_pages_show_complete_exports(exported, web_service):
    version, manifest, base = exported
    status, _, page = fetch(f"{web_service}/exports/")
    assert status == 200 and version.name.encode() in page
    status, _, page = fetch(base)
    assert status == 200
    for f in manifest.files:
        assert f'href="{f.path}"'.encode() in page and f.md5.encode() in page
    assert fetch(f"{web_service}/exports/no-such-version/")[0] == 404


def test_files_whole_ranged_and_conditional(exported):
    version, manifest, base = exported
    f = next(f for f in manifest.files if f.format == "fits")
    whole = (store.export_dir(version.name) / f.path).read_bytes()
    status, headers, body = fetch(base + f.path)
    assert status == 200 and body == whole
    assert headers["Content-Length"] == str(len(whole)) and headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "application/fits"
    tag = headers["ETag"]
    status, headers, body = fetch(base + f.path, Range="bytes=100-2979")
    assert status == 206 and body == whole[100:2980]
    assert headers["Content-Range"] == f"bytes 100-2979/{len(whole)}"
    assert fetch(base + f.path, Range="bytes=-10")[2] == whole[-10:]
    assert fetch(base + f.path, Range=f"bytes={len(whole) - 5}-")[2] == whole[-5:]
    status, headers, _ = fetch(base + f.path, Range=f"bytes={len(whole)}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"
    assert fetch(base + f.path, **{"If-None-Match": tag})[0] == 304
    status, _, body = fetch(base + f.path, Range="bytes=0-9", **{"If-Range": '"stale"'})
    assert status == 200 and body == whole  # the client's copy is stale: the whole file
    assert fetch(base + f.path, Range="bytes=0-9", **{"If-Range": tag})[0] == 206
    status, headers, body = fetch(base + f.path, method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(whole))
    md5sum = fetch(base + "MD5SUM")[2].decode()
    assert f"{f.md5}  {f.path}" in md5sum
    for bad in ("../../etc/passwd", "manifest.json/../../x", ".hidden"):
        assert fetch(base + bad)[0] == 404


def test_an_export_job_runs_on_publish(version_stars, web_service, worker_settings):
    from archive.ops.publishing import publish

    version, ids = version_stars
    worker_settings.RVS_EXPORT_ON_PUBLISH = True
    publish(version)
    job = Job.objects.get(kind="export", parameters__version=version.name)
    deadline = time.monotonic() + 120
    while job.phase not in ("COMPLETED", "ERROR") and time.monotonic() < deadline:
        time.sleep(0.5)
        job.refresh_from_db()
    assert job.phase == "COMPLETED", job.error_summary
    assert job.result_list[0].rows == len(ids)
    status, _, page = fetch(f"{web_service}/exports/")
    assert status == 200 and version.name.encode() in page and b"yes (current)" in page


def test_manage_py_export_builds_here_or_queues(version_stars):
    from io import StringIO

    from django.core.management import call_command

    version, ids = version_stars
    out = StringIO()
    call_command("export", version.name, "--here", "--rows-per-file", "700", stdout=out)
    assert f"{len(ids)} rows in" in out.getvalue()
    assert store.complete_exports()[version.name].rows == len(ids)
    call_command("export", version.name, stdout=out)
    assert Job.objects.get(kind="export").parameters == {"version": version.name}


def test_staff_start_an_export(version_stars, client, django_user_model):
    version, _ = version_stars
    url = reverse("exports:build", args=[version.name])
    assert client.post(url).status_code == 302  # to the login page
    assert not Job.objects.filter(kind="export").exists()
    assert b"build-exports" not in client.get(reverse("exports:index")).content
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)
    assert url.encode() in client.get(reverse("exports:index")).content  # the staff's button
    assert client.post(url).status_code == 302
    job = Job.objects.get(kind="export")
    assert job.parameters == {"version": version.name} and job.phase == "QUEUED"
    client.post(url)  # a second request while one is queued starts no second job
    assert Job.objects.filter(kind="export").count() == 1
