from django.db import migrations, models

# The label columns are now derived from labeling.labels.LABEL_SPECS and labeling.flags
# (archive/catalogue/label_fields.py); their descriptions changed (labels beyond the training
# sample are extrapolations, docs/science.md). Only comments change in the database: the
# AlterFields are model state, and the database gets COMMENT ON COLUMN alone (Django would
# ALTER the columns' types as well, which the published views refuse).


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0006_xp_coefficient_correlations"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="apogeelabel",
                    name="logg",
                    field=models.FloatField(
                        db_comment="ASPCAP surface gravity (log g in cgs) (LOGG)",
                        help_text="ASPCAP surface gravity (log g in cgs) (LOGG)",
                        null=True,
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="alpha_m",
                    field=models.FloatField(
                        db_comment="Alpha-element abundance [alpha/M], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Alpha-element abundance [alpha/M], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="fe_h",
                    field=models.FloatField(
                        db_comment="Iron abundance [Fe/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Iron abundance [Fe/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="flag_boundary",
                    field=models.CharField(
                        db_comment="8 digits (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, t-SNE): 1 = outside the training sample (label extrapolated)",
                        help_text="8 digits (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, t-SNE): 1 = outside the training sample (label extrapolated)",
                        max_length=8,
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="logg",
                    field=models.FloatField(
                        db_comment="Surface gravity (log g in cgs), ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Surface gravity (log g in cgs), ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="m_h",
                    field=models.FloatField(
                        db_comment="Overall metallicity [M/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Overall metallicity [M/H], ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="sigma_alpha_m",
                    field=models.FloatField(
                        db_comment="Total uncertainty of [alpha/M]: e_alpha_m and running dispersion, calibrated",
                        help_text="Total uncertainty of [alpha/M]: e_alpha_m and running dispersion, calibrated",
                    ),
                ),
                migrations.AlterField(
                    model_name="cnnlabel",
                    name="teff",
                    field=models.FloatField(
                        db_comment="Effective temperature, ensemble mean; an extrapolation where its flag_boundary digit is 1",
                        help_text="Effective temperature, ensemble mean; an extrapolation where its flag_boundary digit is 1",
                    ),
                ),
                migrations.AlterField(
                    model_name="trainingstar",
                    name="apogee_e_logg",
                    field=models.FloatField(
                        db_comment="Uncertainty of the APOGEE log g",
                        help_text="Uncertainty of the APOGEE log g",
                        null=True,
                    ),
                ),
                migrations.AlterField(
                    model_name="trainingstar",
                    name="apogee_e_teff",
                    field=models.FloatField(
                        db_comment="Uncertainty of the APOGEE Teff",
                        help_text="Uncertainty of the APOGEE Teff",
                        null=True,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "COMMENT ON COLUMN apogee_label.logg IS 'ASPCAP surface gravity (log g in cgs) (LOGG)'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.alpha_m IS 'Alpha-element abundance [alpha/M], ensemble mean; an extrapolation where its flag_boundary digit is 1'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.fe_h IS 'Iron abundance [Fe/H], ensemble mean; an extrapolation where its flag_boundary digit is 1'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.flag_boundary IS '8 digits (Teff, log g, [M/H], [alpha/M], [Fe/H], G, parallax, t-SNE): 1 = outside the training sample (label extrapolated)'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.logg IS 'Surface gravity (log g in cgs), ensemble mean; an extrapolation where its flag_boundary digit is 1'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.m_h IS 'Overall metallicity [M/H], ensemble mean; an extrapolation where its flag_boundary digit is 1'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.sigma_alpha_m IS 'Total uncertainty of [alpha/M]: e_alpha_m and running dispersion, calibrated'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN cnn_label.teff IS 'Effective temperature, ensemble mean; an extrapolation where its flag_boundary digit is 1'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN training_star.apogee_e_logg IS 'Uncertainty of the APOGEE log g'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
                migrations.RunSQL(
                    "COMMENT ON COLUMN training_star.apogee_e_teff IS 'Uncertainty of the APOGEE Teff'",
                    reverse_sql=migrations.RunSQL.noop,
                ),
            ],
        )
    ]
