"""The DataLink service descriptor of results a worker writes (async TAP, the web query page):
its access URL is the site's address as the request that created the job reached it, with
RVS_PUBLIC_URL as an override; tested through gunicorn and the Celery worker."""

import io
import re
import time

import pytest
import requests
from astropy.io.votable import parse
from django.test import RequestFactory
from django.test.utils import override_script_prefix

from archive.jobs import lifecycle
from archive.jobs.models import Job
from archive.metadata.fields import VOField
from archive.results.descriptor import STANDARD_ID, datalink_descriptors, links_url, site_url

from .conftest import RVS_STARS

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "SELECT source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn ORDER BY source_id"
FIELDS = [VOField("source_id", "long"), VOField("teff", "float")]


def descriptor_of(body: bytes) -> tuple[str, str]:
    """(accessURL, the name of the FIELD its ID parameter refers to) of the one descriptor."""
    vot = parse(io.BytesIO(body))
    (meta,) = [r for r in vot.resources if r.type == "meta"]
    params = {p.name: p.value for p in meta.params}
    assert params["standardID"] == STANDARD_ID
    (id_param,) = meta.groups[0].entries
    return params["accessURL"], vot.get_first_table().get_field_by_id(id_param.ref).name


def test_an_async_tap_result_links_to_the_site_the_job_came_from(web_service, catalogue):
    import pyvo

    tap = pyvo.dal.TAPService(f"{web_service}/tap")
    result = tap.run_async(QUERY)
    assert list(result["source_id"]) == sorted(RVS_STARS.values())
    service = result.get_adhocservice_by_ivoid(STANDARD_ID)
    assert {p.name: p.value for p in service.params}["accessURL"] == f"{web_service}/datalink/links"
    # and the descriptor works, with pyVO's batched default too: each row gets its own links
    for links in result.iter_datalinks():
        assert {int(i) for i in links["ID"]} == {int(links.original_row["source_id"])}


def test_a_web_query_job_result_links_to_the_site(web_service, catalogue):
    session = requests.Session()
    page = session.get(f"{web_service}/query/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    posted = session.post(
        f"{web_service}/query/",
        data={"csrfmiddlewaretoken": token, "lang": "ADQL", "query": QUERY},
        headers={"Referer": f"{web_service}/query/"},
        timeout=30,
    )
    job = re.search(r"/query/jobs/([0-9a-f]+)/", posted.url)[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        download = session.get(f"{web_service}/query/jobs/{job}/download", timeout=30)
        if download.status_code == 200:
            break
        time.sleep(0.2)
    assert download.status_code == 200, download.text
    expected = (f"{web_service}/datalink/links", "source_id")
    assert descriptor_of(download.content) == expected
    # the result file the worker wrote (the job page's preview) carries it too
    stored = Job.objects.get(public_id=job)
    path = lifecycle.job_dir(stored) / stored.result_list[0].path
    assert descriptor_of(path.read_bytes()) == expected


def test_the_site_address_follows_the_script_prefix_and_the_override(settings):
    settings.RVS_PUBLIC_URL = ""
    settings.ALLOWED_HOSTS = ["archive.example"]
    request = RequestFactory().get("/tap/sync", HTTP_HOST="archive.example:8443", secure=True)
    with override_script_prefix("/rvs/"):
        site = site_url(request)
        assert site == "https://archive.example:8443/rvs"
        assert links_url(site) == "https://archive.example:8443/rvs/datalink/links"
    # a worker's own prefix is "/": the job's stored address still carries the site's
    assert links_url(site) == "https://archive.example:8443/rvs/datalink/links"
    (descriptor,) = datalink_descriptors(FIELDS, site)
    assert descriptor.access_url == "https://archive.example:8443/rvs/datalink/links"
    assert datalink_descriptors(FIELDS, "") == []  # a job from before jobs kept the address
    settings.RVS_PUBLIC_URL = "https://public.example/archive"
    for stored in (site, ""):
        (descriptor,) = datalink_descriptors(FIELDS, stored)
        assert descriptor.access_url == "https://public.example/archive/datalink/links"
