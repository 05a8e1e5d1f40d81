"""The published schema that users query, and the immutability of ready model versions.

``settings.PUBLISHED_SCHEMA`` (gaiadr3_rvs_cnn) holds views over the catalogue tables; the
read-only role may read those views and nothing in ``public``. A view runs with its owner's
rights, so the reader sees exactly the rows the view selects: publishing a model version is one
UPDATE of ``model_version.is_published`` (at most one row may be true), which switches what
``rvs_cnn`` shows in a single transaction.
"""

from django.conf import settings
from django.db import migrations

GAIA_COLUMNS = """source_id, ra, dec, parallax, parallax_error, phot_g_mean_mag, phot_bp_mean_mag,
    phot_rp_mean_mag, phot_g_mean_flux_over_error, phot_bp_mean_flux_over_error,
    phot_rp_mean_flux_over_error, ruwe, rvs_spec_sig_to_noise, radial_velocity,
    radial_velocity_error, non_single_star, phot_variable_flag, in_qso_candidates,
    in_galaxy_candidates, has_xp_continuous, classlabel_espels"""

LABEL_COLUMNS = """l.teff, l.logg, l.m_h, l.alpha_m, l.fe_h,
    l.e_teff, l.e_logg, l.e_m_h, l.e_alpha_m, l.e_fe_h,
    l.sigma_teff, l.sigma_logg, l.sigma_m_h, l.sigma_alpha_m, l.sigma_fe_h, l.flag_boundary"""


def forward_sql() -> str:
    schema = settings.PUBLISHED_SCHEMA
    reader = settings.DATABASES["reader"]["USER"]
    return f"""
CREATE SCHEMA IF NOT EXISTS {schema};
COMMENT ON SCHEMA {schema} IS
  'Gaia DR3 RVS stellar parameters from the hybrid CNN of Guiglion et al. 2024 (A&A 682, A9)';

CREATE VIEW {schema}.gaia_source AS
  SELECT {GAIA_COLUMNS} FROM public.gaia_source;
COMMENT ON VIEW {schema}.gaia_source IS
  'Gaia DR3 gaia_source columns of the RVS sample used by the CNN';

CREATE VIEW {schema}.rvs_cnn AS
  SELECT l.source_id, g.ra, g.dec, {LABEL_COLUMNS}
  FROM public.cnn_label l
  JOIN public.model_version v ON v.id = l.model_version_id AND v.is_published
  JOIN public.gaia_source g ON g.source_id = l.source_id;
COMMENT ON VIEW {schema}.rvs_cnn IS
  'The published RVS-CNN catalogue (Table 2 of Guiglion et al. 2024): labels, model-to-model '
  'errors e_*, total uncertainties sigma_* and flag_boundary';

CREATE VIEW {schema}.rvs_cnn_versions AS
  SELECT v.name AS model_version, l.source_id, {LABEL_COLUMNS}
  FROM public.cnn_label l
  JOIN public.model_version v ON v.id = l.model_version_id AND v.status = 'ready';
COMMENT ON VIEW {schema}.rvs_cnn_versions IS
  'CNN labels of every ready model version, published or not, for comparison';

GRANT USAGE ON SCHEMA {schema} TO {reader};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reader};

CREATE FUNCTION public.model_version_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'ready' AND
     (NEW.name, NEW.status, NEW.inputs, NEW.n_splits, NEW.n_members, NEW.config, NEW.path,
      NEW.data_hash, NEW.code_version, NEW.framework_versions, NEW.created_at)
     IS DISTINCT FROM
     (OLD.name, OLD.status, OLD.inputs, OLD.n_splits, OLD.n_members, OLD.config, OLD.path,
      OLD.data_hash, OLD.code_version, OLD.framework_versions, OLD.created_at)
  THEN
    RAISE EXCEPTION 'model version % is ready and immutable; only its publication may change',
      OLD.name USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER model_version_immutable BEFORE UPDATE ON public.model_version
  FOR EACH ROW EXECUTE FUNCTION public.model_version_immutable();
"""


def reverse_sql() -> str:
    return f"""
DROP TRIGGER IF EXISTS model_version_immutable ON public.model_version;
DROP FUNCTION IF EXISTS public.model_version_immutable();
DROP SCHEMA IF EXISTS {settings.PUBLISHED_SCHEMA} CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_initial")]

    operations = [migrations.RunSQL(forward_sql(), reverse_sql())]
