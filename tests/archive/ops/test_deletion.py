"""Deleting a model version: its directory, labels and exports go; published ones are refused."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from archive.catalogue.cnn_labels import LabelWriteError, delete_labels
from archive.catalogue.models import CnnLabel, ModelVersion
from archive.exports.store import export_dir
from archive.ops import deletion
from archive.ops.deletion import DeleteRefused, delete_version
from archive.ops.models import PipelineRun
from archive.ops.publishing import PublishError, publish
from tests.archive.ops.test_publishing import published_teff, version_with_labels

pytestmark = pytest.mark.django_db


@pytest.fixture
def places(settings, tmp_path):
    settings.RVS_MODELS_DIR = tmp_path / "models"
    settings.RVS_EXPORTS_DIR = tmp_path / "exports"
    return tmp_path


def on_disk(name: str, teff: float, places, status: str = "ready") -> ModelVersion:
    """A version with labels of stars 1 and 2, a directory with a member and an export."""
    directory = places / "models" / name
    (directory / "members").mkdir(parents=True)
    (directory / "members" / "m0.keras").write_bytes(b"weights")
    export_dir(name).mkdir(parents=True)
    (export_dir(name) / "manifest.json").write_text("{}")
    return version_with_labels(name, teff, status=status, path=str(directory))


def test_an_unpublished_version_goes_entirely_and_the_published_one_is_untouched(places):
    kept, gone = on_disk("kept", 4000.0, places), on_disk("gone", 5000.0, places)
    publish(kept)
    deleted = delete_version("gone")
    assert deleted.labels == 2 and deleted.directory == gone.path
    assert not ModelVersion.objects.filter(name="gone").exists()
    assert not CnnLabel.objects.filter(model_version_id=gone.pk).exists()
    assert not (places / "models" / "gone").exists() and not export_dir("gone").exists()
    assert published_teff() == {4000.0}
    assert CnnLabel.objects.filter(model_version=kept).count() == 2
    assert (places / "models" / "kept" / "members").is_dir() and export_dir("kept").is_dir()


def test_published_rollback_target_and_once_published_versions_are_refused(places):
    first, second, third = (
        on_disk(n, t, places) for n, t in [("v1", 1.0), ("v2", 2.0), ("v3", 3.0)]
    )
    publish(first)
    publish(second)
    publish(third)  # v3 published, v2 the rollback target, v1 published once
    running = on_disk("labelling", 4.0, places, status="labelling")
    PipelineRun.objects.create(config={}, status="running", model_version=running)
    for name, why in [
        ("v3", "v3 is the published catalogue; publish another version first"),
        ("v2", "v2 is what a rollback would publish again"),
        ("v1", "v1 was published on .*citations of it name it, so it stays"),
        ("labelling", r"run \d+ is still making labelling; cancel it first"),
        ("nothing", "there is no model version 'nothing'"),
    ]:
        with pytest.raises(DeleteRefused, match=why):
            delete_version(name)
    for v in (first, second, third, running):
        v.refresh_from_db()
        assert (
            v.status in ("ready", "labelling")
            and CnnLabel.objects.filter(model_version=v).count() == 2
        )
        assert (places / "models" / v.name).is_dir() and export_dir(v.name).is_dir()
    assert published_teff() == {3.0}


def test_a_directory_outside_the_models_directory_is_never_removed(places):
    outside = places / "not-models"
    outside.mkdir()
    v = version_with_labels("elsewhere", 1.0, path=str(outside))
    with pytest.raises(DeleteRefused, match="is not under RVS_MODELS_DIR"):
        delete_version("elsewhere")
    assert outside.is_dir() and ModelVersion.objects.get(pk=v.pk).status == "ready"


def test_a_half_finished_delete_is_never_publishable_and_finishes_when_run_again(
    places, monkeypatch
):
    v = on_disk("half", 4000.0, places)

    def interrupted(version):
        raise KeyboardInterrupt  # the command stopped after the directory went

    monkeypatch.setattr(deletion, "delete_labels", interrupted)
    with pytest.raises(KeyboardInterrupt):
        delete_version("half")
    v.refresh_from_db()
    assert v.status == "deleting" and not (places / "models" / "half").exists()
    with pytest.raises(PublishError, match="half is deleting, not ready"):
        publish(v)
    with pytest.raises(IntegrityError, match="is being deleted"), transaction.atomic():
        ModelVersion.objects.filter(pk=v.pk).update(status="ready")
    monkeypatch.setattr(deletion, "delete_labels", delete_labels)
    assert delete_version("half").labels == 2
    assert not ModelVersion.objects.filter(pk=v.pk).exists() and not export_dir("half").exists()


def test_labels_go_only_from_a_version_being_deleted(places):
    v = version_with_labels("ready", 1.0)
    with pytest.raises(LabelWriteError, match="ready is ready: its labels are kept"):
        delete_labels(v)
    assert CnnLabel.objects.filter(model_version=v).count() == 2


def test_the_database_lets_no_published_version_become_deleting():
    v = version_with_labels("pub", 1.0)
    publish(v)
    with (
        pytest.raises(IntegrityError, match="ready and immutable"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("UPDATE model_version SET status = 'deleting' WHERE id = %s", [v.pk])


def test_the_command_deletes_or_says_why_not(places, capsys):
    on_disk("old", 1.0, places)
    published = on_disk("new", 2.0, places)
    publish(published)
    call_command("pipeline", "delete", "old")
    assert "deleted old:" in capsys.readouterr().out
    with pytest.raises(CommandError, match="new is the published catalogue"):
        call_command("pipeline", "delete", "new")


def test_the_staff_page_deletes_with_confirmation_and_shows_why_others_stay(staff, places):
    old, new = on_disk("old", 1.0, places), on_disk("new", 2.0, places)
    publish(new)
    page = staff.get(reverse("ops:dashboard")).content.decode()
    assert f'action="{reverse("ops:delete", args=[old.pk])}"' in page
    assert "new is the published catalogue" in page
    assert f'action="{reverse("ops:delete", args=[new.pk])}"' not in page
    unconfirmed = staff.post(reverse("ops:delete", args=[old.pk]), follow=True)
    assert "tick the box" in unconfirmed.content.decode()
    assert ModelVersion.objects.filter(pk=old.pk).exists()
    staff.post(reverse("ops:delete", args=[old.pk]), {"confirm": "old"})
    assert not ModelVersion.objects.filter(pk=old.pk).exists()
    refused = staff.post(reverse("ops:delete", args=[new.pk]), {"confirm": "new"}, follow=True)
    assert "publish another version first" in refused.content.decode()
    assert ModelVersion.objects.get(is_published=True) == new
