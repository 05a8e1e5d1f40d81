"""The TAP service as astronomers reach it: pyvo, astroquery's TapPlus and STILTS tapquery
(TOPCAT's engine), against gunicorn with a Celery worker."""

import subprocess

import numpy as np
import pytest
import pyvo
from astropy.table import Table
from django.conf import settings

from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion
from archive.ops.publishing import publish

S = settings.PUBLISHED_SCHEMA
pytestmark = pytest.mark.django_db(transaction=True)
IDS = list(range(101, 121))


@pytest.fixture
def catalogue(worker_settings):
    """20 published stars, committed (gunicorn and the worker read them)."""
    version = ModelVersion.objects.create(name="clients", status="ready")
    for sid in IDS:
        GaiaSource.objects.create(source_id=sid, ra=100.0 + sid / 100, dec=-10.0)
        CnnLabel.objects.create(
            model_version=version,
            source_id=sid,
            teff=4000.0 + sid,
            logg=2.0,
            m_h=-0.5,
            alpha_m=0.1,
            fe_h=-0.6,
            **{f"{p}_{k}": 0.1 for p in ("e", "sigma") for k in LABELS},
            flag_boundary="00000000",
        )
    publish(version)
    return version


LABELS = ("teff", "logg", "m_h", "alpha_m", "fe_h")


@pytest.fixture
def tap(web_service):
    return pyvo.dal.TAPService(f"{web_service}/tap")


def test_pyvo_sync_async_and_job_phases(tap, catalogue):
    query = f"SELECT source_id, teff FROM {S}.rvs_cnn ORDER BY source_id"
    sync = tap.run_sync(query)
    assert list(sync["source_id"]) == IDS
    assert sync.to_table()["teff"].unit == "K"
    result = tap.run_async(query)
    assert list(result["source_id"]) == IDS
    job = tap.submit_job(f"SELECT COUNT(*) AS n FROM {S}.rvs_cnn")
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    assert job.fetch_result()["n"][0] == len(IDS)
    job.delete()


def test_pyvo_overflow_and_upload(tap, catalogue):
    result = tap.run_sync(f"SELECT source_id FROM {S}.rvs_cnn", maxrec=5)
    assert len(result) == 5 and result.query_status == "OVERFLOW"
    mine = Table({"source_id": np.array([105, 110, 999], dtype=np.int64), "tag": ["a", "b", "c"]})
    crossmatch = tap.run_sync(
        f"SELECT u.tag, c.teff FROM TAP_UPLOAD.mine AS u JOIN {S}.rvs_cnn AS c "
        "ON c.source_id = u.source_id ORDER BY u.tag",
        uploads={"mine": mine},
    )
    assert list(crossmatch["tag"]) == ["a", "b"]
    assert list(crossmatch["teff"]) == [4105.0, 4110.0]


def test_pyvo_reports_broken_adql_with_the_token(tap):
    with pytest.raises(pyvo.dal.DALQueryError, match="column"):
        tap.run_sync(f"SELECT nothing FROM {S}.rvs_cnn")


def test_astroquery_tapplus(web_service, catalogue):
    from astroquery.utils.tap.core import TapPlus

    tap = TapPlus(url=f"{web_service}/tap", verbose=False)
    job = tap.launch_job(f"SELECT TOP 3 source_id, teff FROM {S}.rvs_cnn ORDER BY source_id")
    assert list(job.get_results()["source_id"]) == IDS[:3]
    job = tap.launch_job_async(f"SELECT source_id FROM {S}.rvs_cnn WHERE teff > 4115")
    assert sorted(job.get_results()["source_id"]) == IDS[-5:]


def test_stilts_tapquery(web_service, catalogue, tmp_path):
    out = tmp_path / "result.fits"
    run = subprocess.run(
        [
            "stilts",
            "tapquery",
            f"tapurl={web_service}/tap",
            f"adql=SELECT source_id, m_h FROM {S}.rvs_cnn WHERE source_id < 105",
            "sync=true",
            f"out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert sorted(Table.read(out)["source_id"]) == [101, 102, 103, 104]


def token_tap(web_service: str, key: str):
    """astroquery's TapPlus sending ``Authorization: Token <key>`` (as docs/web.md shows): TapPlus
    has no header option, but takes a connection (TapConn) whose HTTP connections add it."""
    import http.client
    from urllib.parse import urlsplit

    from astroquery.utils.tap.conn.tapconn import ConnectionHandler, TapConn
    from astroquery.utils.tap.core import TapPlus

    class TokenConnection(http.client.HTTPConnection):
        def request(self, method, url, body=None, headers=None, **kwargs):
            headers = {**(headers or {}), "Authorization": f"Token {key}"}
            super().request(method, url, body, headers, **kwargs)

    class TokenHandler(ConnectionHandler):
        def get_connection(self, *, ishttps=False, cookie=None, verbose=False):
            return TokenConnection(address.hostname, address.port)

    address = urlsplit(web_service)
    handler = TokenHandler(address.hostname, address.port, address.port)
    connection = TapConn(
        False, address.hostname, port=address.port, tap_context="tap", connhandler=handler
    )
    return TapPlus(url=f"{web_service}/tap", connhandler=connection, verbose=False)


def test_astroquery_tapplus_with_an_api_token(web_service, catalogue):
    from django.contrib.auth.models import User

    from archive.accounts.models import ApiToken
    from archive.jobs.models import Job

    user = User.objects.create_user("astroquery-user", password="not-used-here-42")
    tap = token_tap(web_service, ApiToken.issue(user))
    sync = tap.launch_job(f"SELECT TOP 2 source_id FROM {S}.rvs_cnn ORDER BY source_id")
    assert list(sync.get_results()["source_id"]) == IDS[:2]
    job = tap.launch_job_async(f"SELECT source_id FROM {S}.rvs_cnn WHERE teff > 4118")
    assert sorted(job.get_results()["source_id"]) == IDS[-2:]
    assert Job.objects.get(public_id=job.jobid).owner == user  # the token's user owns the job
    with pytest.raises(Exception, match="401"):  # a wrong token is refused, never anonymous
        token_tap(web_service, "not-a-key").launch_job(f"SELECT TOP 1 source_id FROM {S}.rvs_cnn")
