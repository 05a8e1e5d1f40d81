"""sigma_* descriptions say that σ_* is calibrated (labeling.uncertainty, docs/science.md).

Only the column comments change in the database. Django's AlterField would also re-issue
ALTER COLUMN ... TYPE, which PostgreSQL refuses for columns the published view
gaiadr3_rvs_cnn.rvs_cnn reads, so the database side is COMMENT ON COLUMN alone.
"""

from django.db import migrations, models

DESCRIPTIONS = {
    "sigma_teff": "Total uncertainty of Teff: e_teff and running dispersion, calibrated",
    "sigma_logg": "Total uncertainty of log g: e_logg and running dispersion, calibrated",
    "sigma_m_h": "Total uncertainty of [M/H]: e_m_h and running dispersion, calibrated",
    "sigma_alpha_m": "Total uncertainty of [alpha/M]: e_alpha_m and dispersion, calibrated",
    "sigma_fe_h": "Total uncertainty of [Fe/H]: e_fe_h and running dispersion, calibrated",
}
PREVIOUS = {
    "sigma_teff": "Total uncertainty of Teff: e_teff and running dispersion",
    "sigma_logg": "Total uncertainty of log g: e_logg and running dispersion",
    "sigma_m_h": "Total uncertainty of [M/H]: e_m_h and running dispersion",
    "sigma_alpha_m": "Total uncertainty of [alpha/M]: e_alpha_m and dispersion",
    "sigma_fe_h": "Total uncertainty of [Fe/H]: e_fe_h and running dispersion",
}


def _comments(descriptions: dict[str, str]) -> list[str]:
    return [
        f"COMMENT ON COLUMN cnn_label.{column} IS '{text}'" for column, text in descriptions.items()
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0002_published_schema"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="cnnlabel",
                    name=column,
                    field=models.FloatField(db_comment=text, help_text=text),
                )
                for column, text in DESCRIPTIONS.items()
            ],
            database_operations=[
                migrations.RunSQL(_comments(DESCRIPTIONS), reverse_sql=_comments(PREVIOUS))
            ],
        )
    ]
