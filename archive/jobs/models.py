"""A job: one piece of long work (a pipeline run, an ADQL query, an export) as UWS 1.1 sees it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from django.conf import settings
from django.db import models
from django.utils import timezone

from archive.progress import Progress

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


class Job(models.Model):
    """The record of one job: its phase, times, parameters, results and the work in flight.

    Change it through :mod:`archive.jobs.lifecycle`, which enforces the phase transitions.
    Kinds that need more columns extend it (multi-table inheritance: ``ops.PipelineRun``);
    others (ADQL queries) keep what they need in ``parameters`` and ``results``.
    """

    kind = models.CharField(max_length=32, db_index=True, help_text="A registered job kind")
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

    class Meta:
        db_table = "job"
        ordering = ["-creation_time", "-id"]
        indexes = [models.Index(fields=["owner", "kind", "phase"], name="job_owner_kind_phase")]

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.phase})"

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
