from django.db import migrations, models


class Migration(migrations.Migration):
    """Rows written by SQL rather than the ORM (ops 0003 turns runs into jobs) get an empty address."""

    dependencies = [
        ("jobs", "0002_job_site_url"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="site_url",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The site's address as the request that created it reached it: the links in its results (a TAP result's DataLink descriptor) point there",
                max_length=500,
            ),
        ),
    ]
