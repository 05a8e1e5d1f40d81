"""A pipeline run: one re-training and publication attempt, watched stage by stage."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class PipelineRun(models.Model):
    """Select → train → predict → flags → report → publish, with progress in the database.

    Workers update ``stage``, ``percent``, ``counts`` and ``log`` as they go, so the staff page
    and ``manage.py pipeline status`` show live progress from any machine.
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

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    stage = models.CharField(max_length=16, choices=Stage, default=Stage.SELECT)
    percent = models.FloatField(default=0.0)
    config = models.JSONField(default=dict, help_text="Configuration the run was started with")
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage")
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    publish = models.BooleanField(default=False, help_text="Publish when the run succeeds")
    attempt = models.PositiveIntegerField(
        default=1, help_text="Raised by each resume; tasks queued by an earlier attempt stop"
    )
    model_version = models.ForeignKey(
        "catalogue.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )

    class Meta:
        db_table = "pipeline_run"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status}, {self.stage})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def can_resume(self) -> bool:
        return self.status in (self.Status.CANCELLED, self.Status.FAILED)

    def add_log(self, line: str) -> None:
        """Append a timestamped line, saved at once (workers on other machines read it)."""
        stamp = timezone.now().strftime("%H:%M:%S")
        PipelineRun.objects.filter(pk=self.pk).update(
            log=models.functions.Concat(models.F("log"), models.Value(f"{stamp} {line}\n"))
        )
        self.refresh_from_db(fields=["log"])


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
