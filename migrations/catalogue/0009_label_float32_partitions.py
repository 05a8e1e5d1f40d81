"""cnn_label as float32 and LIST-partitioned by model version (issue 24.2, 24.3).

The labels, e_* and sigma_* become ``real`` (the CNN computes float32); the surrogate ``id``
goes, and (model_version_id, source_id) is the key, as a partitioned table's key must hold the
partition column. Each model version gets its partition ``cnn_label_v<id>`` when its row is
inserted (trigger below): created apart and ATTACHed, which takes SHARE UPDATE EXCLUSIVE on
cnn_label and so never waits for or blocks a reader (CREATE TABLE ... PARTITION OF would take
ACCESS EXCLUSIVE). flag_boundary gets the "C" collation and an index. The published views
read cnn_label, so they are dropped here and rebuilt by metadata 0005.
"""

from django.conf import settings
from django.db import migrations, models

import archive.catalogue.label_fields

LABELS = ("teff", "logg", "m_h", "alpha_m", "fe_h")
VALUES = [*LABELS, *(f"e_{k}" for k in LABELS), *(f"sigma_{k}" for k in LABELS)]

PARTITION_FUNCTION = """
CREATE FUNCTION public.cnn_label_partition(version bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'cnn_label_v' || version;
BEGIN
  IF to_regclass('public.' || part) IS NULL THEN
    EXECUTE format('CREATE TABLE public.%I (LIKE public.cnn_label INCLUDING DEFAULTS '
                   'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)', part);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_inherits
                 WHERE inhrelid = to_regclass('public.' || part)) THEN
    EXECUTE format('ALTER TABLE public.cnn_label ATTACH PARTITION public.%I '
                   'FOR VALUES IN (%s)', part, version);
  END IF;
  RETURN part;
END $$;

CREATE FUNCTION public.cnn_label_partition_for_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM public.cnn_label_partition(NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER cnn_label_partition AFTER INSERT ON public.model_version
  FOR EACH ROW EXECUTE FUNCTION public.cnn_label_partition_for_version();
"""


def forward_sql() -> str:
    schema = settings.PUBLISHED_SCHEMA
    values = ",\n  ".join(f"{c} real NOT NULL" for c in VALUES)
    cast = ", ".join(f"{c}::real" for c in VALUES)
    return f"""
DROP VIEW IF EXISTS {schema}.rvs_cnn;
DROP VIEW IF EXISTS {schema}.rvs_cnn_versions;
ALTER TABLE public.cnn_label RENAME TO cnn_label_float64;
ALTER INDEX public.cnn_label_pkey RENAME TO cnn_label_float64_pkey;
CREATE TABLE public.cnn_label (
  model_version_id bigint NOT NULL,
  source_id bigint NOT NULL,
  {values},
  flag_boundary varchar(8) COLLATE "C" NOT NULL,
  CONSTRAINT cnn_label_pkey PRIMARY KEY (model_version_id, source_id),
  CONSTRAINT cnn_label_flag_boundary_8_digits CHECK (flag_boundary ~ '^[01]{{8}}$'),
  CONSTRAINT cnn_label_model_version_fk FOREIGN KEY (model_version_id)
    REFERENCES public.model_version (id) DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT cnn_label_source_fk FOREIGN KEY (source_id)
    REFERENCES public.gaia_source (source_id) DEFERRABLE INITIALLY DEFERRED
) PARTITION BY LIST (model_version_id);
CREATE INDEX cnn_label_flag_boundary ON public.cnn_label (model_version_id, flag_boundary);
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT a.attname, d.description FROM pg_attribute a
             JOIN pg_description d ON d.objoid = a.attrelid AND d.objsubid = a.attnum
            WHERE a.attrelid = 'public.cnn_label_float64'::regclass AND a.attname <> 'id'
  LOOP
    EXECUTE format('COMMENT ON COLUMN public.cnn_label.%I IS %L', r.attname, r.description);
  END LOOP;
END $$;
{PARTITION_FUNCTION}
SELECT public.cnn_label_partition(id) FROM public.model_version ORDER BY id;
INSERT INTO public.cnn_label (model_version_id, source_id, {", ".join(VALUES)}, flag_boundary)
  SELECT model_version_id, source_id, {cast}, flag_boundary FROM public.cnn_label_float64;
DROP TABLE public.cnn_label_float64;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0008_model_version_deleting"),
        # the views it drops are those metadata 0004 built; metadata 0005 rebuilds them
        ("metadata", "0004_labels_are_extrapolations_when_flagged"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(forward_sql())],
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="cnnlabel",
                    name="cnn_label_version_source_uniq",
                ),
                migrations.RemoveField(
                    model_name="cnnlabel",
                    name="id",
                ),
                migrations.AddField(
                    model_name="cnnlabel",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        "model_version",
                        "source",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="alpha_m",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Alpha-element abundance [alpha/M], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Alpha-element abundance [alpha/M], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="e_alpha_m",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Model-to-model standard deviation of [alpha/M]",
                        help_text="Model-to-model standard deviation of [alpha/M]",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="e_fe_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Model-to-model standard deviation of [Fe/H]",
                        help_text="Model-to-model standard deviation of [Fe/H]",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="e_logg",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Model-to-model standard deviation of log g",
                        help_text="Model-to-model standard deviation of log g",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="e_m_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Model-to-model standard deviation of [M/H]",
                        help_text="Model-to-model standard deviation of [M/H]",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="e_teff",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Model-to-model standard deviation of Teff",
                        help_text="Model-to-model standard deviation of Teff",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="fe_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Iron abundance [Fe/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Iron abundance [Fe/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="flag_boundary",
                    field=models.CharField(
                        db_collation="C",
                        db_comment="8 digits (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, t-SNE): 1 = outside the training sample (label extrapolated)",
                        help_text="8 digits (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, t-SNE): 1 = outside the training sample (label extrapolated)",
                        max_length=8,
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="logg",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Surface gravity (log g in cgs), ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Surface gravity (log g in cgs), ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="m_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Overall metallicity [M/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Overall metallicity [M/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="model_version",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="labels",
                        to="catalogue.modelversion",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_alpha_m",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Total uncertainty of [alpha/M]: e_alpha_m and running dispersion, calibrated",
                        help_text="Total uncertainty of [alpha/M]: e_alpha_m and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_fe_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Total uncertainty of [Fe/H]: e_fe_h and running dispersion, calibrated",
                        help_text="Total uncertainty of [Fe/H]: e_fe_h and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_logg",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Total uncertainty of log g: e_logg and running dispersion, calibrated",
                        help_text="Total uncertainty of log g: e_logg and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_m_h",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Total uncertainty of [M/H]: e_m_h and running dispersion, calibrated",
                        help_text="Total uncertainty of [M/H]: e_m_h and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_teff",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Total uncertainty of Teff: e_teff and running dispersion, calibrated",
                        help_text="Total uncertainty of Teff: e_teff and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="teff",
                    field=archive.catalogue.label_fields.RealField(
                        db_comment="Effective temperature, ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Effective temperature, ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AddIndex(
                    model_name="cnnlabel",
                    index=models.Index(
                        fields=["model_version", "flag_boundary"], name="cnn_label_flag_boundary"
                    ),
                ),
            ],
        )
    ]
