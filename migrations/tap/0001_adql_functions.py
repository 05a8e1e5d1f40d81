"""The SQL functions behind the ADQL user-defined functions that PostgreSQL and pg_sphere do not
have as they are (archive/tap/adql/udf.py declares them; docs/adql.md lists them).

They live in the schema ``adql_udf``, owned by the owner role; the read-only role that runs TAP
queries may use the schema and execute them, and nothing else there. pg_sphere's names are
schema-qualified, so the functions do not depend on the caller's search_path.
"""

from django.conf import settings
from django.db import migrations

SCHEMA = "adql_udf"


def forward_sql() -> str:
    reader = settings.DATABASES["reader"]["USER"]
    return f"""
CREATE SCHEMA {SCHEMA};
COMMENT ON SCHEMA {SCHEMA} IS 'Functions the ADQL translator calls for its user-defined functions';

-- The rigorous propagation of Hipparcos Vol. 1, Sect. 1.5.5 (what ivo_epoch_prop of the IVOA
-- UDF catalogue asks for): position, parallax, proper motion and radial velocity together.
-- Rates are carried in rad/yr; the radial proper motion is zeta = v_r * parallax / A.
CREATE FUNCTION {SCHEMA}.ivo_epoch_prop(
    ra_deg double precision, dec_deg double precision, parallax double precision,
    pmra double precision, pmdec double precision, radial_velocity double precision,
    ref_epoch double precision, out_epoch double precision)
RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  mas CONSTANT double precision := pi() / 180 / 3600000;  -- one milliarcsecond in radians
  au_kms CONSTANT double precision := 149597870.7 / (365.25 * 86400);  -- 1 au/Julian yr
  t double precision := out_epoch - ref_epoch;
  a double precision := radians(ra_deg);
  d double precision := radians(dec_deg);
  plx double precision := coalesce(parallax, 0);
  mua double precision := coalesce(pmra, 0) * mas;
  mud double precision := coalesce(pmdec, 0) * mas;
  zeta double precision := coalesce(radial_velocity, 0) * plx / au_kms * mas;
  r double precision[];
  pm double precision[];
  r1 double precision[] := ARRAY[0, 0, 0];
  pm1 double precision[] := ARRAY[0, 0, 0];
  mu2 double precision;
  f double precision;
  zeta1 double precision;
  a1 double precision;
  d1 double precision;
BEGIN
  IF ra_deg IS NULL OR dec_deg IS NULL OR t IS NULL THEN
    RETURN NULL;
  END IF;
  r := ARRAY[cos(d) * cos(a), cos(d) * sin(a), sin(d)];
  -- p = (-sin a, cos a, 0), q = (-sin d cos a, -sin d sin a, cos d); pm = p mua + q mud
  pm := ARRAY[-sin(a) * mua - sin(d) * cos(a) * mud,
              cos(a) * mua - sin(d) * sin(a) * mud,
              cos(d) * mud];
  mu2 := mua * mua + mud * mud;
  f := 1 / sqrt(1 + 2 * zeta * t + (mu2 + zeta * zeta) * t * t);
  FOR i IN 1..3 LOOP
    r1[i] := (r[i] * (1 + zeta * t) + pm[i] * t) * f;
    pm1[i] := (pm[i] * (1 + zeta * t) - r[i] * mu2 * t) * f * f * f;
  END LOOP;
  zeta1 := (zeta + (mu2 + zeta * zeta) * t) * f * f;
  a1 := atan2(r1[2], r1[1]);
  IF a1 < 0 THEN
    a1 := a1 + 2 * pi();
  END IF;
  d1 := atan2(r1[3], sqrt(r1[1] * r1[1] + r1[2] * r1[2]));
  RETURN ARRAY[
    degrees(a1),
    degrees(d1),
    parallax * f,
    (-sin(a1) * pm1[1] + cos(a1) * pm1[2]) / mas,
    (-sin(d1) * cos(a1) * pm1[1] - sin(d1) * sin(a1) * pm1[2] + cos(d1) * pm1[3]) / mas,
    CASE WHEN plx > 0 THEN zeta1 / mas * au_kms / (plx * f) END];
END $$;

CREATE FUNCTION {SCHEMA}.ivo_epoch_prop_pos(
    ra_deg double precision, dec_deg double precision, parallax double precision,
    pmra double precision, pmdec double precision, radial_velocity double precision,
    ref_epoch double precision, out_epoch double precision)
RETURNS public.spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT public.spoint(radians(p[1]), radians(p[2]))
    FROM (SELECT {SCHEMA}.ivo_epoch_prop($1, $2, $3, $4, $5, $6, $7, $8) AS p) AS e
$$;

-- pg_sphere's cell centre may have a negative longitude (cells across ra = 0); DALI's [0, 360)
CREATE FUNCTION {SCHEMA}.ivo_healpix_center(hpx_order integer, hpx_index bigint)
RETURNS public.spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT public.spoint(public.long(c), public.lat(c))
    FROM public.center_of_healpix_nest(hpx_order, hpx_index) AS c
$$;

-- gavo_histogram: nbins + 2 counts (underflow, the bins, overflow), as width_bucket numbers them
CREATE FUNCTION {SCHEMA}.histogram_step(
    counts integer[], val double precision, lower double precision, upper double precision,
    nbins integer)
RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  bin integer;
BEGIN
  IF counts IS NULL THEN
    counts := array_fill(0, ARRAY[nbins + 2]);
  END IF;
  IF val IS NOT NULL THEN
    bin := width_bucket(val, lower, upper, nbins) + 1;
    counts[bin] := counts[bin] + 1;
  END IF;
  RETURN counts;
END $$;

CREATE FUNCTION {SCHEMA}.histogram_merge(a integer[], b integer[])
RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
         ELSE ARRAY(SELECT x + y FROM unnest(a, b) AS u(x, y)) END
$$;

CREATE AGGREGATE {SCHEMA}.gavo_histogram(
    double precision, double precision, double precision, integer) (
  SFUNC = {SCHEMA}.histogram_step,
  STYPE = integer[],
  COMBINEFUNC = {SCHEMA}.histogram_merge,
  PARALLEL = SAFE
);

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {SCHEMA} FROM PUBLIC;
GRANT USAGE ON SCHEMA {SCHEMA} TO {reader};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {SCHEMA} TO {reader};
"""


def reverse_sql() -> str:
    return f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;"


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0002_published_schema")]

    operations = [migrations.RunSQL(forward_sql(), reverse_sql())]
