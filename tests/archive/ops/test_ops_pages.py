"""Staff pages: staff only, CSRF-protected actions, runs queued, progress live, publish/rollback."""

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from archive.catalogue.models import ModelVersion
from archive.ops.models import PipelineRun
from labeling.config import PipelineConfig
from tasks import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_stray_tasks():
    yield
    app.control.purge()  # runs queued here must not reach a worker of a later test


def test_anonymous_and_non_staff_are_sent_to_login(client):
    for url in [reverse("ops:dashboard"), reverse("ops:run", args=[1])]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
    User.objects.create_user("user", password="a-long-test-password")
    client.login(username="user", password="a-long-test-password")
    assert client.get(reverse("ops:dashboard")).status_code == 302


def test_actions_need_a_csrf_token(no_stray_tasks):
    user = User.objects.create_user("ops", password="a-long-test-password", is_staff=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(reverse("ops:dashboard"), {"n_splits": 1}).status_code == 403
    assert strict.post(reverse("ops:rollback")).status_code == 403
    assert not PipelineRun.objects.exists()


def test_starting_a_run_queues_it_with_its_configuration(staff, no_stray_tasks):
    data = {
        "n_splits": 2,
        "n_members": 3,
        "epochs": 5,
        "patience": 2,
        "inputs": "rvs_only",
        "seed": 7,
        "publish": "on",
    }
    response = staff.post(reverse("ops:dashboard"), data)
    run = PipelineRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("ops:run", args=[run.pk])
    # the run stores PipelineConfig.to_dict(): what was posted, every other option its default
    posted = {k: v for k, v in data.items() if k != "publish"}
    assert run.config == PipelineConfig.from_dict(posted).to_dict()
    assert PipelineConfig.from_dict(run.config).ensemble.n_members == 3
    assert run.kind == "pipeline" and run.phase == "QUEUED"
    assert run.publish and run.created_by.username == "ops"
    live = staff.get(reverse("ops:run-json", args=[run.pk])).json()
    assert live["status"] == "queued" and live["active"]
    assert staff.post(reverse("ops:run-cancel", args=[run.pk])).status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_publish_and_rollback_from_the_page(staff, tmp_path):
    from tests.archive.ops.test_publishing import version_with_labels

    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    for v in (a, b):
        staff.post(reverse("ops:publish", args=[v.pk]))
    assert ModelVersion.objects.get(is_published=True) == b
    staff.post(reverse("ops:rollback"), {"current": b.pk})
    assert ModelVersion.objects.get(is_published=True) == a
    html = staff.get(reverse("ops:dashboard")).content.decode()
    assert "a (" in html and "replacing b" in html
    assert f'name="current" value="{a.pk}"' in html
    # the same form sent again (a double click, a second member of staff) changes nothing
    again = staff.post(reverse("ops:rollback"), {"current": b.pk}, follow=True)
    assert ModelVersion.objects.get(is_published=True) == a
    assert "has changed since (now a); not rolled back" in again.content.decode()


def test_admin_shows_versions_runs_and_labels_but_changes_none(client):
    from tests.archive.ops.test_publishing import version_with_labels

    v = version_with_labels("a", 4000.0)
    client.force_login(User.objects.create_superuser("root", password="a-long-test-password"))
    staff = client
    page = reverse("admin:catalogue_modelversion_change", args=[v.pk])
    assert staff.get(page).status_code == 200
    staff.post(page, {"name": "a", "status": "ready", "is_published": "on"})
    v.refresh_from_db()
    assert not v.is_published  # publishing goes through archive.ops.publishing only
    for name in ("catalogue_modelversion", "ops_pipelinerun"):
        assert staff.get(reverse(f"admin:{name}_add")).status_code == 403


def test_report_files_are_served_and_confined(staff, tmp_path):
    report = tmp_path / "v" / "files" / "validation"
    report.mkdir(parents=True)
    (report / "index.html").write_text("<h1>report</h1>")
    (tmp_path / "secret.txt").write_text("no")
    v = ModelVersion.objects.create(name="v", status="ready", path=str(tmp_path / "v"))
    response = staff.get(reverse("ops:report", args=[v.pk]))
    assert b"".join(response.streaming_content) == b"<h1>report</h1>"
    bad = staff.get(reverse("ops:report-file", args=[v.pk, "../../secret.txt"]))
    assert bad.status_code == 404


def test_compare_two_versions(staff):
    from tests.archive.ops.test_publishing import version_with_labels

    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 4100.0)
    page = staff.get(reverse("ops:compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert "2 stars labelled by both" in page
    assert 'id="differences"' in page and "data:image/png;base64," in page
    assert "<pre>" not in page  # a table per label, not raw JSON
    table = page.split('id="star-differences"')[1].split("</table>")[0]
    teff = table.split("<th>Teff")[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in teff.split('<td class="num">')[1:]]
    assert cells[:2] == ["2", "100"]  # stars, mean of B − A star by star
    assert staff.get(reverse("ops:compare")).status_code == 200  # the empty form


def test_a_cancelled_run_resumes_from_the_page(staff, settings, tmp_path, no_stray_tasks):
    settings.RVS_RUNS_DIR = tmp_path  # nothing of this run on disk: it starts over
    run = PipelineRun.objects.create(config={"n_splits": 1}, status="cancelled")
    page = staff.get(reverse("ops:run", args=[run.pk])).content.decode()
    assert reverse("ops:run-resume", args=[run.pk]) in page
    response = staff.post(reverse("ops:run-resume", args=[run.pk]), follow=True)
    assert "resumed at stage select" in response.content.decode()
    run.refresh_from_db()
    assert (run.status, run.attempt) == ("running", 2) and "attempt 2" in run.log
    # a running run cannot be resumed twice
    response = staff.post(reverse("ops:run-resume", args=[run.pk]), follow=True)
    assert "only cancelled or failed runs resume" in response.content.decode()
    assert PipelineRun.objects.get(pk=run.pk).attempt == 2


def test_compare_says_what_is_wrong(staff):
    from tests.archive.ops.test_publishing import version_with_labels

    a = version_with_labels("a", 4000.0)
    for query, message in [
        ({"a": a.pk, "b": 999}, "There is no ready model version 999 (B)."),
        ({"a": "x"}, "A must be a model version&#x27;s number, not &#x27;x&#x27;."),
        ({"a": a.pk}, "Choose version B."),
    ]:
        response = staff.get(reverse("ops:compare"), query)
        page = response.content.decode()
        assert response.status_code == 400 and message in page, page
        assert 'class="message error"' in page


def test_the_run_form_is_generated_from_the_configuration(staff, no_stray_tasks):
    page = staff.get(reverse("ops:dashboard")).content.decode()
    for o in PipelineConfig.options():
        assert f'name="{o.name}"' in page, o.name
        assert o.help in html.unescape(page)
    assert 'name="perplexities"' not in page and 'value="30,50,75,100"' in page
    assert 'name="seed" value="0"' in page  # one default seed, the library's
    response = staff.post(reverse("ops:dashboard"), {"n_splits": 0, "tsne_perplexities": "a"})
    assert response.status_code == 200 and not PipelineRun.objects.exists()

    # empty: None where None means something (no augmentation), else the default
    data = {"augment_min_snr": "", "epochs": "", "calibrate_sigma": "no", "tsne_perplexities": "30"}
    staff.post(reverse("ops:dashboard"), data)
    config = PipelineConfig.from_dict(PipelineRun.objects.get().config)
    assert config.ensemble.augment_min_snr is None and config.ensemble.epochs == 200
    assert not config.calibrate_sigma and config.tsne_perplexities == (30,)


def test_the_pages_show_how_far_a_running_stage_is_and_the_time_left(staff, no_stray_tasks):
    import time

    from archive.progress import Progress

    now = time.time()
    progress = Progress.begin("predict", "chunks", 40, now=now - 120).advance(10, now=now)
    run = PipelineRun.objects.create(config={}, status="running", progress=progress.to_dict())
    expected = "10/40 chunks (25%), 0.0833 chunks/s, about 6 min left"
    assert expected in staff.get(reverse("ops:dashboard")).content.decode()
    assert expected in staff.get(reverse("ops:run", args=[run.pk])).content.decode()
    assert staff.get(reverse("ops:run-json", args=[run.pk])).json()["progress"] == expected
    PipelineRun.objects.filter(pk=run.pk).update(phase="ERROR")
    assert "chunks (" not in staff.get(reverse("ops:dashboard")).content.decode()
