from django.db import migrations, models


class Migration(migrations.Migration):
    """Job.progress: how far the running stage is (archive.progress), updated per unit of work."""

    dependencies = [
        ("jobs", "0004_job_public_id_session_client"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="progress",
            field=models.JSONField(
                blank=True,
                default=dict,
                # a database default too: rows written by SQL (ops 0003) have none
                db_default={},
                help_text="The running stage's done/total and times (archive.progress), per "
                "unit of work",
            ),
        ),
    ]
