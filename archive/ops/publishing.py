"""Publishing: switch the catalogue users see from one model version to another, atomically.

``gaiadr3_rvs_cnn.rvs_cnn`` shows the labels of the one version with ``is_published``; the
switch is two UPDATEs in one transaction under a row lock, so readers see the old catalogue
or the new one, never a mix, and a failure changes nothing. Every switch is recorded in
``Publication``; rollback re-publishes the version that the latest switch replaced.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archive import replicas
from archive.catalogue.models import ModelVersion

from .models import Publication


class PublishError(RuntimeError):
    pass


@transaction.atomic
def publish(version: ModelVersion, *, user=None, note: str = "") -> Publication:
    """Make ``version`` the published catalogue (it must be ready and carry labels)."""
    # lock every version row: two concurrent publishes serialise here
    versions = {v.pk: v for v in ModelVersion.objects.select_for_update().order_by("pk")}
    version = versions.get(version.pk)
    if version is None:
        raise PublishError("no such model version")
    if version.status != ModelVersion.Status.READY:
        raise PublishError(f"{version} is {version.status}, not ready")
    if not version.labels.exists():
        raise PublishError(f"{version} has no CNN labels to publish")
    current = next((v for v in versions.values() if v.is_published), None)
    if current is not None and current.pk == version.pk:
        raise PublishError(f"{version} is already published")
    if current is not None:
        ModelVersion.objects.filter(pk=current.pk).update(is_published=False)
    ModelVersion.objects.filter(pk=version.pk).update(
        is_published=True, published_at=timezone.now()
    )
    if settings.RVS_EXPORT_ON_PUBLISH:
        from archive.exports.jobs import request_export

        request_export(version, owner=user)  # sent to the worker when this transaction commits
    # replicas are read for this version only once they have replayed its commit
    replicas.fence_on_commit()
    return Publication.objects.create(
        model_version=version, previous=current, published_by=user, note=note
    )


@transaction.atomic
def rollback(*, user=None, expected_current: int | None = None) -> Publication:
    """Re-publish the version that the latest switch replaced.

    ``expected_current`` (a version's pk, as the staff page showed it) makes a repeated or
    concurrent request refuse instead of switching back again.
    """
    list(ModelVersion.objects.select_for_update().order_by("pk"))
    last = Publication.objects.select_related("previous").first()
    current = ModelVersion.objects.published().first()
    if expected_current is not None and (current is None or current.pk != expected_current):
        now = current.name if current is not None else "nothing"
        raise PublishError(f"the published version has changed since (now {now}); not rolled back")
    if last is None or current is None or last.model_version_id != current.pk:
        raise PublishError("nothing to roll back: the current publication has no history")
    if last.previous is None:
        raise PublishError(f"{current} was the first published version; nothing before it")
    return publish(last.previous, user=user, note=f"rollback from {current}")
