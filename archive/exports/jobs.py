"""Export jobs: one per build of a version's bulk files, run by the worker task exports.build."""

from __future__ import annotations

from archive.jobs import lifecycle
from archive.jobs.kinds import Kind
from archive.jobs.models import Job


def request_export(version, *, owner=None) -> Job:
    """Queue the export of a ready ``version``; a build of it already queued or running is
    returned instead of a second one."""
    running = (
        Job.objects.of_kind(Kind.EXPORT).active().filter(parameters__version=version.name).first()
    )
    if running is not None:
        return running
    job = lifecycle.create(Kind.EXPORT, owner=owner, parameters={"version": version.name})
    return lifecycle.enqueue(job)
