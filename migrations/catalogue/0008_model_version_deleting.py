"""ModelVersion.status gains "deleting", the first step of ``pipeline delete`` (archive.ops.deletion).

The immutability trigger of 0002 lets an unpublished ready version become "deleting" (nothing
else of it changes) and lets no "deleting" version change status again: a delete that stopped
half-way can only be run again, never leave a half-deleted version publishable.
"""

from django.db import migrations, models

SCIENCE_FIELDS = (
    "name, inputs, n_splits, n_members, config, path, data_hash, code_version, "
    "framework_versions, created_at"
)


def _new_fields(prefix: str) -> str:
    return ", ".join(f"{prefix}.{f.strip()}" for f in SCIENCE_FIELDS.split(","))


IMMUTABLE = """
  IF OLD.status = 'ready' AND ({condition}) THEN
    RAISE EXCEPTION 'model version % is ready and immutable; only its publication may change',
      OLD.name USING ERRCODE = 'integrity_constraint_violation';
  END IF;"""


def _function(body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION public.model_version_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN{body}
  RETURN NEW;
END $$;
"""


FORWARD = _function(
    """
  IF OLD.status = 'deleting' AND NEW.status IS DISTINCT FROM 'deleting' THEN
    RAISE EXCEPTION 'model version % is being deleted; run the delete again to finish it',
      OLD.name USING ERRCODE = 'integrity_constraint_violation';
  END IF;"""
    + IMMUTABLE.format(
        condition=f"({_new_fields('NEW')}) IS DISTINCT FROM ({_new_fields('OLD')}) "
        "OR (NEW.status IS DISTINCT FROM OLD.status AND NOT "
        "(NEW.status = 'deleting' AND NOT OLD.is_published AND NOT NEW.is_published))"
    )
)
BACKWARD = _function(
    IMMUTABLE.format(
        condition=f"(NEW.status, {_new_fields('NEW')}) IS DISTINCT FROM "
        f"(OLD.status, {_new_fields('OLD')})"
    )
)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0007_label_columns_from_declaration"),
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
                    ("deleting", "Deleting"),
                ],
                default="training",
                max_length=16,
            ),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
