"""Deleting a model version that nothing published needs: ``pipeline delete`` and the staff page.

The order is that of safety. First the version becomes ``deleting`` under the same row locks
as a publish, so it can never be published (or rolled back to) again; then its directory goes,
its labels, its exports, and last its row. Each step finds what an earlier, interrupted delete
left and finishes it, so a half-finished delete is simply run again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from archive.catalogue.cnn_labels import delete_labels
from archive.catalogue.models import ModelVersion
from archive.errors import ArchiveError
from archive.exports.store import remove_export
from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.jobs.phases import ACTIVE

from .models import Publication

Status = ModelVersion.Status


class DeleteRefused(ArchiveError):
    """The version must stay; the message says why."""

    status = 409


@dataclass(frozen=True)
class Deleted:
    name: str
    directory: str  # "" when it had none left
    labels: int


def why_kept(version: ModelVersion) -> str:
    """Why ``version`` cannot be deleted ("" when it can)."""
    if version.status == Status.DELETING:
        return ""  # refused nothing the first time: the rest of its delete may go on
    if version.is_published:
        return f"{version.name} is the published catalogue; publish another version first"
    last = Publication.objects.first()
    if last is not None and last.previous_id == version.pk:
        return f"{version.name} is what a rollback would publish again"
    first = version.publications.order_by("published_at").first()
    if first is not None:
        return (
            f"{version.name} was published on {first.published_at:%Y-%m-%d}: the publication "
            "history and citations of it name it, so it stays"
        )
    run = version.runs.filter(phase__in=ACTIVE).first()
    if run is not None:
        return f"run {run.pk} is still making {version.name}; cancel it first"
    if Job.objects.of_kind(Kind.EXPORT).active().filter(parameters__version=version.name):
        return f"an export of {version.name} is being built; wait for it or abort it"
    if version.path and not _inside_models_dir(Path(version.path)):
        return (
            f"the directory of {version.name}, {version.path}, is not under RVS_MODELS_DIR; "
            "nothing of it was deleted"
        )
    return ""


def _inside_models_dir(path: Path) -> bool:
    root = Path(settings.RVS_MODELS_DIR).resolve()
    return root in path.resolve().parents


def delete_version(name: str) -> Deleted:
    """Delete the model version ``name`` (see the module's docstring) or say why not."""
    with transaction.atomic():
        # the locks of publish(): a publish or rollback in flight finishes first, or waits
        versions = list(ModelVersion.objects.select_for_update().order_by("pk"))
        version = next((v for v in versions if v.name == name), None)
        if version is None:
            raise DeleteRefused(f"there is no model version {name!r}")
        why = why_kept(version)
        if why:
            raise DeleteRefused(why)
        if version.status != Status.DELETING:
            ModelVersion.objects.filter(pk=version.pk).update(status=Status.DELETING)
            version.status = Status.DELETING
    directory = ""
    if version.path and Path(version.path).exists():
        shutil.rmtree(version.path)
        directory = version.path
    labels = delete_labels(version)
    remove_export(version.name)
    version.delete()  # its training stars go with it; runs keep their record, without it
    return Deleted(version.name, directory, labels)
