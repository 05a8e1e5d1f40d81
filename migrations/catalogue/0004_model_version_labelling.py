"""ModelVersion.status gains "labelling": written, catalogue being labelled, not yet publishable.

A choices-only change: the column stays varchar(16) and no row changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0003_sigma_star_calibrated"),
    ]

    operations = [
        migrations.AlterField(
            model_name="modelversion",
            name="status",
            field=models.CharField(
                choices=[
                    ("training", "Training"),
                    ("labelling", "Labelling"),
                    ("ready", "Ready"),
                    ("failed", "Failed"),
                ],
                default="training",
                max_length=16,
            ),
        ),
    ]
