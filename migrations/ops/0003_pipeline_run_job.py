"""Pipeline runs become jobs of kind "pipeline" (multi-table inheritance on ``job``).

Each run's row in ``job`` takes the run's id (so /ops/runs/<id>/ keeps its address), its phase
from the status (queued → QUEUED, running → EXECUTING, succeeded → COMPLETED, failed → ERROR,
cancelled → ABORTED), owner, times, error, attempt and configuration; ``pipeline_run`` keeps
what only a run has, keyed by ``job_ptr_id``. Not reversible: runs are history, not state.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
INSERT INTO job (id, kind, run_id, owner_id, phase, creation_time, start_time, end_time,
                 execution_duration, error_summary, parameters, results, attempt,
                 celery_task_id)
SELECT id, 'pipeline', '', created_by_id,
       CASE status WHEN 'queued' THEN 'QUEUED' WHEN 'running' THEN 'EXECUTING'
                   WHEN 'succeeded' THEN 'COMPLETED' WHEN 'failed' THEN 'ERROR'
                   ELSE 'ABORTED' END,
       created_at, started_at, finished_at, 0, error, config, '[]'::jsonb, attempt, ''
FROM pipeline_run;
SELECT setval(pg_get_serial_sequence('job', 'id'),
              coalesce((SELECT max(id) FROM job), 1), (SELECT count(*) > 0 FROM job));
ALTER TABLE pipeline_run ALTER COLUMN id DROP IDENTITY IF EXISTS;
ALTER TABLE pipeline_run ALTER COLUMN id DROP DEFAULT;
ALTER TABLE pipeline_run RENAME COLUMN id TO job_ptr_id;
ALTER TABLE pipeline_run ADD CONSTRAINT pipeline_run_job_ptr_id_fk_job_id
    FOREIGN KEY (job_ptr_id) REFERENCES job (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE pipeline_run DROP COLUMN created_at, DROP COLUMN created_by_id,
    DROP COLUMN started_at, DROP COLUMN finished_at, DROP COLUMN status, DROP COLUMN config,
    DROP COLUMN error, DROP COLUMN attempt;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0002_run_attempt"),
        ("jobs", "0001_initial"),
        ("catalogue", "0004_model_version_labelling"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD)],
            state_operations=[
                migrations.DeleteModel(name="PipelineRun"),
                migrations.CreateModel(
                    name="PipelineRun",
                    fields=[
                        (
                            "job_ptr",
                            models.OneToOneField(
                                auto_created=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                parent_link=True,
                                primary_key=True,
                                serialize=False,
                                to="jobs.job",
                            ),
                        ),
                        (
                            "stage",
                            models.CharField(
                                choices=[
                                    ("select", "Select the training and observed samples"),
                                    ("train", "Train the ensemble"),
                                    ("predict", "Predict the observed sample"),
                                    ("flags", "Uncertainties and flag_boundary"),
                                    ("report", "Validation report"),
                                    ("publish", "Publish"),
                                    ("done", "Done"),
                                ],
                                default="select",
                                max_length=16,
                            ),
                        ),
                        ("percent", models.FloatField(default=0.0)),
                        ("counts", models.JSONField(blank=True, default=dict)),
                        (
                            "timings",
                            models.JSONField(
                                blank=True, default=dict, help_text="Seconds per stage"
                            ),
                        ),
                        ("log", models.TextField(blank=True)),
                        (
                            "publish",
                            models.BooleanField(
                                default=False, help_text="Publish when the run succeeds"
                            ),
                        ),
                        (
                            "model_version",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="runs",
                                to="catalogue.modelversion",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "pipeline_run",
                        "ordering": ["-creation_time", "-id"],
                    },
                    bases=("jobs.job",),
                ),
            ],
        ),
    ]
