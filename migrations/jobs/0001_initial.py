import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Job",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        db_index=True, help_text="A registered job kind", max_length=32
                    ),
                ),
                (
                    "run_id",
                    models.CharField(
                        blank=True,
                        help_text="UWS runId: the client's own tag for the job",
                        max_length=64,
                    ),
                ),
                (
                    "phase",
                    models.CharField(
                        choices=[
                            ("PENDING", "Pending"),
                            ("QUEUED", "Queued"),
                            ("EXECUTING", "Executing"),
                            ("COMPLETED", "Completed"),
                            ("ERROR", "Error"),
                            ("ABORTED", "Aborted"),
                            ("HELD", "Held"),
                            ("SUSPENDED", "Suspended"),
                            ("ARCHIVED", "Archived"),
                        ],
                        default="PENDING",
                        max_length=16,
                    ),
                ),
                ("creation_time", models.DateTimeField(auto_now_add=True)),
                ("start_time", models.DateTimeField(blank=True, null=True)),
                ("end_time", models.DateTimeField(blank=True, null=True)),
                (
                    "execution_duration",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="UWS executionDuration: seconds it may execute (0: unlimited)",
                    ),
                ),
                (
                    "destruction_time",
                    models.DateTimeField(
                        blank=True,
                        help_text="UWS destruction: when it and its results are deleted",
                        null=True,
                    ),
                ),
                (
                    "quote",
                    models.DateTimeField(
                        blank=True,
                        help_text="UWS quote: when it is expected to complete",
                        null=True,
                    ),
                ),
                ("error_summary", models.TextField(blank=True)),
                ("parameters", models.JSONField(blank=True, default=dict)),
                (
                    "results",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="JobResult entries: id, href or path, type, size, rows",
                    ),
                ),
                (
                    "attempt",
                    models.PositiveIntegerField(
                        default=1,
                        help_text="Raised by each resume; tasks sent for an earlier attempt stop",
                    ),
                ),
                ("celery_task_id", models.CharField(blank=True, max_length=255)),
                (
                    "backend_pid",
                    models.IntegerField(
                        blank=True,
                        help_text="PostgreSQL backend running its query, while it runs",
                        null=True,
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        help_text="Who created it; none: anonymous or the system",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="jobs",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "job",
                "ordering": ["-creation_time", "-id"],
                "indexes": [
                    models.Index(fields=["owner", "kind", "phase"], name="job_owner_kind_phase")
                ],
            },
        ),
    ]
