"""A pipeline run: one re-training and publication attempt, a job of kind "pipeline"."""

from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from archive.jobs.kinds import Kind
from archive.jobs.models import Job
from archive.jobs.phases import Phase


class PipelineRun(Job):
    """Select → train → predict → flags → report → publish, with progress in the database.

    A :class:`~archive.jobs.models.Job` (multi-table inheritance: the ``job`` row holds the
    phase, owner, times, attempt and the configuration as ``parameters``, this row what only a
    run has), so runs are listed, aborted and resumed by the jobs layer like any job. Workers
    update ``stage``, ``percent``, ``counts`` and ``log`` as they go, so the staff page and
    ``manage.py pipeline status`` show live progress from any machine.

    ``status``, ``config``, ``created_by``, ``error`` and the ``*_at`` times are the staff
    pages' names for the job's phase, parameters, owner, error summary and times.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Stage(models.TextChoices):
        SELECT = "select", "Select the training and observed samples"
        TRAIN = "train", "Train the ensemble"
        PREDICT = "predict", "Predict the observed sample"
        FLAGS = "flags", "Uncertainties and flag_boundary"
        REPORT = "report", "Validation report"
        PUBLISH = "publish", "Publish"
        DONE = "done", "Done"

    stage = models.CharField(max_length=16, choices=Stage, default=Stage.SELECT)
    percent = models.FloatField(default=0.0)
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage")
    log = models.TextField(blank=True)
    publish = models.BooleanField(default=False, help_text="Publish when the run succeeds")
    model_version = models.ForeignKey(
        "catalogue.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )

    class Meta:
        db_table = "pipeline_run"
        ordering = ["-creation_time", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status}, {self.stage})"

    def save(self, *args, **kwargs) -> None:
        self.kind = Kind.PIPELINE
        if self._state.adding and self.phase == Phase.PENDING:
            self.phase = Phase.QUEUED  # created to run: queued until its first task takes it
        super().save(*args, **kwargs)

    @property
    def status(self) -> str:
        return STATUS_OF_PHASE.get(self.phase, self.phase.lower())

    @status.setter
    def status(self, value: str) -> None:
        self.phase = PHASE_OF_STATUS[PipelineRun.Status(value)]

    @property
    def config(self) -> dict:
        """The run's configuration (``PipelineConfig.to_dict()``, or part of it)."""
        return self.parameters

    @config.setter
    def config(self, value: dict) -> None:
        self.parameters = value

    @property
    def created_by(self):
        return self.owner

    @created_by.setter
    def created_by(self, user) -> None:
        self.owner = user

    @property
    def created_at(self):
        return self.creation_time

    @property
    def started_at(self):
        return self.start_time

    @property
    def finished_at(self):
        return self.end_time

    @property
    def error(self) -> str:
        return self.error_summary

    @property
    def can_resume(self) -> bool:
        return self.phase in (Phase.ABORTED, Phase.ERROR)

    @property
    def directory(self) -> Path:
        """Where the run's workers keep its samples, plan and members."""
        return Path(settings.RVS_RUNS_DIR) / f"run-{self.pk:06d}"

    def add_log(self, line: str) -> None:
        """Append a timestamped line, saved at once (workers on other machines read it)."""
        stamp = timezone.now().strftime("%H:%M:%S")
        PipelineRun.objects.filter(pk=self.pk).update(
            log=models.functions.Concat(models.F("log"), models.Value(f"{stamp} {line}\n"))
        )
        self.refresh_from_db(fields=["log"])


PHASE_OF_STATUS = {
    PipelineRun.Status.QUEUED: Phase.QUEUED,
    PipelineRun.Status.RUNNING: Phase.EXECUTING,
    PipelineRun.Status.SUCCEEDED: Phase.COMPLETED,
    PipelineRun.Status.FAILED: Phase.ERROR,
    PipelineRun.Status.CANCELLED: Phase.ABORTED,
}
STATUS_OF_PHASE = {phase: status.value for status, phase in PHASE_OF_STATUS.items()}


class Publication(models.Model):
    """One switch of the published catalogue; rollback re-publishes the latest one's previous."""

    model_version = models.ForeignKey(
        "catalogue.ModelVersion", on_delete=models.PROTECT, related_name="publications"
    )
    previous = models.ForeignKey(
        "catalogue.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "publication"
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return f"{self.model_version} published {self.published_at:%Y-%m-%d %H:%M}"
