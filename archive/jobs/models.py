"""A job: one piece of long work (a pipeline run, an ADQL query, an export) as UWS 1.1 sees it."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Cast, Replace
from django.utils import timezone

from archive.progress import Progress

from .kinds import Kind
from .phases import ACTIVE, FINAL, Phase


@dataclass(frozen=True)
class JobResult:
    """One entry of a job's result list (a UWS ``<uws:result>``): a file the job wrote (``path``,
    served by the archive) or a resource elsewhere (``href``)."""

    id: str  # "result" for a TAP query's table (TAP 1.1, section 2.2.2)
    href: str = ""
    path: str = ""
    content_type: str = ""
    size: int | None = None  # bytes
    rows: int | None = None

    def __post_init__(self) -> None:
        if not self.id or bool(self.href) == bool(self.path):
            raise ValueError("a job result needs an id and one of href or path")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> JobResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def new_public_id() -> str:
    """A job's public id: 122 random bits, so that knowing a job's URL is the key to it."""
    return uuid.uuid4().hex


#: the same in SQL, for rows written by SQL (the runs-to-jobs migration)
PUBLIC_ID_SQL = Replace(Cast(RandomUUID(), models.CharField()), models.Value("-"), models.Value(""))


class JobQuerySet(models.QuerySet):
    def of_kind(self, kind: Kind) -> JobQuerySet:
        return self.filter(kind=kind)

    def active(self) -> JobQuerySet:
        return self.filter(phase__in=ACTIVE)

    def kept(self) -> JobQuerySet:
        """Not archived: the jobs whose results still exist or may."""
        return self.exclude(phase=Phase.ARCHIVED)

    def owned_by(self, user) -> JobQuerySet:
        return self.filter(owner=user)

    def of_session(self, token: str) -> JobQuerySet:
        """An anonymous session's jobs (none for an empty token)."""
        return self.filter(owner__isnull=True, session=token) if token else self.none()

    def of_client(self, address: str) -> JobQuerySet:
        """The jobs anonymous TAP clients at ``address`` created."""
        return self.filter(owner__isnull=True, client=address) if address else self.none()


class Job(models.Model):
    """The record of one job: its phase, times, parameters, results and the work in flight.

    Change it through :mod:`archive.jobs.lifecycle`, which enforces the phase transitions.
    Kinds that need more columns extend it (multi-table inheritance: ``ops.PipelineRun``);
    others (ADQL queries) keep what they need in ``parameters`` and ``results``.
    """

    kind = models.CharField(
        max_length=32, db_index=True, choices=Kind, help_text="A registered job kind"
    )
    public_id = models.CharField(
        max_length=32,
        unique=True,
        editable=False,
        default=new_public_id,
        db_default=PUBLIC_ID_SQL,
        help_text="The job's id in every URL (UWS jobId); the integer key stays internal",
    )
    run_id = models.CharField(
        max_length=64, blank=True, help_text="UWS runId: the client's own tag for the job"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        help_text="Who created it; none: anonymous or the system",
    )
    phase = models.CharField(max_length=16, choices=Phase, default=Phase.PENDING)
    creation_time = models.DateTimeField(auto_now_add=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    execution_duration = models.PositiveIntegerField(
        default=0, help_text="UWS executionDuration: seconds it may execute (0: unlimited)"
    )
    destruction_time = models.DateTimeField(
        null=True, blank=True, help_text="UWS destruction: when it and its results are deleted"
    )
    quote = models.DateTimeField(
        null=True, blank=True, help_text="UWS quote: when it is expected to complete"
    )
    error_summary = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    results = models.JSONField(
        default=list, blank=True, help_text="JobResult entries: id, href or path, type, size, rows"
    )
    attempt = models.PositiveIntegerField(
        default=1, help_text="Raised by each resume; tasks sent for an earlier attempt stop"
    )
    celery_task_id = models.CharField(max_length=255, blank=True)
    site_url = models.CharField(
        max_length=500,
        blank=True,
        default="",
        # a database default too: rows written by SQL (the runs-to-jobs migration) have none
        db_default="",
        help_text="The site's address as the request that created it reached it: the links in "
        "its results (a TAP result's DataLink descriptor) point there",
    )
    session = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        db_index=True,
        help_text="The anonymous web session (its visitor token) that created it: it alone sees "
        "the job in its lists, and a web visitor's job is that session's only",
    )
    client = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        db_index=True,
        help_text="The address of the anonymous TAP client that created it (its limits count "
        "per address); such a job is reached by its public id",
    )
    progress = models.JSONField(
        default=dict,
        blank=True,
        # a database default too: rows written by SQL (the runs-to-jobs migration) have none
        db_default={},
        help_text="The running stage's done/total and times (archive.progress), per unit of work",
    )
    backend_pid = models.IntegerField(
        null=True, blank=True, help_text="PostgreSQL backend running its query, while it runs"
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        db_table = "job"
        ordering = ["-creation_time", "-id"]
        indexes = [models.Index(fields=["owner", "kind", "phase"], name="job_owner_kind_phase")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.public_id} ({self.phase})"

    @property
    def is_active(self) -> bool:
        return self.phase in ACTIVE

    @property
    def is_final(self) -> bool:
        return self.phase in FINAL

    @property
    def progress_text(self) -> str:
        """How far the running stage is and the time it has left ("" when none is recorded)."""
        progress = Progress.from_dict(self.progress)
        return progress.describe() if progress is not None and self.is_active else ""

    @property
    def result_list(self) -> list[JobResult]:
        return [JobResult.from_dict(r) for r in self.results]

    @property
    def execution_seconds(self) -> float | None:
        """How long it executed (so far, while it executes)."""
        if self.start_time is None:
            return None
        return ((self.end_time or timezone.now()) - self.start_time).total_seconds()
